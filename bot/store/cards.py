"""Job card bookkeeping: where each card was posted, and which version of it Slack has seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from bot.store.rows import TERMINAL_JOB_STATES
from bot.store.tables import JobRow, StatusMessageRow
from commands.records import CardDelivery

#: the channel of a job submitted without one (``ftbot submit`` without ``--channel``): no card, no thread
NO_CHANNEL = ""


class CardRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def status_message(self, job_id: str) -> tuple[str, str] | None:
        row = self.s.get(StatusMessageRow, job_id)
        return (row.channel_id, row.ts) if row else None

    def save_status_message(self, job_id: str, channel_id: str, ts: str, at: datetime) -> None:
        row = StatusMessageRow(job_id=job_id, channel_id=channel_id, ts=ts, created_at=at)
        for team_id, enterprise_id in self.s.execute(
            select(JobRow.team_id, JobRow.enterprise_id).where(JobRow.id == job_id)
        ):  # the card belongs to its job's workspace
            row.team_id, row.enterprise_id = team_id, enterprise_id
        self.s.add(row)

    def cards_to_deliver(self, limit: int) -> list[CardDelivery]:
        """Cards whose job changed since Slack last saw them, most urgent first: cards never posted (their
        thread is where every other message goes), then finished jobs (final states, and the buttons
        people wait on), then the rest, oldest change first. Each job appears once however many times
        it changed: the card is rendered from the store when it is sent (coalescing)."""
        urgency = case(
            (StatusMessageRow.ts.is_(None), 0), (JobRow.state.in_(TERMINAL_JOB_STATES), 1), else_=2
        )
        stmt = (
            select(
                JobRow.id,
                JobRow.version,
                JobRow.channel_id,
                StatusMessageRow.ts,
                JobRow.card_posting_since,
                JobRow.team_id,
                JobRow.enterprise_id,
            )
            .outerjoin(StatusMessageRow, StatusMessageRow.job_id == JobRow.id)
            .where(JobRow.version > JobRow.delivered_version, JobRow.channel_id != NO_CHANNEL)
            .order_by(urgency, JobRow.updated_at)
            .limit(limit)
        )
        return [
            CardDelivery(
                job_id=job_id,
                version=version,
                channel_id=channel_id,
                ts=ts,
                posting_since=since,
                team_id=team_id,
                enterprise_id=enterprise_id,
            )
            for job_id, version, channel_id, ts, since, team_id, enterprise_id in self.s.execute(stmt)
        ]

    def mark_card_posting(self, job_id: str, at: datetime) -> None:
        self.s.execute(update(JobRow).where(JobRow.id == job_id).values(card_posting_since=at))

    def mark_card_delivered(self, job_id: str, version: int) -> None:
        self.s.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.delivered_version < version)
            .values(delivered_version=version)
        )

    def undelivered_cards(self) -> int:
        undelivered = select(func.count()).where(
            JobRow.version > JobRow.delivered_version, JobRow.channel_id != NO_CHANNEL
        )
        return int(self.s.scalar(undelivered) or 0)
