"""Reruns without Slack: the data a job was launched with is remembered and read back, a rerun takes the
first job's choices with the overrides given, refuses a job that has not finished or whose data is gone,
and the best checkpoint is the one with the lowest validation loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.errors import Conflict, InvalidInput
from commands.lifecycle.jobs import Jobs
from commands.lifecycle.reruns import Overrides, Reruns, best_checkpoint
from commands.lifecycle.sources import read_sources, remember_sources
from commands.lifecycle.values import LocalData, SubmitRequest
from commands.models import Checkpoint, DatasetRef, Hyperparameters, JobState, Method
from tests.commands.lifecycle.records import deps, job_record
from tests.support.memory_store import MemoryStore


def _ckpt(n: int, valid: float | None) -> Checkpoint:
    metrics = {"train_loss": 1.0 / n} | ({"valid_loss": valid} if valid is not None else {})
    return Checkpoint(number=n, model=f"m:ckpt-{n}", epoch=n, metrics=metrics)


def test_the_best_checkpoint_has_the_lowest_validation_loss() -> None:
    assert best_checkpoint([_ckpt(1, 0.9), _ckpt(2, 0.4), _ckpt(3, 0.7)]) == _ckpt(2, 0.4)
    assert best_checkpoint([_ckpt(1, 0.4), _ckpt(2, 0.4)]) == _ckpt(1, 0.4)  # the earliest of equals
    assert best_checkpoint([_ckpt(1, None), _ckpt(2, 0.8)]) == _ckpt(2, 0.8)
    assert best_checkpoint([_ckpt(1, None)]) is None
    assert best_checkpoint([]) is None


def _reruns(tmp_path: Path, state: JobState = JobState.SUCCEEDED, *, split: bool = True) -> Reruns:
    store = MemoryStore()
    record = job_record("job-1")
    spec = record.spec.model_copy(
        update={
            "hyperparameters": Hyperparameters(n_epochs=4, batch_size=8),
            "suffix": "first",
            "method": Method.SUPERVISED,
            "validation": DatasetRef(kind="asset", value="v", name="v") if split else None,
        }
    )
    with store.transaction() as tx:
        tx.add_job(record.model_copy(update={"state": state, "spec": spec}))
    d = deps(tmp_path, store=store)
    data = tmp_path / "in" / "train.jsonl"
    data.parent.mkdir()
    data.write_text("{}\n")
    (tmp_path / "job-1").mkdir()
    request = SubmitRequest(model="m", training=LocalData(data, "train.jsonl"), split=0.2 if split else None)
    remember_sources(tmp_path / "job-1", request)
    return Reruns(d, Jobs(d))


def test_sources_are_remembered_and_read_back_while_the_files_are_here(tmp_path: Path) -> None:
    _reruns(tmp_path)
    sources = read_sources(tmp_path / "job-1")
    assert sources.training == LocalData((tmp_path / "in" / "train.jsonl").resolve(), "train.jsonl")
    assert sources.validation is None and sources.split == 0.2
    (tmp_path / "in" / "train.jsonl").unlink()
    assert read_sources(tmp_path / "job-1").training is None
    assert read_sources(tmp_path / "nothing-here").training is None
    (tmp_path / "job-1" / "sources.json").write_text("[not json")
    assert read_sources(tmp_path / "job-1").training is None


def test_a_rerun_keeps_the_first_jobs_choices_and_applies_the_overrides(tmp_path: Path) -> None:
    reruns = _reruns(tmp_path)
    request = reruns.request(reruns.draft("job-1"), Overrides(n_epochs=2, learning_rate_multiplier=0.5))
    assert request.model == "m" and request.rerun_of == "job-1" and request.split == 0.2
    assert request.hyperparameters == Hyperparameters(n_epochs=2, batch_size=8, learning_rate_multiplier=0.5)
    assert request.suffix == "first"
    assert reruns.request(reruns.draft("job-1"), Overrides(suffix="second")).suffix == "second"


@pytest.mark.parametrize("state", [JobState.PENDING, JobState.QUEUED, JobState.RUNNING, JobState.PAUSED])
def test_only_a_finished_job_can_be_rerun(tmp_path: Path, state: JobState) -> None:
    with pytest.raises(Conflict, match="rerun it once it has"):
        _reruns(tmp_path, state).draft("job-1")


def test_a_rerun_whose_data_is_gone_says_so(tmp_path: Path) -> None:
    reruns = _reruns(tmp_path)
    (tmp_path / "in" / "train.jsonl").unlink()
    with pytest.raises(InvalidInput, match="training data of job-1 is no longer on this machine"):
        reruns.request(reruns.draft("job-1"))


def test_comparing_a_job_with_itself_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="two different jobs"):
        _reruns(tmp_path).compare("job-1", "job-1")
