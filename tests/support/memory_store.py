"""An in-memory ``commands.ports.Store``: what ``tests/commands/`` runs the use cases against, so the core's
tests never import ``bot``. It passes the store contract suite (``tests/contract/store_suite.py``).

Transactions are serialised by one lock and roll back on an exception; the records are immutable, so a
snapshot is a shallow copy of each table. A transaction opened inside another on the same thread joins it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from commands.errors import Conflict, NotFound
from commands.models import DeployOptions, EndpointState, JobState
from commands.records import (
    ApprovalRecord,
    ApprovalState,
    AuditEntry,
    EndpointRecord,
    JobRecord,
    LaunchRecord,
    LaunchState,
    ThreadPost,
    ViewStateRecord,
)

JOB_FIELDS = frozenset(
    {
        "state",
        "service_status",
        "error",
        "output_model",
        "studio_url",
        "updated_at",
        "finished_at",
        "spec",
        "summary",
    }
)
ENDPOINT_FIELDS = frozenset(
    {
        "scoring_uri",
        "error",
        "updated_at",
        "ready_at",
        "deleted_at",
        "deleted_by",
        "last_used_at",
        "idle_reminder_at",
    }
)
SLOT_FREED = (EndpointState.DELETED, EndpointState.FAILED)  # the model may be deployed again
R = TypeVar("R", JobRecord, EndpointRecord)


@dataclass(frozen=True)
class QueuedPost:
    """A thread message as the outbox holds it."""

    key: str
    post: ThreadPost
    at: datetime


@dataclass
class Tables:
    jobs: dict[str, JobRecord] = field(default_factory=dict)
    cancels: dict[str, str] = field(default_factory=dict)  # job id -> who asked first
    progress: dict[str, tuple[int, int]] = field(default_factory=dict)
    endpoints: dict[str, EndpointRecord] = field(default_factory=dict)
    approvals: dict[int, ApprovalRecord] = field(default_factory=dict)
    audit_log: list[AuditEntry] = field(default_factory=list)
    outbox: list[QueuedPost] = field(default_factory=list)
    launches: dict[str, LaunchRecord] = field(default_factory=dict)
    view_states: dict[str, ViewStateRecord] = field(default_factory=dict)

    def copy(self) -> Tables:
        return replace(self, **{name: value.copy() for name, value in vars(self).items()})


class MemoryStore:
    """``Store`` in memory. ``tables`` may be read by tests between transactions."""

    def __init__(self) -> None:
        self.tables = Tables()
        self._lock = threading.RLock()
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[MemoryTx]:
        with self._lock:
            if self._depth:  # nested on this thread: part of the outer transaction
                yield MemoryTx(self.tables)
                return
            saved = self.tables.copy()
            self._depth += 1
            try:
                yield MemoryTx(self.tables)
            except BaseException:
                self.tables = saved
                raise
            finally:
                self._depth -= 1

    # what tests read back
    @property
    def audit_log(self) -> list[AuditEntry]:
        return list(self.tables.audit_log)

    @property
    def outbox(self) -> list[QueuedPost]:
        return list(self.tables.outbox)

    @property
    def endpoints(self) -> list[EndpointRecord]:
        return list(self.tables.endpoints.values())

    def posts(self, job_id: str) -> list[ThreadPost]:
        """The thread messages queued for a job, in order."""
        return [q.post for q in self.tables.outbox if q.post.job_id == job_id]


class MemoryTx:
    """``StoreTx`` on the tables of one ``MemoryStore`` transaction."""

    def __init__(self, tables: Tables) -> None:
        self.t = tables

    # --- jobs ---
    def add_job(self, job: JobRecord) -> None:
        if job.id in self.t.jobs:
            raise Conflict("A job named {job} already exists.", existing=job.id, job=job.id)
        self.t.jobs[job.id] = job

    def get_job(self, job_id: str) -> JobRecord:
        if job_id not in self.t.jobs:
            raise NotFound("There is no job {job}.", job=job_id)
        return self.t.jobs[job_id]

    def find_jobs(
        self, *, channel_id: str | None = None, user_id: str | None = None, limit: int = 20
    ) -> list[JobRecord]:
        jobs = [
            j
            for j in self.t.jobs.values()
            if (not channel_id or j.channel_id == channel_id) and (not user_id or j.user_id == user_id)
        ]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit]

    def held_jobs(self, *, before: datetime) -> list[JobRecord]:
        held = [j for j in self.t.jobs.values() if j.state is JobState.HELD and j.created_at <= before]
        return sorted(held, key=lambda j: j.created_at)

    def update_job(self, job_id: str, *, bump: bool = True, **changes: object) -> JobRecord:
        _known("job", changes, JOB_FIELDS)
        job = self.get_job(job_id)
        version = job.version
        if bump and "state" in changes:
            version += 0 if JobState(str(changes["state"])) is job.state else 1
        elif bump:
            version += 1
        updated = _updated(job, {**changes, "version": version})
        self.t.jobs[job_id] = updated
        return updated

    def status_message(self, job_id: str) -> tuple[str, str] | None:
        self.get_job(job_id)
        return None  # cards are posted by delivery, which runs on the SQL store only

    def request_cancel(self, job_id: str, by: str, at: datetime) -> str | None:
        self.get_job(job_id)
        if job_id in self.t.cancels:
            return self.t.cancels[job_id]
        self.t.cancels[job_id] = by
        return None

    def cancel_requested(self, job_id: str) -> bool:
        self.get_job(job_id)
        return job_id in self.t.cancels

    def progress(self, job_id: str) -> tuple[int, int]:
        self.get_job(job_id)
        return self.t.progress.get(job_id, (0, 0))

    def set_progress(self, job_id: str, events_seen: int, epochs_seen: int) -> None:
        if job_id in self.t.jobs:
            self.t.progress[job_id] = (events_seen, epochs_seen)

    # --- endpoints ---
    def claim_endpoint(self, endpoint: EndpointRecord) -> EndpointRecord:
        holder = next(
            (e for e in self.t.endpoints.values() if e.model == endpoint.model and e.state not in SLOT_FREED),
            None,
        )
        if holder is not None or endpoint.name in self.t.endpoints:
            name = holder.name if holder else endpoint.name
            raise Conflict(
                "{model} is already deployed as {endpoint}.",
                existing=name,
                model=endpoint.model,
                endpoint=name,
            )
        self.t.endpoints[endpoint.name] = endpoint
        return endpoint

    def get_endpoint(self, name: str) -> EndpointRecord:
        if name not in self.t.endpoints:
            raise NotFound("There is no endpoint {endpoint}.", endpoint=name)
        return self.t.endpoints[name]

    def endpoints_for_job(self, job_id: str) -> list[EndpointRecord]:
        return sorted(
            (e for e in self.t.endpoints.values() if e.job_id == job_id), key=lambda e: e.created_at
        )

    def live_endpoints(self) -> list[EndpointRecord]:
        return sorted((e for e in self.t.endpoints.values() if e.live), key=lambda e: e.created_at)

    def transition_endpoint(
        self, name: str, from_states: tuple[EndpointState, ...], to_state: EndpointState, **changes: object
    ) -> EndpointRecord | None:
        _known("endpoint", changes, ENDPOINT_FIELDS)
        current = self.t.endpoints.get(name)
        if current is None or current.state not in from_states:
            return None
        moved = _updated(current, {**changes, "state": to_state})
        self.t.endpoints[name] = moved
        return moved

    def touch_endpoint(self, name: str, **changes: object) -> EndpointRecord:
        _known("endpoint", changes, ENDPOINT_FIELDS)
        touched = _updated(self.get_endpoint(name), changes)
        self.t.endpoints[name] = touched
        return touched

    # --- approvals ---
    def open_approval(
        self,
        job_id: str,
        action: str,
        requested_by: str,
        at: datetime,
        *,
        options: DeployOptions | None = None,
    ) -> tuple[ApprovalRecord, bool]:
        for a in self.t.approvals.values():
            if a.job_id == job_id and a.action == action and a.state is ApprovalState.PENDING:
                return a, False
        approval = ApprovalRecord(
            id=max(self.t.approvals, default=0) + 1,
            job_id=job_id,
            action=action,
            state=ApprovalState.PENDING,
            requested_by=requested_by,
            created_at=at,
            options=options or DeployOptions(),
        )
        self.t.approvals[approval.id] = approval
        return approval, True

    def get_approval(self, approval_id: int) -> ApprovalRecord:
        if approval_id not in self.t.approvals:
            raise NotFound("There is no approval request #{approval}.", approval=str(approval_id))
        return self.t.approvals[approval_id]

    def pending_approval(self, job_id: str) -> ApprovalRecord | None:
        pending = (
            a for a in self.t.approvals.values() if a.job_id == job_id and a.state is ApprovalState.PENDING
        )
        return next(pending, None)

    def decide_approval(
        self, approval_id: int, approved: bool, by: str, at: datetime
    ) -> ApprovalRecord | None:
        current = self.t.approvals.get(approval_id)
        if current is None or current.state is not ApprovalState.PENDING:
            return None
        state = ApprovalState.APPROVED if approved else ApprovalState.REJECTED
        decided = current.model_copy(update={"state": state, "decided_by": by, "decided_at": at})
        self.t.approvals[approval_id] = decided
        return decided

    # --- audit and outbox ---
    def audit(self, entry: AuditEntry) -> None:
        self.t.audit_log.append(entry)

    def audit_entries(self, limit: int = 1000) -> list[AuditEntry]:
        return self.t.audit_log[:limit]

    def post(self, post: ThreadPost, *, key: str, at: datetime) -> bool:
        if any(q.key == key for q in self.t.outbox):
            return False
        job = self.t.jobs.get(post.job_id)
        if job is not None and not job.channel_id:  # no card, so no thread (`ftbot submit` without --channel)
            return False
        self.t.outbox.append(QueuedPost(key, post, at))
        return True

    # --- launches ---
    def begin_launch(self, launch: LaunchRecord) -> None:
        if launch.id in self.t.launches:
            raise Conflict("A launch {launch} is already under way.", existing=launch.id, launch=launch.id)
        self.t.launches[launch.id] = launch

    def get_launch(self, launch_id: str) -> LaunchRecord:
        if launch_id not in self.t.launches:
            raise NotFound("There is no launch {launch}.", launch=launch_id)
        return self.t.launches[launch_id]

    def finish_launch(self, launch_id: str, job_id: str, *, at: datetime) -> None:
        launch = self.get_launch(launch_id)
        if launch.state is not LaunchState.CHECKING:
            raise Conflict(
                "The launch {launch} was {state} already.", launch=launch_id, state=launch.state.value
            )
        self.t.launches[launch_id] = launch.model_copy(
            update={"state": LaunchState.SUBMITTED, "job_id": job_id, "updated_at": at}
        )

    def checking_launches(self) -> list[LaunchRecord]:
        checking = [launch for launch in self.t.launches.values() if launch.state is LaunchState.CHECKING]
        return sorted(checking, key=lambda launch: launch.created_at)

    def answer_launch(self, launch_id: str, *, at: datetime) -> bool:
        launch = self.t.launches.get(launch_id)
        if launch is None or launch.state is not LaunchState.CHECKING:
            return False
        self.t.launches[launch_id] = launch.model_copy(
            update={"state": LaunchState.ANSWERED, "updated_at": at}
        )
        return True

    # --- view state ---
    def put_view_state(self, record: ViewStateRecord) -> None:
        record.check_storable()
        held = self.t.view_states.get(record.key)
        if held is not None and held.team_id != record.team_id:
            raise Conflict("The form state {key} belongs to another workspace.", key=record.key)
        self.t.view_states[record.key] = record

    def get_view_state(self, key: str, *, team_id: str, now: datetime) -> ViewStateRecord | None:
        state = self.t.view_states.get(key)
        if state is None or state.team_id != team_id or state.expires_at <= now:
            return None
        return state

    def purge_view_states(self, now: datetime) -> int:
        expired = [key for key, state in self.t.view_states.items() if state.expires_at <= now]
        for key in expired:
            del self.t.view_states[key]
        return len(expired)


def _known(what: str, changes: dict[str, object], allowed: frozenset[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot update {what} fields {sorted(unknown)}")


def _updated(record: R, changes: dict[str, Any]) -> R:
    """The record with ``changes`` applied and validated (as the SQL store reads a row back)."""
    return type(record).model_validate({**record.model_dump(), **changes})
