"""The `/finetune` wizard form, in the steps of the fine-tuning wizard in the Azure AI Foundry portal
(Customize a model with fine-tuning, Azure AI Foundry docs): base model → training data → validation
data → task parameters → suffix; Review (``bot.ui.review``) comes next and starts training.

The listener opens ``loading_view()`` right after ack (a trigger_id lives 3 s), then ``views.update``s
it to ``wizard_view(...)``. The submission is read by ``bot.ui.wizard_input.parse_wizard``.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    ExternalDataSelectElement,
    InputBlock,
    NumberInputElement,
    Option,
    OptionGroup,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticSelectElement,
    UrlInputElement,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View

from bot.datasets.names import human_bytes
from bot.ui.blocks import context, section
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from bot.ui.limits import INPUT_VALUE_MAX, OPTION_TEXT_MAX, OPTION_VALUE_MAX, OPTIONS_MAX
from bot.ui.text import escape_clip, plain
from bot.ui.wizard_input import SUFFIX_MAX, VALIDATION_LABELS, DataSource, WizardInput
from commands.models import BaseModelInfo, Hyperparameters, Method, ServiceDataset, Task, Tier

TITLE = "Fine-tune a model"
MAX_OPTIONS = OPTIONS_MAX  # Slack's cap for a select's options
DEFAULT_SPLIT_PERCENT = 10
LR_ADVICE = (
    "0.02–0.2 is the range Microsoft's fine-tuning guidance suggests trying "
    "(Customize a model with fine-tuning, Azure AI Foundry docs)."
)


def loading_view() -> View:
    return View(
        type="modal",
        callback_id=Callback.LOADING,
        title=TITLE,
        close="Cancel",
        blocks=[section(B.LOADING, ":hourglass_flowing_sand: Loading…")],
    )


# --- elements -------------------------------------------------------------------------------------


def _option(value: str, text: str, description: str | None = None) -> Option:
    return Option(
        value=value[:OPTION_VALUE_MAX],
        text=plain(text, OPTION_TEXT_MAX),
        description=plain(description, OPTION_TEXT_MAX) if description else None,
    )


def _dataset_options(datasets: Sequence[tuple[str, str]]) -> list[Option]:
    usable = [(ds_id, label) for ds_id, label in datasets if 0 < len(ds_id) <= OPTION_VALUE_MAX]
    return [_option(ds_id, label or ds_id) for ds_id, label in usable[:MAX_OPTIONS]]


#: the wizard's groups of datasets uploaded before: ftbot's own, and those the backend's service keeps
LOCAL_GROUP = "Uploaded to ftbot"
SERVICE_GROUPS = {"data_asset": "Project data assets", "file": "Service files (purpose fine-tune)"}
#: service datasets offered at most, so ftbot's own uploads keep room in the select
MAX_SERVICE_OPTIONS = 50


def _service_option(ds: ServiceDataset) -> Option:
    size = f" · {human_bytes(ds.size)}" if ds.size is not None else ""
    return Option(value=ds.ref, text=plain(ds.name, OPTION_TEXT_MAX - len(size)) + size)


def _dataset_menu(
    datasets: Sequence[tuple[str, str]], service: Sequence[ServiceDataset]
) -> list[Option] | list[OptionGroup]:
    """The "uploaded before" select's options: a plain list of ftbot's own uploads, or, when the service
    keeps datasets too, one group for each kind (at most ``MAX_OPTIONS`` options in all)."""
    usable = [ds for ds in service if 0 < len(ds.ref) <= OPTION_VALUE_MAX][:MAX_SERVICE_OPTIONS]
    local = _dataset_options(datasets)[: MAX_OPTIONS - len(usable)]
    if not usable:
        return local
    groups = [OptionGroup(label=LOCAL_GROUP, options=local)] if local else []
    for kind, label in SERVICE_GROUPS.items():
        options = [_service_option(ds) for ds in usable if ds.kind == kind]
        if options:
            groups.append(OptionGroup(label=label, options=options))
    return groups


def _flat(menu: Sequence[Option] | Sequence[OptionGroup]) -> list[Option]:
    out: list[Option] = []
    for item in menu:
        out.extend((item.options or []) if isinstance(item, OptionGroup) else [item])
    return out


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
            initial_value=initial if initial and len(initial) <= INPUT_VALUE_MAX else None,
            placeholder="https://<account>.blob.core.windows.net/…",
        ),
    )


def _dataset_select(
    block_id: str, action_id: str, label: str, menu: list[Option] | list[OptionGroup], initial: str | None
) -> InputBlock:
    groups = [g for g in menu if isinstance(g, OptionGroup)]
    options = [o for o in menu if isinstance(o, Option)]
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=True,
        element=StaticSelectElement(
            action_id=action_id,
            placeholder="Pick a dataset",
            options=None if groups else options,
            option_groups=groups or None,
            initial_option=_find(_flat(menu), initial),
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


def _source_value(source: DataSource | None, *kinds: str) -> str | None:
    return source.value if source is not None and source.kind in kinds else None


# --- one builder per step -------------------------------------------------------------------------


def _base_model_step(backend_kind: str, init: WizardInput | None) -> list[Block]:
    return [
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
                initial_option=_option(init.model, init.model) if init and init.model else None,
            ),
        ),
    ]


METHOD_OPTIONS = (
    (Method.SUPERVISED, "Supervised", 'Chat examples: {"messages": [...]}'),
    (Method.DPO, "DPO (preference pairs)", "input, preferred_output, non_preferred_output"),
)


def _method_step(init: WizardInput | None, tiers: Sequence[Tier]) -> list[Block]:
    """The training method, and the training tier where the backend has tiers (the default first)."""
    options = [_option(m.value, label, note) for m, label, note in METHOD_OPTIONS]
    blocks: list[Block] = [
        _radio(
            B.METHOD, Action.METHOD, "Method", options, init.method.value if init else Method.SUPERVISED.value
        )
    ]
    if tiers:
        tier_options = [_option(t.name, t.label or t.name, t.note or None) for t in tiers[:10]]
        chosen = init.training_type if init and init.training_type else tier_options[0].value
        blocks.append(
            _radio(B.TRAINING_TYPE, Action.TRAINING_TYPE, "Training tier", tier_options, chosen or "")
        )
    return blocks


def _training_step(
    init: WizardInput | None, dataset_options: list[Option] | list[OptionGroup]
) -> list[Block]:
    training = init.training if init else None
    blocks: list[Block] = [
        section(
            B.WIZARD_TRAINING,
            "*Training data*: give exactly one of these. A JSONL file, one example per line: chat "
            "examples, or preference pairs for DPO.",
        ),
        _file_input(
            B.TRAINING_FILE, Action.TRAINING_FILE, "Upload a JSONL file", "Up to 10 MB. Larger: use a URL."
        ),
        _url_input(B.TRAINING_URL, Action.TRAINING_URL, "…or a URL", _source_value(training, "url")),
    ]
    if dataset_options:
        blocks.append(
            _dataset_select(
                B.TRAINING_EXISTING,
                Action.TRAINING_EXISTING,
                "…or a dataset uploaded before",
                dataset_options,
                _source_value(training, "existing", "service"),
            )
        )
    return blocks


def _validation_step(
    init: WizardInput | None, dataset_options: list[Option] | list[OptionGroup]
) -> list[Block]:
    mode_values = ["none", "split", "file", "url"] + (["existing"] if dataset_options else [])
    mode_options = [_option(m, VALIDATION_LABELS[m]) for m in mode_values]
    initial_mode = init.validation_mode if init and init.validation_mode in mode_values else "none"
    validation = init.validation if init else None
    split_initial = (
        round(init.split_fraction * 100, 2)
        if init and init.split_fraction is not None
        else DEFAULT_SPLIT_PERCENT
    )
    blocks: list[Block] = [
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
            _dataset_select(
                B.VALIDATION_EXISTING,
                Action.VALIDATION_EXISTING,
                "Validation dataset uploaded before",
                dataset_options,
                _source_value(validation, "existing", "service"),
            )
        )
    return blocks


def _parameters_step(init: WizardInput | None) -> list[Block]:
    hp = init.hyperparameters if init else Hyperparameters()
    params_options = [_option("default", "Default"), _option("custom", "Custom")]
    return [
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
        _number(
            B.BETA,
            Action.BETA,
            "Beta (DPO only)",
            decimal=True,
            low="0.01",
            high="2",
            initial=hp.beta,
            hint="How far DPO may move from the base model: lower is bolder. Blank: the service's default.",
        ),
    ]


def _suffix_step(init: WizardInput | None) -> list[Block]:
    return [
        InputBlock(
            block_id=B.SUFFIX,
            label="Suffix",
            optional=True,
            hint="Added to the fine-tuned model's name: letters, digits, - _ . (up to 40).",
            element=PlainTextInputElement(
                action_id=Action.SUFFIX,
                max_length=SUFFIX_MAX,
                initial_value=init.suffix[:SUFFIX_MAX] if init and init.suffix else None,
            ),
        )
    ]


def wizard_view(
    *,
    backend_kind: str,
    channel_id: str,
    datasets: Sequence[tuple[str, str]] = (),
    initial: WizardInput | None = None,
    tiers: Sequence[Tier] = (),
    service_datasets: Sequence[ServiceDataset] = (),
) -> View:
    """The wizard. ``datasets``: ``(id, label)`` of datasets uploaded before, newest first;
    ``initial``: values to show again (file uploads cannot be pre-filled); ``private_metadata`` is the
    channel the card goes to; ``tiers``: the backend's training tiers (the default first), if any;
    ``service_datasets``: the datasets the backend's service keeps (project data assets, service files),
    offered in their own group of the same select."""
    dataset_options = _dataset_menu(datasets, service_datasets)
    return View(
        type="modal",
        callback_id=Callback.WIZARD,
        title=TITLE,
        submit="Review",
        close="Cancel",
        private_metadata=channel_id,
        blocks=[
            *_base_model_step(backend_kind, initial),
            *_method_step(initial, tiers),
            *_training_step(initial, dataset_options),
            *_validation_step(initial, dataset_options),
            *_parameters_step(initial),
            *_suffix_step(initial),
        ],
    )


def options_for_models(models: Sequence[BaseModelInfo], query: str) -> list[Option]:
    """The base-model select's options for ``query`` (case-insensitive; names that start with it
    first), chat-completion models only, at most 100."""
    q = query.strip().lower()
    usable = [m for m in models if Task.CHAT_COMPLETION in m.tasks and 0 < len(m.name) <= OPTION_VALUE_MAX]
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
