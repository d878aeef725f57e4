"""The SQL repository: ``commands.ports.StoreTx`` on SQLAlchemy, plus what the scheduler and the Slack
delivery need (leases, the outbox, card versions). Never commits: ``SqlStore.transaction`` does."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.tables import ApprovalRow, AuditRow, EndpointRow, JobRow, LeaseRow, OutboxRow, StatusMessageRow
from commands.errors import Conflict, NotFound
from commands.models import EndpointState, JobSpec, JobState
from commands.records import (
    ApprovalRecord,
    ApprovalState,
    AuditEntry,
    DatasetSummary,
    EndpointRecord,
    JobRecord,
    Surface,
    ThreadPost,
)

LIVE_JOB_STATES = tuple(
    s.value for s in (JobState.PENDING, JobState.QUEUED, JobState.RUNNING, JobState.UNKNOWN)
)
TERMINAL_JOB_STATES = tuple(s.value for s in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED))
LIVE_ENDPOINT_STATES = tuple(
    s.value for s in (EndpointState.CREATING, EndpointState.READY, EndpointState.DELETING)
)
_JOB_FIELDS = {
    "state", "service_status", "error", "output_model", "studio_url",
    "updated_at", "finished_at", "spec", "summary",
}  # fmt: skip
_ENDPOINT_FIELDS = {
    "scoring_uri", "error", "updated_at", "ready_at", "deleted_at", "last_used_at", "idle_reminder_at",
}  # fmt: skip


def _job(row: JobRow) -> JobRecord:
    return JobRecord(
        id=row.id,
        team_id=row.team_id,
        channel_id=row.channel_id,
        user_id=row.user_id,
        spec=JobSpec.model_validate(row.spec),
        summary=DatasetSummary.model_validate(row.summary) if row.summary else None,
        state=JobState(row.state),
        service_status=row.service_status,
        error=row.error,
        output_model=row.output_model,
        studio_url=row.studio_url,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
        version=row.version,
    )


def _endpoint(row: EndpointRow) -> EndpointRecord:
    return EndpointRecord(
        name=row.name,
        job_id=row.job_id,
        model=row.model,
        state=EndpointState(row.state),
        scoring_uri=row.scoring_uri,
        error=row.error,
        requested_by=row.requested_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        ready_at=row.ready_at,
        deleted_at=row.deleted_at,
        last_used_at=row.last_used_at,
        idle_reminder_at=row.idle_reminder_at,
    )


def _approval(row: ApprovalRow) -> ApprovalRecord:
    return ApprovalRecord(
        id=row.id,
        job_id=row.job_id,
        action=row.action,
        state=ApprovalState(row.state),
        requested_by=row.requested_by,
        decided_by=row.decided_by,
        created_at=row.created_at,
        decided_at=row.decided_at,
    )


def _value(v: object) -> object:
    if isinstance(v, JobSpec | DatasetSummary):
        return v.model_dump(mode="json")
    if isinstance(v, JobState | EndpointState):
        return v.value
    return v


@dataclass(frozen=True)
class Outgoing:
    """An outbox row ready to deliver, with where its thread is."""

    id: int
    job_id: str
    post: ThreadPost
    channel_id: str | None
    thread_ts: str | None
    attempts: int


@dataclass(frozen=True)
class CardDelivery:
    job_id: str
    version: int
    channel_id: str
    ts: str | None


class SqlTx:
    """One transaction's worth of repository methods."""

    def __init__(self, session: Session) -> None:
        self.s = session

    # --- jobs ---
    def add_job(self, job: JobRecord) -> None:
        self.s.add(
            JobRow(
                id=job.id,
                team_id=job.team_id,
                channel_id=job.channel_id,
                user_id=job.user_id,
                base_model=job.spec.base_model,
                task=job.spec.task.value,
                spec=job.spec.model_dump(mode="json"),
                summary=job.summary.model_dump(mode="json") if job.summary else {},
                state=job.state.value,
                service_status=job.service_status,
                created_at=job.created_at,
                updated_at=job.updated_at,
                version=job.version,
                delivered_version=0,
                events_seen=0,
                metrics_seen=0,
            )
        )
        try:
            self.s.flush()
        except IntegrityError as e:
            raise Conflict(f"A job named `{job.id}` already exists.", existing=job.id) from e

    def _job_row(self, job_id: str, *, lock: bool = False) -> JobRow:
        stmt = select(JobRow).where(JobRow.id == job_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self.s.scalar(stmt)
        if row is None:
            raise NotFound(f"There is no job `{job_id}`. `/finetune list` shows this channel's jobs.")
        return row

    def get_job(self, job_id: str) -> JobRecord:
        return _job(self._job_row(job_id))

    def find_jobs(
        self, *, channel_id: str | None = None, user_id: str | None = None, limit: int = 20
    ) -> list[JobRecord]:
        stmt = select(JobRow).order_by(JobRow.created_at.desc()).limit(limit)
        if channel_id:
            stmt = stmt.where(JobRow.channel_id == channel_id)
        if user_id:
            stmt = stmt.where(JobRow.user_id == user_id)
        return [_job(r) for r in self.s.scalars(stmt)]

    def update_job(self, job_id: str, *, bump: bool = True, **changes: object) -> JobRecord:
        unknown = set(changes) - _JOB_FIELDS
        if unknown:
            raise ValueError(f"cannot update job fields {sorted(unknown)}")
        values: dict[str, Any] = {k: _value(v) for k, v in changes.items()}
        if bump and "state" in values:
            # a state change shows once on the card even when two writers (a replica's poller and a
            # click on another) apply it at once: the second UPDATE sees the state already set
            values["version"] = JobRow.version + case((JobRow.state == values["state"], 0), else_=1)
        elif bump:
            values["version"] = JobRow.version + 1
        if values:
            result = self.s.execute(update(JobRow).where(JobRow.id == job_id).values(**values))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"There is no job `{job_id}`.")
        self.s.expire_all()
        return self.get_job(job_id)

    def request_cancel(self, job_id: str, by: str, at: datetime) -> str | None:
        result = self.s.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.cancel_requested_at.is_(None))
            .values(cancel_requested_at=at, cancel_requested_by=by)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return None
        return self._job_row(job_id).cancel_requested_by or "someone"

    def cancel_requested(self, job_id: str) -> bool:
        return self._job_row(job_id).cancel_requested_at is not None

    def progress(self, job_id: str) -> tuple[int, int]:
        row = self._job_row(job_id)
        return row.events_seen, row.metrics_seen  # metrics_seen counts finished epochs posted

    def set_progress(self, job_id: str, events_seen: int, epochs_seen: int) -> None:
        self.s.execute(
            update(JobRow)
            .where(JobRow.id == job_id)
            .values(events_seen=events_seen, metrics_seen=epochs_seen)
        )

    # --- endpoints ---
    def claim_endpoint(self, endpoint: EndpointRecord) -> EndpointRecord:
        row = EndpointRow(
            name=endpoint.name,
            job_id=endpoint.job_id,
            model=endpoint.model,
            model_slot=endpoint.model,
            state=endpoint.state.value,
            requested_by=endpoint.requested_by,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )
        try:
            with self.s.begin_nested():
                self.s.add(row)
        except IntegrityError as e:
            holder = self.s.scalar(select(EndpointRow).where(EndpointRow.model_slot == endpoint.model))
            name = holder.name if holder else endpoint.name
            raise Conflict(f"`{endpoint.model}` is already deployed as `{name}`.", existing=name) from e
        return _endpoint(row)

    def _endpoint_row(self, name: str) -> EndpointRow:
        row = self.s.get(EndpointRow, name)
        if row is None:
            raise NotFound(f"There is no endpoint `{name}`. `/finetune endpoints` lists the live ones.")
        return row

    def get_endpoint(self, name: str) -> EndpointRecord:
        return _endpoint(self._endpoint_row(name))

    def endpoints_for_job(self, job_id: str) -> list[EndpointRecord]:
        rows = self.s.scalars(
            select(EndpointRow).where(EndpointRow.job_id == job_id).order_by(EndpointRow.created_at)
        )
        return [_endpoint(r) for r in rows]

    def live_endpoints(self) -> list[EndpointRecord]:
        rows = self.s.scalars(
            select(EndpointRow)
            .where(EndpointRow.state.in_(LIVE_ENDPOINT_STATES))
            .order_by(EndpointRow.created_at)
        )
        return [_endpoint(r) for r in rows]

    def transition_endpoint(
        self, name: str, from_states: tuple[EndpointState, ...], to_state: EndpointState, **changes: object
    ) -> EndpointRecord | None:
        unknown = set(changes) - _ENDPOINT_FIELDS
        if unknown:
            raise ValueError(f"cannot update endpoint fields {sorted(unknown)}")
        values: dict[str, Any] = {k: _value(v) for k, v in changes.items()}
        values["state"] = to_state.value
        if to_state in (EndpointState.DELETED, EndpointState.FAILED):
            values["model_slot"] = None  # the model may be deployed again
        result = self.s.execute(
            update(EndpointRow)
            .where(EndpointRow.name == name, EndpointRow.state.in_([s.value for s in from_states]))
            .values(**values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        self.s.expire_all()
        return self.get_endpoint(name)

    def touch_endpoint(self, name: str, **changes: object) -> EndpointRecord:
        unknown = set(changes) - _ENDPOINT_FIELDS
        if unknown:
            raise ValueError(f"cannot update endpoint fields {sorted(unknown)}")
        self.s.execute(update(EndpointRow).where(EndpointRow.name == name).values(**changes))
        self.s.expire_all()
        return self.get_endpoint(name)

    # --- approvals ---
    def open_approval(
        self, job_id: str, action: str, requested_by: str, at: datetime
    ) -> tuple[ApprovalRecord, bool]:
        key = f"{job_id}:{action}"
        row = ApprovalRow(
            job_id=job_id, action=action, pending_key=key, state=ApprovalState.PENDING.value,
            requested_by=requested_by, created_at=at,
        )  # fmt: skip
        try:
            with self.s.begin_nested():
                self.s.add(row)
        except IntegrityError:
            existing = self.s.scalar(select(ApprovalRow).where(ApprovalRow.pending_key == key))
            if existing is None:  # decided in between: try once more
                return self.open_approval(job_id, action, requested_by, at)
            return _approval(existing), False
        return _approval(row), True

    def get_approval(self, approval_id: int) -> ApprovalRecord:
        row = self.s.get(ApprovalRow, approval_id)
        if row is None:
            raise NotFound(f"There is no approval request #{approval_id}.")
        return _approval(row)

    def pending_approval(self, job_id: str) -> ApprovalRecord | None:
        row = self.s.scalar(
            select(ApprovalRow).where(
                ApprovalRow.job_id == job_id, ApprovalRow.state == ApprovalState.PENDING.value
            )
        )
        return _approval(row) if row else None

    def decide_approval(
        self, approval_id: int, approved: bool, by: str, at: datetime
    ) -> ApprovalRecord | None:
        state = ApprovalState.APPROVED if approved else ApprovalState.REJECTED
        result = self.s.execute(
            update(ApprovalRow)
            .where(ApprovalRow.id == approval_id, ApprovalRow.state == ApprovalState.PENDING.value)
            .values(state=state.value, decided_by=by, decided_at=at, pending_key=None)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        self.s.expire_all()
        return self.get_approval(approval_id)

    # --- audit and outbox ---
    def audit(self, entry: AuditEntry) -> None:
        self.s.add(
            AuditRow(
                at=entry.at, actor=entry.actor, action=entry.action, target=entry.target,
                surface=entry.surface.value, result=entry.result, detail=entry.detail,
                channel_id=entry.channel_id,
            )
        )  # fmt: skip

    def post(self, post: ThreadPost, *, key: str, at: datetime) -> bool:
        if self.s.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == key)) is not None:
            return False
        try:
            with self.s.begin_nested():
                self.s.add(
                    OutboxRow(
                        job_id=post.job_id, dedupe_key=key, kind=post.kind.value,
                        payload=post.model_dump(mode="json"), created_at=at, attempts=0,
                    )
                )  # fmt: skip
        except IntegrityError:
            return False  # a concurrent writer queued the same message
        return True

    # --- scheduler and delivery (bot only) ---
    def claim_due_jobs(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        next_poll: datetime,
        limit: int,
        *,
        pending_grace: timedelta | None = None,
    ) -> list[str]:
        """Lease live jobs due for a poll. On PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets replicas claim
        disjoint sets without waiting on each other. A lease is kept by its replica (renewed at each
        poll) and a dead replica's leases expire after ``lease``. Finished jobs are never selected.

        ``pending_grace``: a PENDING job is being started by the replica that took the request; it is
        claimed only once it has sat unchanged that long (its starter died or the backend was down)."""
        due = [
            JobRow.state.in_(LIVE_JOB_STATES),
            or_(JobRow.next_poll_at.is_(None), JobRow.next_poll_at <= now),
            or_(JobRow.lease_owner.is_(None), JobRow.lease_owner == owner, JobRow.lease_expires_at < now),
        ]
        if pending_grace is not None:
            due.append(or_(JobRow.state != JobState.PENDING.value, JobRow.updated_at <= now - pending_grace))
        stmt = select(JobRow.id).where(*due).order_by(JobRow.next_poll_at.asc().nulls_first()).limit(limit)
        if self.s.bind is not None and self.s.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(self.s.scalars(stmt))
        if ids:
            self.s.execute(
                update(JobRow)
                .where(JobRow.id.in_(ids))
                .values(lease_owner=owner, lease_expires_at=now + lease, next_poll_at=next_poll)
            )
        return ids

    def release_leases(self, owner: str) -> None:
        """Give up every lease ``owner`` holds (a clean shutdown): the other replicas take over at once."""
        self.s.execute(
            update(JobRow).where(JobRow.lease_owner == owner).values(lease_owner=None, lease_expires_at=None)
        )
        self.s.execute(
            update(LeaseRow).where(LeaseRow.owner == owner).values(expires_at=datetime.fromtimestamp(0, UTC))
        )

    def live_job_count(self) -> int:
        return int(self.s.scalar(select(func.count()).where(JobRow.state.in_(LIVE_JOB_STATES))) or 0)

    def endpoints_to_poll(self) -> list[str]:
        states = (EndpointState.CREATING.value, EndpointState.DELETING.value)
        return list(self.s.scalars(select(EndpointRow.name).where(EndpointRow.state.in_(states))))

    def acquire_lease(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """A named singleton lease (e.g. delivery, sweeps) shared by replicas."""
        result = self.s.execute(
            update(LeaseRow)
            .where(LeaseRow.name == name, or_(LeaseRow.owner == owner, LeaseRow.expires_at < now))
            .values(owner=owner, expires_at=now + ttl)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return True
        if self.s.get(LeaseRow, name) is not None:
            return False
        try:
            with self.s.begin_nested():
                self.s.add(LeaseRow(name=name, owner=owner, expires_at=now + ttl))
        except IntegrityError:
            return False
        return True

    def release_lease(self, name: str, owner: str) -> None:
        self.s.execute(
            update(LeaseRow)
            .where(LeaseRow.name == name, LeaseRow.owner == owner)
            .values(expires_at=datetime.fromtimestamp(0, UTC))
        )

    def lease_owners(self, now: datetime) -> set[str]:
        """The processes that hold an unexpired job or named lease (to take over a crashed one's)."""
        jobs = self.s.scalars(
            select(JobRow.lease_owner).where(JobRow.lease_owner.is_not(None), JobRow.lease_expires_at >= now)
        )
        named = self.s.scalars(select(LeaseRow.owner).where(LeaseRow.expires_at >= now))
        return {o for o in (*jobs, *named) if o}

    def expire_leases(self, owners: Collection[str]) -> None:
        """End every lease these owners hold, as if their time had run out."""
        if not owners:
            return
        self.s.execute(
            update(JobRow)
            .where(JobRow.lease_owner.in_(owners))
            .values(lease_owner=None, lease_expires_at=None)
        )
        self.s.execute(
            update(LeaseRow)
            .where(LeaseRow.owner.in_(owners))
            .values(expires_at=datetime.fromtimestamp(0, UTC))
        )

    def status_message(self, job_id: str) -> tuple[str, str] | None:
        row = self.s.get(StatusMessageRow, job_id)
        return (row.channel_id, row.ts) if row else None

    def save_status_message(self, job_id: str, channel_id: str, ts: str, at: datetime) -> None:
        self.s.add(StatusMessageRow(job_id=job_id, channel_id=channel_id, ts=ts, created_at=at))

    def cards_to_deliver(self, limit: int) -> list[CardDelivery]:
        """Cards whose job changed since Slack last saw them, most urgent first: cards never posted (their
        thread is where every other message goes), then finished jobs (final states, and the buttons
        people wait on), then the rest, oldest change first. Each job appears once however many times
        it changed: the card is rendered from the store when it is sent (coalescing)."""
        urgency = case(
            (StatusMessageRow.ts.is_(None), 0), (JobRow.state.in_(TERMINAL_JOB_STATES), 1), else_=2
        )
        stmt = (
            select(JobRow.id, JobRow.version, JobRow.channel_id, StatusMessageRow.ts)
            .outerjoin(StatusMessageRow, StatusMessageRow.job_id == JobRow.id)
            .where(JobRow.version > JobRow.delivered_version)
            .order_by(urgency, JobRow.updated_at)
            .limit(limit)
        )
        return [CardDelivery(r[0], r[1], r[2], r[3]) for r in self.s.execute(stmt)]

    def mark_card_delivered(self, job_id: str, version: int) -> None:
        self.s.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.delivered_version < version)
            .values(delivered_version=version)
        )

    def outbox_due(self, now: datetime, limit: int) -> list[Outgoing]:
        stmt = (
            select(OutboxRow, StatusMessageRow.channel_id, StatusMessageRow.ts)
            .outerjoin(StatusMessageRow, StatusMessageRow.job_id == OutboxRow.job_id)
            .where(
                OutboxRow.sent_at.is_(None),
                or_(OutboxRow.next_attempt_at.is_(None), OutboxRow.next_attempt_at <= now),
            )
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        return [
            Outgoing(row.id, row.job_id, ThreadPost.model_validate(row.payload), channel, ts, row.attempts)
            for row, channel, ts in self.s.execute(stmt)
        ]

    def mark_sent(self, outbox_id: int, at: datetime) -> None:
        self.s.execute(update(OutboxRow).where(OutboxRow.id == outbox_id).values(sent_at=at))

    def mark_failed(self, outbox_id: int, error: str, retry_at: datetime) -> None:
        self.s.execute(
            update(OutboxRow)
            .where(OutboxRow.id == outbox_id)
            .values(attempts=OutboxRow.attempts + 1, last_error=error[:500], next_attempt_at=retry_at)
        )

    def unsent_count(self) -> int:
        return int(self.s.scalar(select(func.count()).where(OutboxRow.sent_at.is_(None))) or 0)

    def undelivered_cards(self) -> int:
        return int(self.s.scalar(select(func.count()).where(JobRow.version > JobRow.delivered_version)) or 0)

    def audit_entries(self, limit: int = 1000) -> list[AuditEntry]:
        rows = self.s.scalars(select(AuditRow).order_by(AuditRow.id).limit(limit))
        return [
            AuditEntry(at=r.at, actor=r.actor, action=r.action, target=r.target, surface=Surface(r.surface),
                       result=r.result, detail=r.detail, channel_id=r.channel_id)
            for r in rows
        ]  # fmt: skip


class SqlStore:
    """``commands.ports.Store`` on a ``Database``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        with self.database.session_scope() as session:
            yield SqlTx(session)
