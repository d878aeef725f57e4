"""The `/finetune` wizard, as the seed's portal wizard: base model → training data → validation data →
task parameters → suffix → review → Start training.

The listener opens ``loading_view()`` right after ack (a trigger_id lives 3 s), then ``views.update``s
it to ``wizard_view(...)``. On submit, ``parse_wizard`` turns ``state.values`` into a ``WizardInput`` or
raises ``WizardErrors`` (an ``InvalidInput`` whose ``field`` is the first bad block and whose ``errors``
holds a message for every bad block, for ``response_action: errors``). ``review_view`` shows the
validation report; it has no submit button when the data has errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from slack_sdk.models.blocks import (
    Block,
    ExternalDataSelectElement,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    UrlInputElement,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View

from bot.ui.card import FIELD_MAX, context, escape_clip, plain, section
from bot.ui.chat import Values, parse_number, selected_value, state_files, state_value
from bot.ui.ids import SLASH_COMMAND, Action, Callback
from bot.ui.ids import Block as B
from bot.ui.text import clip, code
from bot.ui.validation import validation_report_blocks
from commands.dataset.report import ValidationReport
from commands.errors import InvalidInput
from commands.models import BaseModelInfo, Frozen, Hyperparameters, Task

TITLE = "Fine-tune a model"
MAX_OPTIONS = 100  # Slack's cap for a select's options
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
SUFFIX_MAX = 40
DEFAULT_SPLIT_PERCENT = 10
LR_ADVICE = "0.02–0.2 is the article's advice"
_SUFFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

ValidationMode = Literal["none", "split", "file", "url", "existing"]
_VALIDATION_LABELS: dict[str, str] = {
    "none": "No validation data",
    "split": "Split automatically from the training data",
    "file": "Upload a validation file",
    "url": "A validation file at a URL",
    "existing": "A dataset uploaded before",
}


class DataSource(Frozen):
    """Where the wizard's data comes from.

    ``slack_file``: ``value`` is the file's ``url_private_download`` (fetch it with the bot token, only
    from Slack's file host); ``url``: ``value`` is the URL as typed (it may carry a SAS token: never log
    or show it, show ``name``); ``existing``: ``value`` is the dataset id.
    """

    kind: Literal["slack_file", "url", "existing"]
    value: str
    name: str
    file_id: str | None = None
    size: int | None = None


class WizardInput(Frozen):
    model: str
    training: DataSource
    validation_mode: ValidationMode = "none"
    validation: DataSource | None = None
    split_fraction: float | None = None  # 0 < f ≤ 0.5, with validation_mode "split"
    hyperparameters: Hyperparameters = Hyperparameters()
    custom_parameters: bool = False
    suffix: str | None = None


class WizardErrors(InvalidInput):
    """Every bad field of one submission; ``field``/``message`` are the first, for one-field renderers."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        plain = {str(block_id): message for block_id, message in errors.items()}  # JSON keys: plain str
        first_field, first_message = next(iter(plain.items()))
        super().__init__(first_message, field=first_field)
        self.errors = plain


# --- views ----------------------------------------------------------------------------------------


def loading_view() -> View:
    return View(
        type="modal",
        callback_id=Callback.LOADING,
        title=TITLE,
        close="Cancel",
        blocks=[section(B.LOADING, ":hourglass_flowing_sand: Loading…")],
    )


def _option(value: str, text: str) -> Option:
    return Option(value=value[:OPTION_VALUE_MAX], text=plain(text, OPTION_TEXT_MAX))


def _dataset_options(datasets: Sequence[tuple[str, str]]) -> list[Option]:
    return [_option(ds_id, label or ds_id) for ds_id, label in datasets[:MAX_OPTIONS] if len(ds_id) <= 150]


def _find(options: Sequence[Option], value: str | None) -> Option | None:
    return next((o for o in options if o.value == value), None)


def _file_input(block_id: str, action_id: str, label: str, hint: str) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=True,
        hint=hint,
        element=FileInputElement(action_id=action_id, filetypes=["jsonl"], max_files=1),
    )


def _url_input(block_id: str, action_id: str, label: str, initial: str | None) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=True,
        hint="https only, from the hosts ftbot is allowed to download from (FTBOT_DATA_URL_HOSTS). "
        "Use this for files over 10 MB.",
        element=UrlInputElement(
            action_id=action_id,
            initial_value=initial,
            placeholder="https://<account>.blob.core.windows.net/…",
        ),
    )


def _number(
    block_id: str,
    action_id: str,
    label: str,
    *,
    decimal: bool,
    low: str,
    high: str,
    initial: object | None,
    hint: str,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=True,
        hint=hint,
        element=NumberInputElement(
            action_id=action_id,
            is_decimal_allowed=decimal,
            min_value=low,
            max_value=high,
            initial_value=None if initial is None else str(initial),
        ),
    )


def _radio(block_id: str, action_id: str, label: str, options: list[Option], initial: str) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=label,
        element=RadioButtonsElement(
            action_id=action_id, options=options, initial_option=_find(options, initial)
        ),
    )


def _source_value(source: DataSource | None, kind: str) -> str | None:
    return source.value if source is not None and source.kind == kind else None


def wizard_view(
    *,
    backend_kind: str,
    channel_id: str,
    datasets: Sequence[tuple[str, str]] = (),
    initial: WizardInput | None = None,
) -> View:
    """The wizard. ``datasets``: ``(id, label)`` of datasets uploaded before, newest first;
    ``initial``: values to show again (file uploads cannot be pre-filled); ``private_metadata`` is the
    channel the card goes to."""
    init = initial
    hp = init.hyperparameters if init else Hyperparameters()
    dataset_options = _dataset_options(datasets)
    mode_values = ["none", "split", "file", "url"] + (["existing"] if dataset_options else [])
    mode_options = [_option(m, _VALIDATION_LABELS[m]) for m in mode_values]
    params_options = [_option("default", "Default"), _option("custom", "Custom")]
    initial_mode = init.validation_mode if init and init.validation_mode in mode_values else "none"

    blocks: list[Block] = [
        context(
            B.WIZARD_INTRO,
            f"Backend: *{escape_clip(backend_kind, 40)}*. Nothing starts yet: the next screen checks the "
            "data and estimates the billed tokens, and you start training from there.",
        ),
        InputBlock(
            block_id=B.BASE_MODEL,
            label="Base model",
            element=ExternalDataSelectElement(
                action_id=Action.BASE_MODEL,
                placeholder="Search the base models",
                min_query_length=0,
                initial_option=_option(init.model, init.model) if init else None,
            ),
        ),
        section(
            B.WIZARD_TRAINING,
            "*Training data*: give exactly one of these. A chat-format JSONL file, one example per line.",
        ),
        _file_input(
            B.TRAINING_FILE, Action.TRAINING_FILE, "Upload a JSONL file", "Up to 10 MB. Larger: use a URL."
        ),
        _url_input(
            B.TRAINING_URL,
            Action.TRAINING_URL,
            "…or a URL",
            _source_value(init.training if init else None, "url"),
        ),
    ]
    if dataset_options:
        existing = _source_value(init.training if init else None, "existing")
        blocks.append(
            InputBlock(
                block_id=B.TRAINING_EXISTING,
                label="…or a dataset uploaded before",
                optional=True,
                element=StaticSelectElement(
                    action_id=Action.TRAINING_EXISTING,
                    placeholder="Pick a dataset",
                    options=dataset_options,
                    initial_option=_find(dataset_options, existing),
                ),
            )
        )
    validation = init.validation if init else None
    split_initial = (
        round(init.split_fraction * 100, 2)
        if init and init.split_fraction is not None
        else DEFAULT_SPLIT_PERCENT
    )
    blocks += [
        section(
            B.WIZARD_VALIDATION,
            "*Validation data* (optional): measures validation loss as training goes, so overfitting shows.",
        ),
        _radio(B.VALIDATION_MODE, Action.VALIDATION_MODE, "Validation data", mode_options, initial_mode),
        _number(
            B.VALIDATION_SPLIT,
            Action.VALIDATION_SPLIT,
            "Split percentage",
            decimal=True,
            low="1",
            high="50",
            initial=split_initial,
            hint="With automatic split: the share of training examples held out for validation.",
        ),
        _file_input(
            B.VALIDATION_FILE, Action.VALIDATION_FILE, "Validation file", "With Upload: up to 10 MB."
        ),
        _url_input(
            B.VALIDATION_URL, Action.VALIDATION_URL, "Validation URL", _source_value(validation, "url")
        ),
    ]
    if dataset_options:
        blocks.append(
            InputBlock(
                block_id=B.VALIDATION_EXISTING,
                label="Validation dataset uploaded before",
                optional=True,
                element=StaticSelectElement(
                    action_id=Action.VALIDATION_EXISTING,
                    placeholder="Pick a dataset",
                    options=dataset_options,
                    initial_option=_find(dataset_options, _source_value(validation, "existing")),
                ),
            )
        )
    blocks += [
        section(
            B.WIZARD_PARAMS,
            "*Task parameters*: Default lets the service choose from your data. With Custom, blank values "
            "stay Default.",
        ),
        _radio(
            B.PARAMS_MODE,
            Action.PARAMS_MODE,
            "Task parameters",
            params_options,
            "custom" if init and init.custom_parameters else "default",
        ),
        _number(
            B.BATCH_SIZE,
            Action.BATCH_SIZE,
            "Batch size",
            decimal=False,
            low="1",
            high="256",
            initial=hp.batch_size,
            hint="1–256. Larger batches: steadier, fewer steps.",
        ),
        _number(
            B.LR_MULTIPLIER,
            Action.LR_MULTIPLIER,
            "Learning rate multiplier",
            decimal=True,
            low="0.001",
            high="10",
            initial=hp.learning_rate_multiplier,
            hint=LR_ADVICE,
        ),
        _number(
            B.EPOCHS,
            Action.EPOCHS,
            "Number of epochs",
            decimal=False,
            low="1",
            high="50",
            initial=hp.n_epochs,
            hint="1–50 passes over the training data.",
        ),
        InputBlock(
            block_id=B.SUFFIX,
            label="Suffix",
            optional=True,
            hint="Added to the fine-tuned model's name: letters, digits, - _ . (up to 40).",
            element=PlainTextInputElement(
                action_id=Action.SUFFIX,
                max_length=SUFFIX_MAX,
                initial_value=init.suffix if init and init.suffix else None,
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=Callback.WIZARD,
        title=TITLE,
        submit="Review",
        close="Cancel",
        private_metadata=channel_id,
        blocks=blocks,
    )


def options_for_models(models: Sequence[BaseModelInfo], query: str) -> list[Option]:
    """The base-model select's options for ``query`` (case-insensitive; names that start with it
    first), chat-completion models only, at most 100."""
    q = query.strip().lower()
    usable = [m for m in models if Task.CHAT_COMPLETION in m.tasks and len(m.name) <= OPTION_VALUE_MAX]
    starts: list[BaseModelInfo] = []
    contains: list[BaseModelInfo] = []
    for m in usable:  # one pass: this answers inside Slack's 3-second window
        name = m.name.lower()
        if name.startswith(q):
            starts.append(m)
        elif q in name:
            contains.append(m)
    options = []
    for m in (starts + contains)[:MAX_OPTIONS]:
        note = " · needs subscription" if m.needs_subscription else ""
        options.append(Option(value=m.name, text=plain(m.name, OPTION_TEXT_MAX - len(note)) + note))
    return options


# --- parsing --------------------------------------------------------------------------------------


def _selected_option(values: Values, block_id: str, action_id: str) -> tuple[str, str] | None:
    """``(value, text)`` of a chosen option."""
    value = selected_value(values, block_id, action_id)
    if value is None:
        return None
    option = values[block_id][action_id].get("selected_option") or {}
    text_obj = option.get("text") if isinstance(option, Mapping) else None
    text = text_obj.get("text") if isinstance(text_obj, Mapping) else None
    return value, str(text or value)


def _slack_file(files: list[Mapping[str, Any]], field: str) -> DataSource:
    if len(files) > 1:
        raise InvalidInput("Attach one file.", field=field)
    file = files[0]
    name = str(file.get("name") or file.get("title") or "")
    if not name.lower().endswith(".jsonl"):
        raise InvalidInput(f"{clip(name or 'The file', 80)} is not a .jsonl file.", field=field)
    url = file.get("url_private_download") or file.get("url_private")
    if not url:
        raise InvalidInput("Slack sent no download link for this file; attach it again.", field=field)
    size = file.get("size")
    return DataSource(
        kind="slack_file",
        value=str(url),
        name=name,
        file_id=str(file["id"]) if file.get("id") else None,
        size=size if isinstance(size, int) else None,
    )


def _url(raw: str, field: str) -> DataSource:
    parts = urlsplit(raw)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("Give an https URL to a JSONL file.", field=field)
    name = parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.hostname  # never the query: it may be a SAS
    return DataSource(kind="url", value=raw, name=name)


def _training(values: Values, errors: dict[str, str]) -> DataSource | None:
    files = state_files(values, B.TRAINING_FILE, Action.TRAINING_FILE)
    url = state_value(values, B.TRAINING_URL, Action.TRAINING_URL)
    existing = _selected_option(values, B.TRAINING_EXISTING, Action.TRAINING_EXISTING)
    given = [
        b
        for b, present in ((B.TRAINING_FILE, files), (B.TRAINING_URL, url), (B.TRAINING_EXISTING, existing))
        if present
    ]
    if not given:
        errors[B.TRAINING_FILE] = (
            "Give the training data: upload a JSONL file, a URL, or a dataset uploaded before."
        )
        return None
    if len(given) > 1:
        for block in given[1:]:
            errors[block] = "Give the training data one way only: clear this one or the one above."
        return None
    try:
        if files:
            return _slack_file(files, B.TRAINING_FILE)
        if url:
            return _url(url, B.TRAINING_URL)
    except InvalidInput as e:
        errors[str(e.field)] = e.message
        return None
    assert existing is not None
    return DataSource(kind="existing", value=existing[0], name=existing[1])


def _validation(
    values: Values, errors: dict[str, str]
) -> tuple[ValidationMode, DataSource | None, float | None]:
    mode_raw = selected_value(values, B.VALIDATION_MODE, Action.VALIDATION_MODE) or "none"
    if mode_raw not in _VALIDATION_LABELS:
        errors[B.VALIDATION_MODE] = "Choose how to validate."
        return "none", None, None
    mode: ValidationMode = mode_raw  # type: ignore[assignment]
    files = state_files(values, B.VALIDATION_FILE, Action.VALIDATION_FILE)
    url = state_value(values, B.VALIDATION_URL, Action.VALIDATION_URL)
    existing = _selected_option(values, B.VALIDATION_EXISTING, Action.VALIDATION_EXISTING)
    present = {"file": bool(files), "url": bool(url), "existing": existing is not None}
    for other, given in present.items():
        if given and other != mode:
            errors[B.VALIDATION_MODE] = (
                f"You gave validation data under “{_VALIDATION_LABELS[other]}”: "
                "choose that option, or clear it."
            )
            return mode, None, None
    try:
        match mode:
            case "none":
                return mode, None, None
            case "split":
                pct = parse_number(
                    state_value(values, B.VALIDATION_SPLIT, Action.VALIDATION_SPLIT),
                    field=B.VALIDATION_SPLIT,
                    label="The split percentage",
                    integer=False,
                    low=1,
                    high=50,
                )
                if pct is None:
                    raise InvalidInput("Give the percentage to hold out (1–50).", field=B.VALIDATION_SPLIT)
                return mode, None, round(float(pct) / 100, 4)
            case "file":
                if not files:
                    raise InvalidInput(
                        "Attach the validation file, or choose another option.", field=B.VALIDATION_FILE
                    )
                return mode, _slack_file(files, B.VALIDATION_FILE), None
            case "url":
                if not url:
                    raise InvalidInput(
                        "Give the validation file's URL, or choose another option.", field=B.VALIDATION_URL
                    )
                return mode, _url(url, B.VALIDATION_URL), None
            case _:
                if existing is None:
                    raise InvalidInput(
                        "Pick the validation dataset, or choose another option.", field=B.VALIDATION_EXISTING
                    )
                return mode, DataSource(kind="existing", value=existing[0], name=existing[1]), None
    except InvalidInput as e:
        errors[str(e.field)] = e.message
        return mode, None, None


def _parameters(values: Values, errors: dict[str, str]) -> tuple[Hyperparameters, bool]:
    custom = selected_value(values, B.PARAMS_MODE, Action.PARAMS_MODE) == "custom"
    raw = {
        "batch_size": state_value(values, B.BATCH_SIZE, Action.BATCH_SIZE),
        "learning_rate_multiplier": state_value(values, B.LR_MULTIPLIER, Action.LR_MULTIPLIER),
        "n_epochs": state_value(values, B.EPOCHS, Action.EPOCHS),
    }
    if not custom:
        if any(v is not None for v in raw.values()):
            errors[B.PARAMS_MODE] = "Choose Custom to use the values you entered, or clear them."
        return Hyperparameters(), False
    parsed: dict[str, Any] = {}
    specs = (
        ("batch_size", B.BATCH_SIZE, "Batch size", True, 1, 256, False),
        ("learning_rate_multiplier", B.LR_MULTIPLIER, "The learning rate multiplier", False, 0, 10, True),
        ("n_epochs", B.EPOCHS, "The number of epochs", True, 1, 50, False),
    )
    for name, block, label, integer, low, high, exclusive in specs:
        try:
            parsed[name] = parse_number(
                raw[name],
                field=block,
                label=label,
                integer=integer,
                low=low,
                high=high,
                low_exclusive=exclusive,
            )
        except InvalidInput as e:
            errors[block] = e.message
    if not any(v is not None for v in raw.values()):
        errors[B.PARAMS_MODE] = "Custom needs at least one value; or choose Default."
    if any(block in errors for _, block, *_rest in specs):
        return Hyperparameters(), True
    return Hyperparameters(**parsed), True


def _suffix(values: Values, errors: dict[str, str]) -> str | None:
    suffix = state_value(values, B.SUFFIX, Action.SUFFIX)
    if suffix is None:
        return None
    if len(suffix) > SUFFIX_MAX or not _SUFFIX.match(suffix):
        errors[B.SUFFIX] = (
            f"Use up to {SUFFIX_MAX} letters, digits, - _ or . (starting with a letter or digit)."
        )
        return None
    return suffix


def parse_wizard(values: Values) -> WizardInput:
    """The submitted wizard, or ``WizardErrors`` naming every bad block (in the form's order)."""
    errors: dict[str, str] = {}
    model = selected_value(values, B.BASE_MODEL, Action.BASE_MODEL)
    if model is None:
        errors[B.BASE_MODEL] = "Pick a base model."
    training = _training(values, errors)
    mode, validation, split = _validation(values, errors)
    hyperparameters, custom = _parameters(values, errors)
    suffix = _suffix(values, errors)
    if errors or model is None or training is None:
        raise WizardErrors(errors or {B.BASE_MODEL: "Pick a base model."})
    return WizardInput(
        model=model,
        training=training,
        validation_mode=mode,
        validation=validation,
        split_fraction=split,
        hyperparameters=hyperparameters,
        custom_parameters=custom,
        suffix=suffix,
    )


# --- review and after ---------------------------------------------------------------------------


def _report_ok(report: ValidationReport) -> bool:
    return report.ok and (report.validation is None or report.validation.ok)


def review_view(
    *,
    report: ValidationReport,
    summary: Sequence[tuple[str, str]],
    private_metadata: str,
    n_epochs: int | None = None,
) -> View:
    """The review step: ``summary`` is ``(label, value)`` pairs in plain text (base model, data,
    validation, parameters, suffix); ``n_epochs`` the user's own choice, when not Default (rescales the
    estimate). With errors in the data there is no submit button: it is never submitted."""
    ok = _report_ok(report)
    fields = [
        MarkdownTextObject(text=clip(f"*{escape_clip(k, 100)}*\n{escape_clip(v, 1500)}", FIELD_MAX))
        for k, v in summary
    ]
    blocks: list[Block] = []
    if fields:
        blocks.append(SectionBlock(block_id=B.REVIEW, fields=fields[:10]))
    blocks += validation_report_blocks(report, title="Training data check", n_epochs=n_epochs)
    if ok:
        blocks.append(
            context(
                B.REVIEW_ESTIMATE,
                "Training is billed by the tokens trained (the estimate above). A deployed model is billed "
                "by the hour until it is torn down.",
            )
        )
    else:
        blocks.append(
            section(
                B.REVIEW_BLOCKED,
                ":no_entry: The data has errors, so this job cannot start. Fix the lines above, then run "
                f"`{SLASH_COMMAND}` again.",
            )
        )
    return View(
        type="modal",
        callback_id=Callback.REVIEW,
        title="Review",
        submit="Start training" if ok else None,
        close="Cancel" if ok else "Close",
        private_metadata=private_metadata,
        blocks=blocks,
    )


def submitted_view(job_id: str) -> View:
    return View(
        type="modal",
        callback_id=Callback.SUBMITTED,
        title="Training submitted",
        close="Done",
        blocks=[
            section(
                B.SUBMITTED,
                f":white_check_mark: Job {code(clip(job_id, 100))} was submitted. Its card in the channel "
                "shows its state as it moves; the card's thread gets the events, the metrics and the loss "
                "chart.",
            )
        ],
    )
