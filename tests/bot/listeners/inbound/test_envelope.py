"""The typed boundary reads whole values: a user, channel, job, endpoint, checkpoint or approval id with
anything after it (a trailing newline, which a regex's ``$`` lets through) is not that id; and a slash
command that names no channel is refused, not run for channel "". Both found by the hostile-input fuzzer
(its ``newline`` and ``drop`` mutations, and its ``ids`` property: tests/reliability/fuzz), each of which
let a signed ``/finetune submit`` start a job that no channel shows."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.payloads import block_action, slash_body, view_submission
from bot.listeners.inbound import Envelope, screen
from bot.listeners.inbound.envelope import BAD_CHANNEL, NO_USER
from bot.listeners.inbound.requests import (
    ApprovalClick,
    ChatSubmission,
    CheckpointClick,
    DeploySubmission,
    JobClick,
    WizardSubmission,
)
from bot.listeners.rerun import RerunSubmission
from bot.ui.ids import Action, Callback
from commands.errors import InvalidInput
from tests.support.world import CHANNEL, MEMBER, World, open_world


def _screened(body: dict[str, Any]) -> Envelope:
    envelope = screen(body, lambda _: True)
    assert isinstance(envelope, Envelope), envelope
    return envelope


def _slash(user: str, channel: str) -> dict[str, Any]:
    return {"command": "/finetune", "user_id": user, "channel_id": channel, "text": "list"}


@pytest.mark.parametrize("suffix", ["\n", " ", "\r\n", "\x00"])
def test_a_user_or_channel_id_with_anything_after_it_is_refused(suffix: str) -> None:
    assert _screened(_slash(MEMBER, CHANNEL)).refusal is None
    bad_user = _screened(_slash(MEMBER + suffix, CHANNEL))
    assert (bad_user.user_id, bad_user.refusal) == (None, NO_USER)
    bad_channel = _screened(_slash(MEMBER, CHANNEL + suffix))
    assert (bad_channel.channel_id, bad_channel.refusal) == (None, BAD_CHANNEL)
    click = block_action(Action.CANCEL, "ft-1", user=MEMBER, channel=CHANNEL)
    click["container"]["channel_id"] = CHANNEL + suffix
    assert _screened(click).refusal == BAD_CHANNEL


def test_a_slash_command_that_names_no_channel_is_refused() -> None:
    form = _slash(MEMBER, CHANNEL)
    del form["channel_id"]
    assert _screened(form).refusal == BAD_CHANNEL
    dm = _screened(_slash(MEMBER, "D0DIRECT1"))  # a direct message is a channel
    assert (dm.channel_id, dm.refusal) == ("D0DIRECT1", None)


@pytest.mark.parametrize(
    ("request_type", "value"),
    [(JobClick, "ft-1\n"), (CheckpointClick, "ft-1:2\n"), (ApprovalClick, "12\n")],
)
def test_a_button_value_with_a_trailing_newline_is_damaged(request_type: Any, value: str) -> None:
    envelope = _screened(block_action(Action.CANCEL, value, user=MEMBER, channel=CHANNEL))
    request_type.read(_screened(block_action(Action.CANCEL, value[:-1], user=MEMBER, channel=CHANNEL)))
    with pytest.raises(InvalidInput, match="damaged"):
        request_type.read(envelope)


@pytest.mark.parametrize(
    ("request_type", "callback", "metadata"),
    [
        (DeploySubmission, Callback.DEPLOY, "ft-1\n"),
        (ChatSubmission, Callback.TEST_CHAT, "ep-1\n"),
        (WizardSubmission, Callback.WIZARD, CHANNEL + "\n"),
        (RerunSubmission, Callback.RERUN, "ft-1\n"),
    ],
)
def test_a_view_whose_metadata_has_a_trailing_newline_is_damaged(
    request_type: Any, callback: str, metadata: str
) -> None:
    body = view_submission(callback, {}, user=MEMBER, private_metadata=metadata, view_id="V1")
    with pytest.raises(InvalidInput, match="damaged"):
        request_type.read(_screened(body))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path) as w:
        yield w


@pytest.mark.parametrize("channel", [CHANNEL + "\n", None], ids=["trailing-newline", "no-channel"])
def test_a_submit_from_no_real_channel_starts_no_job(world: World, channel: str | None) -> None:
    data = world.files.url("train.jsonl")
    fields = {"text": f"submit --model ftbot-tiny --data {data}", "response_url": world.fake.response_url()}
    form = dict(urllib.parse.parse_qsl(slash_body(user=MEMBER, channel=CHANNEL, **fields)))
    if channel is None:
        del form["channel_id"]
    else:
        form["channel_id"] = channel
    r = world.bot.post(urllib.parse.urlencode(form))
    assert r.status == 200 and BAD_CHANNEL in r.json()["text"]
    world.settle()
    assert world.services.lifecycle.queries.jobs() == []
    assert world.backend.calls["submit_job"] == 0
