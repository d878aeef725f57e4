from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from slack_sdk.errors import SlackObjectFormationError

from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from bot.ui.wizard import (
    DataSource,
    WizardErrors,
    WizardInput,
    loading_view,
    options_for_models,
    parse_wizard,
    review_view,
    submitted_view,
    wizard_view,
)
from commands.dataset.report import DatasetStats, Issue, TokenStats, ValidationReport
from commands.errors import InvalidInput
from commands.models import BaseModelInfo, Hyperparameters, Task
from tests.bot.ui.helpers import HOSTILE, all_text, assert_escaped, assert_view_ok, block, has_block

DATASETS = [("ds-1", "support.jsonl (1,234 examples)"), ("ds-2", "faq.jsonl")]
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


# --- views ------------------------------------------------------------------------------------------


def test_loading_view() -> None:
    d = assert_view_ok(loading_view())
    assert d["callback_id"] == Callback.LOADING and "Loading" in all_text(d["blocks"]) and "submit" not in d


def test_wizard_view_has_every_step() -> None:
    d = assert_view_ok(wizard_view(backend_kind="azure", channel_id="C0CHAN", datasets=DATASETS))
    assert d["callback_id"] == Callback.WIZARD and d["private_metadata"] == "C0CHAN"
    assert d["submit"]["text"] == "Review"
    blocks = d["blocks"]
    model = block(blocks, B.BASE_MODEL)["element"]
    assert model["type"] == "external_select" and model["min_query_length"] == 0
    assert model["action_id"] == Action.BASE_MODEL
    for block_id in (B.TRAINING_FILE, B.VALIDATION_FILE):
        element = block(blocks, block_id)["element"]
        assert (
            element["type"] == "file_input"
            and element["filetypes"] == ["jsonl"]
            and element["max_files"] == 1
        )
        assert block(blocks, block_id)["optional"] is True
    assert block(blocks, B.TRAINING_URL)["element"]["type"] == "url_text_input"
    existing = block(blocks, B.TRAINING_EXISTING)["element"]
    assert existing["type"] == "static_select" and [o["value"] for o in existing["options"]] == [
        "ds-1",
        "ds-2",
    ]
    modes = [o["value"] for o in block(blocks, B.VALIDATION_MODE)["element"]["options"]]
    assert modes == ["none", "split", "file", "url", "existing"]
    split = block(blocks, B.VALIDATION_SPLIT)["element"]
    assert split["type"] == "number_input" and (split["min_value"], split["max_value"]) == ("1", "50")
    params = block(blocks, B.PARAMS_MODE)["element"]
    assert [o["text"]["text"] for o in params["options"]] == ["Default", "Custom"]
    assert params["initial_option"]["value"] == "default"
    lr = block(blocks, B.LR_MULTIPLIER)
    assert (
        "0.02–0.2 is the article's advice" in lr["hint"]["text"]
        and lr["element"]["is_decimal_allowed"] is True
    )
    batch = block(blocks, B.BATCH_SIZE)["element"]
    assert (batch["min_value"], batch["max_value"], batch["is_decimal_allowed"]) == ("1", "256", False)
    epochs = block(blocks, B.EPOCHS)["element"]
    assert (epochs["min_value"], epochs["max_value"]) == ("1", "50")
    assert block(blocks, B.SUFFIX)["element"]["max_length"] == 40


def test_wizard_without_datasets_offers_no_existing_choice() -> None:
    d = assert_view_ok(wizard_view(backend_kind="local", channel_id="C0CHAN"))
    assert not has_block(d["blocks"], B.TRAINING_EXISTING) and not has_block(
        d["blocks"], B.VALIDATION_EXISTING
    )
    assert "existing" not in [o["value"] for o in block(d["blocks"], B.VALIDATION_MODE)["element"]["options"]]


def test_wizard_with_many_hostile_datasets() -> None:
    datasets = [(f"ds-{i}", HOSTILE) for i in range(300)]
    d = assert_view_ok(wizard_view(backend_kind=HOSTILE, channel_id="C0CHAN", datasets=datasets))
    assert len(block(d["blocks"], B.TRAINING_EXISTING)["element"]["options"]) == 100
    assert "<!channel>" not in all_text(d["blocks"]) and "&lt;!channel&gt;" in all_text(d["blocks"])


def test_wizard_prefills_from_an_earlier_input() -> None:
    initial = WizardInput(
        model="Phi-4-mini-instruct",
        training=DataSource(kind="existing", value="ds-2", name="faq.jsonl"),
        validation_mode="url",
        validation=DataSource(
            kind="url", value="https://x.blob.core.windows.net/c/val.jsonl", name="val.jsonl"
        ),
        hyperparameters=Hyperparameters(n_epochs=3, learning_rate_multiplier=0.1),
        custom_parameters=True,
        suffix="support",
    )
    blocks = assert_view_ok(
        wizard_view(backend_kind="azure", channel_id="C0CHAN", datasets=DATASETS, initial=initial)
    )["blocks"]
    assert block(blocks, B.BASE_MODEL)["element"]["initial_option"]["value"] == "Phi-4-mini-instruct"
    assert block(blocks, B.TRAINING_EXISTING)["element"]["initial_option"]["value"] == "ds-2"
    assert block(blocks, B.VALIDATION_MODE)["element"]["initial_option"]["value"] == "url"
    assert block(blocks, B.VALIDATION_URL)["element"]["initial_value"].endswith("val.jsonl")
    assert block(blocks, B.PARAMS_MODE)["element"]["initial_option"]["value"] == "custom"
    assert block(blocks, B.EPOCHS)["element"]["initial_value"] == "3"
    assert block(blocks, B.LR_MULTIPLIER)["element"]["initial_value"] == "0.1"
    assert block(blocks, B.SUFFIX)["element"]["initial_value"] == "support"


# --- parse_wizard -------------------------------------------------------------------------------------


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


# --- options ----------------------------------------------------------------------------------------


def test_model_options_filter_rank_and_cap() -> None:
    models = [
        BaseModelInfo(name="Phi-4-mini-instruct", source="azureml"),
        BaseModelInfo(name="Meta-Llama-3-8B-Instruct", source="azureml-meta", needs_subscription=True),
        BaseModelInfo(name="Mistral-phi-ish", source="azureml-mistral"),
        BaseModelInfo(name="phi-text-only", source="azureml", tasks=(Task.TEXT_COMPLETION,)),
        *[BaseModelInfo(name=f"model-{i:03d}-" + "x" * 80, source="azureml") for i in range(150)],
    ]
    phi = options_for_models(models, "PHI")
    assert [o.value for o in phi] == ["Phi-4-mini-instruct", "Mistral-phi-ish"]
    llama = options_for_models(models, "llama")[0].to_dict()
    assert llama["text"]["text"].endswith("needs subscription")
    everything = [o.to_dict() for o in options_for_models(models, "")]
    assert len(everything) == 100
    assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in everything)
    assert options_for_models(models, "nothing-matches") == []


# --- review and after -------------------------------------------------------------------------------


def _report(*, errors: int = 0, warnings: int = 1) -> ValidationReport:
    stats = DatasetStats(
        examples=1234,
        valid_examples=1234 - errors,
        format="chat",
        bytes=900_000,
        has_bom=True,
        messages_per_example=None,
        tokens_per_example=TokenStats(min=12, p50=80, p95=310, max=2000, total=123_456),
        encoding="o200k_base",
        approximate_tokens=True,
        context_length=4096,
        examples_over_context=0,
        duplicates=1,
        default_epochs=3,
        billed_tokens_estimate=370_368,
        error_counts={"invalid_json": errors} if errors else {},
        warning_counts={"duplicate_example": warnings} if warnings else {},
    )
    return ValidationReport(
        ok=not errors,
        examples=1234,
        errors=[
            Issue(line=10 + i, code="invalid_json", message=f"Line is not JSON {HOSTILE}")
            for i in range(errors)
        ],
        error_counts=stats.error_counts,
        warnings=[Issue(line=5, code="duplicate_example", message="Same as line 4")] * warnings,
        warning_counts=stats.warning_counts,
        stats=stats,
    )


SUMMARY = [("Base model", "Phi-4-mini-instruct"), ("Training data", HOSTILE), ("Parameters", "Default")]


def test_review_of_a_valid_dataset_starts_training() -> None:
    d = assert_view_ok(review_view(report=_report(), summary=SUMMARY, private_metadata="pending:42"))
    assert d["callback_id"] == Callback.REVIEW and d["submit"]["text"] == "Start training"
    assert d["private_metadata"] == "pending:42"
    assert "Phi-4-mini-instruct" in all_text([block(d["blocks"], B.REVIEW)])
    assert "370,368" in block(d["blocks"], B.VALIDATION_ESTIMATE)["text"]["text"]
    assert "3 epochs" in block(d["blocks"], B.VALIDATION_ESTIMATE)["text"]["text"]
    assert "Line 5 `duplicate_example`" in block(d["blocks"], B.VALIDATION_WARNINGS)["text"]["text"]
    assert has_block(d["blocks"], B.REVIEW_ESTIMATE) and not has_block(d["blocks"], B.REVIEW_BLOCKED)
    assert_escaped(d["blocks"])


def test_review_with_custom_epochs_rescales_the_estimate() -> None:
    d = assert_view_ok(review_view(report=_report(), summary=SUMMARY, private_metadata="p", n_epochs=6))
    assert "740,736" in block(d["blocks"], B.VALIDATION_ESTIMATE)["text"]["text"]


def test_review_of_a_dataset_with_errors_cannot_be_submitted() -> None:
    d = assert_view_ok(review_view(report=_report(errors=40), summary=SUMMARY, private_metadata="p"))
    assert "submit" not in d and d["close"]["text"] == "Close"
    errors = block(d["blocks"], B.VALIDATION_ERRORS)["text"]["text"]
    assert "Line 10 `invalid_json`" in errors and "(first 10 of 40)" in errors
    assert "cannot start" in block(d["blocks"], B.REVIEW_BLOCKED)["text"]["text"]
    assert_escaped(d["blocks"])


def test_review_blocks_a_bad_validation_file_too() -> None:
    report = _report().model_copy(update={"validation": _report(errors=2)})
    d = assert_view_ok(review_view(report=report, summary=SUMMARY, private_metadata="p"))
    assert "submit" not in d and has_block(d["blocks"], B.REVIEW_BLOCKED)


def test_review_refuses_oversized_metadata() -> None:
    with pytest.raises(SlackObjectFormationError):
        review_view(report=_report(), summary=SUMMARY, private_metadata="x" * 3001).to_dict()


def test_submitted_view() -> None:
    d = assert_view_ok(submitted_view("ft-support-1"))
    assert d["callback_id"] == Callback.SUBMITTED and "submit" not in d
    assert "ft-support-1" in block(d["blocks"], B.SUBMITTED)["text"]["text"]


def test_model_options_answer_fast_for_a_large_catalogue() -> None:
    """The options request must be answered within Slack's 3 s; the filter is one linear pass (a
    quadratic one took ~7 s for 2,000 models here)."""
    models = [BaseModelInfo(name=f"model-{i:05d}", source="azureml") for i in range(5000)]
    started = time.perf_counter()
    options = options_for_models(models, "model-0")
    assert time.perf_counter() - started < 0.5
    assert len(options) == 100
