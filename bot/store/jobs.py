"""Jobs: the rows the cards are rendered from, their cancel requests and how far polling got."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store import scope
from bot.store.rows import column_value, job_record, job_row
from bot.store.tables import JobRow
from commands.errors import Conflict, NotFound
from commands.models import JobState
from commands.records import JobRecord

_FIELDS = {
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


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add_job(self, job: JobRecord) -> None:
        row = job_row(job)
        workspace = scope.current()
        if workspace is not None:  # a request adds to its own workspace, whatever the record says
            row.team_id, row.enterprise_id = workspace.team_id, workspace.enterprise_id
        self.s.add(row)
        try:
            self.s.flush()
        except IntegrityError as e:
            raise Conflict("A job named {job} already exists.", existing=job.id, job=job.id) from e

    def row(self, job_id: str, *, lock: bool = False) -> JobRow:
        stmt = select(JobRow).where(JobRow.id == job_id, scope.team_clause(JobRow.team_id))
        if lock:
            stmt = stmt.with_for_update()
        row = self.s.scalar(stmt)
        if row is None:
            raise NotFound(
                "There is no job {job}. {command} shows this channel's jobs.",
                job=job_id,
                command="/finetune list",
            )
        return row

    def get_job(self, job_id: str) -> JobRecord:
        return job_record(self.row(job_id))

    def find_jobs(
        self, *, channel_id: str | None = None, user_id: str | None = None, limit: int = 20
    ) -> list[JobRecord]:
        stmt = (
            select(JobRow)
            .where(scope.team_clause(JobRow.team_id))
            .order_by(JobRow.created_at.desc())
            .limit(limit)
        )
        if channel_id:
            stmt = stmt.where(JobRow.channel_id == channel_id)
        if user_id:
            stmt = stmt.where(JobRow.user_id == user_id)
        return [job_record(r) for r in self.s.scalars(stmt)]

    def held_jobs(self, *, before: datetime) -> list[JobRecord]:
        stmt = (
            select(JobRow)
            .where(
                JobRow.state == JobState.HELD.value,
                JobRow.created_at <= before,
                scope.team_clause(JobRow.team_id),
            )
            .order_by(JobRow.created_at.asc())
        )
        return [job_record(r) for r in self.s.scalars(stmt)]

    def update_job(self, job_id: str, *, bump: bool = True, **changes: object) -> JobRecord:
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ValueError(f"cannot update job fields {sorted(unknown)}")
        values: dict[str, Any] = {k: column_value(v) for k, v in changes.items()}
        if bump and "state" in values:
            # a state change shows once on the card even when two writers (a replica's poller and a
            # click on another) apply it at once: the second UPDATE sees the state already set
            values["version"] = JobRow.version + case((JobRow.state == values["state"], 0), else_=1)
        elif bump:
            values["version"] = JobRow.version + 1
        if values:
            mine = scope.team_clause(JobRow.team_id)
            result = self.s.execute(update(JobRow).where(JobRow.id == job_id, mine).values(**values))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound("There is no job {job}.", job=job_id)
        self.s.expire_all()
        return self.get_job(job_id)

    def request_cancel(self, job_id: str, by: str, at: datetime) -> str | None:
        result = self.s.execute(
            update(JobRow)
            .where(
                JobRow.id == job_id, JobRow.cancel_requested_at.is_(None), scope.team_clause(JobRow.team_id)
            )
            .values(cancel_requested_at=at, cancel_requested_by=by)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return None
        return self.row(job_id).cancel_requested_by or "someone"

    def cancel_requested(self, job_id: str) -> bool:
        return self.row(job_id).cancel_requested_at is not None

    def progress(self, job_id: str) -> tuple[int, int]:
        row = self.row(job_id)
        return row.events_seen, row.metrics_seen  # metrics_seen counts finished epochs posted

    def set_progress(self, job_id: str, events_seen: int, epochs_seen: int) -> None:
        self.s.execute(
            update(JobRow)
            .where(JobRow.id == job_id)
            .values(events_seen=events_seen, metrics_seen=epochs_seen)
        )
