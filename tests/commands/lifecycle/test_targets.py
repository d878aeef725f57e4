"""Deploy targets (``commands.lifecycle.targets``): the exact words a user reads when a target cannot be
used, names resolved whatever their case, and the endpoint operations chosen by the endpoint's target."""

from __future__ import annotations

import pytest

from commands.errors import InvalidInput
from commands.lifecycle.targets import (
    check_target,
    deploy_target,
    deploy_targets,
    describe_target,
    endpoint_ops,
    is_home,
)
from commands.models import HOME_TARGET, DeployOptions, DeployTarget
from commands.ports import EndpointOps
from tests.fakes.backend import FakeBackend

HOME = DeployTarget(name=HOME_TARGET, subscription_id="S1", resource_group="RG1", project="P1")
WEST = DeployTarget(name="west", subscription_id="S2", resource_group="RG2", project="P2")
EAST = DeployTarget(name="East", subscription_id="S3", resource_group="RG3", project="P3")


class Targeted(FakeBackend):
    kind = "azure"

    def __init__(self, *targets: DeployTarget) -> None:
        super().__init__()
        self.targets = list(targets) if targets else [HOME, WEST, EAST]
        self.checked: list[tuple[str, str, str | None]] = []
        self.at: dict[str, FakeBackend] = {}

    def deploy_targets(self) -> list[DeployTarget]:
        return list(self.targets)

    def check_target(self, target: str, model: str, *, sku: str | None = None) -> None:
        self.checked.append((target, model, sku))

    def endpoints_at(self, target: str) -> EndpointOps:
        return self.at.setdefault(target, FakeBackend())


def test_home_is_none_or_home_exactly() -> None:
    assert is_home(None) is True and is_home(HOME_TARGET) is True
    assert is_home("west") is False and is_home("HOME") is False and is_home("") is False


def test_targets_of_a_backend() -> None:
    assert deploy_targets(FakeBackend()) == []
    assert deploy_targets(Targeted()) == [HOME, WEST, EAST]


def test_a_backend_without_targets_names_its_home_and_the_flag() -> None:
    backend = FakeBackend()
    assert deploy_target(backend, None) is None and deploy_target(backend, "home") is None
    with pytest.raises(InvalidInput) as e:
        deploy_target(backend, "west")
    assert e.value.message == (
        "The local backend deploys only to its training project (home): it has no deploy targets "
        "(FTBOT_DEPLOY_TARGETS is for azure and foundry); leave out --target."
    )
    assert e.value.field == "target"


@pytest.mark.parametrize("targets", [(), (HOME,)])
def test_a_targeted_backend_with_home_alone_says_how_to_add_targets(targets: tuple[DeployTarget]) -> None:
    backend = Targeted(HOME)
    backend.targets = list(targets)
    with pytest.raises(InvalidInput) as e:
        deploy_target(backend, "west")
    assert e.value.message == (
        "The azure backend deploys only to its training project (home); leave out --target, or name other "
        "targets in FTBOT_DEPLOY_TARGETS."
    )
    assert e.value.field == "target"


def test_names_are_resolved_whatever_their_case() -> None:
    backend = Targeted()
    assert deploy_target(backend, "WEST") == "west"
    assert deploy_target(backend, "west") == "west"
    assert deploy_target(backend, "east") == "East"
    assert deploy_target(backend, "East") == "East"
    assert deploy_target(backend, "HOME") is None  # home by any case is the training project
    assert deploy_target(backend, "home") is None
    two = Targeted(HOME, WEST)
    assert deploy_target(two, "West") == "west"


def test_an_unknown_name_lists_the_targets() -> None:
    with pytest.raises(InvalidInput) as e:
        deploy_target(Targeted(), "north")
    assert e.value.message == "There is no deploy target called north; choose one of home, west, East."
    assert e.value.field == "target" and e.value.names == {"name": "north"}


def test_check_target_asks_the_backend_for_another_project_only() -> None:
    backend = Targeted()
    check_target(backend, DeployOptions(), "m")
    check_target(backend, DeployOptions(target=HOME_TARGET, sku="S"), "m")
    assert backend.checked == []
    check_target(backend, DeployOptions(target="west"), "m-1")
    check_target(backend, DeployOptions(target="East", sku="Developer"), "m-2")
    assert backend.checked == [("west", "m-1", None), ("East", "m-2", "Developer")]


def test_check_target_on_a_backend_without_targets() -> None:
    check_target(FakeBackend(), DeployOptions(target="home"), "m")
    with pytest.raises(InvalidInput) as e:
        check_target(FakeBackend(), DeployOptions(target="west"), "m")
    assert e.value.message == "The local backend has no deploy targets."
    assert e.value.field == "target"


def test_endpoint_ops_follow_the_target() -> None:
    backend = Targeted()
    assert endpoint_ops(backend, None) is backend and endpoint_ops(backend, HOME_TARGET) is backend
    west = endpoint_ops(backend, "west")
    assert west is backend.at["west"] and list(backend.at) == ["west"]
    plain = FakeBackend()
    assert endpoint_ops(plain, None) is plain and endpoint_ops(plain, "home") is plain
    with pytest.raises(InvalidInput) as e:
        endpoint_ops(plain, "west")
    assert e.value.message == (
        "The endpoint was deployed to west, but the local backend has no deploy targets now "
        "(FTBOT_DEPLOY_TARGETS)."
    )
    assert e.value.field == "target"


def test_describe_target_adds_the_path_where_configured() -> None:
    backend = Targeted()
    assert describe_target(backend, "west") == "west (S2/RG2/P2)"
    assert describe_target(backend, None) == "home (S1/RG1/P1)"
    assert describe_target(backend, "gone") == "gone"
    assert describe_target(FakeBackend(), None) == "home"
    assert describe_target(FakeBackend(), "west") == "west"
