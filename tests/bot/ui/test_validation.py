from __future__ import annotations

import io

import pytest

from bot.ui.ids import Block as B
from bot.ui.validation import VALIDATION_FILE_SUFFIX, billed_estimate, validation_report_blocks
from commands.dataset.report import DatasetStats, Issue, TokenStats, ValidationReport
from commands.dataset.validate import validate_dataset
from tests.bot.ui.helpers import HOSTILE, all_text, assert_escaped, assert_message_ok, block, has_block

GOOD_LINE = (
    b'{"messages": [{"role": "system", "content": "You help customers."}, '
    b'{"role": "user", "content": "Where is my order?"}, '
    b'{"role": "assistant", "content": "Let me check."}]}\n'
)


@pytest.fixture(scope="module")
def good_report() -> ValidationReport:
    return validate_dataset(io.BytesIO(GOOD_LINE * 20), exact_tokenizer=False, workers=1)


@pytest.fixture(scope="module")
def bad_report() -> ValidationReport:
    data = (
        GOOD_LINE * 12 + b"{not json\n" + GOOD_LINE + b'{"messages": [{"role": "user", "content": "hi"}]}\n'
    )
    return validate_dataset(io.BytesIO(data), workers=1)


def _synthetic(n_errors: int, message: str = "bad", *, ok: bool = False) -> ValidationReport:
    stats = DatasetStats(
        examples=1000,
        valid_examples=1000 - n_errors,
        format="chat",
        bytes=2_000_000,
        has_bom=False,
        messages_per_example=None,
        tokens_per_example=TokenStats(min=5, p50=80, p95=300, max=900, total=100_000),
        encoding="o200k_base",
        approximate_tokens=False,
        context_length=4096,
        examples_over_context=0,
        duplicates=0,
        default_epochs=3,
        billed_tokens_estimate=300_000,
        error_counts={"invalid_json": n_errors} if n_errors else {},
        warning_counts={},
    )
    errors = [Issue(line=i + 1, code="invalid_json", message=message) for i in range(n_errors)]
    return ValidationReport(
        ok=ok or not n_errors,
        examples=1000,
        errors=errors,
        error_counts=stats.error_counts,
        warnings=[],
        warning_counts={},
        stats=stats,
    )


def test_a_valid_report_shows_examples_tokens_and_the_estimate(good_report: ValidationReport) -> None:
    blocks = validation_report_blocks(good_report, title="Training data")
    assert_message_ok(blocks)
    summary = block(blocks, B.VALIDATION_SUMMARY)["text"]["text"]
    assert "Training data" in summary and "Ready to train" in summary and "20 examples" in summary
    stats = all_text([block(blocks, B.VALIDATION_STATS)])
    tokens = good_report.stats.tokens_per_example
    assert tokens is not None
    assert f"min {tokens.min}" in stats and f"p50 {tokens.p50}" in stats and f"p95 {tokens.p95}" in stats
    assert f"max {tokens.max}" in stats and f"{tokens.total:,}" in stats
    assert f"*Default epochs*\n{good_report.stats.default_epochs}" in stats
    estimate = block(blocks, B.VALIDATION_ESTIMATE)["text"]["text"]
    assert f"{good_report.stats.billed_tokens_estimate:,}" in estimate
    assert f"{good_report.stats.default_epochs} epochs" in estimate and "Approximate" in estimate
    assert not has_block(blocks, B.VALIDATION_ERRORS)


def test_errors_show_line_numbers_codes_and_counts(bad_report: ValidationReport) -> None:
    assert not bad_report.ok
    blocks = validation_report_blocks(bad_report, title="Training data")
    assert_message_ok(blocks)
    errors = block(blocks, B.VALIDATION_ERRORS)["text"]["text"]
    assert "Line 13 `invalid_json`" in errors
    assert "Line 15 `example_missing_assistant_message`" in errors
    assert "error(s)" in block(blocks, B.VALIDATION_SUMMARY)["text"]["text"]
    counts = all_text([block(blocks, B.VALIDATION_COUNTS)])
    assert "`invalid_json` ×1" in counts
    assert "Approximate" not in block(blocks, B.VALIDATION_ESTIMATE)["text"]["text"]


def test_many_long_hostile_errors_stay_within_a_section() -> None:
    report = _synthetic(500, message=HOSTILE * 30)
    blocks = validation_report_blocks(report, title=HOSTILE)
    assert_message_ok(blocks)
    assert_escaped(blocks)
    errors = block(blocks, B.VALIDATION_ERRORS)["text"]["text"]
    assert "(first 10 of 500)" in errors and "Line 1 " in errors
    assert "`invalid_json` ×500" in all_text([block(blocks, B.VALIDATION_COUNTS)])


def test_the_validation_file_gets_its_own_blocks(
    good_report: ValidationReport, bad_report: ValidationReport
) -> None:
    report = good_report.model_copy(update={"validation": bad_report, "ok": False})
    blocks = validation_report_blocks(report, title="Training data")
    assert_message_ok(blocks)
    assert "Validation file" in block(blocks, B.VALIDATION_SUMMARY + VALIDATION_FILE_SUFFIX)["text"]["text"]
    assert "Line 13" in block(blocks, B.VALIDATION_ERRORS + VALIDATION_FILE_SUFFIX)["text"]["text"]
    assert not has_block(blocks, B.VALIDATION_ESTIMATE + VALIDATION_FILE_SUFFIX)


def test_custom_epochs_rescale_the_estimate() -> None:
    report = _synthetic(0)
    assert billed_estimate(report.stats) == 300_000
    assert billed_estimate(report.stats, 5) == 500_000
    blocks = validation_report_blocks(report, title="t", n_epochs=5)
    estimate = block(blocks, B.VALIDATION_ESTIMATE)["text"]["text"]
    assert "500,000" in estimate and "5 epochs (your choice)" in estimate


def test_uncounted_tokens_say_so() -> None:
    report = _synthetic(0)
    stats = report.stats.model_copy(
        update={"tokens_per_example": None, "billed_tokens_estimate": None, "examples_over_context": None}
    )
    blocks = validation_report_blocks(report.model_copy(update={"stats": stats}), title="t")
    assert_message_ok(blocks)
    stats_text = all_text([block(blocks, B.VALIDATION_STATS)])
    assert "*Tokens*\nnot counted" in stats_text and "*Over the context length*\nnot counted" in stats_text
    assert "not available" in block(blocks, B.VALIDATION_ESTIMATE)["text"]["text"]
