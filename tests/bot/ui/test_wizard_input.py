from __future__ import annotations

from typing import Any

import orjson
import pytest

from bot.ui.ids import Action
from bot.ui.ids import Block as B
from bot.ui.wizard import wizard_view
from bot.ui.wizard_input import DataSource, WizardErrors, parse_wizard
from commands.errors import InvalidInput
from commands.models import Hyperparameters
from tests.bot.ui.helpers import DATASETS, assert_view_ok, block

SLACK_FILE = {
    "id": "F06TAC0KTD4",
    "name": "support.jsonl",
    "size": 65_457,
    "url_private": "https://files.slack.com/files-pri/T1-F1/support.jsonl",
    "url_private_download": "https://files.slack.com/files-pri/T1-F1/download/support.jsonl",
}


def _text(value: str | None, kind: str = "plain_text_input") -> dict[str, Any]:
    return {"type": kind, "value": value}


def _select(value: str | None, text: str | None = None, kind: str = "static_select") -> dict[str, Any]:
    option = (
        None if value is None else {"text": {"type": "plain_text", "text": text or value}, "value": value}
    )
    return {"type": kind, "selected_option": option}


def _values(**overrides: dict[str, Any]) -> dict[str, Any]:
    """A submission as Slack sends it: every block of the view, mostly empty."""
    values: dict[str, Any] = {
        B.BASE_MODEL: {Action.BASE_MODEL: _select("Phi-4-mini-instruct", kind="external_select")},
        B.TRAINING_FILE: {Action.TRAINING_FILE: {"type": "file_input", "files": []}},
        B.TRAINING_URL: {Action.TRAINING_URL: _text(None, "url_text_input")},
        B.TRAINING_EXISTING: {Action.TRAINING_EXISTING: _select(None)},
        B.VALIDATION_MODE: {Action.VALIDATION_MODE: _select("none", kind="radio_buttons")},
        B.VALIDATION_SPLIT: {Action.VALIDATION_SPLIT: _text("10", "number_input")},
        B.VALIDATION_FILE: {Action.VALIDATION_FILE: {"type": "file_input", "files": []}},
        B.VALIDATION_URL: {Action.VALIDATION_URL: _text(None, "url_text_input")},
        B.VALIDATION_EXISTING: {Action.VALIDATION_EXISTING: _select(None)},
        B.PARAMS_MODE: {Action.PARAMS_MODE: _select("default", kind="radio_buttons")},
        B.BATCH_SIZE: {Action.BATCH_SIZE: _text(None, "number_input")},
        B.LR_MULTIPLIER: {Action.LR_MULTIPLIER: _text(None, "number_input")},
        B.EPOCHS: {Action.EPOCHS: _text(None, "number_input")},
        B.SUFFIX: {Action.SUFFIX: _text(None)},
    }
    for block_id, element in overrides.items():
        values[block_id] = {next(iter(values[block_id])): element}
    return values


def _files(*files: dict[str, Any]) -> dict[str, Any]:
    return {"type": "file_input", "files": list(files)}


def _mode(mode: str) -> dict[str, Any]:
    return _select(mode, kind="radio_buttons")


def test_parse_an_uploaded_file_with_defaults() -> None:
    parsed = parse_wizard(_values(**{B.TRAINING_FILE: _files(SLACK_FILE)}))
    assert parsed.model == "Phi-4-mini-instruct"
    assert parsed.training == DataSource(
        kind="slack_file",
        value=SLACK_FILE["url_private_download"],
        name="support.jsonl",
        file_id="F06TAC0KTD4",
        size=65_457,
    )
    assert parsed.validation_mode == "none" and parsed.validation is None and parsed.split_fraction is None
    assert parsed.hyperparameters.is_default and not parsed.custom_parameters and parsed.suffix is None


def test_parse_a_url_with_split_and_custom_parameters() -> None:
    url = "https://acct.blob.core.windows.net/data/train.jsonl?sv=2024&sig=SECRET"
    parsed = parse_wizard(
        _values(
            **{
                B.TRAINING_URL: _text(url, "url_text_input"),
                B.VALIDATION_MODE: _mode("split"),
                B.VALIDATION_SPLIT: _text("12.5", "number_input"),
                B.PARAMS_MODE: _mode("custom"),
                B.BATCH_SIZE: _text("16", "number_input"),
                B.LR_MULTIPLIER: _text("0.05", "number_input"),
                B.SUFFIX: _text("support-v2"),
            }
        )
    )
    assert parsed.training.kind == "url" and parsed.training.value == url
    assert parsed.training.name == "train.jsonl" and "SECRET" not in parsed.training.name
    assert parsed.validation_mode == "split" and parsed.split_fraction == 0.125
    assert parsed.hyperparameters == Hyperparameters(batch_size=16, learning_rate_multiplier=0.05)
    assert parsed.custom_parameters and parsed.suffix == "support-v2"


def test_parse_existing_datasets_for_training_and_validation() -> None:
    parsed = parse_wizard(
        _values(
            **{
                B.TRAINING_EXISTING: _select("ds-1", "support.jsonl (1,234 examples)"),
                B.VALIDATION_MODE: _mode("existing"),
                B.VALIDATION_EXISTING: _select("ds-2", "faq.jsonl"),
            }
        )
    )
    assert parsed.training == DataSource(kind="existing", value="ds-1", name="support.jsonl (1,234 examples)")
    assert parsed.validation == DataSource(kind="existing", value="ds-2", name="faq.jsonl")


@pytest.mark.parametrize(
    ("mode", "block_id", "element", "kind"),
    [
        ("file", B.VALIDATION_FILE, _files({**SLACK_FILE, "name": "val.jsonl"}), "slack_file"),
        ("url", B.VALIDATION_URL, _text("https://example.com/val.jsonl", "url_text_input"), "url"),
    ],
)
def test_parse_validation_file_and_url(mode: str, block_id: str, element: dict[str, Any], kind: str) -> None:
    parsed = parse_wizard(
        _values(**{B.TRAINING_FILE: _files(SLACK_FILE), B.VALIDATION_MODE: _mode(mode), block_id: element})
    )
    assert parsed.validation is not None and parsed.validation.kind == kind
    assert parsed.validation.name == "val.jsonl"


WITH_FILE = {B.TRAINING_FILE: _files(SLACK_FILE)}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({**WITH_FILE, B.BASE_MODEL: _select(None, kind="external_select")}, B.BASE_MODEL),
        ({}, B.TRAINING_FILE),
        (
            {**WITH_FILE, B.TRAINING_URL: _text("https://example.com/t.jsonl", "url_text_input")},
            B.TRAINING_URL,
        ),
        ({**WITH_FILE, B.TRAINING_EXISTING: _select("ds-1")}, B.TRAINING_EXISTING),
        ({B.TRAINING_FILE: _files({**SLACK_FILE, "name": "train.csv"})}, B.TRAINING_FILE),
        ({B.TRAINING_FILE: _files(SLACK_FILE, SLACK_FILE)}, B.TRAINING_FILE),
        ({B.TRAINING_FILE: _files({"name": "t.jsonl"})}, B.TRAINING_FILE),
        ({B.TRAINING_URL: _text("ftp://example.com/t.jsonl", "url_text_input")}, B.TRAINING_URL),
        ({B.TRAINING_URL: _text("not a url", "url_text_input")}, B.TRAINING_URL),
        (
            {**WITH_FILE, B.VALIDATION_MODE: _mode("split"), B.VALIDATION_SPLIT: _text("60", "number_input")},
            B.VALIDATION_SPLIT,
        ),
        (
            {**WITH_FILE, B.VALIDATION_MODE: _mode("split"), B.VALIDATION_SPLIT: _text("0", "number_input")},
            B.VALIDATION_SPLIT,
        ),
        (
            {**WITH_FILE, B.VALIDATION_MODE: _mode("split"), B.VALIDATION_SPLIT: _text(None, "number_input")},
            B.VALIDATION_SPLIT,
        ),
        ({**WITH_FILE, B.VALIDATION_MODE: _mode("file")}, B.VALIDATION_FILE),
        ({**WITH_FILE, B.VALIDATION_MODE: _mode("url")}, B.VALIDATION_URL),
        ({**WITH_FILE, B.VALIDATION_MODE: _mode("existing")}, B.VALIDATION_EXISTING),
        ({**WITH_FILE, B.VALIDATION_MODE: _mode("bogus")}, B.VALIDATION_MODE),
        (
            {**WITH_FILE, B.VALIDATION_URL: _text("https://example.com/v.jsonl", "url_text_input")},
            B.VALIDATION_MODE,
        ),
        ({**WITH_FILE, B.EPOCHS: _text("3", "number_input")}, B.PARAMS_MODE),
        ({**WITH_FILE, B.PARAMS_MODE: _mode("custom")}, B.PARAMS_MODE),
        (
            {**WITH_FILE, B.PARAMS_MODE: _mode("custom"), B.BATCH_SIZE: _text("0", "number_input")},
            B.BATCH_SIZE,
        ),
        (
            {**WITH_FILE, B.PARAMS_MODE: _mode("custom"), B.BATCH_SIZE: _text("2.5", "number_input")},
            B.BATCH_SIZE,
        ),
        (
            {**WITH_FILE, B.PARAMS_MODE: _mode("custom"), B.BATCH_SIZE: _text("257", "number_input")},
            B.BATCH_SIZE,
        ),
        (
            {**WITH_FILE, B.PARAMS_MODE: _mode("custom"), B.LR_MULTIPLIER: _text("0", "number_input")},
            B.LR_MULTIPLIER,
        ),
        (
            {**WITH_FILE, B.PARAMS_MODE: _mode("custom"), B.LR_MULTIPLIER: _text("fast", "number_input")},
            B.LR_MULTIPLIER,
        ),
        (
            {**WITH_FILE, B.PARAMS_MODE: _mode("custom"), B.LR_MULTIPLIER: _text("11", "number_input")},
            B.LR_MULTIPLIER,
        ),
        ({**WITH_FILE, B.PARAMS_MODE: _mode("custom"), B.EPOCHS: _text("51", "number_input")}, B.EPOCHS),
        ({**WITH_FILE, B.SUFFIX: _text("has spaces")}, B.SUFFIX),
        ({**WITH_FILE, B.SUFFIX: _text("x" * 41)}, B.SUFFIX),
        ({**WITH_FILE, B.SUFFIX: _text("<!channel>")}, B.SUFFIX),
    ],
)
def test_each_bad_field_is_keyed_by_its_block(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(WizardErrors) as caught:
        parse_wizard(_values(**overrides))
    assert isinstance(caught.value, InvalidInput)
    assert field in caught.value.errors, caught.value.errors
    assert caught.value.field == next(iter(caught.value.errors))
    assert all(type(k) is str for k in caught.value.errors)  # not the StrEnum: orjson refuses those as keys
    assert orjson.loads(orjson.dumps({"response_action": "errors", "errors": caught.value.errors}))
    assert all(0 < len(m) <= 2000 for m in caught.value.errors.values())


def test_all_bad_fields_are_reported_at_once_in_form_order() -> None:
    with pytest.raises(WizardErrors) as caught:
        parse_wizard(
            _values(
                **{
                    B.BASE_MODEL: _select(None, kind="external_select"),
                    B.VALIDATION_MODE: _mode("url"),
                    B.PARAMS_MODE: _mode("custom"),
                    B.EPOCHS: _text("0", "number_input"),
                    B.SUFFIX: _text("bad suffix"),
                }
            )
        )
    assert list(caught.value.errors) == [B.BASE_MODEL, B.TRAINING_FILE, B.VALIDATION_URL, B.EPOCHS, B.SUFFIX]
    assert caught.value.field == B.BASE_MODEL


def test_parse_then_show_again_round_trips() -> None:
    values = _values(
        **{
            B.TRAINING_EXISTING: _select("ds-1"),
            B.PARAMS_MODE: _mode("custom"),
            B.EPOCHS: _text("4", "number_input"),
            B.VALIDATION_MODE: _mode("split"),
            B.VALIDATION_SPLIT: _text("20", "number_input"),
        }
    )
    parsed = parse_wizard(values)
    blocks = assert_view_ok(
        wizard_view(backend_kind="local", channel_id="C1", datasets=DATASETS, initial=parsed)
    )["blocks"]
    assert block(blocks, B.VALIDATION_SPLIT)["element"]["initial_value"] == "20.0"
    assert block(blocks, B.EPOCHS)["element"]["initial_value"] == "4"
