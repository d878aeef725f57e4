"""What the `/finetune` wizard submits: the typed ``WizardInput`` and its parser.

On submit, ``parse_wizard`` turns ``view.state.values`` into a ``WizardInput`` or raises ``WizardErrors``
(an ``InvalidInput`` whose ``field`` is the first bad block and whose ``errors`` holds a message for
every bad block, for ``response_action: errors``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from bot.datasets.names import parse_url, safe_filename
from bot.ui.ids import Action
from bot.ui.ids import Block as B
from bot.ui.state import Values, parse_number, selected_option, selected_value, state_files, state_value
from bot.ui.text import clip
from commands.dataset.service_refs import service_ref_backend
from commands.errors import InvalidInput
from commands.models import Frozen, Hyperparameters, Method

SUFFIX_MAX = 40
_SUFFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

ValidationMode = Literal["none", "split", "file", "url", "existing"]
VALIDATION_LABELS: dict[str, str] = {
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
    or show it, show ``name``); ``existing``: ``value`` is the dataset id; ``service``: ``value`` is the id
    of a dataset the backend's service keeps (``azureml:NAME:VERSION``, ``file-…``).
    """

    kind: Literal["slack_file", "url", "existing", "service"]
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
    method: Method = Method.SUPERVISED
    training_type: str | None = None  # a training tier's name, when the backend has tiers


class WizardErrors(InvalidInput):
    """Every bad field of one submission; ``field``/``message`` are the first, for one-field renderers."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        plain = {str(block_id): message for block_id, message in errors.items()}  # JSON keys: plain str
        first_field, first_message = next(iter(plain.items()))
        super().__init__(first_message, field=first_field)
        self.errors = plain


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
    try:
        parts = parse_url(raw, field=field)
    except InvalidInput as e:
        raise InvalidInput(f"Give an https URL to a JSONL file ({e.message}).", field=field) from None
    name = parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.hostname or "dataset.jsonl"
    return DataSource(kind="url", value=raw, name=safe_filename(name))  # never the query: it may be a SAS


def _training(values: Values, errors: dict[str, str]) -> DataSource | None:
    files = state_files(values, B.TRAINING_FILE, Action.TRAINING_FILE)
    url = state_value(values, B.TRAINING_URL, Action.TRAINING_URL)
    existing = selected_option(values, B.TRAINING_EXISTING, Action.TRAINING_EXISTING)
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
    return _picked(existing)


def _picked(option: tuple[str, str]) -> DataSource:
    """A dataset picked from the "uploaded before" select: ftbot's own upload, or the service's."""
    value, label = option
    kind: Literal["existing", "service"] = "service" if service_ref_backend(value) else "existing"
    return DataSource(kind=kind, value=value, name=label.split(" · ", 1)[0] if kind == "service" else label)


def _split_fraction(values: Values) -> float:
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
    return round(float(pct) / 100, 4)


def _validation_source(
    mode: ValidationMode,
    files: list[Mapping[str, Any]],
    url: str | None,
    existing: tuple[str, str] | None,
) -> DataSource:
    """The validation data for ``file``, ``url`` or ``existing``; ``InvalidInput`` when it is missing."""
    match mode:
        case "file":
            if not files:
                raise InvalidInput(
                    "Attach the validation file, or choose another option.", field=B.VALIDATION_FILE
                )
            return _slack_file(files, B.VALIDATION_FILE)
        case "url":
            if not url:
                raise InvalidInput(
                    "Give the validation file's URL, or choose another option.", field=B.VALIDATION_URL
                )
            return _url(url, B.VALIDATION_URL)
        case _:
            if existing is None:
                raise InvalidInput(
                    "Pick the validation dataset, or choose another option.", field=B.VALIDATION_EXISTING
                )
            return _picked(existing)


def _validation(
    values: Values, errors: dict[str, str]
) -> tuple[ValidationMode, DataSource | None, float | None]:
    mode_raw = selected_value(values, B.VALIDATION_MODE, Action.VALIDATION_MODE) or "none"
    if mode_raw not in VALIDATION_LABELS:
        errors[B.VALIDATION_MODE] = "Choose how to validate."
        return "none", None, None
    mode: ValidationMode = mode_raw  # type: ignore[assignment]
    files = state_files(values, B.VALIDATION_FILE, Action.VALIDATION_FILE)
    url = state_value(values, B.VALIDATION_URL, Action.VALIDATION_URL)
    existing = selected_option(values, B.VALIDATION_EXISTING, Action.VALIDATION_EXISTING)
    present = {"file": bool(files), "url": bool(url), "existing": existing is not None}
    for other, given in present.items():
        if given and other != mode:
            errors[B.VALIDATION_MODE] = (
                f"You gave validation data under “{VALIDATION_LABELS[other]}”: "
                "choose that option, or clear it."
            )
            return mode, None, None
    try:
        if mode == "none":
            return mode, None, None
        if mode == "split":
            return mode, None, _split_fraction(values)
        return mode, _validation_source(mode, files, url, existing), None
    except InvalidInput as e:
        errors[str(e.field)] = e.message
        return mode, None, None


_PARAMETERS = (  # name, block, label, integer, low, high, low exclusive
    ("batch_size", B.BATCH_SIZE, "Batch size", True, 1, 256, False),
    ("learning_rate_multiplier", B.LR_MULTIPLIER, "The learning rate multiplier", False, 0, 10, True),
    ("n_epochs", B.EPOCHS, "The number of epochs", True, 1, 50, False),
    ("beta", B.BETA, "Beta", False, 0, 2, True),
)


def _parameters(values: Values, errors: dict[str, str]) -> tuple[Hyperparameters, bool]:
    custom = selected_value(values, B.PARAMS_MODE, Action.PARAMS_MODE) == "custom"
    raw = {
        "batch_size": state_value(values, B.BATCH_SIZE, Action.BATCH_SIZE),
        "learning_rate_multiplier": state_value(values, B.LR_MULTIPLIER, Action.LR_MULTIPLIER),
        "n_epochs": state_value(values, B.EPOCHS, Action.EPOCHS),
        "beta": state_value(values, B.BETA, Action.BETA),
    }
    if not custom:
        if any(v is not None for v in raw.values()):
            errors[B.PARAMS_MODE] = "Choose Custom to use the values you entered, or clear them."
        return Hyperparameters(), False
    parsed: dict[str, Any] = {}
    for name, block, label, integer, low, high, exclusive in _PARAMETERS:
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
    if any(block in errors for _, block, *_rest in _PARAMETERS):
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


def _method(values: Values, errors: dict[str, str], beta_given: bool) -> Method:
    raw = selected_value(values, B.METHOD, Action.METHOD) or Method.SUPERVISED.value
    try:
        method = Method(raw)
    except ValueError:
        errors[B.METHOD] = "Choose Supervised or DPO."
        return Method.SUPERVISED
    if beta_given and method is not Method.DPO:
        errors[B.BETA] = "Beta is a DPO setting: choose DPO above, or clear it."
    return method


def _training_type(values: Values, errors: dict[str, str]) -> str | None:
    tier = selected_value(values, B.TRAINING_TYPE, Action.TRAINING_TYPE)
    if tier is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,39}", tier):
        errors[B.TRAINING_TYPE] = "Choose one of the training tiers listed."
        return None
    return tier


def parse_wizard(values: Values) -> WizardInput:
    """The submitted wizard, or ``WizardErrors`` naming every bad block (in the form's order)."""
    errors: dict[str, str] = {}
    model = selected_value(values, B.BASE_MODEL, Action.BASE_MODEL)
    if model is None:
        errors[B.BASE_MODEL] = "Pick a base model."
    training = _training(values, errors)
    mode, validation, split = _validation(values, errors)
    hyperparameters, custom = _parameters(values, errors)
    method = _method(values, errors, hyperparameters.beta is not None)
    training_type = _training_type(values, errors)
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
        method=method,
        training_type=training_type,
    )
