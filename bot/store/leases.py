"""Leases shared by replicas: a row lease on each live job the poller claims, and named singleton
leases (delivery, endpoint polling, sweeps). A dead replica's leases expire; a clean stop hands them back."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.rows import LIVE_JOB_STATES
from bot.store.tables import JobRow, LeaseRow
from commands.models import JobState

_EXPIRED = datetime.fromtimestamp(0, UTC)


class LeaseRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

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

    def live_job_count(self) -> int:
        return int(self.s.scalar(select(func.count()).where(JobRow.state.in_(LIVE_JOB_STATES))) or 0)

    def release_leases(self, owner: str) -> None:
        """Give up every lease ``owner`` holds (a clean shutdown): the other replicas take over at once."""
        self.s.execute(
            update(JobRow).where(JobRow.lease_owner == owner).values(lease_owner=None, lease_expires_at=None)
        )
        self.s.execute(update(LeaseRow).where(LeaseRow.owner == owner).values(expires_at=_EXPIRED))

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
            update(LeaseRow).where(LeaseRow.name == name, LeaseRow.owner == owner).values(expires_at=_EXPIRED)
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
        self.s.execute(update(LeaseRow).where(LeaseRow.owner.in_(owners)).values(expires_at=_EXPIRED))
