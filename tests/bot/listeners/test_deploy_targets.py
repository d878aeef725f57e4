"""Deploy targets end to end over signed HTTP, on the ``azure`` backend through its wire fake with a
second project in another subscription and region: the Deploy dialog offers the targets, the approval
request holds the chosen one, the endpoint is created there, test chat and tear down act there; a region
outside the model's deploy regions and a subscription the credential cannot reach are refused before any
deploy call, naming what is wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.payloads import payload_body, view_submission
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.evaluation.records import EvaluationState
from commands.models import EndpointState, JobState
from tests.bot.backends.fake_azure import PHI
from tests.bot.backends.fake_azure.cloud import TARGET_SUBSCRIPTION, TargetWorld, make_target_world
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


def _world(tmp_path: Path, az: TargetWorld) -> Iterator[World]:
    with open_world(tmp_path, backend=az.backend) as w:
        yield w


@pytest.fixture
def az(monkeypatch: pytest.MonkeyPatch) -> TargetWorld:
    return make_target_world(monkeypatch)


@pytest.fixture
def world(tmp_path: Path, az: TargetWorld) -> Iterator[World]:
    yield from _world(tmp_path, az)


def _succeeded(world: World, az: TargetWorld) -> str:
    world.slash(f"submit --model {PHI} --data {world.files.url('train.jsonl')}")
    job_id = world.wait_response("Started", timeout=30).split("`")[1]
    for _ in range(60):
        world.tick()
        if world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED:
            return job_id
        az.home.advance()
    raise AssertionError("the job did not succeed")


def _endpoint(world: World, job_id: str) -> Any:
    return world.services.lifecycle.queries.card(job_id).endpoint


def _ready(world: World, job_id: str) -> str:
    world.until(
        lambda: _endpoint(world, job_id) is not None and _endpoint(world, job_id).state.value == "ready"
    )
    return str(_endpoint(world, job_id).name)


def test_a_deploy_to_another_subscription_and_region_through_approval_chat_and_tear_down(
    world: World, az: TargetWorld
) -> None:
    job_id = _succeeded(world, az)
    assert "Deploy with options…" in buttons(world.card())  # two targets: there is something to choose
    world.click(Action.DEPLOY_OPTIONS, job_id, user=MEMBER, trigger="trig-target-1")
    dialog = view_update(world, Callback.DEPLOY)
    where = block(dialog["blocks"], B.DEPLOY_TARGET)["element"]
    assert [o["value"] for o in where["options"]] == ["home", "west"]
    assert TARGET_SUBSCRIPTION in json.dumps(where["options"][1])  # the option says where it is
    values: dict[str, Any] = {B.DEPLOY_TARGET: selected(Action.DEPLOY_TARGET, "west", "static_select")}
    submission = view_submission(
        Callback.DEPLOY, values, user=MEMBER, private_metadata=dialog["private_metadata"]
    )
    assert world.bot.post(payload_body(submission)).status == 200
    world.until(lambda: any("Approve" in buttons(m, B.APPROVAL_ACTIONS) for m in world.thread()))
    request = next(m for m in world.thread() if "Approve" in buttons(m, B.APPROVAL_ACTIONS))
    assert "`west`" in json.dumps(request.blocks)  # the request holds the target
    assert az.target.calls("PUT") == []  # nothing deployed before an approver says so

    world.click(Action.APPROVE, buttons(request, B.APPROVAL_ACTIONS)["Approve"]["value"], user=APPROVER)
    world.wait_response("approved")
    name = _ready(world, job_id)
    assert name in az.target.endpoints and name not in az.home.endpoints
    assert _endpoint(world, job_id).options.target == "west"
    world.settle()
    assert any("is ready in" in m.text and TARGET_SUBSCRIPTION in m.text for m in world.thread())
    assert "`west`" in json.dumps(world.card().blocks)  # the card says where the endpoint lives

    world.slash(f"chat {name} hello from the west", user=MEMBER)
    world.wait_response("echo: hello from the west")
    assert any(name in str(r.url.host) and "westus3" in str(r.url.host) for r in az.scoring.requests)

    world.slash(f"teardown {name}", user=APPROVER)
    world.until(lambda: _endpoint(world, job_id).state is EndpointState.DELETED)
    assert name not in az.target.endpoints
    assert az.target.calls("DELETE", rf"/serverlessEndpoints/{name}$")


def test_deploy_with_target_on_the_command_line_and_idle_reminders_ask_the_target(
    world: World, az: TargetWorld
) -> None:
    job_id = _succeeded(world, az)
    world.slash(f"deploy {job_id} --target west", user=APPROVER)
    name = _ready(world, job_id)
    assert name in az.target.endpoints
    before = len(az.target.calls("GET", rf"/serverlessEndpoints/{name}$"))
    world.services.lifecycle.endpoints.sweep()  # the hygiene sweep asks where the endpoint lives
    assert len(az.target.calls("GET", rf"/serverlessEndpoints/{name}$")) > before
    assert _endpoint(world, job_id).state is EndpointState.READY


def test_an_unknown_target_is_named_with_the_configured_ones(world: World, az: TargetWorld) -> None:
    job_id = _succeeded(world, az)
    world.slash(f"deploy {job_id} --target east", user=APPROVER)
    text = world.wait_response("no deploy target called")
    assert "home, west" in text


@pytest.mark.parametrize("approver", [True, False], ids=["approver", "request"])
def test_a_region_outside_the_deploy_regions_is_refused_before_any_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, approver: bool
) -> None:
    az = make_target_world(monkeypatch, regions="eastus2, northcentralus", target_location="westeurope")
    for world in _world(tmp_path, az):
        job_id = _succeeded(world, az)
        world.slash(f"deploy {job_id} --target west", user=APPROVER if approver else MEMBER)
        text = world.wait_response("can be deployed only in")
        assert "eastus2, northcentralus" in text and "westeurope" in text
        assert az.target.calls("PUT") == []
        assert _endpoint(world, job_id) is None
        assert not any("Approve" in buttons(m, B.APPROVAL_ACTIONS) for m in world.thread())


def test_a_subscription_the_credential_cannot_reach_is_refused_naming_it(
    world: World, az: TargetWorld
) -> None:
    job_id = _succeeded(world, az)
    az.cloud.unreachable.add(TARGET_SUBSCRIPTION)
    world.slash(f"deploy {job_id} --target west", user=APPROVER)
    text = world.wait_response("cannot reach subscription")
    assert TARGET_SUBSCRIPTION in text
    assert az.target.calls("PUT") == [] and _endpoint(world, job_id) is None


def test_an_approval_is_not_counted_when_the_target_became_unreachable(world: World, az: TargetWorld) -> None:
    job_id = _succeeded(world, az)
    world.slash(f"deploy {job_id} --target west", user=MEMBER)
    world.until(lambda: any("Approve" in buttons(m, B.APPROVAL_ACTIONS) for m in world.thread()))
    request = next(m for m in world.thread() if "Approve" in buttons(m, B.APPROVAL_ACTIONS))
    az.cloud.unreachable.add(TARGET_SUBSCRIPTION)
    world.click(Action.APPROVE, buttons(request, B.APPROVAL_ACTIONS)["Approve"]["value"], user=APPROVER)
    assert TARGET_SUBSCRIPTION in world.wait_response("cannot reach subscription")
    with world.services.store.transaction() as tx:
        assert tx.pending_approval(job_id) is not None  # still waiting: the approver can try again
    assert az.target.calls("PUT") == [] and _endpoint(world, job_id) is None


def test_an_evaluation_of_an_endpoint_in_a_target_asks_it_there(world: World, az: TargetWorld) -> None:
    job_id = _succeeded(world, az)
    world.slash(f"deploy {job_id} --target west", user=APPROVER)
    name = _ready(world, job_id)
    asked = len(az.scoring.requests)
    world.click(Action.EVALUATE, job_id, user=MEMBER)
    world.wait_response("Evaluating")
    assert len(evaluation_posts(world)) == 1
    stored = world.services.evaluations.evaluations.latest(job_id)
    assert stored is not None and stored.endpoint == name
    assert stored.state is EvaluationState.SUCCEEDED and stored.done == stored.total > 0
    hosts = {str(r.url.host) for r in az.scoring.requests[asked:]}
    assert hosts == {f"{name}.westus3.models.ai.azure.com"}  # the target's endpoint, never home's
