"""Evaluations: one running per job (the unique ``running_key``), answers stored as they come, and taken
over by another process when the one running it stops writing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store import scope
from bot.store.tables import EvaluationRow, JobRow
from commands.errors import Conflict, NotFound
from commands.evaluation.records import EvaluationRecord, EvaluationState
from commands.evaluation.report import figures, headline
from commands.records import EvaluationFigures

_FIELDS = {"answers", "state", "error", "updated_at", "finished_at", "owner"}


def _record(row: EvaluationRow) -> EvaluationRecord:
    return EvaluationRecord.model_validate(
        {
            "id": row.id,
            "job_id": row.job_id,
            "team_id": row.team_id,
            "endpoint": row.endpoint,
            "checkpoint": row.checkpoint,
            "base_model": row.base_model,
            "base_missing": row.base_missing,
            "source": row.source,
            "examples": row.examples,
            "answers": row.answers or [],
            "state": row.state,
            "error": row.error,
            "requested_by": row.requested_by,
            "owner": row.owner,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "finished_at": row.finished_at,
        }
    )


def _value(name: str, value: Any) -> Any:
    if name == "answers":
        return [a.model_dump(mode="json") for a in value]
    if name == "state":
        return EvaluationState(value).value
    return value


class EvaluationRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add_evaluation(self, record: EvaluationRecord) -> None:
        data = record.model_dump(mode="json")
        row = EvaluationRow(
            **{
                k: data[k]
                for k in ("id", "job_id", "endpoint", "checkpoint", "base_model", "base_missing", "source")
            },
            examples=data["examples"],
            answers=data["answers"],
            state=record.state.value,
            running_key=record.job_id,
            error=record.error,
            requested_by=record.requested_by,
            owner=record.owner,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )
        for team_id, enterprise_id in self.s.execute(
            select(JobRow.team_id, JobRow.enterprise_id).where(JobRow.id == record.job_id)
        ):  # the evaluation belongs to its job's workspace
            row.team_id, row.enterprise_id = team_id, enterprise_id
        try:
            with self.s.begin_nested():
                self.s.add(row)
        except IntegrityError as e:
            raise Conflict("An evaluation of {job} is already running.", job=record.job_id) from e

    def _row(self, evaluation_id: str) -> EvaluationRow:
        row = self.s.get(EvaluationRow, evaluation_id)
        if row is None or not scope.visible(row.team_id):
            raise NotFound("There is no evaluation {evaluation}.", evaluation=evaluation_id)
        return row

    def get_evaluation(self, evaluation_id: str) -> EvaluationRecord:
        return _record(self._row(evaluation_id))

    def running_evaluation(self, job_id: str) -> EvaluationRecord | None:
        row = self.s.scalar(
            select(EvaluationRow).where(
                EvaluationRow.running_key == job_id, scope.team_clause(EvaluationRow.team_id)
            )
        )
        return _record(row) if row is not None else None

    def latest_evaluation(self, job_id: str) -> EvaluationRecord | None:
        row = self.s.scalar(
            select(EvaluationRow)
            .where(EvaluationRow.job_id == job_id, scope.team_clause(EvaluationRow.team_id))
            .order_by(EvaluationRow.created_at.desc(), EvaluationRow.id.desc())
            .limit(1)
        )
        return _record(row) if row is not None else None

    def evaluation_line(self, job_id: str) -> str | None:
        latest = self.latest_evaluation(job_id)
        return headline(latest) if latest is not None else None

    def evaluation_figures(self, job_id: str) -> EvaluationFigures | None:
        latest = self.latest_evaluation(job_id)
        return figures(latest) if latest is not None else None

    def save_evaluation(self, evaluation_id: str, **changes: object) -> EvaluationRecord:
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)} of an evaluation")
        row = self._row(evaluation_id)
        for name, value in changes.items():
            setattr(row, name, _value(name, value))
        if row.state != EvaluationState.RUNNING.value:
            row.running_key = None
        self.s.flush()
        return _record(row)

    def claim_stale_evaluations(self, owner: str, stale_before: datetime) -> list[str]:
        ids = list(
            self.s.scalars(
                select(EvaluationRow.id).where(
                    EvaluationRow.state == EvaluationState.RUNNING.value,
                    EvaluationRow.updated_at < stale_before,
                )
            )
        )
        claimed = []
        for evaluation_id in ids:  # one conditional update each: two replicas never take the same one
            done = self.s.execute(
                update(EvaluationRow)
                .where(
                    EvaluationRow.id == evaluation_id,
                    EvaluationRow.state == EvaluationState.RUNNING.value,
                    EvaluationRow.updated_at < stale_before,
                )
                .values(owner=owner, updated_at=datetime.now(stale_before.tzinfo))
            )
            if getattr(done, "rowcount", 0) == 1:
                claimed.append(evaluation_id)
        return claimed
