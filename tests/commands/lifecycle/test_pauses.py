"""``Pauses``: Pause and Resume by the submitter or an approver, where the backend can; refused plainly for
anyone else, on a backend that cannot, and for a job in the wrong state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from commands.errors import Conflict, InvalidInput, PermissionDenied
from commands.lifecycle.base import Deps
from commands.lifecycle.jobs import Jobs
from commands.lifecycle.pauses import Pauses
from commands.models import JobState
from commands.records import Actor, AuditEntry, JobRecord, PostKind, Surface
from tests.commands.lifecycle.records import T0, job_record
from tests.fakes.backend import FakeBackend, RichFakeBackend
from tests.support.doubles import APPROVER, Approvers, Clock
from tests.support.memory_store import MemoryStore, QueuedPost

JOB = "ftbot-pause-1"
USER = "UMEMBER01"
OTHER = "UOTHER001"


@dataclass
class World:
    pauses: Pauses
    backend: FakeBackend
    store: MemoryStore
    clock: Clock

    def job(self) -> JobRecord:
        with self.store.transaction() as tx:
            return tx.get_job(JOB)

    def queued(self, kind: PostKind) -> list[QueuedPost]:
        return [q for q in self.store.outbox if q.post.kind is kind]

    def audit(self) -> list[AuditEntry]:
        return [e for e in self.store.audit_log if e.action in ("pause", "resume")]


def make(tmp_path: Path, backend: FakeBackend | None = None, state: JobState = JobState.RUNNING) -> World:
    backend = backend if backend is not None else RichFakeBackend()
    store = MemoryStore()
    clock = Clock()
    deps = Deps(backend=backend, store=store, clock=clock, approvers=Approvers(), work_dir=tmp_path)
    record = job_record(JOB, user=USER).model_copy(update={"state": state, "service_status": state.value})
    with store.transaction() as tx:
        tx.add_job(record)
    backend.jobs[JOB] = {
        "spec": record.spec,
        "step": 0,
        "state": state,
        "metrics": [],
        "events": [],
        "created": T0,
    }
    return World(Pauses(deps, Jobs(deps)), backend, store, clock)


def actor(user: str = USER) -> Actor:
    return Actor(user_id=user, channel_id="C1", surface=Surface.BUTTON)


def test_the_submitter_pauses_a_running_job(tmp_path: Path) -> None:
    w = make(tmp_path)
    version = w.job().version
    paused = w.pauses.pause(actor(), JOB)
    assert paused.state is JobState.PAUSED and w.job().state is JobState.PAUSED
    assert w.backend.calls["pause_job"] == 1 and w.backend.calls["resume_job"] == 0
    [audit] = w.audit()
    assert (audit.actor, audit.action, audit.target, audit.result) == (USER, "pause", JOB, "ok")
    assert audit.detail == "service status Paused"
    [queued] = w.queued(PostKind.PAUSED)
    assert queued.post.data == {"by": USER}
    assert queued.key.startswith(f"{JOB}:pause:2026-") and queued.key.endswith("+00:00")
    assert w.queued(PostKind.RESUMED) == []
    assert w.job().version > version


def test_an_approver_resumes_a_paused_job(tmp_path: Path) -> None:
    w = make(tmp_path, state=JobState.PAUSED)
    resumed = w.pauses.resume(actor(APPROVER), JOB)
    assert resumed.state is JobState.RUNNING and w.job().state is JobState.RUNNING
    assert w.backend.calls["resume_job"] == 1 and w.backend.calls["pause_job"] == 0
    [audit] = w.audit()
    assert (audit.actor, audit.action, audit.result, audit.detail) == (
        APPROVER,
        "resume",
        "ok",
        "service status Running",
    )
    [queued] = w.queued(PostKind.RESUMED)
    assert queued.post.data == {"by": APPROVER}
    assert queued.key.startswith(f"{JOB}:resume:2026-")
    assert w.queued(PostKind.PAUSED) == []


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_anyone_else_is_refused_and_audited(tmp_path: Path, action: str) -> None:
    w = make(tmp_path, state=JobState.RUNNING if action == "pause" else JobState.PAUSED)
    with pytest.raises(PermissionDenied) as e:
        getattr(w.pauses, action)(actor(OTHER), JOB)
    assert e.value.message == f"Only the submitter ({USER}) or an approver can {action} {JOB}."
    assert e.value.names == {"owner": USER, "job": JOB}
    [denied] = w.audit()
    assert (denied.actor, denied.action, denied.target, denied.result, denied.detail) == (
        OTHER,
        action,
        JOB,
        "denied",
        "not the submitter or an approver",
    )
    assert w.backend.calls[f"{action}_job"] == 0 and w.store.outbox == []


@pytest.mark.parametrize(
    ("action", "state", "message"),
    [
        ("pause", JobState.PAUSED, f"{JOB} is paused; only a running job can be paused."),
        ("pause", JobState.QUEUED, f"{JOB} is queued; only a running job can be paused."),
        ("resume", JobState.RUNNING, f"{JOB} is running; only a paused job can be resumed."),
        ("resume", JobState.SUCCEEDED, f"{JOB} is succeeded; only a paused job can be resumed."),
    ],
)
def test_a_job_in_another_state_is_a_conflict(
    tmp_path: Path, action: str, state: JobState, message: str
) -> None:
    w = make(tmp_path, state=state)
    with pytest.raises(Conflict) as e:
        getattr(w.pauses, action)(actor(), JOB)
    assert e.value.message == message
    assert w.backend.calls[f"{action}_job"] == 0 and w.store.audit_log == []


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_a_backend_that_cannot_pause_says_so(tmp_path: Path, action: str) -> None:
    w = make(tmp_path, FakeBackend())
    with pytest.raises(InvalidInput) as e:
        getattr(w.pauses, action)(actor(APPROVER), JOB)
    assert e.value.message == f"The local backend cannot {action} jobs; only Cancel stops {JOB}."
    assert e.value.names == {"backend": "local", "job": JOB}
    assert w.store.audit_log == []
