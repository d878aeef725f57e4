"""Deploy targets on ``foundry`` through the wire fakes: a second Azure OpenAI account in another
subscription and region serving a model fine-tuned in the training account (``properties.model.source``),
test chat on the target's own endpoint, tear down there; the rules of cross-region deployment (the region
allowed for the SKU, both subscriptions reachable) checked before any deploy call."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.backends.foundry.constants import DEPLOYMENT_SKUS, STANDARD_DEPLOY_REGIONS, find
from bot.backends.foundry.targets import deploy_regions
from bot.runtime.settings import Settings
from commands.errors import InvalidInput, NotFound, PermissionDenied
from commands.models import HOME_TARGET, ChatMessage, ChatRequest, EndpointState, JobSpec
from commands.ports import StreamingChat, TargetedBackend
from tests.bot.backends.fake_azure.wire import FakeCredential
from tests.bot.backends.foundry.conftest import run_to_end
from tests.fakes.foundry import SUBSCRIPTION, FakeFoundry
from tests.fakes.foundry_targets import (
    TARGET_ACCOUNT,
    TARGET_ENDPOINT,
    TARGET_SUBSCRIPTION,
    TargetWorld,
    make_target_world,
)

HELLO = ChatRequest(messages=(ChatMessage(role="user", content="hello there"),), max_tokens=8)
ALLOWED = ", ".join(STANDARD_DEPLOY_REGIONS)


@pytest.fixture
def world() -> Iterator[TargetWorld]:
    w = make_target_world()
    yield w
    w.settle()


def _trained(world: TargetWorld, make_spec: Callable[..., JobSpec]) -> str:
    world.backend.submit_job(make_spec())
    job = run_to_end(world.backend, world.home, "ftbot-job-1")
    assert job.output_model
    return str(job.output_model)


def _ready(world: TargetWorld, name: str) -> None:
    west = world.backend.endpoints_at("west")
    for _ in range(10):
        if west.get_endpoint(name).state is EndpointState.READY:
            return
        world.target.advance()
    raise AssertionError(f"{name} never became ready")


def _v1_chats(fake: FakeFoundry) -> int:
    return len([c for c in fake.calls if c.plane == "v1" and c.path == "/chat/completions"])


def test_targets_are_home_first_then_the_configured_accounts(world: TargetWorld) -> None:
    assert isinstance(world.backend, TargetedBackend)
    targets = world.backend.deploy_targets()
    assert [t.name for t in targets] == [HOME_TARGET, "west"]
    assert (targets[0].subscription_id, targets[0].project) == (SUBSCRIPTION, world.home.account)
    assert (targets[1].subscription_id, targets[1].project) == (TARGET_SUBSCRIPTION, TARGET_ACCOUNT)
    with pytest.raises(NotFound, match="home, west"):
        world.backend.endpoints_at("nowhere")


def test_a_deployment_in_another_subscription_and_region_serves_the_home_model(
    world: TargetWorld, make_spec: Callable[..., JobSpec]
) -> None:
    model = _trained(world, make_spec)
    world.backend.check_target("west", model)
    west = world.backend.endpoints_at("west")
    assert west.deploy_model(model, "ftbot-west-1").state is EndpointState.CREATING
    puts = world.target.requests_to("PUT", r"/deployments/ftbot-west-1$")
    assert len(puts) == 1 and TARGET_SUBSCRIPTION in puts[0].path and TARGET_ACCOUNT in puts[0].path
    sent = puts[0].body["properties"]["model"]
    # the fine-tuned model's name and the training account's resource id, as "Deploy a fine-tuned model" does
    assert sent == {"format": "OpenAI", "name": model, "version": "1", "source": world.home.account_path}
    assert puts[0].body["sku"]["name"] == "GlobalStandard"
    assert world.home.requests_to("PUT", r"/deployments/") == [] and not world.home.deployments

    _ready(world, "ftbot-west-1")
    endpoint = west.get_endpoint("ftbot-west-1")
    assert endpoint.scoring_uri == f"{TARGET_ENDPOINT}/openai/v1/chat/completions"
    home_chats = _v1_chats(world.home)
    assert west.chat("ftbot-west-1", HELLO).content == "echo: hello there"
    assert _v1_chats(world.home) == home_chats  # the chat went to the target's endpoint only
    last = [c for c in world.target.calls if c.plane == "v1"][-1]
    assert last.headers["authorization"].startswith("Bearer ") and "api-key" not in last.headers
    assert isinstance(west, StreamingChat)
    assert "".join(d.text for d in west.chat_stream("ftbot-west-1", HELLO)) == "echo: hello there"
    assert [e.name for e in west.list_endpoints()] == ["ftbot-west-1"]
    with pytest.raises(NotFound):
        world.backend.get_endpoint("ftbot-west-1")  # home does not have it

    west.delete_endpoint("ftbot-west-1")
    assert "ftbot-west-1" not in world.target.deployments
    assert world.target.requests_to("DELETE", r"/deployments/ftbot-west-1$")


def test_a_region_outside_the_skus_regions_is_refused_naming_them(make_spec: Callable[..., JobSpec]) -> None:
    world = make_target_world(deployment_sku="Standard")
    model = _trained(world, make_spec)
    with pytest.raises(InvalidInput) as err:
        world.backend.check_target("west", model)
    message = err.value.message
    assert ALLOWED in message and "westus3" in message and "west" in message and "Standard" in message
    assert "GlobalStandard SKU (any Azure OpenAI region)" in message  # what would work instead
    assert err.value.field == "target"
    with pytest.raises(InvalidInput, match="westus3"):  # the deploy call checks it again, before the PUT
        world.backend.endpoints_at("west").deploy_model(model, "ftbot-west-1", sku="Standard")
    assert world.target.requests_to("PUT", r"/deployments/") == []
    # Global Standard serves the GPT-4.1 family from every Azure OpenAI region
    world.backend.check_target("west", model, sku="GlobalStandard")
    world.backend.endpoints_at("west").deploy_model(model, "ftbot-west-1", sku="GlobalStandard")
    assert len(world.target.requests_to("PUT", r"/deployments/ftbot-west-1$")) == 1
    world.settle()


def test_standard_deploys_to_a_target_in_one_of_its_regions(make_spec: Callable[..., JobSpec]) -> None:
    world = make_target_world(deployment_sku="Standard", location="Sweden Central")
    model = _trained(world, make_spec)
    world.backend.check_target("west", model)  # ARM's display spelling of swedencentral
    world.backend.endpoints_at("west").deploy_model(model, "ftbot-west-1")
    assert world.target.requests_to("PUT", r"/deployments/ftbot-west-1$")[0].body["sku"]["name"] == "Standard"
    world.settle()


def test_which_regions_a_fine_tune_deploys_to_by_sku() -> None:
    standard, global_, developer = (
        find(DEPLOYMENT_SKUS, n) for n in ("Standard", "GlobalStandard", "Developer")
    )
    assert standard and global_ and developer
    gpt41 = "gpt-4.1-2025-04-14.ft-0123456789abcdef0123456789abcdef-x"
    assert deploy_regions(gpt41, standard) == STANDARD_DEPLOY_REGIONS
    assert deploy_regions(gpt41, global_) is None and deploy_regions(gpt41, developer) is None
    mini = "gpt-4o-mini-2024-07-18.ft-0123456789abcdef0123456789abcdef"
    assert deploy_regions(mini, global_) is None
    assert deploy_regions(mini, developer) == STANDARD_DEPLOY_REGIONS  # Developer: GPT-4.1 family only
    older = "gpt-35-turbo-0125.ft-0123456789abcdef0123456789abcdef"
    assert deploy_regions(older, global_) == STANDARD_DEPLOY_REGIONS
    assert deploy_regions("ftchkpt-e559c011ecc04fc68eaa339d8227d02d", global_) is None  # the SKU decides


def test_global_standard_is_not_offered_for_a_model_it_does_not_serve_everywhere() -> None:
    world = make_target_world()  # GlobalStandard by default
    older = "gpt-35-turbo-0125.ft-0123456789abcdef0123456789abcdef"
    with pytest.raises(InvalidInput) as err:
        world.backend.check_target("west", older)
    assert ALLOWED in err.value.message and "with the GlobalStandard SKU only in" in err.value.message
    assert "any Azure OpenAI region" not in err.value.message  # no other SKU to suggest


def test_a_subscription_the_credential_cannot_reach_is_named(
    world: TargetWorld, make_spec: Callable[..., JobSpec]
) -> None:
    model = _trained(world, make_spec)
    world.target.unreachable = True
    with pytest.raises(PermissionDenied) as err:
        world.backend.check_target("west", model)
    assert TARGET_SUBSCRIPTION in err.value.message and "west" in err.value.message
    assert TARGET_ACCOUNT in err.value.message and SUBSCRIPTION not in err.value.message
    assert world.target.requests_to("GET", rf"/accounts/{TARGET_ACCOUNT}$")  # it asked, and ARM said no
    with pytest.raises(PermissionDenied, match=TARGET_SUBSCRIPTION):
        world.backend.endpoints_at("west").deploy_model(model, "ftbot-west-1")
    assert world.target.requests_to("PUT", r"/deployments/") == []


def test_the_training_subscription_is_named_when_it_is_the_one_out_of_reach(
    world: TargetWorld, make_spec: Callable[..., JobSpec]
) -> None:
    model = _trained(world, make_spec)
    world.home.unreachable = True
    with pytest.raises(PermissionDenied) as err:
        world.backend.check_target("west", model)
    assert SUBSCRIPTION in err.value.message and "home" in err.value.message
    assert TARGET_SUBSCRIPTION not in err.value.message


def test_an_account_that_is_not_there_or_serves_no_openai_is_refused(world: TargetWorld) -> None:
    world.target.inject(
        "GET",
        rf"/accounts/{TARGET_ACCOUNT}$",
        404,
        {"error": {"code": "ResourceNotFound", "message": "The Resource was not found."}},
    )
    with pytest.raises(InvalidInput, match="does not exist") as err:
        world.backend.check_target("west", "m.ft-1")
    assert TARGET_ACCOUNT in err.value.message and "FTBOT_DEPLOY_TARGETS" in err.value.message
    other = make_target_world(kind="TextAnalytics")
    with pytest.raises(InvalidInput, match="kind TextAnalytics"):
        other.backend.check_target("west", "m.ft-1")


def test_settings_build_a_target_per_entry_in_its_subscription(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.backends.foundry.backend import FoundryBackend

    env = {
        "FTBOT_BACKEND": "foundry",
        "AZURE_OPENAI_ENDPOINT": "https://ftbot-res.openai.azure.com",
        "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
        "AZURE_RESOURCE_GROUP": "rg",
        "AZURE_OPENAI_ACCOUNT": "ftbot-res",
        "AZURE_OPENAI_API_KEY": "home-key",
        "FTBOT_DEPLOY_TARGETS": f"west={TARGET_SUBSCRIPTION}/rg-west/{TARGET_ACCOUNT}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    backend = FoundryBackend.from_settings(Settings(_env_file=None), credential=FakeCredential())
    assert [t.name for t in backend.deploy_targets()] == [HOME_TARGET, "west"]
    west = backend.endpoints_at("west")
    assert west.arm._config.subscription_id == TARGET_SUBSCRIPTION
    assert west.target.resource_group == "rg-west" and west.target.project == TARGET_ACCOUNT
