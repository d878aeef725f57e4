"""Incidents paged to the on-call: opened once per thing that failed (a unique ``open_key`` while open),
acknowledged by whoever took it, resolved when it recovers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.rows import LIVE_JOB_STATES
from bot.store.tables import EndpointRow, IncidentRow, JobRow, StatusMessageRow
from commands.models import EndpointState, JobState


@dataclass(frozen=True)
class FailedJob:
    id: str
    team_id: str
    error: str | None
    studio_url: str | None


@dataclass(frozen=True)
class FailedEndpoint:
    name: str
    job_id: str
    team_id: str
    error: str | None
    was_ready: bool
    tearing_down: bool


@dataclass(frozen=True)
class Incident:
    ref: str
    team_id: str
    key: str
    kind: str
    what: str
    reason: str
    next_step: str
    job_id: str | None
    posts: tuple[tuple[str, str], ...]
    created_at: datetime
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None


def _incident(row: IncidentRow) -> Incident:
    return Incident(
        ref=row.ref,
        team_id=row.team_id,
        key=row.key,
        kind=row.kind,
        what=row.what,
        reason=row.reason,
        next_step=row.next_step,
        job_id=row.job_id,
        posts=tuple((str(c), str(t)) for c, t in (row.posts or [])),
        created_at=row.created_at,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        resolved_at=row.resolved_at,
    )


class IncidentRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def open_incident(self, incident: Incident) -> bool:
        """Open ``incident`` unless one is open (or was ever opened, for a job) under its key."""
        if self.s.scalar(select(IncidentRow.ref).where(IncidentRow.open_key == incident.key)) is not None:
            return False
        if incident.key.startswith("job:") and self.s.scalar(
            select(IncidentRow.ref).where(IncidentRow.key == incident.key)
        ):
            return False  # a failed job stays failed: one incident, ever
        row = IncidentRow(
            ref=incident.ref,
            team_id=incident.team_id,
            key=incident.key,
            open_key=incident.key,
            kind=incident.kind,
            what=incident.what,
            reason=incident.reason,
            next_step=incident.next_step,
            job_id=incident.job_id,
            posts=[list(p) for p in incident.posts],
            created_at=incident.created_at,
        )
        try:
            with self.s.begin_nested():
                self.s.add(row)
        except IntegrityError:  # another replica opened it at the same moment
            return False
        return True

    def get_incident(self, ref: str) -> Incident | None:
        row = self.s.get(IncidentRow, ref)
        return _incident(row) if row else None

    def open_incidents(self) -> list[Incident]:
        rows = self.s.scalars(select(IncidentRow).where(IncidentRow.open_key.is_not(None)))
        return [_incident(r) for r in rows]

    def incidents_for(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` ever had an incident."""
        if not keys:
            return set()
        return set(self.s.scalars(select(IncidentRow.key).where(IncidentRow.key.in_(keys))))

    def add_incident_post(self, ref: str, channel_id: str, ts: str) -> None:
        row = self.s.get(IncidentRow, ref)
        if row is not None:
            row.posts = [*(row.posts or []), [channel_id, ts]]

    def acknowledge_incident(self, ref: str, user_id: str, at: datetime) -> str | None:
        """Record who took it. Returns who had already taken it, if someone had."""
        row = self.s.get(IncidentRow, ref, with_for_update=True)
        if row is None:
            return None
        if row.acknowledged_by:
            return row.acknowledged_by
        row.acknowledged_by, row.acknowledged_at = user_id, at
        return None

    def resolve_incident(self, ref: str, at: datetime) -> None:
        row = self.s.get(IncidentRow, ref)
        if row is not None and row.open_key is not None:
            row.open_key, row.resolved_at = None, at

    def failed_jobs_since(self, since: datetime) -> list[FailedJob]:
        """Jobs that failed since ``since`` and have had no incident."""
        rows = self.s.execute(
            select(JobRow.id, JobRow.team_id, JobRow.error, JobRow.studio_url)
            .outerjoin(IncidentRow, IncidentRow.key == "job:" + JobRow.id)
            .where(
                JobRow.state == JobState.FAILED.value, JobRow.finished_at >= since, IncidentRow.ref.is_(None)
            )
            .limit(200)
        )
        return [FailedJob(id=i, team_id=t, error=e, studio_url=u) for i, t, e, u in rows]

    def failed_endpoints_since(self, since: datetime) -> list[FailedEndpoint]:
        rows = self.s.execute(
            select(EndpointRow, JobRow.team_id)
            .join(JobRow, JobRow.id == EndpointRow.job_id)
            .where(EndpointRow.state == EndpointState.FAILED.value, EndpointRow.updated_at >= since)
            .limit(200)
        )
        return [
            FailedEndpoint(
                name=e.name,
                job_id=e.job_id,
                team_id=team,
                error=e.error,
                was_ready=e.ready_at is not None,
                tearing_down=e.deleted_by is not None,
            )
            for e, team in rows
        ]

    def endpoint_state(self, name: str) -> str | None:
        return self.s.scalar(select(EndpointRow.state).where(EndpointRow.name == name))

    def thread_of(self, job_id: str) -> tuple[str, str] | None:
        """The job card's channel and ts, once the card is posted."""
        row = self.s.get(StatusMessageRow, job_id)
        return (row.channel_id, row.ts) if row is not None and row.ts else None

    def channel_workspace(self, channel_id: str) -> tuple[str, str | None]:
        """The workspace (team, enterprise) of the newest job in a channel: whose token posts there."""
        found = self.s.execute(
            select(JobRow.team_id, JobRow.enterprise_id)
            .where(JobRow.channel_id == channel_id)
            .order_by(JobRow.created_at.desc())
            .limit(1)
        ).first()
        return (found[0] or "", found[1]) if found is not None else ("", None)

    def live_job_channels(self) -> list[str]:
        rows = self.s.scalars(select(JobRow.channel_id).where(JobRow.state.in_(LIVE_JOB_STATES)).distinct())
        return sorted(c for c in rows if c)
