"""What an evaluation needs from the store, besides the core's ``StoreTx``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

from commands.costs.prices import Money
from commands.evaluation.records import EvaluationRecord
from commands.models import Frozen
from commands.ports import StoreTx


@runtime_checkable
class EvaluationReader(Protocol):
    def latest_evaluation(self, job_id: str) -> EvaluationRecord | None: ...


class EvaluationTx(StoreTx, EvaluationReader, Protocol):
    def evaluation_line(self, job_id: str) -> str | None: ...

    def add_evaluation(self, record: EvaluationRecord) -> None:
        """Insert a RUNNING evaluation. ``Conflict`` when one of the same job is running (enforced by
        the database, so two clicks at once start one)."""
        ...

    def get_evaluation(self, evaluation_id: str) -> EvaluationRecord: ...  # NotFound
    def running_evaluation(self, job_id: str) -> EvaluationRecord | None: ...
    def save_evaluation(self, evaluation_id: str, **changes: object) -> EvaluationRecord: ...
    def claim_stale_evaluations(self, owner: str, stale_before: datetime) -> list[str]:
        """Take over the RUNNING evaluations not touched since ``stale_before`` (their process died)."""
        ...


class JudgeCall(Frozen):
    """What the judge said about answers A and B: ``choice`` "A", "B", "tie", or None (``error``)."""

    choice: str | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Judge(Protocol):
    """A judge model (``FTBOT_EVAL_JUDGE_*``): which of two replies answers the question better."""

    model: str

    def compare(self, question: str, reference: str, answer_a: str, answer_b: str) -> JudgeCall: ...


class Pricer(Protocol):
    """``Costs.price_inference``: tokens in and out on ``model`` at today's prices (None: unpriced)."""

    def __call__(self, model: str, input_tokens: int, output_tokens: int) -> Money | None: ...


class EvaluationStore(Protocol):
    def transaction(self) -> AbstractContextManager[EvaluationTx]: ...
