"""Deploy targets end to end over signed HTTP on ``FTBOT_BACKEND=foundry``: a second Azure OpenAI account in
another subscription and region (tests/fakes/foundry_targets.py). The Deploy dialog offers it, the
deployment is created there from the training account's model, the thread and card say where it lives,
test chat, evaluation, idle reminders and tear down act there; a region the SKU does not serve and a
subscription the credential cannot reach are refused before any deploy call, naming what is wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.backends.foundry.constants import STANDARD_DEPLOY_REGIONS
from bot.demo.payloads import payload_body, view_submission
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.evaluation.records import EvaluationState
from commands.models import EndpointState, JobState
from tests.fakes.foundry import GPT41, FakeFoundry
from tests.fakes.foundry_targets import TARGET_SUBSCRIPTION, TargetWorld, make_target_world
from tests.support.world import (
    APPROVER,
    MEMBER,
    World,
    block,
    buttons,
    evaluation_posts,
    open_world,
    selected,
    view_update,
)


@pytest.fixture
def ft() -> Iterator[TargetWorld]:
    w = make_target_world(auto_advance=True)
    yield w
    w.settle()


@pytest.fixture
def world(tmp_path: Path, ft: TargetWorld) -> Iterator[World]:
    with open_world(tmp_path, backend=ft.backend) as w:
        yield w


def _succeeded(world: World) -> str:
    world.slash(f"submit --model {GPT41} --data {world.files.url('train.jsonl')}")
    job_id = world.wait_response("Started").split("`")[1]
    world.until(
        lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED, ticks=100
    )
    return job_id


def _endpoint(world: World, job_id: str) -> Any:
    return world.services.lifecycle.queries.card(job_id).endpoint


def _ready(world: World, job_id: str) -> str:
    world.until(
        lambda: (
            _endpoint(world, job_id) is not None and _endpoint(world, job_id).state is EndpointState.READY
        ),
        ticks=100,
    )
    return str(_endpoint(world, job_id).name)


def _chats(fake: FakeFoundry) -> int:
    return len(fake.requests_to("POST", r"^/chat/completions$"))


def test_deploy_to_another_account_then_chat_evaluate_remind_and_tear_down_there(
    world: World, ft: TargetWorld
) -> None:
    job_id = _succeeded(world)
    world.click(Action.DEPLOY_OPTIONS, job_id, user=APPROVER, trigger="trig-foundry-target")
    dialog = view_update(world, Callback.DEPLOY)
    where = block(dialog["blocks"], B.DEPLOY_TARGET)["element"]
    assert [o["value"] for o in where["options"]] == ["home", "west"]
    assert TARGET_SUBSCRIPTION in json.dumps(where["options"][1])
    values: dict[str, Any] = {B.DEPLOY_TARGET: selected(Action.DEPLOY_TARGET, "west", "static_select")}
    submission = view_submission(
        Callback.DEPLOY, values, user=APPROVER, private_metadata=dialog["private_metadata"]
    )
    assert world.bot.post(payload_body(submission)).status == 200
    name = _ready(world, job_id)
    assert name in ft.target.deployments and name not in ft.home.deployments
    put = ft.target.requests_to("PUT", rf"/deployments/{name}$")[0]
    assert put.body["properties"]["model"]["source"] == ft.home.account_path
    world.settle()
    assert any("is ready in" in m.text and TARGET_SUBSCRIPTION in m.text for m in world.thread())
    assert "`west`" in json.dumps(world.card().blocks)  # the card says where the endpoint lives

    home_chats = _chats(ft.home)
    world.slash(f"chat {name} hello from the west", user=MEMBER)
    world.wait_response("echo: hello from the west")
    asked = _chats(ft.target)
    world.click(Action.EVALUATE, job_id, user=MEMBER)
    world.wait_response("Evaluating")
    assert len(evaluation_posts(world)) == 1
    stored = world.services.evaluations.evaluations.latest(job_id)
    assert stored is not None and stored.state is EvaluationState.SUCCEEDED and stored.done == stored.total
    assert _chats(ft.target) >= asked + stored.total  # each example asked of the target's endpoint
    assert _chats(ft.home) == home_chats  # and nothing of the training account's

    before = len(ft.target.requests_to("GET", rf"/deployments/{name}$"))
    world.services.lifecycle.endpoints.sweep()  # idle reminders ask where the endpoint lives
    assert len(ft.target.requests_to("GET", rf"/deployments/{name}$")) > before

    world.slash(f"teardown {name}", user=APPROVER)
    world.until(lambda: _endpoint(world, job_id).state is EndpointState.DELETED)
    assert name not in ft.target.deployments and ft.target.requests_to("DELETE", rf"/deployments/{name}$")


def test_a_region_the_sku_does_not_serve_is_refused_naming_the_regions(world: World, ft: TargetWorld) -> None:
    job_id = _succeeded(world)
    world.slash(f"deploy {job_id} --target west --sku Standard", user=APPROVER)
    text = world.wait_response("deploys with the")
    assert ", ".join(STANDARD_DEPLOY_REGIONS) in text and "westus3" in text
    assert ft.target.requests_to("PUT", r"/deployments/") == [] and _endpoint(world, job_id) is None


def test_a_subscription_the_credential_cannot_reach_is_refused_naming_it(
    world: World, ft: TargetWorld
) -> None:
    job_id = _succeeded(world)
    ft.target.unreachable = True
    world.slash(f"deploy {job_id} --target west", user=MEMBER)  # a request is refused too, before approval
    assert TARGET_SUBSCRIPTION in world.wait_response("cannot reach subscription")
    assert ft.target.requests_to("PUT", r"/deployments/") == [] and _endpoint(world, job_id) is None
    assert not any("Approve" in buttons(m, B.APPROVAL_ACTIONS) for m in world.thread())
