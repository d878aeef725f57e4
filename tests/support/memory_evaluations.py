"""``MemoryStore`` with an evaluations table: the store ``commands.evaluation`` runs on in the core's tests,
mirroring ``bot/store/evaluations.py`` (one running per job, the latest by creation, the card's line and
``/finetune compare``'s figures read from it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from commands.errors import Conflict, NotFound
from commands.evaluation.records import EvaluationRecord, EvaluationState
from commands.evaluation.report import figures, headline
from commands.records import EvaluationFigures
from tests.support.memory_store import MemoryStore, MemoryTx, Tables

EVALUATION_FIELDS = frozenset({"answers", "state", "error", "updated_at", "finished_at", "owner"})


@dataclass
class EvaluationTables(Tables):
    evaluations: dict[str, EvaluationRecord] = field(default_factory=dict)


class EvaluationMemoryStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.tables = EvaluationTables()

    @contextmanager
    def transaction(self) -> Iterator[EvaluationMemoryTx]:
        with super().transaction() as tx:
            yield EvaluationMemoryTx(tx.t)


class EvaluationMemoryTx(MemoryTx):
    t: EvaluationTables

    def add_evaluation(self, record: EvaluationRecord) -> None:
        if self.running_evaluation(record.job_id) is not None:
            raise Conflict("An evaluation of {job} is already running.", job=record.job_id)
        self.t.evaluations[record.id] = record

    def get_evaluation(self, evaluation_id: str) -> EvaluationRecord:
        if evaluation_id not in self.t.evaluations:
            raise NotFound("There is no evaluation {evaluation}.", evaluation=evaluation_id)
        return self.t.evaluations[evaluation_id]

    def running_evaluation(self, job_id: str) -> EvaluationRecord | None:
        running = (
            e
            for e in self.t.evaluations.values()
            if e.job_id == job_id and e.state is EvaluationState.RUNNING
        )
        return next(running, None)

    def latest_evaluation(self, job_id: str) -> EvaluationRecord | None:
        mine = [e for e in self.t.evaluations.values() if e.job_id == job_id]
        return max(mine, key=lambda e: (e.created_at, e.id), default=None)

    def evaluation_line(self, job_id: str) -> str | None:
        latest = self.latest_evaluation(job_id)
        return headline(latest) if latest is not None else None

    def evaluation_figures(self, job_id: str) -> EvaluationFigures | None:
        latest = self.latest_evaluation(job_id)
        return figures(latest) if latest is not None else None

    def save_evaluation(self, evaluation_id: str, **changes: object) -> EvaluationRecord:
        unknown = set(changes) - EVALUATION_FIELDS
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)} of an evaluation")
        saved = self.get_evaluation(evaluation_id).model_copy(update=changes)
        self.t.evaluations[evaluation_id] = saved
        return saved

    def claim_stale_evaluations(self, owner: str, stale_before: datetime) -> list[str]:
        stale = [
            e
            for e in self.t.evaluations.values()
            if e.state is EvaluationState.RUNNING and e.updated_at < stale_before
        ]
        for e in stale:
            self.t.evaluations[e.id] = e.model_copy(update={"owner": owner})
        return [e.id for e in stale]
