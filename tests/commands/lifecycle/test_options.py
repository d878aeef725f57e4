"""``commands.lifecycle.options``: what a backend offers beyond the common Protocol (methods, tiers, SKUs,
checkpoints, pause), with the exact words of each refusal."""

from __future__ import annotations

import logging

import pytest

from commands.errors import InvalidInput, NotFound, Unavailable
from commands.lifecycle.options import (
    check_method,
    checkpointed,
    deployment_sku,
    deployment_skus,
    find_checkpoint,
    has_deploy_options,
    list_checkpoints,
    pausable,
    thread_checkpoints,
    training_tier,
    training_tiers,
)
from commands.models import (
    HOME_TARGET,
    BaseModelInfo,
    Checkpoint,
    DeployTarget,
    Hyperparameters,
    Method,
    Tier,
)
from tests.fakes.backend import SKUS, TIERS, FakeBackend, RichFakeBackend

HOME = DeployTarget(name=HOME_TARGET, subscription_id="S1", resource_group="RG1", project="P1")
WEST = DeployTarget(name="west", subscription_id="S2", resource_group="RG2", project="P2")
C1 = Checkpoint(number=1, model="m:1")
C5 = Checkpoint(number=5, model="m:5")
C9 = Checkpoint(number=9, model="m:9")


class Checkpointed(FakeBackend):
    """Checkpoints only, listed in no particular order; ``error`` makes listing fail."""

    def __init__(self, *checkpoints: Checkpoint) -> None:
        super().__init__()
        self.checkpoints = list(checkpoints)
        self.error: Exception | None = None

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        self._call("list_checkpoints")
        if self.error is not None:
            raise self.error
        return list(self.checkpoints)


class Tiered(FakeBackend):
    kind = "tiered"

    def training_tiers(self) -> list[Tier]:
        return [TIERS[1], TIERS[0]]

    def deployment_skus(self) -> list[Tier]:
        return [SKUS[2]]


class Targeted(FakeBackend):
    def __init__(self, *targets: DeployTarget) -> None:
        super().__init__()
        self.targets = list(targets)

    def deploy_targets(self) -> list[DeployTarget]:
        return list(self.targets)

    def check_target(self, target: str, model: str, *, sku: str | None = None) -> None:
        return None

    def endpoints_at(self, target: str) -> FakeBackend:
        return self


SFT_ONLY = BaseModelInfo(name="m-sft", source="local")
BOTH = BaseModelInfo(name="m-both", source="local", methods=(Method.SUPERVISED, Method.DPO))
NONE = BaseModelInfo(name="m-none", source="local", methods=())


def test_check_method_accepts_what_the_model_offers() -> None:
    check_method(SFT_ONLY, Method.SUPERVISED, Hyperparameters())
    check_method(BOTH, Method.DPO, Hyperparameters(beta=0.1))
    check_method(BOTH, Method.DPO, Hyperparameters())


@pytest.mark.parametrize("model", [SFT_ONLY, BOTH])
def test_beta_without_dpo_is_refused(model: BaseModelInfo) -> None:
    with pytest.raises(InvalidInput) as e:
        check_method(model, Method.SUPERVISED, Hyperparameters(beta=0.1))
    assert e.value.message == "beta is a DPO setting: choose the DPO method, or leave beta out."
    assert e.value.field == "beta"


def test_a_method_the_model_lacks_names_what_it_offers() -> None:
    with pytest.raises(InvalidInput) as e:
        check_method(SFT_ONLY, Method.DPO, Hyperparameters(beta=0.2))
    assert e.value.message == (
        "m-sft cannot be fine-tuned with DPO on this backend (it offers: supervised). "
        "Pick a model that lists it in /finetune models."
    )
    assert e.value.field == "method" and e.value.names == {"model": "m-sft", "command": "/finetune models"}
    with pytest.raises(InvalidInput) as e:
        check_method(NONE, Method.SUPERVISED, Hyperparameters())
    assert "(it offers: none)" in e.value.message
    twice = BaseModelInfo(name="m-dpo", source="local", methods=(Method.DPO, Method.DPO))
    with pytest.raises(InvalidInput) as e:
        check_method(twice, Method.SUPERVISED, Hyperparameters())
    assert "with SUPERVISED on this backend (it offers: dpo, dpo)." in e.value.message


def test_tiers_and_skus_of_a_backend() -> None:
    assert training_tiers(FakeBackend()) == [] and deployment_skus(FakeBackend()) == []
    assert training_tiers(Tiered()) == [TIERS[1], TIERS[0]]
    assert deployment_skus(Tiered()) == [SKUS[2]]


def test_tier_and_sku_names_as_the_backend_spells_them() -> None:
    backend = Tiered()
    assert training_tier(backend, None) is None and deployment_sku(backend, None) is None
    assert training_tier(FakeBackend(), None) is None and deployment_sku(FakeBackend(), None) is None
    assert training_tier(backend, "globalSTANDARD") == "GlobalStandard"
    assert training_tier(backend, "Standard") == "Standard"
    assert deployment_sku(backend, "DEVELOPER") == "Developer"


def test_unknown_tier_and_sku_list_the_ones_there_are() -> None:
    with pytest.raises(InvalidInput) as e:
        training_tier(Tiered(), "Premium")
    assert (
        e.value.message == "There is no training tier called Premium; choose one of GlobalStandard, Standard."
    )
    assert e.value.field == "training_type" and e.value.names == {"name": "Premium"}
    with pytest.raises(InvalidInput) as e:
        deployment_sku(Tiered(), "Standard")
    assert e.value.message == "There is no deployment SKU called Standard; choose one of Developer."
    assert e.value.field == "sku"


def test_a_backend_without_tiers_or_skus_says_which_flag_to_leave_out() -> None:
    with pytest.raises(InvalidInput) as e:
        training_tier(FakeBackend(), "Standard")
    assert e.value.message == "The local backend has no training tiers; leave out --training-type."
    assert e.value.field == "training_type"
    with pytest.raises(InvalidInput) as e:
        deployment_sku(FakeBackend(), "Standard")
    assert e.value.message == "The local backend has no deployment SKUs; leave out --sku."
    assert e.value.field == "sku"


def test_what_a_backend_can_do() -> None:
    assert pausable(RichFakeBackend()) is True and pausable(FakeBackend()) is False
    assert checkpointed(Checkpointed()) is True and checkpointed(FakeBackend()) is False
    assert has_deploy_options(FakeBackend()) is False
    assert has_deploy_options(Checkpointed()) is True
    assert has_deploy_options(Tiered()) is True
    assert has_deploy_options(Targeted(HOME, WEST)) is True
    assert has_deploy_options(Targeted(HOME)) is False
    assert has_deploy_options(Targeted()) is False


def test_checkpoints_are_listed_oldest_first() -> None:
    backend = Checkpointed(C9, C1, C5)
    assert list_checkpoints(backend, "j") == [C1, C5, C9]
    assert list_checkpoints(FakeBackend(), "j") == []
    assert thread_checkpoints(backend, "j") == [C1, C5, C9]
    assert thread_checkpoints(Checkpointed(), "j") is None
    assert thread_checkpoints(FakeBackend(), "j") is None


def test_checkpoints_that_cannot_be_listed_are_logged_and_left_out(caplog: pytest.LogCaptureFixture) -> None:
    backend = Checkpointed(C1)
    backend.error = Unavailable("throttled")
    with caplog.at_level(logging.DEBUG, logger="ftbot.lifecycle"):
        assert thread_checkpoints(backend, "job-7") is None
    [record] = caplog.records
    assert record.name == "ftbot.lifecycle" and record.levelno == logging.WARNING
    assert record.getMessage() == "could not list the checkpoints of job-7: throttled"
    backend.error = RuntimeError("a bug")
    with pytest.raises(RuntimeError):
        thread_checkpoints(backend, "job-7")


def test_find_checkpoint_by_number() -> None:
    backend = Checkpointed(C5, C1)
    assert find_checkpoint(backend, "j", 5) is C5
    assert find_checkpoint(backend, "j", 1) is C1
    with pytest.raises(InvalidInput) as e:
        find_checkpoint(backend, "job-3", 2)
    assert e.value.message == "job-3 has no checkpoint 2 (deployable: 1, 5); its thread lists them."
    assert e.value.field == "checkpoint" and e.value.names == {"job": "job-3"}
    with pytest.raises(InvalidInput) as e:
        find_checkpoint(Checkpointed(), "job-3", 1)
    assert e.value.message == "job-3 has no checkpoint 1 (deployable: none); its thread lists them."


def test_find_checkpoint_on_a_backend_that_keeps_none() -> None:
    with pytest.raises(InvalidInput) as e:
        find_checkpoint(FakeBackend(), "j", 1)
    assert (
        e.value.message
        == "The local backend keeps no checkpoints; deploy the final model (leave out --checkpoint)."
    )
    assert e.value.field == "checkpoint"


def test_not_found_is_an_ftbot_error_too() -> None:
    backend = Checkpointed()
    backend.error = NotFound("no job j")
    assert thread_checkpoints(backend, "j") is None
