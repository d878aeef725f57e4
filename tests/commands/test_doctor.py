"""A preflight run's values: each check's status, detail and fix, the report's verdict and its JSON."""

from __future__ import annotations

import json

import pytest

from commands.doctor import MARKS, Check, Report, Status, failed, passed, skipped, warned


def test_statuses_have_stable_names_and_marks() -> None:
    assert [str(s) for s in Status] == ["pass", "fail", "skip", "warn"]
    assert MARKS == {Status.PASS: "✓", Status.FAIL: "✗", Status.SKIP: "—", Status.WARN: "⚠"}


def test_passed_has_no_fix() -> None:
    assert passed("store", "Postgres 16 reachable") == Check(
        "store", Status.PASS, "Postgres 16 reachable", None
    )


def test_failed_carries_its_fix() -> None:
    check = failed("slack", "token refused", "Set SLACK_BOT_TOKEN")
    assert check == Check("slack", Status.FAIL, "token refused", "Set SLACK_BOT_TOKEN")


def test_warned_with_and_without_a_fix() -> None:
    assert warned("prices", "prices are a year old") == Check(
        "prices", Status.WARN, "prices are a year old", None
    )
    assert warned("prices", "old", "Update prices.yaml") == Check(
        "prices", Status.WARN, "old", "Update prices.yaml"
    )


def test_skipped_has_no_fix() -> None:
    assert skipped("azure", "backend is local") == Check("azure", Status.SKIP, "backend is local", None)


def test_a_check_as_json() -> None:
    assert failed("slack", "token refused", "Set SLACK_BOT_TOKEN").to_json() == {
        "name": "slack",
        "status": "fail",
        "detail": "token refused",
        "fix": "Set SLACK_BOT_TOKEN",
    }
    data = passed("store", "ok").to_json()
    assert data == {"name": "store", "status": "pass", "detail": "ok", "fix": None}
    assert type(data["status"]) is str
    assert json.dumps(data) == '{"name": "store", "status": "pass", "detail": "ok", "fix": null}'


def _report() -> Report:
    return Report(
        (
            passed("store", "reachable"),
            warned("prices", "old"),
            skipped("azure", "local backend"),
            failed("slack", "token refused", "Set SLACK_BOT_TOKEN"),
            failed("models", "none", "Download one"),
        )
    )


def test_a_report_fails_on_any_failed_check_only() -> None:
    report = _report()
    assert report.ok is False
    assert [c.name for c in report.failed] == ["slack", "models"]
    quiet = Report((passed("store", "reachable"), warned("prices", "old"), skipped("azure", "local")))
    assert quiet.ok is True
    assert quiet.failed == []
    assert Report(()).ok is True


def test_a_report_finds_a_check_by_name() -> None:
    report = _report()
    assert report.get("prices") == warned("prices", "old")
    assert report.get("models") == failed("models", "none", "Download one")
    with pytest.raises(StopIteration):
        report.get("nope")


def test_the_first_check_of_a_name_is_the_one_found() -> None:
    report = Report((passed("x", "first"), failed("x", "second", "fix")))
    assert report.get("x").detail == "first"


def test_a_report_as_json_keeps_the_order() -> None:
    report = _report()
    assert report.to_json() == {"ok": False, "checks": [c.to_json() for c in report.checks]}
    assert [c["name"] for c in report.to_json()["checks"]] == ["store", "prices", "azure", "slack", "models"]
    assert Report((passed("store", "ok"),)).to_json() == {
        "ok": True,
        "checks": [{"name": "store", "status": "pass", "detail": "ok", "fix": None}],
    }
