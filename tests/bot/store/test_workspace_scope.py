"""Rows of one workspace are invisible to a request of another (OAuth mode), whatever id it guesses."""

from __future__ import annotations

import pytest

from bot.store import scope
from bot.store.db import Database
from bot.store.repo import SqlStore
from commands.errors import NotFound
from commands.models import EndpointState
from commands.records import AuditEntry, Surface
from tests.commands.lifecycle.records import T0, endpoint_record, job_record

A, B = scope.Workspace("TA"), scope.Workspace("TB", "E1")


@pytest.fixture
def store(database: Database) -> SqlStore:
    store = SqlStore(database)
    for workspace, job, endpoint in ((A, "job-a", "ep-a"), (B, "job-b", "ep-b")):
        with scope.within(workspace), store.transaction() as tx:
            tx.add_job(job_record(job))
            tx.claim_endpoint(endpoint_record(endpoint, job, EndpointState.READY))
            tx.open_approval(job, "deploy", "U1", T0)
            tx.audit(
                AuditEntry(at=T0, actor="U1", action="deploy", target=job, surface=Surface.SLASH, result="ok")
            )
    return store


def test_a_request_sees_only_its_own_workspace(store: SqlStore) -> None:
    with scope.within(A), store.transaction() as tx:
        assert [j.id for j in tx.find_jobs()] == ["job-a"]
        assert [e.name for e in tx.live_endpoints()] == ["ep-a"]
        assert [e.target for e in tx.audit_entries()] == ["job-a"]
        assert tx.endpoints_for_job("job-b") == []
        assert tx.pending_approval("job-b") is None
        for guess in (
            lambda: tx.get_job("job-b"),
            lambda: tx.get_endpoint("ep-b"),
            lambda: tx.update_job("job-b"),
        ):
            with pytest.raises(NotFound):
                guess()
        approval_b = 2  # the second request opened above
        with pytest.raises(NotFound):
            tx.get_approval(approval_b)
        assert tx.decide_approval(approval_b, True, "U1", T0) is None
        assert tx.transition_endpoint("ep-b", (EndpointState.READY,), EndpointState.DELETING) is None


def test_rows_carry_their_workspace_and_the_scheduler_sees_them_all(store: SqlStore) -> None:
    with store.transaction() as tx:  # no scope: the scheduler, the CLI, single-workspace mode
        assert {j.id: j.team_id for j in tx.find_jobs()} == {"job-a": "TA", "job-b": "TB"}
        assert {e.name for e in tx.live_endpoints()} == {"ep-a", "ep-b"}
        assert len(tx.audit_entries()) == 2
        tx.save_status_message("job-b", "C1", "1.0", T0)
        due = {c.job_id: (c.team_id, c.enterprise_id) for c in tx.cards_to_deliver(10)}
    assert due == {"job-a": ("TA", None), "job-b": ("TB", "E1")}
    with scope.within(B), store.transaction() as tx:
        assert tx.get_approval(2).job_id == "job-b"
