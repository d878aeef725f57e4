"""``/finetune doctor`` over signed HTTP: approvers only, answered ephemerally with every check, found by
block id, never a secret; and the builder's blocks are valid Block Kit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.doctor.runner import NAMES
from bot.doctor.slack_check import BOT_SCOPES
from bot.ui.doctor import doctor_message
from bot.ui.ids import Block as B
from commands.doctor import Check, Report, Status
from tests.support.blockkit import assert_valid_message
from tests.support.harness import BOT_TOKEN, SIGNING_SECRET
from tests.support.world import APPROVER, MEMBER, World, block, open_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path) as w:
        w.fake.oauth_scopes = ",".join(BOT_SCOPES)
        yield w


def doctor_reply(world: World) -> dict[str, Any]:
    world.wait_response("ftbot's setup:")
    return next(r for r in world.fake.responses if "ftbot's setup:" in r.get("text", ""))


def test_an_approver_gets_every_check_ephemerally(world: World) -> None:
    ack = world.slash("doctor", user=APPROVER)
    assert ack["response_type"] == "ephemeral" and "Checking ftbot's setup" in ack["text"]
    reply = doctor_reply(world)
    assert reply["response_type"] == "ephemeral"
    blocks = reply["blocks"]
    assert "all 4 applicable checks pass" in block(blocks, B.DOCTOR_SUMMARY)["text"]["text"]
    for name in NAMES:
        assert block(blocks, f"{B.DOCTOR_CHECK}.{name}")
    assert block(blocks, f"{B.DOCTOR_CHECK}.slack")["text"]["text"].startswith("✓ *slack*")
    assert block(blocks, f"{B.DOCTOR_CHECK}.credential")["text"]["text"].startswith("— *credential*")
    sent = json.dumps(world.fake.responses)
    assert BOT_TOKEN not in sent and SIGNING_SECRET not in sent


def test_a_failed_check_shows_its_fix(world: World) -> None:
    world.fake.oauth_scopes = "commands,chat:write"
    world.slash("doctor", user=APPROVER)
    blocks = doctor_reply(world)["blocks"]
    assert "1 check(s) fail (slack)" in block(blocks, B.DOCTOR_SUMMARY)["text"]["text"]
    slack = block(blocks, f"{B.DOCTOR_CHECK}.slack")["text"]["text"]
    assert slack.startswith("✗ *slack*") and "files:read" in slack and "_Fix:_" in slack


def test_a_member_who_is_not_an_approver_is_refused(world: World) -> None:
    world.slash("doctor", user=MEMBER)
    text = world.wait_response("Only approvers")
    assert "doctor" in text
    assert not any("ftbot's setup:" in r.get("text", "") for r in world.fake.responses)


def test_doctor_takes_no_arguments(world: World) -> None:
    ack = world.slash("doctor now", user=APPROVER)
    assert "takes no arguments" in json.dumps(ack)


def test_the_message_is_valid_block_kit_and_escapes_details() -> None:
    report = Report(
        (
            Check("settings", Status.PASS, "local backend"),
            Check("slack", Status.FAIL, "not in <!channel> & co " + "x" * 4000, "Invite it."),
            Check("store", Status.WARN, "old", "Run `ftbot migrate`."),
        )
    )
    text, blocks = doctor_message(report)
    assert_valid_message(text, blocks)
    body = [b.to_dict() for b in blocks]
    assert "&lt;!channel&gt; &amp; co" in block(body, f"{B.DOCTOR_CHECK}.slack")["text"]["text"]
    assert "_Fix:_ Run `ftbot migrate`." in block(body, f"{B.DOCTOR_CHECK}.store")["text"]["text"]
    assert "_Fix:_" not in block(body, f"{B.DOCTOR_CHECK}.settings")["text"]["text"]
