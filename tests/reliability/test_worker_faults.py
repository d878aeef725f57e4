"""The local backend's own processes dying under a running bot: the training worker (SIGKILL while it
trains) and the endpoint server (SIGKILL while it serves). Each is reported in the job's thread with the
reason, the card and the store agree, and the model can be served again. Real LoRA training of
ftbot-tiny on this machine, over signed HTTP."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator

import pytest

from bot.backends.local import LocalBackend
from bot.ui.ids import Action
from commands.models import EndpointState, JobState
from tests.reliability.conftest import APPROVERS, CHANNEL, Captured, MakeWorld
from tests.support.serve import exited
from tests.support.wait import until
from tests.support.world import World, buttons

pytestmark = pytest.mark.slow


@pytest.fixture
def local(make_world: MakeWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    backend = LocalBackend(tmp_path_factory.mktemp("local") / "data", threads=1)
    try:
        yield make_world(backend=backend)
    finally:
        backend.stop_all()


def _submit(world: World, epochs: int) -> str:
    url = world.files.url("train.jsonl")
    world.slash(f"submit --model ftbot-tiny --data {url} --epochs {epochs} --batch-size 4")
    text = world.wait_response("Started", timeout=60)
    world.fake.responses.clear()
    return text.split("`")[1]


def _wait(world: World, check: Callable[[], bool], timeout: float = 180) -> None:
    until(check, timeout, "the condition", interval=0.3, between=world.tick)


def _thread(world: World, job_id: str) -> str:
    card = next(c for c in world.fake.channel_messages(CHANNEL) if job_id in json.dumps(c.blocks))
    return "\n".join(m.text for m in world.fake.thread(CHANNEL, card.ts))


def test_a_killed_training_worker_fails_the_job_with_the_reason_in_the_thread(local: World) -> None:
    backend = local.backend
    assert isinstance(backend, LocalBackend)
    job_id = _submit(local, epochs=25)
    _wait(local, lambda: any(e.kind == "started" for e in backend.get_job(job_id).events))
    os.kill(int(backend.data.job(job_id).pid.read_text()), signal.SIGKILL)
    _wait(
        local, lambda: local.services.lifecycle.queries.card(job_id).job.state is JobState.FAILED, timeout=60
    )
    local.tick(3)
    job = local.services.lifecycle.queries.card(job_id).job
    assert job.error and "signal 9" in job.error
    assert "signal 9" in _thread(local, job_id)
    card = next(c for c in local.fake.channel_messages(CHANNEL) if job_id in json.dumps(c.blocks))
    assert "Cancel" not in buttons(card) and "Deploy" not in buttons(card)
    assert backend.get_job(job_id).state is JobState.FAILED  # store and backend agree


def test_a_killed_endpoint_server_is_reported_and_the_model_can_be_served_again(
    local: World, logs: Captured
) -> None:
    backend = local.backend
    assert isinstance(backend, LocalBackend)
    job_id = _submit(local, epochs=1)
    _wait(local, lambda: local.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    local.click(Action.DEPLOY, job_id, user=APPROVERS[0])

    def ready() -> bool:
        endpoint = local.services.lifecycle.queries.card(job_id).endpoint
        return endpoint is not None and endpoint.state is EndpointState.READY

    _wait(local, ready, timeout=120)
    endpoint = local.services.lifecycle.queries.card(job_id).endpoint
    assert endpoint is not None
    local.slash(f"chat {endpoint.name} Where is my order?")
    local.wait_response(endpoint.name, timeout=60)
    key = backend.data.endpoint(endpoint.name).key.read_text().strip()

    server = int(backend.data.endpoint(endpoint.name).pid.read_text())
    os.kill(server, signal.SIGKILL)
    until(lambda: exited(server), 10, "the endpoint server to die")
    local.services.poller.sweep()  # the scheduler's endpoint sweep
    local.tick(3)
    dead = local.services.lifecycle.queries.endpoint(endpoint.name)
    assert dead.state is EndpointState.FAILED and dead.error and "signal 9" in dead.error
    assert f"Endpoint `{endpoint.name}` stopped" in _thread(local, job_id)
    card = next(c for c in local.fake.channel_messages(CHANNEL) if job_id in json.dumps(c.blocks))
    assert "Deploy" in buttons(card) and "Test chat" not in buttons(card)
    local.fake.responses.clear()
    local.slash(f"chat {endpoint.name} hello")
    assert "not ready" in local.wait_response(":warning:")

    local.click(Action.DEPLOY, job_id, user=APPROVERS[0])  # served again under a new name
    _wait(local, ready, timeout=120)
    assert local.services.lifecycle.queries.card(job_id).endpoint.name != endpoint.name
    assert key not in local.fake.all_text() and key not in logs.text()
