"""The reads behind cards, job lists and App Home, against the in-memory store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from commands.errors import NotFound
from commands.lifecycle.queries import Queries
from commands.models import EndpointState
from commands.records import JobRecord
from tests.commands.lifecycle.records import T0, deps, endpoint_record, job_record
from tests.fakes.backend import FakeBackend, RichFakeBackend
from tests.support.memory_store import MemoryStore


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
