"""FTBOT_LOG_FORMAT=json: one JSON object per record with the documented fields; secrets scrubbed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.runtime.logs import SECRETS, configure_logging, current_ref, log_context, new_ref


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("INFO", "json")
    out = io.StringIO()
    root.handlers[0].setStream(out)  # type: ignore[attr-defined]
    yield out
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def records(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_each_record_is_one_json_object_with_the_documented_fields(lines: io.StringIO) -> None:
    log = logging.getLogger("ftbot.test")
    with log_context(team_id="T1", user="UMEMBER01"):
        log.info("poll of ft-phi-4-abc123 failed; endpoint ftbot-abc123-1 is down")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("unexpected error (ref 7f3a)")
    first, second = records(lines)
    assert list(first)[:4] == ["time", "level", "logger", "message"]
    assert first["level"] == "INFO" and first["logger"] == "ftbot.test"
    assert str(first["time"]).endswith("Z") and "T" in str(first["time"])
    assert first["team_id"] == "T1" and first["user"] == "UMEMBER01"
    assert first["job_id"] == "ft-phi-4-abc123" and first["endpoint"] == "ftbot-abc123-1"
    assert second["ref"] == "7f3a" and "team_id" not in second
    assert isinstance(second["exc"], str) and "ValueError: boom" in str(second["exc"])


def test_secrets_are_scrubbed_from_message_traceback_and_fields(lines: io.StringIO) -> None:
    SECRETS.add("sup3r-s3cret-value")
    log = logging.getLogger("ftbot.test")
    try:
        raise RuntimeError("token xoxb-123-456-abc and sup3r-s3cret-value")
    except RuntimeError:
        log.exception("failed with Bearer abcdefghijklmnop", extra={"detail": "sig=abcdef123"})
    text = lines.getvalue()
    for secret in ("xoxb-123-456-abc", "sup3r-s3cret-value", "abcdefghijklmnop", "abcdef123"):
        assert secret not in text
    assert records(lines)[0]["exc"]


def test_a_request_context_ref_is_on_every_line_unless_the_line_names_its_own(lines: io.StringIO) -> None:
    log = logging.getLogger("ftbot.test")
    ref = new_ref()
    assert current_ref() is None
    with log_context(ref=ref, team_id="T1"):
        assert current_ref() == ref
        log.info("parsing")
        log.warning("incident acknowledged (ref 0badf00d)")  # a line about another ref keeps it
        log.info("paging", extra={"ref": "c0ffee"})
    plain, incident, explicit = records(lines)
    assert plain["ref"] == ref and plain["team_id"] == "T1"
    assert incident["ref"] == "0badf00d" and incident["team_id"] == "T1"
    assert explicit["ref"] == "c0ffee"
    assert len(ref) == 6 and ref != new_ref()
