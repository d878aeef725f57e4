"""Test chat over signed HTTP: the reply streamed into the job's thread (start, batched appends, stop with
the footer), every fallback when Slack refuses streaming, the per-workspace bound on open streams, and the
base model's answer side by side."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.payloads import payload_body, view_submission
from bot.demo.slack import Message
from bot.slack.streaming import StreamSlots
from bot.ui.chat import WITH_BASE
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.models import JobState
from tests.support.world import APPROVER, MEMBER, World, block, buttons, open_world, submit

WORDS = " ".join(f"word{i}" for i in range(40))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path) as w:
        job_id = submit(w)
        w.until(lambda: w.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
        w.click(Action.DEPLOY, job_id, user=APPROVER)
        w.wait_response("Deploying")
        w.until(lambda: "Test chat" in buttons(w.card()))
        w.settle()
        yield w


def _ask(world: World, prompt: str, *, with_base: bool = False, trigger: str = "trig") -> None:
    endpoint = buttons(world.card())["Test chat"]["value"]
    world.click(Action.TEST_CHAT, endpoint, user=MEMBER, trigger=trigger)
    deadline = time.monotonic() + 10
    while not (
        opened := [c for c in world.fake.calls_to("views.open") if c.body.get("trigger_id") == trigger]
    ):
        assert time.monotonic() < deadline, f"no modal opened for {trigger}"
        time.sleep(0.02)
    opened = opened[-1:]
    values: dict[str, Any] = {
        B.CHAT_PROMPT: {Action.CHAT_PROMPT: {"type": "plain_text_input", "value": prompt}},
        B.CHAT_TEMPERATURE: {Action.CHAT_TEMPERATURE: {"type": "number_input", "value": "0"}},
        B.CHAT_MAX_TOKENS: {Action.CHAT_MAX_TOKENS: {"type": "number_input", "value": "64"}},
    }
    if with_base:
        chosen = [{"value": WITH_BASE, "text": {"type": "plain_text", "text": "Also ask the base model"}}]
        values[B.CHAT_WITH_BASE] = {Action.CHAT_WITH_BASE: {"type": "checkboxes", "selected_options": chosen}}
    body = view_submission(
        Callback.TEST_CHAT, values, user=MEMBER, private_metadata=opened[0].body["view"]["private_metadata"]
    )
    assert world.bot.post(payload_body(body)).status == 200


def _replies(world: World, count: int = 1) -> list[Message]:
    """The finished Test chat replies in the thread (their footer is there), waiting for ``count``."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        world.tick()
        done = [m for m in world.thread() if any(b.get("block_id") == B.CHAT_USAGE for b in m.blocks)]
        if len(done) >= count:
            return done
        time.sleep(0.05)
    raise AssertionError(f"no finished chat reply; thread: {[m.blocks for m in world.thread()]}")


def _footer(msg: Message) -> str:
    return json.dumps(block(msg.blocks, B.CHAT_USAGE))


def _no_error_told(world: World) -> None:
    assert not world.fake.ephemeral, [m.text for m in world.fake.ephemeral]


def test_reply_streams_with_batched_appends_and_stops_with_the_footer(world: World) -> None:
    world.backend.stream_pause = 0.03  # 42 pieces over about 1.3 s
    _ask(world, WORDS)
    [reply] = _replies(world)
    starts = world.fake.calls_to("chat.startStream")
    appends = world.fake.calls_to("chat.appendStream")
    stops = world.fake.calls_to("chat.stopStream")
    assert len(starts) == 1 and len(stops) == 1
    assert starts[0].body["thread_ts"] == world.card().ts
    assert starts[0].body["recipient_user_id"] == MEMBER
    assert 1 <= len(appends) <= 6  # batched: not one call per piece
    assert reply.text.endswith(f"echo: {WORDS}") and "**Prompt:**" in reply.text
    footer = _footer(reply)
    assert "Tokens: 3 prompt + 4 completion = 7" in footer
    assert "Finish reason: stop" in footer and "Latency:" in footer
    assert not world.fake.calls_to("chat.update") or all(
        c.body.get("ts") != reply.ts for c in world.fake.calls_to("chat.update")
    )
    _no_error_told(world)


def test_model_text_is_escaped_in_the_stream(world: World) -> None:
    _ask(world, "ping <!channel> & <@U999>")
    [reply] = _replies(world)
    assert "<!channel>" not in reply.text and "&lt;!channel&gt;" in reply.text
    assert "<@U999>" not in reply.text


@pytest.mark.parametrize(
    "refuse",
    [
        ("refuse", "chat.startStream", "channel_type_not_supported"),
        ("fail", "chat.startStream", 429),  # Tier 2 start throttled
    ],
)
def test_a_refused_start_posts_the_reply_instead(world: World, refuse: tuple[str, str, Any]) -> None:
    how, method, what = refuse
    if how == "refuse":
        world.fake.refuse_next(method, what)
    else:
        world.fake.fail_next(method, what, retry_after=30)
    _ask(world, "hello there")
    [reply] = _replies(world)
    assert "echo: hello there" in json.dumps(block(reply.blocks, B.CHAT_REPLY_TEXT))
    assert "Finish reason: stop" in _footer(reply) and "Latency:" in _footer(reply)
    assert not world.fake.calls_to("chat.appendStream")
    assert len(world.thread()) == len([m for m in world.thread() if m.ts != reply.ts]) + 1
    _no_error_told(world)


@pytest.mark.parametrize("error", ["invalid_chunks", "message_not_in_streaming_state"])
def test_an_append_error_or_expired_stream_finishes_the_same_message_in_place(
    world: World, error: str
) -> None:
    world.backend.stream_pause = 0.03
    world.fake.refuse_next("chat.appendStream", error)
    _ask(world, WORDS)
    [reply] = _replies(world)
    [start] = world.fake.calls_to("chat.startStream")
    assert reply.text.startswith(start.body["markdown_text"][:20]) or reply.edits >= 1
    assert f"echo: {WORDS}" in json.dumps(reply.blocks)  # the whole answer, edited into the streamed message
    assert reply.ts == json.loads(json.dumps(world.fake.calls_to("chat.update")[-1].body))["ts"]
    chats = [m for m in world.thread() if "echo:" in json.dumps(m.blocks) or "echo:" in m.text]
    assert len(chats) == 1
    _no_error_told(world)


def test_a_stop_error_edits_the_reply_in_place(world: World) -> None:
    world.fake.refuse_next("chat.stopStream", "msg_blocks_too_many")
    _ask(world, "stop me")
    [reply] = _replies(world)
    assert "echo: stop me" in json.dumps(block(reply.blocks, B.CHAT_REPLY_TEXT))
    assert len([m for m in world.thread() if "stop me" in json.dumps(m.blocks)]) == 1
    _no_error_told(world)


def test_a_stream_that_cannot_be_stopped_or_edited_is_posted_again(world: World) -> None:
    world.fake.refuse_next("chat.stopStream", "msg_blocks_too_many", times=2)
    _ask(world, "stuck")
    replies = _replies(world)
    assert "echo: stuck" in json.dumps(block(replies[-1].blocks, B.CHAT_REPLY_TEXT))
    _no_error_told(world)


def test_when_slack_takes_nothing_the_outbox_posts_the_reply(world: World) -> None:
    world.fake.refuse_next("chat.startStream", "not_in_channel")
    world.fake.fail_next("chat.postMessage", 500, retry_after=None)
    _ask(world, "later")
    world.settle()
    [reply] = _replies(world)
    assert "echo: later" in json.dumps(block(reply.blocks, B.CHAT_REPLY_TEXT))
    _no_error_told(world)


def test_open_streams_are_bounded_per_workspace_and_queued(world: World) -> None:
    world.services.stream_slots = StreamSlots(per_workspace=1)
    world.backend.stream_pause = 0.02
    asks = [
        threading.Thread(target=_ask, args=(world, f"{WORDS} {i}"), kwargs={"trigger": f"t{i}"})
        for i in range(3)
    ]
    for t in asks:
        t.start()
    for t in asks:
        t.join()
    replies = _replies(world, 3)
    assert len(replies) == 3
    assert world.fake.live_streams_peak == 1
    assert len(world.fake.calls_to("chat.startStream")) == 3
    _no_error_told(world)


def test_side_by_side_shows_both_answers_with_tokens_and_latency(world: World) -> None:
    _ask(world, "what is your name", with_base=True)
    [reply] = _replies(world)
    both = json.dumps(block(reply.blocks, B.CHAT_SIDE_BY_SIDE))
    assert "I am ftbot-tiny and cannot say." in both and "echo: what is your name" in both
    usage = json.dumps(block(reply.blocks, B.CHAT_BASE_USAGE))
    assert "Base: Tokens: 10" in usage and "Fine-tuned: Tokens: 7" in usage
    assert usage.count("Latency:") == 2
    assert world.backend.calls["chat_base"] == 1


def test_side_by_side_without_a_base_model_says_why(world: World) -> None:
    world.backend.base_missing = "no deployment of the base model ftbot-tiny is named in FTBOT_X"
    _ask(world, "hello", with_base=True)
    [reply] = _replies(world)
    both = json.dumps(block(reply.blocks, B.CHAT_SIDE_BY_SIDE))
    assert "No answer: no deployment of the base model" in both and "echo: hello" in both
    assert world.backend.calls["chat_base"] == 0


def test_without_the_box_the_base_model_is_not_asked(world: World) -> None:
    _ask(world, "hello")
    [reply] = _replies(world)
    assert not [b for b in reply.blocks if b.get("block_id") == B.CHAT_SIDE_BY_SIDE]
    assert world.backend.calls["chat_base"] == 0
