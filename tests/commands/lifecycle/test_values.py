"""What the lifecycle use cases take and give back: their defaults and that they are values."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from commands.lifecycle.values import (
    Checked,
    Data,
    DeployChoices,
    DeployOutcome,
    Launched,
    LocalData,
    ServiceData,
    SubmitRequest,
)
from commands.models import Hyperparameters, Method, Task


def test_a_submission_defaults_to_supervised_chat_with_ftbots_choices() -> None:
    data = LocalData(Path("/d/train.jsonl"), "train.jsonl")
    request = SubmitRequest(model="m", training=data)
    assert request == SubmitRequest(
        model="m",
        training=data,
        validation=None,
        split=None,
        hyperparameters=Hyperparameters(),
        suffix=None,
        task=Task.CHAT_COMPLETION,
        method=Method.SUPERVISED,
        training_type=None,
        name=None,
        output_model_name=None,
        tags={},
        rerun_of=None,
    )
    assert request.tags is not SubmitRequest(model="m", training=data).tags  # each its own


def test_service_data_has_no_local_copy_unless_given() -> None:
    assert ServiceData(ref="file-1", name="t.jsonl") == ServiceData("file-1", "t.jsonl", None, None)
    kept = ServiceData(ref="azureml:t:1", name="t:1", path=Path("/d/t.jsonl"), not_checked=None)
    assert kept.path == Path("/d/t.jsonl")


def test_data_is_local_or_kept_by_the_service() -> None:
    assert set(Data.__args__) == {LocalData, ServiceData}


def test_deploy_outcomes_and_choices_default_to_nothing() -> None:
    assert DeployOutcome() == DeployOutcome(endpoint=None, approval=None, approval_is_new=False)
    choices = DeployChoices(job_id="job-1", model="m")
    assert (choices.checkpoints, choices.skus, choices.approver, choices.targets) == ((), (), False, ())


@pytest.mark.parametrize(
    "cls", [LocalData, ServiceData, SubmitRequest, Checked, Launched, DeployOutcome, DeployChoices]
)
def test_values_are_frozen(cls: type) -> None:
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_a_value_cannot_be_changed() -> None:
    data = LocalData(Path("/d/train.jsonl"), "train.jsonl")
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.name = "other"  # type: ignore[misc]


def test_a_checked_submission_was_checked_whole_unless_it_says_why() -> None:
    fields = {f.name: f for f in dataclasses.fields(Checked)}
    assert fields["not_checked"].default == ()
