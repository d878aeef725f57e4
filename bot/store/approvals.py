"""Approval requests: at most one pending per job and action (the unique ``pending_key``), decided once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store import scope
from bot.store.rows import approval_record, options_column
from bot.store.tables import ApprovalRow, JobRow
from commands.errors import NotFound
from commands.models import DeployOptions
from commands.records import ApprovalRecord, ApprovalState


class ApprovalRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def open_approval(
        self,
        job_id: str,
        action: str,
        requested_by: str,
        at: datetime,
        *,
        options: DeployOptions | None = None,
    ) -> tuple[ApprovalRecord, bool]:
        key = f"{job_id}:{action}"
        row = ApprovalRow(
            job_id=job_id,
            action=action,
            pending_key=key,
            state=ApprovalState.PENDING.value,
            requested_by=requested_by,
            created_at=at,
            deploy_options=options_column(options),
        )
        owner = self.s.execute(select(JobRow.team_id, JobRow.enterprise_id).where(JobRow.id == job_id))
        for team_id, enterprise_id in owner:  # the request belongs to its job's workspace
            row.team_id, row.enterprise_id = team_id, enterprise_id
        try:
            with self.s.begin_nested():
                self.s.add(row)
        except IntegrityError:
            existing = self.s.scalar(select(ApprovalRow).where(ApprovalRow.pending_key == key))
            if existing is None:  # decided in between: try once more
                return self.open_approval(job_id, action, requested_by, at, options=options)
            return approval_record(existing), False
        return approval_record(row), True

    def get_approval(self, approval_id: int) -> ApprovalRecord:
        row = self.s.get(ApprovalRow, approval_id)
        if row is None or not scope.visible(row.team_id):
            raise NotFound("There is no approval request #{approval}.", approval=str(approval_id))
        return approval_record(row)

    def pending_approval(self, job_id: str) -> ApprovalRecord | None:
        row = self.s.scalar(
            select(ApprovalRow).where(
                ApprovalRow.job_id == job_id,
                ApprovalRow.state == ApprovalState.PENDING.value,
                scope.team_clause(ApprovalRow.team_id),
            )
        )
        return approval_record(row) if row else None

    def decide_approval(
        self, approval_id: int, approved: bool, by: str, at: datetime
    ) -> ApprovalRecord | None:
        state = ApprovalState.APPROVED if approved else ApprovalState.REJECTED
        result = self.s.execute(
            update(ApprovalRow)
            .where(
                ApprovalRow.id == approval_id,
                ApprovalRow.state == ApprovalState.PENDING.value,
                scope.team_clause(ApprovalRow.team_id),
            )
            .values(state=state.value, decided_by=by, decided_at=at, pending_key=None)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        self.s.expire_all()
        return self.get_approval(approval_id)
