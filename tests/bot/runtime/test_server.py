"""The HTTP surface over real HTTP: signatures, bad input, /finetune help, /healthz."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.demo.payloads import block_action, payload_body, slash_body
from bot.demo.slack import FakeSlack
from bot.runtime.services import Services
from bot.store.tables import AuditRow, JobRow
from tests.support.harness import RunningBot, make_settings, running_bot


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


@pytest.fixture
def bot(tmp_path: Path, fake: FakeSlack) -> Iterator[RunningBot]:
    services = Services.from_settings(make_settings(tmp_path, fake))
    with running_bot(services) as b:
        yield b


def _rows(bot: RunningBot) -> int:
    with bot.services.database.session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(JobRow)) or 0) + int(
            s.scalar(select(func.count()).select_from(AuditRow)) or 0
        )


def test_help_acks_ephemerally_well_within_slacks_three_seconds(bot: RunningBot) -> None:
    r = bot.post(slash_body("help"))
    assert r.status == 200
    assert r.elapsed < 3.0
    body = r.json()
    assert body["response_type"] == "ephemeral"
    help_block = next(b for b in body["blocks"] if b.get("block_id") == "help")
    for sub in (
        "submit",
        "validate",
        "status",
        "list",
        "models",
        "endpoints",
        "deploy",
        "chat",
        "teardown",
        "cancel",
    ):
        assert f"/finetune {sub}" in help_block["text"]["text"]


def test_unknown_subcommand_names_the_closest_and_points_to_help(bot: RunningBot) -> None:
    r = bot.post(slash_body("stauts"))
    assert r.status == 200
    body = r.json()
    assert body["response_type"] == "ephemeral"
    assert "/finetune status" in body["text"] and "/finetune help" in body["text"]


def test_bad_flag_says_which_flag_and_why(bot: RunningBot) -> None:
    body = bot.post(slash_body("submit --model m --data https://x/y.jsonl --epochs many")).json()
    assert "`--epochs` must be a whole number" in body["text"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Signature": "v0=" + "0" * 64},  # forged
        {"X-Slack-Signature": "", "X-Slack-Request-Timestamp": ""},  # missing
    ],
)
def test_forged_or_missing_signature_is_401_with_no_side_effect(
    bot: RunningBot, fake: FakeSlack, headers: dict[str, str]
) -> None:
    r = bot.post(slash_body("help"), headers=headers)
    assert r.status == 401
    r = bot.post(payload_body(block_action("job_deploy", "ftbot-x")), headers=headers)
    assert r.status == 401
    time.sleep(0.2)
    assert fake.calls == []
    assert _rows(bot) == 0


def test_unsigned_request_is_401(bot: RunningBot, fake: FakeSlack) -> None:
    assert bot.post(slash_body("help"), signed=False).status == 401
    assert fake.calls == []


def test_stale_signature_over_five_minutes_is_401_with_no_side_effect(
    bot: RunningBot, fake: FakeSlack
) -> None:
    r = bot.post(slash_body("help"), timestamp=int(time.time()) - 5 * 60 - 5)
    assert r.status == 401
    time.sleep(0.2)
    assert fake.calls == [] and _rows(bot) == 0


@pytest.mark.parametrize(
    "body, ctype",
    [
        ("payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        ("payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),  # JSON, but not an object
        ("{not json", "application/json"),
        ("%%%&&&===", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_signed_bodies_get_a_4xx_never_a_500(bot: RunningBot, body: str, ctype: str) -> None:
    r = bot.post(body, content_type=ctype)
    assert 200 <= r.status < 500, r.body
    assert b"Traceback" not in r.body
    assert _rows(bot) == 0


def test_oversized_body_is_refused_before_parsing(bot: RunningBot) -> None:
    host, port = bot.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:  # declare 2 MB, send a little: the server answers from the header, without reading the body
        conn.putrequest("POST", "/slack/events")
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(2_000_000))
        conn.endheaders(b"text=aaaa")
        assert conn.getresponse().status == 413
    finally:
        conn.close()


def test_healthz_reports_ok(bot: RunningBot) -> None:
    r = bot.get("/healthz")
    assert r.status == 200
    assert r.json()["ok"] is True and r.json()["store"] is True


def test_healthz_is_503_until_the_scheduler_runs(tmp_path: Path, fake: FakeSlack) -> None:
    services = Services.from_settings(make_settings(tmp_path, fake))
    with running_bot(services, scheduler_running=False) as b:
        r = b.get("/healthz")
    assert r.status == 503 and r.json()["ok"] is False
