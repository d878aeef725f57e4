"""Reruns without Slack: the data a job was launched with is remembered and read back, a rerun takes the
first job's choices with the overrides given, refuses a job that has not finished or whose data is gone,
and the best checkpoint is the one with the lowest validation loss."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from commands.costs.book import MemoryCostBook
from commands.costs.ledger import CostFact, CostKind
from commands.costs.prices import Rate
from commands.costs.recorder import Costs
from commands.errors import Conflict, InvalidInput
from commands.evaluation.examples import Example
from commands.evaluation.records import (
    Answer,
    EvaluationRecord,
    EvaluationState,
    ExampleAnswers,
    ExamplesSource,
)
from commands.lifecycle.jobs import Jobs
from commands.lifecycle.reruns import ComparedJob, Overrides, Reruns, best_checkpoint
from commands.lifecycle.sources import read_sources, remember_sources
from commands.lifecycle.values import LocalData, SubmitRequest
from commands.models import ChatMessage, Checkpoint, DatasetRef, Hyperparameters, JobState, Method
from commands.records import EvaluationFigures, ModelScores
from tests.commands.lifecycle.records import T0, deps, job_record
from tests.fakes.backend import FakeBackend
from tests.support.memory_evaluations import EvaluationMemoryStore
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


def _compare_with_an_evaluation_and_a_price(tmp_path: Path) -> tuple[ComparedJob, ComparedJob]:
    """job-1: evaluated on checkpoint 2 (the fine-tuned model right on 1 of 2 examples, the base on none)
    and trained on 1,000,000 tokens at USD 2.00 a million; job-2: never evaluated, and no price for it."""
    store, backend = EvaluationMemoryStore(), FakeBackend()
    question = ChatMessage(role="user", content="Where is order 1?")
    examples = (Example(messages=(question,), reference="Order 1 ships."),) * 2
    right, wrong = Answer(reply="Order 1 ships."), Answer(reply="xyz")
    with store.transaction() as tx:
        for job_id in ("job-1", "job-2"):
            tx.add_job(job_record(job_id))
            backend.submit_job(job_record(job_id).spec)
        tx.add_evaluation(
            EvaluationRecord(
                id="job-1-ev-1",
                job_id="job-1",
                endpoint="ep-1",
                checkpoint=2,
                base_model="m",
                source=ExamplesSource.VALIDATION,
                examples=examples,
                answers=(ExampleAnswers(tuned=right, base=wrong), ExampleAnswers(tuned=wrong, base=wrong)),
                state=EvaluationState.SUCCEEDED,
                requested_by="U1",
                created_at=T0,
                updated_at=T0,
            )
        )
    book = MemoryCostBook()
    usd = Rate(currency="USD", training_per_million_tokens=Decimal("2.00"))
    training = CostFact(
        key="training:job-1",
        kind=CostKind.TRAINING,
        channel_id="C1",
        user_id="U1",
        job_id="job-1",
        model="m",
        at=T0,
        tokens=1_000_000,
        rate=usd,
    )
    book.record(training)
    d = deps(tmp_path, backend, store)
    d = replace(d, costs=Costs(book, d.clock))
    return Reruns(d, Jobs(d)).compare("job-1", "job-2")


def test_compare_brings_each_jobs_latest_evaluation_and_its_cost(tmp_path: Path) -> None:
    first, second = _compare_with_an_evaluation_and_a_price(tmp_path)
    assert first.evaluation == EvaluationFigures(
        line="Checkpoint 2: chrF 50.0 vs base 0.0 on 2 held-out examples",
        finished=True,
        examples=2,
        checkpoint=2,
        tuned=ModelScores(chrf=50.0, f1=50.0, exact=50.0),
        base=ModelScores(chrf=0.0, f1=0.0, exact=0.0),
    )
    assert first.costs is not None and str(first.costs.training) == "USD 2.00"
    assert first.costs.training_final is True
    assert second.evaluation is None
    assert second.costs is not None and second.costs.training is None and second.costs.hosting is None
