"""Deploy targets on ``azure`` through the wire fake: a second Foundry project in another subscription
and region, reached with its own ``MLClient``, serving the training project's model id; the article's
rules (deploy regions, both subscriptions reachable) checked before any deploy call."""

from __future__ import annotations

import pytest

from commands.errors import InvalidInput, NotFound, PermissionDenied
from commands.models import HOME_TARGET, ChatMessage, ChatRequest, EndpointState
from commands.ports import TargetedBackend
from tests.bot.backends.fake_azure import PHI, SUBSCRIPTION, WORKSPACE, WORKSPACE_GUID, make_spec
from tests.bot.backends.fake_azure.cloud import (
    TARGET_PROJECT,
    TARGET_SUBSCRIPTION,
    TargetWorld,
    make_target_world,
)


def _trained(world: TargetWorld) -> str:
    world.backend.submit_job(make_spec(model=PHI))
    world.home.advance(4)
    out = world.backend.get_job("ftbot-job-1").output_model
    assert out
    return str(out)


def test_targets_are_home_first_then_the_configured_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_target_world(monkeypatch)
    assert isinstance(world.backend, TargetedBackend)
    targets = world.backend.deploy_targets()
    assert [t.name for t in targets] == [HOME_TARGET, "west"]
    assert (targets[0].subscription_id, targets[0].project) == (SUBSCRIPTION, WORKSPACE)
    assert (targets[1].subscription_id, targets[1].project) == (TARGET_SUBSCRIPTION, TARGET_PROJECT)
    with pytest.raises(NotFound, match="home, west"):
        world.backend.endpoints_at("nowhere")


def test_an_endpoint_in_another_subscription_and_region_serves_the_home_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_target_world(monkeypatch)
    model = _trained(world)
    world.backend.check_target("west", model)
    west = world.backend.endpoints_at("west")
    ep = west.deploy_model(model, "ftbot-west-1")
    assert ep.state is EndpointState.READY
    assert ep.scoring_uri == "https://ftbot-west-1.westus3.models.ai.azure.com"
    put = world.target.calls("PUT", r"/serverlessEndpoints/ftbot-west-1$")
    assert len(put) == 1
    # the model id of the source project (its region and workspace id), as the article's sample does
    assert put[0].body["properties"]["modelSettings"]["modelId"] == (
        f"azureml://locations/eastus2/workspaces/{WORKSPACE_GUID}/models/{model}/versions/1"
    )
    assert "ftbot-west-1" not in world.home.endpoints  # nothing was created in the training project
    request = ChatRequest(messages=(ChatMessage(role="user", content="hello there"),), max_tokens=8)
    assert west.chat("ftbot-west-1", request).content == "echo: hello there"
    assert west.get_endpoint("ftbot-west-1").state is EndpointState.READY
    with pytest.raises(NotFound):
        world.backend.get_endpoint("ftbot-west-1")  # home does not have it
    west.delete_endpoint("ftbot-west-1")
    assert "ftbot-west-1" not in world.target.endpoints


def test_a_target_region_outside_the_models_deploy_regions_is_refused_naming_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_target_world(monkeypatch, regions="eastus2, northcentralus", target_location="westeurope")
    model = _trained(world)
    with pytest.raises(InvalidInput) as err:
        world.backend.check_target("west", model)
    assert "eastus2, northcentralus" in err.value.message and "westeurope" in err.value.message
    assert "west" in err.value.message
    with pytest.raises(InvalidInput):  # the deploy call checks it again, before the PUT
        world.backend.endpoints_at("west").deploy_model(model, "ftbot-west-1")
    assert world.target.calls("PUT", r"/serverlessEndpoints/") == []


def test_a_subscription_the_credential_cannot_reach_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_target_world(monkeypatch)
    model = _trained(world)
    world.cloud.unreachable.add(TARGET_SUBSCRIPTION)
    with pytest.raises(PermissionDenied) as err:
        world.backend.check_target("west", model)
    assert TARGET_SUBSCRIPTION in err.value.message and "west" in err.value.message
    assert world.cloud.refused  # it asked, and ARM said no
    assert world.target.calls("PUT") == []


def test_a_sku_is_refused_in_a_target_as_at_home(monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_target_world(monkeypatch)
    with pytest.raises(InvalidInput, match="no deployment SKUs"):
        world.backend.endpoints_at("west").deploy_model("m", "ep", sku="Standard")
