"""``Reruns`` end to end on the in-memory store: the draft (finished jobs only), the request built from the
first job's spec and the data it remembered, the launches it records, and ``compare``'s two sides."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from commands.costs.book import MemoryCostBook
from commands.costs.ledger import CostFact, CostKind
from commands.costs.prices import Rate
from commands.costs.recorder import Costs
from commands.errors import Conflict, InvalidInput, NotFound
from commands.lifecycle.base import Deps
from commands.lifecycle.jobs import Jobs
from commands.lifecycle.reruns import (
    FINISHED,
    ComparedJob,
    Overrides,
    RerunDraft,
    Reruns,
    best_checkpoint,
)
from commands.lifecycle.sources import Sources, remember_sources
from commands.lifecycle.values import LocalData, ServiceData, SubmitRequest
from commands.models import (
    Checkpoint,
    DatasetRef,
    EndpointState,
    Hyperparameters,
    Job,
    JobState,
    Method,
    MetricPoint,
    Task,
)
from commands.records import Actor, JobRecord, Surface
from tests.commands.lifecycle.records import T0, deps, endpoint_record, job_record
from tests.fakes.backend import FakeBackend
from tests.support.data import chat_lines
from tests.support.memory_store import MemoryStore

ACTOR = Actor(user_id="UMEMBER01", channel_id="CJOBS1", surface=Surface.BUTTON)
VALIDATION = DatasetRef(kind="asset", value="v", name="v")


class ScriptedBackend(FakeBackend):
    """A ``FakeBackend`` whose ``get_job`` answers what the test put in ``reported`` for a job."""

    def __init__(self) -> None:
        super().__init__()
        self.reported: dict[str, Job] = {}

    def get_job(self, job_id: str) -> Job:
        if job_id in self.reported:
            self.calls["get_job"] += 1
            return self.reported[job_id]
        return super().get_job(job_id)


def _job(job_id: str = "job-1", state: JobState = JobState.SUCCEEDED, **spec: object) -> JobRecord:
    record = job_record(job_id)
    return record.model_copy(update={"state": state, "spec": record.spec.model_copy(update=spec)})


def _rich_job(state: JobState = JobState.SUCCEEDED, *, validation: DatasetRef | None = None) -> JobRecord:
    return _job(
        "job-1",
        state,
        base_model="ftbot-tiny",
        hyperparameters=Hyperparameters(n_epochs=4, batch_size=8, learning_rate_multiplier=0.3, beta=0.5),
        suffix="first",
        task=Task.TEXT_COMPLETION,
        method=Method.DPO,
        training_type="Standard",
        validation=validation,
    )


def _reruns(
    tmp_path: Path, *jobs: JobRecord, backend: FakeBackend | None = None, store: MemoryStore | None = None
) -> Reruns:
    store = store or MemoryStore()
    with store.transaction() as tx:
        for job in jobs:
            tx.add_job(job)
    d = deps(tmp_path, backend=backend, store=store)
    return Reruns(d, Jobs(d))


def _local(tmp_path: Path, name: str, text: str = "{}\n") -> LocalData:
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return LocalData(path.resolve(), name)


def _remember(tmp_path: Path, job_id: str, request: SubmitRequest) -> None:
    (tmp_path / job_id).mkdir(exist_ok=True)
    remember_sources(tmp_path / job_id, request)


# --- draft ---------------------------------------------------------------------------------------------


def test_finished_states_are_the_terminal_ones() -> None:
    assert {s for s in JobState if s.terminal} == FINISHED
    assert {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED} == FINISHED


@pytest.mark.parametrize("state", [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED])
def test_a_finished_job_is_drafted_with_its_remembered_data(tmp_path: Path, state: JobState) -> None:
    job = _job(state=state)
    reruns = _reruns(tmp_path, job)
    training = _local(tmp_path, "train.jsonl")
    _remember(tmp_path, "job-1", SubmitRequest(model="m", training=training, split=0.25))

    draft = reruns.draft("job-1")

    assert draft == RerunDraft(job=job, sources=Sources(training=training, split=0.25))


def test_a_draft_with_nothing_remembered_has_no_data(tmp_path: Path) -> None:
    draft = _reruns(tmp_path, _job()).draft("job-1")
    assert draft.sources == Sources(training=None)


@pytest.mark.parametrize(
    "state", [JobState.PENDING, JobState.HELD, JobState.QUEUED, JobState.RUNNING, JobState.PAUSED]
)
def test_an_unfinished_job_cannot_be_drafted(tmp_path: Path, state: JobState) -> None:
    with pytest.raises(Conflict) as e:
        _reruns(tmp_path, _job(state=state)).draft("job-1")
    assert str(e.value) == (
        f"job-1 is {state.value}: rerun it once it has succeeded, failed or been cancelled."
    )
    assert e.value.names == {"job": "job-1"}


def test_an_unknown_job_cannot_be_drafted(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        _reruns(tmp_path).draft("job-9")


# --- request -------------------------------------------------------------------------------------------


def _draft(job: JobRecord, training: LocalData | ServiceData | None, **sources: object) -> RerunDraft:
    return RerunDraft(job=job, sources=Sources(training=training, **sources))  # type: ignore[arg-type]


def test_a_request_without_overrides_is_the_first_jobs_submission(tmp_path: Path) -> None:
    reruns = _reruns(tmp_path)
    training = _local(tmp_path, "train.jsonl")
    request = reruns.request(_draft(_rich_job(), training, split=0.3))
    assert request == SubmitRequest(
        model="ftbot-tiny",
        training=training,
        validation=None,
        split=0.3,
        hyperparameters=Hyperparameters(n_epochs=4, batch_size=8, learning_rate_multiplier=0.3, beta=0.5),
        suffix="first",
        task=Task.TEXT_COMPLETION,
        method=Method.DPO,
        training_type="Standard",
        name=None,
        output_model_name=None,
        tags={},
        rerun_of="job-1",
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            Overrides(n_epochs=2),
            Hyperparameters(n_epochs=2, batch_size=8, learning_rate_multiplier=0.3, beta=0.5),
        ),
        (
            Overrides(batch_size=16),
            Hyperparameters(n_epochs=4, batch_size=16, learning_rate_multiplier=0.3, beta=0.5),
        ),
        (
            Overrides(learning_rate_multiplier=2.0),
            Hyperparameters(n_epochs=4, batch_size=8, learning_rate_multiplier=2.0, beta=0.5),
        ),
        (
            Overrides(n_epochs=1, batch_size=1, learning_rate_multiplier=0.1, suffix="ignored-here"),
            Hyperparameters(n_epochs=1, batch_size=1, learning_rate_multiplier=0.1, beta=0.5),
        ),
    ],
)
def test_each_override_replaces_only_its_own_hyperparameter(
    tmp_path: Path, overrides: Overrides, expected: Hyperparameters
) -> None:
    reruns = _reruns(tmp_path)
    request = reruns.request(_draft(_rich_job(), _local(tmp_path, "t.jsonl")), overrides)
    assert request.hyperparameters == expected


def test_the_suffix_override_wins_and_an_empty_one_keeps_the_first(tmp_path: Path) -> None:
    reruns = _reruns(tmp_path)
    draft = _draft(_rich_job(), _local(tmp_path, "t.jsonl"))
    assert reruns.request(draft, Overrides(suffix="second")).suffix == "second"
    assert reruns.request(draft, Overrides(suffix="")).suffix == "first"
    assert reruns.request(draft).suffix == "first"
    plain = _draft(_job(), _local(tmp_path, "t.jsonl"))  # the first job had no suffix
    assert reruns.request(plain).suffix is None
    assert reruns.request(plain, Overrides(suffix="new")).suffix == "new"


def test_a_remembered_validation_file_is_used_and_the_split_dropped(tmp_path: Path) -> None:
    reruns = _reruns(tmp_path)
    training, validation = _local(tmp_path, "t.jsonl"), _local(tmp_path, "v.jsonl")
    draft = _draft(_rich_job(validation=VALIDATION), training, validation=validation, split=0.2)
    request = reruns.request(draft)
    assert (request.training, request.validation, request.split) == (training, validation, None)


def test_a_split_stands_in_for_a_validation_file(tmp_path: Path) -> None:
    reruns = _reruns(tmp_path)
    training = _local(tmp_path, "t.jsonl")
    request = reruns.request(_draft(_rich_job(validation=VALIDATION), training, split=0.2))
    assert (request.validation, request.split) == (None, 0.2)


def test_service_data_is_rerun_by_its_reference(tmp_path: Path) -> None:
    reruns = _reruns(tmp_path)
    training = ServiceData(ref="file-abc", name="train.jsonl", not_checked="too big")
    assert reruns.request(_draft(_job(), training)).training == training


def test_a_rerun_whose_training_data_is_gone_names_it(tmp_path: Path) -> None:
    reruns = _reruns(tmp_path)
    with pytest.raises(InvalidInput) as e:
        reruns.request(_draft(_job(), None, split=0.2))
    assert str(e.value) == (
        "The training data of job-1 is no longer on this machine; rerun it from the card (Rerun…) "
        "and give the data again."
    )
    assert e.value.field == "data"
    assert e.value.names == {"what": "training", "job": "job-1"}


def test_a_rerun_whose_validation_data_is_gone_names_it(tmp_path: Path) -> None:
    reruns = _reruns(tmp_path)
    with pytest.raises(InvalidInput) as e:
        reruns.request(_draft(_job(validation=VALIDATION), _local(tmp_path, "t.jsonl")))
    assert str(e.value) == (
        "The validation data of job-1 is no longer on this machine; rerun it from the card (Rerun…) "
        "and give the data again."
    )
    assert e.value.field == "validation"
    assert e.value.names == {"what": "validation", "job": "job-1"}


def test_no_validation_is_needed_when_the_first_job_had_none(tmp_path: Path) -> None:
    reruns = _reruns(tmp_path)
    request = reruns.request(_draft(_job(), _local(tmp_path, "t.jsonl")))
    assert (request.validation, request.split) == (None, None)


# --- launch --------------------------------------------------------------------------------------------


def _launchable(
    tmp_path: Path, state: JobState = JobState.SUCCEEDED
) -> tuple[Reruns, MemoryStore, FakeBackend]:
    store, backend = MemoryStore(), FakeBackend()
    reruns = _reruns(
        tmp_path, _job(state=state, base_model="ftbot-tiny", suffix="first"), backend=backend, store=store
    )
    training = _local(tmp_path, "train.jsonl", chat_lines(30))
    _remember(tmp_path, "job-1", SubmitRequest(model="ftbot-tiny", training=training))
    return reruns, store, backend


def test_launch_starts_the_rerun_with_the_overrides_and_records_what_was_asked(tmp_path: Path) -> None:
    reruns, store, backend = _launchable(tmp_path)

    launched = reruns.launch(ACTOR, "job-1", Overrides(n_epochs=2, suffix="again"))

    assert launched.checked.request.rerun_of == "job-1"
    assert launched.checked.request.hyperparameters.n_epochs == 2
    assert launched.job.spec.hyperparameters.n_epochs == 2 and launched.job.spec.suffix == "again"
    assert launched.job.rerun_of == "job-1" and launched.job.state is JobState.QUEUED
    assert backend.submitted[launched.job.id] == 1
    assert [launch.what for launch in store.tables.launches.values()] == ["/finetune rerun job-1"]


def test_launch_without_overrides_keeps_the_first_choices(tmp_path: Path) -> None:
    reruns, _, _ = _launchable(tmp_path)
    launched = reruns.launch(ACTOR, "job-1")
    assert launched.job.spec.suffix == "first" and launched.job.spec.hyperparameters == Hyperparameters()


def test_launch_refuses_an_unfinished_job_before_recording_anything(tmp_path: Path) -> None:
    reruns, store, backend = _launchable(tmp_path, JobState.RUNNING)
    with pytest.raises(Conflict):
        reruns.launch(ACTOR, "job-1")
    assert store.tables.launches == {} and backend.calls["submit_job"] == 0


def test_launch_request_starts_what_the_wizard_reviewed(tmp_path: Path) -> None:
    reruns, store, _ = _launchable(tmp_path)
    request = reruns.request(reruns.draft("job-1"), Overrides(batch_size=4))
    launched = reruns.launch_request(ACTOR, request)
    assert launched.checked.request == request and launched.job.rerun_of == "job-1"
    assert launched.job.spec.hyperparameters.batch_size == 4
    assert [launch.what for launch in store.tables.launches.values()] == ["/finetune rerun job-1"]


def test_launch_request_checks_the_first_job_is_still_there_and_finished(tmp_path: Path) -> None:
    reruns, store, backend = _launchable(tmp_path)
    request = reruns.request(reruns.draft("job-1"))
    with store.transaction() as tx:
        tx.update_job("job-1", state=JobState.RUNNING)
    with pytest.raises(Conflict):
        reruns.launch_request(ACTOR, request)
    with pytest.raises(NotFound):
        reruns.launch_request(ACTOR, replace(request, rerun_of="job-9"))
    assert store.tables.launches == {} and backend.calls["submit_job"] == 0


def test_launch_request_without_a_first_job_launches_it_as_given(tmp_path: Path) -> None:
    reruns, store, _ = _launchable(tmp_path)
    request = replace(reruns.request(reruns.draft("job-1")), rerun_of=None)
    launched = reruns.launch_request(ACTOR, request)
    assert launched.job.rerun_of is None and launched.job.state is JobState.QUEUED
    assert len(store.tables.launches) == 1


# --- compare -------------------------------------------------------------------------------------------


def test_comparing_a_job_with_itself_is_refused_on_the_job_field(tmp_path: Path) -> None:
    reruns = _reruns(tmp_path, _job())
    with pytest.raises(InvalidInput) as e:
        reruns.compare("job-1", "job-1")
    assert str(e.value) == "Name two different jobs to compare."
    assert e.value.field == "job"


def test_compare_reports_each_jobs_metrics_and_final_figures(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    metrics = (
        MetricPoint(step=1, epoch=1, train_loss=2.0),
        MetricPoint(step=2, epoch=1, train_loss=1.0, valid_loss=1.5),
    )
    backend.reported["job-1"] = Job(
        id="job-1", state=JobState.SUCCEEDED, service_status="Done", metrics=metrics
    )
    backend.reported["job-2"] = Job(
        id="job-2", state=JobState.FAILED, service_status="Failed", metrics_note="no results file"
    )
    reruns = _reruns(tmp_path, _job("job-1"), _job("job-2", JobState.FAILED), backend=backend)

    first, second = reruns.compare("job-1", "job-2")

    assert first == ComparedJob(
        job=_job("job-1"),
        metrics=metrics,
        final={"first_train_loss": 2.0, "final_train_loss": 1.0, "final_valid_loss": 1.5, "steps": 2},
        note=None,
        evaluation=None,
        costs=None,
    )
    assert second == ComparedJob(
        job=_job("job-2", JobState.FAILED), final={"steps": 0}, note="no results file"
    )
    assert backend.calls["get_job"] == 2


def test_compare_has_no_note_when_metrics_came_or_the_note_is_empty(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    point = MetricPoint(step=1, epoch=1, train_loss=1.0)
    backend.reported["job-1"] = Job(
        id="job-1", state=JobState.SUCCEEDED, service_status="Done", metrics=(point,), metrics_note="partial"
    )
    backend.reported["job-2"] = Job(
        id="job-2", state=JobState.SUCCEEDED, service_status="Done", metrics_note=""
    )
    reruns = _reruns(tmp_path, _job("job-1"), _job("job-2"), backend=backend)
    first, second = reruns.compare("job-1", "job-2")
    assert (first.metrics, first.note) == ((point,), None)
    assert (second.metrics, second.note) == ((), None)


def test_a_job_not_started_yet_is_compared_without_asking_the_backend(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    backend.reported["job-2"] = Job(id="job-2", state=JobState.RUNNING, service_status="Running")
    reruns = _reruns(
        tmp_path, _job("job-1", JobState.PENDING), _job("job-2", JobState.RUNNING), backend=backend
    )
    first, second = reruns.compare("job-1", "job-2")
    assert first == ComparedJob(job=_job("job-1", JobState.PENDING), note="not started yet")
    assert second.note is None and second.final == {"steps": 0}
    assert backend.calls["get_job"] == 1  # only job-2's


def test_compare_needs_both_jobs(tmp_path: Path) -> None:
    reruns = _reruns(tmp_path, _job("job-1"))
    with pytest.raises(NotFound):
        reruns.compare("job-1", "job-9")
    with pytest.raises(NotFound):
        reruns.compare("job-9", "job-1")


def _hosting(endpoint: str, job_id: str, per_hour: str, *, live: bool = False) -> CostFact:
    return CostFact(
        key=f"hosting:{endpoint}",
        kind=CostKind.HOSTING,
        channel_id="C1",
        user_id="U1",
        job_id=job_id,
        endpoint=endpoint,
        model="m",
        at=T0,
        ended_at=None if live else T0 + timedelta(hours=1),
        rate=Rate(currency="USD", hosting_per_hour=Decimal(per_hour)),
    )


def test_compare_costs_the_endpoint_the_card_shows(tmp_path: Path) -> None:
    """job-1: the live endpoint between a dead older and a dead newer one; job-2: three dead ones, the
    latest counts; each endpoint's hosting fact has its own hourly price, which tells which was used."""
    store, backend, book = MemoryStore(), ScriptedBackend(), MemoryCostBook()
    for job_id in ("job-1", "job-2"):
        backend.reported[job_id] = Job(id=job_id, state=JobState.SUCCEEDED, service_status="Done")
    with store.transaction() as tx:
        for job_id in ("job-1", "job-2"):
            tx.add_job(_job(job_id))
        tx.claim_endpoint(endpoint_record("ep-old", "job-1", EndpointState.DELETED, minutes=1))
        tx.claim_endpoint(endpoint_record("ep-live", "job-1", EndpointState.READY, minutes=2))
        tx.claim_endpoint(endpoint_record("ep-new", "job-1", EndpointState.FAILED, minutes=3))
        tx.claim_endpoint(endpoint_record("ep-a", "job-2", EndpointState.DELETED, minutes=1))
        tx.claim_endpoint(endpoint_record("ep-b", "job-2", EndpointState.FAILED, minutes=2))
        tx.claim_endpoint(endpoint_record("ep-c", "job-2", EndpointState.DELETED, minutes=3))
    for fact in (
        _hosting("ep-old", "job-1", "1"),
        _hosting("ep-live", "job-1", "2", live=True),
        _hosting("ep-new", "job-1", "3"),
        _hosting("ep-a", "job-2", "4"),
        _hosting("ep-b", "job-2", "5"),
        _hosting("ep-c", "job-2", "6"),
    ):
        book.record(fact)
    d = deps(tmp_path, backend=backend, store=store)
    d = Deps(**{**d.__dict__, "costs": Costs(book, d.clock)})

    first, second = Reruns(d, Jobs(d)).compare("job-1", "job-2")

    assert first.costs is not None and str(first.costs.hosting_per_hour) == "USD 2.00"
    assert first.costs.hosting_live is True  # costed until now, the compare's own moment
    assert second.costs is not None and str(second.costs.hosting_per_hour) == "USD 6.00"


def test_compare_without_endpoints_costs_training_only(tmp_path: Path) -> None:
    store, backend, book = MemoryStore(), ScriptedBackend(), MemoryCostBook()
    for job_id in ("job-1", "job-2"):
        backend.reported[job_id] = Job(id=job_id, state=JobState.SUCCEEDED, service_status="Done")
    with store.transaction() as tx:
        tx.add_job(_job("job-1"))
        tx.add_job(_job("job-2"))
    d = deps(tmp_path, backend=backend, store=store)
    d = Deps(**{**d.__dict__, "costs": Costs(book, d.clock)})
    first, _ = Reruns(d, Jobs(d)).compare("job-1", "job-2")
    assert first.costs is not None and first.costs.hosting is None and first.costs.hosting_per_hour is None


# --- best_checkpoint -----------------------------------------------------------------------------------


def _ckpt(n: int, valid: float | None) -> Checkpoint:
    metrics = {"train_loss": 10.0 - n} | ({"valid_loss": valid} if valid is not None else {})
    return Checkpoint(number=n, model=f"m:ckpt-{n}", epoch=n, metrics=metrics)


def test_the_best_checkpoint_is_the_lowest_validation_loss_whatever_the_order() -> None:
    assert best_checkpoint([_ckpt(3, 0.7), _ckpt(2, 0.4), _ckpt(1, 0.9)]) == _ckpt(2, 0.4)
    assert best_checkpoint([_ckpt(2, 0.4), _ckpt(1, 0.4), _ckpt(3, 0.1)]) == _ckpt(3, 0.1)
    assert best_checkpoint([_ckpt(2, 0.4), _ckpt(1, 0.4)]) == _ckpt(1, 0.4)  # the earliest of equals
    assert best_checkpoint([_ckpt(1, 0.0), _ckpt(2, 0.5)]) == _ckpt(1, 0.0)  # zero is a loss too
    assert best_checkpoint((_ckpt(1, None), _ckpt(2, None), _ckpt(3, 0.8))) == _ckpt(3, 0.8)
