"""Deployments through ARM on the wire fake: body and SKU, idempotency by name, readiness past ARM's
``Succeeded``, Developer expiry, failures with the service's reason, 409, 500 for a wrong
format, tear down."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.backends.foundry.backend import FoundryBackend
from commands.errors import Conflict, InvalidInput, NotFound
from commands.models import ChatMessage, ChatRequest, EndpointState, JobSpec
from tests.bot.backends.foundry.conftest import run_to_end
from tests.fakes.foundry import FakeFoundry, make_foundry

World = tuple[FoundryBackend, FakeFoundry]


@pytest.fixture
def model(world: World, make_spec: Callable[..., JobSpec]) -> str:
    backend, fake = world
    backend.submit_job(make_spec())
    job = run_to_end(backend, fake, "ftbot-job-1")
    assert job.output_model
    return str(job.output_model)


def _until(backend: FoundryBackend, fake: FakeFoundry, name: str, state: EndpointState) -> None:
    for _ in range(10):
        if backend.get_endpoint(name).state is state:
            return
        fake.advance()
    raise AssertionError(f"{name} never {state}")


def test_deploy_sends_format_openai_and_the_sku(world: World, model: str) -> None:
    backend, fake = world
    endpoint = backend.deploy_model(model, "ftbot-ep-1", sku="GlobalStandard")
    assert endpoint.state is EndpointState.CREATING and endpoint.model == model
    (put,) = fake.requests_to("PUT", r"/deployments/ftbot-ep-1$")
    body = put.body
    assert body["properties"]["model"] == {"format": "OpenAI", "name": model, "version": "1"}
    assert body["sku"] == {"name": "GlobalStandard", "capacity": 100}
    assert put.headers["authorization"].startswith("Bearer ")
    _until(backend, fake, "ftbot-ep-1", EndpointState.READY)
    ready = backend.get_endpoint("ftbot-ep-1")
    assert ready.scoring_uri == "https://ftbot-res.openai.azure.com/openai/v1/chat/completions"
    assert ready.expires_at is None


def test_redeploy_of_the_same_name_is_idempotent_and_a_second_name_conflicts(
    world: World, model: str
) -> None:
    backend, fake = world
    backend.deploy_model(model, "ftbot-ep-1")
    again = backend.deploy_model(model, "ftbot-ep-1")
    assert again.name == "ftbot-ep-1"
    assert len(fake.requests_to("PUT", r"/deployments/")) == 1
    with pytest.raises(Conflict) as other:
        backend.deploy_model(model, "ftbot-ep-2")
    assert other.value.existing == "ftbot-ep-1"


def test_arm_succeeded_is_not_ready_while_the_data_plane_says_not_ready(world: World, model: str) -> None:
    backend, fake = world
    fake.not_ready_answers = 2
    backend.deploy_model(model, "ftbot-ep-1")
    fake.advance()
    fake.advance()
    assert fake.deployments["ftbot-ep-1"]["properties"]["provisioningState"] == "Succeeded"
    assert backend.get_endpoint("ftbot-ep-1").state is EndpointState.CREATING
    assert backend.get_endpoint("ftbot-ep-1").state is EndpointState.CREATING
    assert backend.get_endpoint("ftbot-ep-1").state is EndpointState.READY
    probes = len(fake.requests_to("POST", r"^/chat/completions$"))
    backend.get_endpoint("ftbot-ep-1")
    assert len(fake.requests_to("POST", r"^/chat/completions$")) == probes  # ready is remembered


def test_developer_deployment_states_when_it_will_be_deleted(world: World, model: str) -> None:
    backend, fake = world
    backend.deploy_model(model, "ftbot-dev", sku="Developer")
    (put,) = fake.requests_to("PUT", r"/deployments/ftbot-dev$")
    assert put.body["sku"] == {"name": "developertier", "capacity": 50}
    endpoint = backend.get_endpoint("ftbot-dev")
    assert endpoint.created_at is not None and endpoint.expires_at == endpoint.created_at + timedelta(
        hours=24
    )


def test_default_sku_comes_from_the_setting(make_spec: Callable[..., JobSpec]) -> None:
    backend, fake, _ = make_foundry(deployment_sku="Developer")
    try:
        assert [t.name for t in backend.deployment_skus()] == ["Developer", "Standard", "GlobalStandard"]
        assert backend.training_tiers()[0].name == "Standard"
        assert all(t.note for t in backend.training_tiers())
    finally:
        fake.settle()


def test_unknown_sku_is_refused(world: World, model: str) -> None:
    backend, fake = world
    with pytest.raises(InvalidInput, match="Unknown deployment SKU"):
        backend.deploy_model(model, "ftbot-ep-1", sku="Platinum")
    assert not fake.requests_to("PUT", r"/deployments/")


def test_failed_deployment_reports_the_service_reason(world: World, model: str) -> None:
    backend, fake = world
    fake.fail_deployment("ftbot-ep-1", "Insufficient capacity for SKU Standard in swedencentral.")
    backend.deploy_model(model, "ftbot-ep-1")
    fake.advance()
    fake.advance()
    deadline = time.monotonic() + 5
    endpoint = backend.get_endpoint("ftbot-ep-1")
    while "Insufficient" not in (endpoint.error or "") and time.monotonic() < deadline:
        time.sleep(0.02)  # the create poller's thread reads the operation
        endpoint = backend.get_endpoint("ftbot-ep-1")
    assert endpoint.state is EndpointState.FAILED
    assert (
        endpoint.error
        == "Azure could not deploy it: Insufficient capacity for SKU Standard in swedencentral."
    )


def test_arm_409_is_a_conflict(world: World, model: str) -> None:
    backend, fake = world
    fake.inject(
        "PUT", r"/deployments/ftbot-ep-1$", 409, {"error": {"code": "Conflict", "message": "It exists."}}
    )
    with pytest.raises(Conflict, match=r"already exists: It exists\."):
        backend.deploy_model(model, "ftbot-ep-1")


def test_arm_500_for_a_wrong_format_reads_clearly(
    world: World, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, fake = world
    monkeypatch.setattr("bot.backends.foundry.deployments.MODEL_FORMAT", "Meta")
    with pytest.raises(InvalidInput) as refused:
        backend.deploy_model(model, "ftbot-ep-1")
    assert "HTTP 500" in refused.value.message and "sent format Meta" in refused.value.message
    assert len(fake.requests_to("PUT", r"/deployments/")) == 2  # ARM's client retried it once


def test_arm_quota_429_is_a_conflict_with_the_reason(world: World, model: str) -> None:
    backend, fake = world
    body = {
        "error": {"code": "InsufficientQuota", "message": "This operation require 50 new capacity in quota."}
    }
    fake.inject("PUT", r"/deployments/", 429, body, times=5, headers={"Retry-After": "0"})
    with pytest.raises(Conflict, match="no quota left"):
        backend.deploy_model(model, "ftbot-ep-1")


def test_tear_down_waits_until_gone_and_is_idempotent(world: World, model: str) -> None:
    backend, fake = world
    backend.deploy_model(model, "ftbot-ep-1")
    _until(backend, fake, "ftbot-ep-1", EndpointState.READY)
    with pytest.raises(Conflict) as in_use:
        backend.delete_model(model)
    assert in_use.value.existing == "ftbot-ep-1"
    backend.delete_endpoint("ftbot-ep-1")
    assert "ftbot-ep-1" not in fake.deployments
    backend.delete_endpoint("ftbot-ep-1")
    with pytest.raises(NotFound):
        backend.get_endpoint("ftbot-ep-1")
    backend.delete_model(model)
    backend.delete_model(model)  # already gone: fine
    assert fake.deleted_models == [model]


def test_checkpoint_deploys_by_its_id(world: World, model: str) -> None:
    backend, fake = world
    checkpoint = backend.list_checkpoints("ftbot-job-1")[0]
    endpoint = backend.deploy_model(checkpoint.model, "ftbot-ckpt")
    assert endpoint.model == checkpoint.model
    _until(backend, fake, "ftbot-ckpt", EndpointState.READY)
    reply = backend.chat(
        "ftbot-ckpt", ChatRequest(messages=(ChatMessage(role="user", content="hello there"),))
    )
    assert reply.content == "echo: hello there" and reply.usage.total_tokens == 5
    assert [e.name for e in backend.list_endpoints()] == ["ftbot-ckpt"]
