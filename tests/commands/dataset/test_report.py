"""``commands.dataset.report``: the totals and the ``ftbot validate --json`` object of a report."""

from __future__ import annotations

import io

from commands.dataset import validate_dataset
from tests.commands.dataset.helpers import good, jsonl


def test_totals_count_every_issue_not_only_the_listed_ones() -> None:
    data = jsonl(good(10)) + b"x\n" * 120 + b"[]\n" + b"\n" * 3 + jsonl(good(2))
    report = validate_dataset(io.BytesIO(data), count_tokens=False)
    assert (report.error_total, len(report.errors)) == (121, 101)
    assert report.warning_counts == {"blank_line": 3, "duplicate_example": 2}
    assert report.warning_total == 5


def test_the_json_object_holds_every_listed_issue_and_the_stats() -> None:
    train = jsonl(good(10)) + b"\n" + b"[1]\n"
    report = validate_dataset(io.BytesIO(train), validation=io.BytesIO(jsonl(good(2, start=50)) + b"\n"))
    d = report.to_json_dict()
    assert d["ok"] is False and d["examples"] == 11
    assert d["errors"] == [
        {"line": 12, "code": "data_type", "message": "Each line must be a JSON object; this one is a list."}
    ]
    blank = {
        "line": 11,
        "code": "blank_line",
        "message": "Blank line; it is skipped (and dropped when ftbot uploads).",
    }
    assert d["warnings"] == [blank]
    assert d["stats"] == report.stats.model_dump() and d["stats"]["valid_examples"] == 10
    assert report.validation is not None and d["validation"] == report.validation.to_json_dict()
    assert set(d["validation"]) == {"ok", "examples", "errors", "warnings", "stats"}
    assert d["validation"]["warnings"] == [dict(blank, line=3)] and d["validation"]["ok"] is True
    assert "validation" not in report.validation.to_json_dict()
