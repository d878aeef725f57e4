"""The reads behind cards, job lists and App Home, against the in-memory store."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from commands.errors import FtbotError, NotFound, Unavailable
from commands.evaluation.examples import Example
from commands.evaluation.records import (
    Answer,
    EvaluationRecord,
    EvaluationState,
    ExampleAnswers,
    ExamplesSource,
)
from commands.lifecycle.queries import Queries
from commands.models import ChatMessage, EndpointState, ServiceDataset
from commands.records import JobRecord
from tests.commands.lifecycle.records import T0, deps, endpoint_record, job_record
from tests.fakes.backend import FakeBackend, RichFakeBackend
from tests.support.memory_evaluations import EvaluationMemoryStore
from tests.support.memory_store import MemoryStore, MemoryTx


@pytest.fixture
def store() -> MemoryStore:
    s = MemoryStore()
    with s.transaction() as tx:
        for i, (channel, user) in enumerate([("C1", "U1"), ("C1", "U2"), ("C2", "U1"), ("C2", "U2")]):
            tx.add_job(job_record(f"job-{i}", channel=channel, user=user, minutes=i))
    return s


def _queries(tmp_path: Path, store: MemoryStore, backend: FakeBackend | None = None) -> Queries:
    return Queries(deps(tmp_path, backend=backend, store=store))


def test_card_shows_the_live_endpoint_over_older_ones(tmp_path: Path, store: MemoryStore) -> None:
    with store.transaction() as tx:
        tx.claim_endpoint(endpoint_record("ep-old", "job-0", EndpointState.DELETED, minutes=1))
        tx.claim_endpoint(endpoint_record("ep-live", "job-0", EndpointState.READY, minutes=2))
        tx.claim_endpoint(endpoint_record("ep-new", "job-0", EndpointState.FAILED, minutes=3))
    card = _queries(tmp_path, store).card("job-0")
    assert card.job.id == "job-0"
    assert card.endpoint is not None and card.endpoint.name == "ep-live"
    assert card.pending_approval is None
    assert (card.pausable, card.deploy_dialog) == (False, False)


def test_card_without_a_live_endpoint_shows_the_latest(tmp_path: Path, store: MemoryStore) -> None:
    with store.transaction() as tx:
        tx.claim_endpoint(endpoint_record("ep-a", "job-1", EndpointState.DELETED, minutes=1))
        tx.claim_endpoint(endpoint_record("ep-b", "job-1", EndpointState.FAILED, minutes=2))
    card = _queries(tmp_path, store).card("job-1")
    assert card.endpoint is not None and card.endpoint.name == "ep-b"
    assert _queries(tmp_path, store).card("job-2").endpoint is None


def test_card_shows_the_pending_approval_and_what_the_backend_can_do(
    tmp_path: Path, store: MemoryStore
) -> None:
    with store.transaction() as tx:
        approval, _ = tx.open_approval("job-2", "deploy", "U1", T0)
        tx.open_approval("job-3", "deploy", "U1", T0)
    card = _queries(tmp_path, store, RichFakeBackend()).card("job-2")
    assert card.pending_approval == approval
    assert (card.pausable, card.deploy_dialog) == (True, True)
    assert _queries(tmp_path, store).card("job-0").pending_approval is None


def test_training_tiers_come_from_the_backend(tmp_path: Path, store: MemoryStore) -> None:
    rich = RichFakeBackend()
    assert _queries(tmp_path, store, rich).training_tiers() == rich.training_tiers() != []
    assert _queries(tmp_path, store).training_tiers() == []


def _ids(jobs: list[JobRecord]) -> list[str]:
    return [j.id for j in jobs]


def test_jobs_filter_by_channel_and_user_newest_first(tmp_path: Path, store: MemoryStore) -> None:
    q = _queries(tmp_path, store)
    assert _ids(q.jobs()) == ["job-3", "job-2", "job-1", "job-0"]
    assert _ids(q.jobs(channel_id="C1")) == ["job-1", "job-0"]
    assert _ids(q.jobs(user_id="U1")) == ["job-2", "job-0"]
    assert _ids(q.jobs(channel_id="C2", user_id="U2")) == ["job-3"]
    assert _ids(q.jobs(limit=2)) == ["job-3", "job-2"]


def test_jobs_lists_twenty_by_default(tmp_path: Path) -> None:
    store = MemoryStore()
    with store.transaction() as tx:
        for i in range(25):
            tx.add_job(job_record(f"job-{i:02}", minutes=i))
    jobs = _queries(tmp_path, store).jobs()
    assert len(jobs) == 20 and jobs[0].id == "job-24"


def test_endpoints_live_and_by_name(tmp_path: Path, store: MemoryStore) -> None:
    with store.transaction() as tx:
        tx.claim_endpoint(endpoint_record("ep-b", "job-3", EndpointState.READY, minutes=2))
        tx.claim_endpoint(endpoint_record("ep-a", "job-2", EndpointState.CREATING, minutes=1))
        tx.claim_endpoint(endpoint_record("ep-gone", "job-1", EndpointState.DELETED))
    q = _queries(tmp_path, store)
    assert [e.name for e in q.live_endpoints()] == ["ep-a", "ep-b"]
    assert q.endpoint("ep-gone").state is EndpointState.DELETED
    assert q.channel_of_endpoint("ep-b") == "C2"
    assert q.channel_of_endpoint("ep-gone") == "C1"
    with pytest.raises(NotFound):
        q.endpoint("nope")
    with pytest.raises(NotFound):
        q.channel_of_endpoint("nope")
    assert isinstance(q.endpoint("ep-a").created_at, datetime)


# --- added: the card's evaluation line and rerun link, the service's datasets ------------------------


class _OriginTx(MemoryTx):
    """A transaction that knows where one job's card was posted (delivery's record on the SQL store)."""

    def status_message(self, job_id: str) -> tuple[str, str] | None:
        return {"job-0": ("C1", "1700000000.000100")}.get(job_id)


class _OriginStore(MemoryStore):
    @contextmanager
    def transaction(self) -> Iterator[_OriginTx]:
        with super().transaction() as tx:
            yield _OriginTx(tx.t)


def test_card_of_a_rerun_links_to_the_first_jobs_card(tmp_path: Path) -> None:
    store = _OriginStore()
    with store.transaction() as tx:
        tx.add_job(job_record("job-0"))
        tx.add_job(job_record("job-1").model_copy(update={"rerun_of": "job-0"}))
        tx.add_job(job_record("job-2").model_copy(update={"rerun_of": "job-1"}))  # its card unknown
    q = _queries(tmp_path, store)
    assert q.card("job-1").rerun_origin == ("C1", "1700000000.000100")
    assert q.card("job-2").rerun_origin is None
    assert q.card("job-0").rerun_origin is None  # not a rerun


def test_card_of_a_rerun_whose_first_job_is_gone_cannot_be_read(tmp_path: Path, store: MemoryStore) -> None:
    with store.transaction() as tx:
        tx.add_job(job_record("job-9").model_copy(update={"rerun_of": "job-gone"}))
    with pytest.raises(NotFound):
        _queries(tmp_path, store).card("job-9")
    assert _queries(tmp_path, store).card("job-0").rerun_origin is None


def _evaluation(job_id: str, *, done: int) -> EvaluationRecord:
    question = ChatMessage(role="user", content="Where is order 1?")
    examples = (Example(messages=(question,), reference="Order 1 ships."),) * 2
    answers = (ExampleAnswers(tuned=Answer(reply="Order 1 ships."), base=Answer(reply="x")),) * done
    return EvaluationRecord(
        id=f"{job_id}-ev",
        job_id=job_id,
        endpoint="ep-1",
        checkpoint=None,
        base_model="m",
        source=ExamplesSource.VALIDATION,
        examples=examples,
        answers=answers,
        state=EvaluationState.RUNNING,
        requested_by="U1",
        created_at=T0,
        updated_at=T0,
    )


def test_card_shows_the_latest_evaluation_when_the_store_keeps_them(tmp_path: Path) -> None:
    store = EvaluationMemoryStore()
    with store.transaction() as tx:
        tx.add_job(job_record("job-1"))
        tx.add_job(job_record("job-2"))
        tx.add_evaluation(_evaluation("job-1", done=1))
    q = Queries(deps(tmp_path, store=store))
    assert q.card("job-1").evaluation == "Evaluating: 1/2"
    assert q.card("job-2").evaluation is None


class _DatasetsBackend(FakeBackend):
    """A backend whose service keeps datasets (``ServiceDatasets``), or fails to list them."""

    def __init__(self, datasets: list[ServiceDataset], error: FtbotError | None = None) -> None:
        super().__init__()
        self.datasets = datasets
        self.error = error

    def list_datasets(self) -> list[ServiceDataset]:
        if self.error is not None:
            raise self.error
        return list(self.datasets)

    def get_dataset(self, ref: str) -> ServiceDataset:
        return next(d for d in self.datasets if d.ref == ref)

    def download_dataset(self, ref: str, dest: Path) -> None:
        dest.write_text("")


KEPT = [
    ServiceDataset(ref="file-2", name="new.jsonl", kind="file", size=10),
    ServiceDataset(ref="azureml:old:1", name="old:1", kind="data_asset"),
]


def test_service_datasets_are_the_backends_own(tmp_path: Path, store: MemoryStore) -> None:
    assert _queries(tmp_path, store, _DatasetsBackend(KEPT)).service_datasets() == KEPT
    assert _queries(tmp_path, store).service_datasets() == []  # a backend that keeps none


def test_service_datasets_that_cannot_be_listed_are_none_with_the_reason_logged(
    tmp_path: Path, store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    backend = _DatasetsBackend(KEPT, error=Unavailable("The service is busy."))
    with caplog.at_level(logging.WARNING, logger="ftbot.lifecycle"):
        assert _queries(tmp_path, store, backend).service_datasets() == []
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "the backend's datasets could not be listed (unavailable): The service is busy.")
    ]


def test_service_datasets_let_other_errors_through(tmp_path: Path, store: MemoryStore) -> None:
    class Broken(_DatasetsBackend):
        def list_datasets(self) -> list[ServiceDataset]:
            raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        _queries(tmp_path, store, Broken(KEPT)).service_datasets()


def test_jobs_are_listed_with_the_limit_given_by_name(tmp_path: Path, store: MemoryStore) -> None:
    q = _queries(tmp_path, store)
    assert _ids(q.jobs(channel_id="C2", limit=1)) == ["job-3"]
    assert _ids(q.jobs(user_id="U2", limit=1)) == ["job-3"]
    assert _ids(q.jobs(channel_id="", user_id="")) == ["job-3", "job-2", "job-1", "job-0"]


def test_card_without_a_live_endpoint_shows_the_newest_of_several(tmp_path: Path, store: MemoryStore) -> None:
    with store.transaction() as tx:
        for i, name in enumerate(("ep-1", "ep-2", "ep-3")):
            tx.claim_endpoint(endpoint_record(name, "job-1", EndpointState.DELETED, minutes=i))
    card = _queries(tmp_path, store).card("job-1")
    assert card.endpoint is not None and card.endpoint.name == "ep-3"
