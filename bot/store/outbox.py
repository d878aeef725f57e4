"""The audit log and the thread outbox: both written in the transaction of the change they record.
An outbox message is queued once per key and delivered (with retries) by ``bot/slack/delivery.py``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store import scope
from bot.store.cards import NO_CHANNEL
from bot.store.rows import audit_entry, audit_row
from bot.store.tables import AuditRow, JobRow, OutboxRow, StatusMessageRow
from commands.records import AuditEntry, OutgoingPost, ThreadPost


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def audit(self, entry: AuditEntry) -> None:
        row = audit_row(entry)
        workspace = scope.current()
        if workspace is not None:  # what a request did, kept under its workspace
            row.team_id, row.enterprise_id = workspace.team_id, workspace.enterprise_id
        self.s.add(row)

    def audit_entries(self, limit: int = 1000) -> list[AuditEntry]:
        mine = scope.team_clause(AuditRow.team_id)
        rows = self.s.scalars(select(AuditRow).where(mine).order_by(AuditRow.id).limit(limit))
        return [audit_entry(r) for r in rows]


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def post(self, post: ThreadPost, *, key: str, at: datetime) -> bool:
        """Queue a thread message once per ``key``; False if it was queued before, or if its job has no
        channel (no card, so no thread to post in)."""
        if self.s.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == key)) is not None:
            return False
        if self.s.scalar(select(JobRow.channel_id).where(JobRow.id == post.job_id)) == NO_CHANNEL:
            return False
        row = OutboxRow(
            job_id=post.job_id,
            dedupe_key=key,
            kind=post.kind.value,
            payload=post.model_dump(mode="json"),
            created_at=at,
            attempts=0,
        )
        try:
            with self.s.begin_nested():
                self.s.add(row)
        except IntegrityError:
            return False  # a concurrent writer queued the same message
        return True

    def outbox_due(self, now: datetime, limit: int) -> list[OutgoingPost]:
        stmt = (
            select(
                OutboxRow,
                StatusMessageRow.channel_id,
                StatusMessageRow.ts,
                JobRow.team_id,
                JobRow.enterprise_id,
            )
            .join(JobRow, JobRow.id == OutboxRow.job_id)
            .outerjoin(StatusMessageRow, StatusMessageRow.job_id == OutboxRow.job_id)
            .where(
                OutboxRow.sent_at.is_(None),
                or_(OutboxRow.next_attempt_at.is_(None), OutboxRow.next_attempt_at <= now),
            )
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        return [
            OutgoingPost(
                id=row.id,
                job_id=row.job_id,
                post=ThreadPost.model_validate(row.payload),
                channel_id=channel,
                thread_ts=ts,
                attempts=row.attempts,
                sending_since=row.sending_since,
                team_id=team_id,
                enterprise_id=enterprise_id,
            )
            for row, channel, ts, team_id, enterprise_id in self.s.execute(stmt)
        ]

    def mark_sending(self, outbox_id: int, at: datetime) -> None:
        self.s.execute(update(OutboxRow).where(OutboxRow.id == outbox_id).values(sending_since=at))

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
