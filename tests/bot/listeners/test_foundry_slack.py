"""Every Slack flow on ``FTBOT_BACKEND=foundry``, over signed HTTP, against the wire fake of an Azure OpenAI
resource (tests/fakes/foundry.py) under the real ``openai`` and azure-mgmt clients: submit, Pause and
Resume, checkpoints in the thread, a checkpoint deployed with a SKU from the Deploy dialog, Test chat,
Tear down; Test chat's answer streamed into the thread; and the service's refusals read as sentences in
Slack."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.payloads import payload_body, view_submission
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.models import EndpointState, JobState
from tests.fakes.foundry import GPT41, FakeFoundry, make_foundry
from tests.support.world import (
    APPROVER,
    MEMBER,
    World,
    block,
    buttons,
    open_world,
    selected,
    view_update,
)


@pytest.fixture
def foundry() -> FakeFoundry:
    return FakeFoundry(auto_advance=True)


@pytest.fixture
def world(tmp_path: Path, foundry: FakeFoundry) -> Iterator[World]:
    backend, _, _ = make_foundry(foundry)
    with open_world(tmp_path, backend=backend) as w:
        yield w


def _submit(world: World) -> str:
    world.slash(f"submit --model {GPT41} --data {world.files.url('train.jsonl')} --split 0.2")
    return world.wait_response("Started").split("`")[1]


def _state(world: World, job_id: str) -> JobState:
    return world.services.lifecycle.queries.card(job_id).job.state


def _endpoint(world: World, job_id: str) -> Any:
    return world.services.lifecycle.queries.card(job_id).endpoint


def test_submit_pause_resume_checkpoints_deploy_chat_and_tear_down(
    world: World, foundry: FakeFoundry
) -> None:
    job_id = _submit(world)
    (service_job,) = foundry.jobs.values()
    assert service_job["model"] == GPT41 and service_job["metadata"]  # ftbot's key, looked up on retry

    world.until(lambda: _state(world, job_id) is JobState.RUNNING)
    world.until(lambda: "Pause" in buttons(world.card()))
    world.click(Action.PAUSE, job_id, user=MEMBER)
    world.wait_response("Pause of")
    world.until(lambda: _state(world, job_id) is JobState.PAUSED)
    world.until(lambda: "Resume" in buttons(world.card()))
    world.click(Action.RESUME, job_id, user=APPROVER)
    world.until(lambda: _state(world, job_id) is not JobState.PAUSED, ticks=60)
    assert [c.path.rsplit("/", 1)[1] for c in foundry.requests_to("POST", r"/(pause|resume)$")] == [
        "pause",
        "resume",
    ]

    world.until(lambda: _state(world, job_id) is JobState.SUCCEEDED, ticks=100)
    world.settle()
    listing = next(m for m in world.thread() if "Checkpoints" in m.text)
    assert "Checkpoint" in listing.text and "step" in listing.text

    world.click(Action.DEPLOY_OPTIONS, job_id, user=APPROVER, trigger="trig-deploy-f")
    dialog = view_update(world, Callback.DEPLOY)
    checkpoints = [o["value"] for o in block(dialog["blocks"], B.DEPLOY_CHECKPOINT)["element"]["options"]]
    skus = [o["value"] for o in block(dialog["blocks"], B.DEPLOY_SKU)["element"]["options"]]
    assert checkpoints[0] == "final" and len(checkpoints) > 1 and "GlobalStandard" in skus
    values: dict[str, Any] = {
        B.DEPLOY_CHECKPOINT: selected(Action.DEPLOY_CHECKPOINT, checkpoints[1], "static_select"),
        B.DEPLOY_SKU: selected(Action.DEPLOY_SKU, "GlobalStandard"),
    }
    r = world.bot.post(
        payload_body(
            view_submission(
                Callback.DEPLOY, values, user=APPROVER, private_metadata=dialog["private_metadata"]
            )
        )
    )
    assert r.status == 200
    world.until(lambda: _endpoint(world, job_id) is not None, ticks=60)
    world.until(lambda: _endpoint(world, job_id).state is EndpointState.READY, ticks=100)
    (deployment,) = foundry.deployments.values()
    assert deployment["sku"]["name"] == "GlobalStandard"
    assert deployment["properties"]["model"]["name"].startswith("ftchkpt-")  # the checkpoint, not the final
    endpoint = _endpoint(world, job_id).name

    world.click(Action.TEST_CHAT, endpoint, user=MEMBER, trigger="trig-chat-f")
    opened = world.fake.wait_for("views.open", count=2)[-1]  # after the Deploy dialog's
    assert opened.body["view"]["callback_id"] == Callback.TEST_CHAT
    chat: dict[str, Any] = {
        B.CHAT_PROMPT: {Action.CHAT_PROMPT: {"type": "plain_text_input", "value": "Where is order 7?"}},
        B.CHAT_TEMPERATURE: {Action.CHAT_TEMPERATURE: {"type": "number_input", "value": "0"}},
        B.CHAT_MAX_TOKENS: {Action.CHAT_MAX_TOKENS: {"type": "number_input", "value": "32"}},
    }
    r = world.bot.post(
        payload_body(
            view_submission(
                Callback.TEST_CHAT,
                chat,
                user=MEMBER,
                private_metadata=opened.body["view"]["private_metadata"],
            )
        )
    )
    assert r.status == 200
    world.until(lambda: "Where is order 7?" in json.dumps([m.blocks for m in world.thread()]), ticks=200)
    asked = foundry.requests_to("POST", r"/chat/completions$")[-1]  # after the readiness probes
    assert asked.body["model"] == endpoint and "Where is order 7?" in json.dumps(
        asked.body["messages"]
    )  # the deployment name is the model on the v1 API

    world.click(Action.TEAR_DOWN, endpoint, user=APPROVER)
    world.wait_response("torn down")
    world.until(lambda: not foundry.deployments, ticks=60)
    world.settle()
    assert "Deploy" in buttons(world.card())


def test_the_services_refusals_read_as_sentences(world: World, foundry: FakeFoundry) -> None:
    job_id = _submit(world)
    (service_job,) = foundry.jobs.values()
    (key,) = service_job["metadata"].values()
    foundry.fail_job(key, "Training file has an invalid format on line 3.", code="invalidTrainingData")
    world.until(lambda: _state(world, job_id) is JobState.FAILED, ticks=100)
    world.settle()
    thread = " ".join(m.text for m in world.thread())
    assert "invalid format on line 3" in thread and "Traceback" not in thread and "test-key" not in thread


def _ask(world: World, endpoint: str, prompt: str, trigger: str) -> None:
    """Test chat on ``endpoint``: the button, then the modal it opened, submitted with ``prompt``."""
    world.click(Action.TEST_CHAT, endpoint, user=MEMBER, trigger=trigger)
    deadline = time.monotonic() + 10
    while not (opened := [c for c in world.fake.calls_to("views.open") if c.body["trigger_id"] == trigger]):
        assert time.monotonic() < deadline, f"no modal opened for {trigger}"
        time.sleep(0.02)
    values: dict[str, Any] = {
        B.CHAT_PROMPT: {Action.CHAT_PROMPT: {"type": "plain_text_input", "value": prompt}},
        B.CHAT_TEMPERATURE: {Action.CHAT_TEMPERATURE: {"type": "number_input", "value": "0"}},
        B.CHAT_MAX_TOKENS: {Action.CHAT_MAX_TOKENS: {"type": "number_input", "value": "32"}},
    }
    metadata = opened[-1].body["view"]["private_metadata"]
    body = view_submission(Callback.TEST_CHAT, values, user=MEMBER, private_metadata=metadata)
    assert world.bot.post(payload_body(body)).status == 200


def test_test_chat_streams_the_deployments_answer_into_the_thread(world: World, foundry: FakeFoundry) -> None:
    job_id = _submit(world)
    world.until(lambda: _state(world, job_id) is JobState.SUCCEEDED, ticks=100)
    world.click(Action.DEPLOY, job_id, user=APPROVER)
    world.wait_response("Deploying")
    world.until(lambda: "Test chat" in buttons(world.card()), ticks=100)
    world.settle()
    endpoint = buttons(world.card())["Test chat"]["value"]

    # refused before the first piece (throttled past the client's retries): said to the user, nothing streamed
    refused = {"error": {"code": "429", "message": "Rate limit reached"}}
    foundry.inject("POST", r"^/chat/completions$", 429, refused, times=3, headers={"retry-after-ms": "1"})
    _ask(world, endpoint, "Where is order 7?", "trig-refused")
    world.until(lambda: any("throttling" in m.text for m in world.fake.ephemeral), ticks=100)
    assert not world.fake.calls_to("chat.startStream")

    _ask(world, endpoint, "Where is order 7?", "trig-streamed")
    world.until(lambda: bool(world.fake.calls_to("chat.stopStream")), ticks=200)
    asked = foundry.requests_to("POST", r"^/chat/completions$")[-1]
    assert asked.body["stream"] is True and asked.body["model"] == endpoint
    [start] = world.fake.calls_to("chat.startStream")
    assert start.body["thread_ts"] == world.card().ts and start.body["recipient_user_id"] == MEMBER
    [reply] = [m for m in world.thread() if any(b.get("block_id") == B.CHAT_USAGE for b in m.blocks)]
    assert reply.text.endswith("echo: Where is order 7?") and not reply.streaming
    footer = json.dumps(block(reply.blocks, B.CHAT_USAGE))  # the stream's last chunk: usage, filters
    for fact in (
        "Tokens: 4 prompt + 3 completion = 7",
        "Finish reason: stop",
        "Latency:",
        "Content filter: completion: ok",
    ):
        assert fact in footer, footer
