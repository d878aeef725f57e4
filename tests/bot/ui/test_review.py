from __future__ import annotations

import pytest
from slack_sdk.errors import SlackObjectFormationError

from bot.ui.ids import Block as B
from bot.ui.ids import Callback
from bot.ui.review import review_view, submitted_view
from commands.dataset.report import DatasetStats, Issue, TokenStats, ValidationReport
from tests.bot.ui.helpers import HOSTILE, all_text, assert_escaped, assert_view_ok, block, has_block


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
