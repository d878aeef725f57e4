"""Deploy targets in the core: ``--target`` on the command line, resolving a target's name, a backend
without targets refusing one plainly, and the endpoint operations chosen by the endpoint's target."""

from __future__ import annotations

from typing import Any

import pytest

from bot.runtime.deploy_targets import parse_targets, with_home
from commands import grammar as g
from commands.errors import InvalidInput, UsageError
from commands.lifecycle.options import has_deploy_options
from commands.lifecycle.targets import check_target, deploy_target, describe_target, endpoint_ops
from commands.models import HOME_TARGET, DeployOptions, DeployTarget
from tests.fakes.backend import FakeBackend

HOME = DeployTarget(name=HOME_TARGET, subscription_id="S1", resource_group="RG1", project="P1")
WEST = DeployTarget(name="west", subscription_id="S2", resource_group="RG2", project="P2")


class Targeted(FakeBackend):
    """The Protocol fake with two targets; it records the checks asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.checked: list[tuple[str, str, str | None]] = []
        self.west = FakeBackend()

    def deploy_targets(self) -> list[DeployTarget]:
        return [HOME, WEST]

    def check_target(self, target: str, model: str, *, sku: str | None = None) -> None:
        self.checked.append((target, model, sku))

    def endpoints_at(self, target: str) -> Any:
        assert target == "west"
        return self.west


def test_deploy_takes_a_target() -> None:
    assert g.parse("deploy ftbot-x --target west") == g.Deploy(job="ftbot-x", target="west")
    assert g.parse("deploy ftbot-x --checkpoint 2 --target home") == g.Deploy(
        job="ftbot-x", checkpoint=2, target="home"
    )
    with pytest.raises(UsageError, match="deploy target"):
        g.parse("deploy ftbot-x --target ../etc")


def test_a_backend_without_targets_refuses_one_and_keeps_home() -> None:
    backend = FakeBackend()
    assert deploy_target(backend, None) is None
    assert deploy_target(backend, HOME_TARGET) is None
    with pytest.raises(InvalidInput, match="deploys only to its training project") as err:
        deploy_target(backend, "west")
    assert err.value.field == "target" and "no deploy targets" in err.value.message


def test_a_targeted_backend_with_home_only_says_how_to_add_targets() -> None:
    backend = Targeted()
    backend.deploy_targets = lambda: [HOME]  # type: ignore[method-assign]
    with pytest.raises(InvalidInput, match="FTBOT_DEPLOY_TARGETS"):
        deploy_target(backend, "west")


def test_a_backend_without_targets_has_home_endpoints_only() -> None:
    backend = FakeBackend()
    assert endpoint_ops(backend, None) is backend
    with pytest.raises(InvalidInput, match="no deploy targets"):
        endpoint_ops(backend, "west")
    check_target(backend, DeployOptions(), "m")  # home: nothing to check


def test_a_targeted_backend_resolves_names_and_routes_endpoints() -> None:
    backend = Targeted()
    assert deploy_target(backend, "WEST") == "west"
    assert deploy_target(backend, "home") is None
    with pytest.raises(InvalidInput, match="choose one of home, west"):
        deploy_target(backend, "east")
    assert has_deploy_options(backend) and not has_deploy_options(FakeBackend())
    assert endpoint_ops(backend, "west") is backend.west and endpoint_ops(backend, None) is backend
    check_target(backend, DeployOptions(target="west"), "model-1")
    check_target(backend, DeployOptions(target="west", sku="GlobalStandard"), "model-1")
    assert backend.checked == [("west", "model-1", None), ("west", "model-1", "GlobalStandard")]
    assert describe_target(backend, "west") == "west (S2/RG2/P2)"


def test_the_setting_parses_targets_and_refuses_what_it_cannot_use() -> None:
    assert parse_targets(" west=S2/RG2/P2 , ,prod=S3/RG3/P3") == [
        WEST,
        DeployTarget(name="prod", subscription_id="S3", resource_group="RG3", project="P3"),
    ]
    assert parse_targets("") == []
    assert with_home(HOME, [WEST]) == [HOME, WEST]
    for bad, why in [
        ("west=S2/RG2", "expected NAME=SUBSCRIPTION/RESOURCE_GROUP/PROJECT"),
        ("west", "expected NAME="),
        ("home=S2/RG2/P2", "home is the training project"),
        ("west=S2/RG2/P2,West=S3/RG3/P3", "given twice"),
        ("9x=S2/RG2/P2", "starts with a letter"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_targets(bad)
