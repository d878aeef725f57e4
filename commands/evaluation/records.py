"""What an evaluation remembers: the examples it asks, each model's answers, where it stands."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from commands.evaluation.examples import Example
from commands.models import Frozen


class EvaluationState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the fine-tuned endpoint stopped answering; ``error`` says why
    INTERRUPTED = "interrupted"  # the process died and nothing resumed it


class ExamplesSource(StrEnum):
    VALIDATION = "validation"  # held out: the model never trained on them
    TRAINING = "training"  # seen in training: said plainly wherever the figures are shown


class Answer(Frozen):
    """One model's reply to one example; ``reply`` None when it failed (``error`` says why)."""

    reply: str | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class Preference(StrEnum):
    TUNED = "tuned"
    BASE = "base"
    TIE = "tie"


class Verdict(Frozen):
    """The judge model's preference between the two replies to one example (``preference`` None: the
    judge failed or answered something else; ``error`` says which)."""

    model: str
    preference: Preference | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ExampleAnswers(Frozen):
    tuned: Answer
    base: Answer | None = None  # None: no base model to ask
    judge: Verdict | None = None  # None: no judge configured, or a model did not answer


class EvaluationRecord(Frozen):
    id: str
    job_id: str
    team_id: str = ""
    endpoint: str
    checkpoint: int | None = None  # what ``endpoint`` serves, as the thread numbers them; None: final
    base_model: str | None = None  # the base model asked alongside; None: fine-tuned only
    base_missing: str | None = None  # why the base model was not asked
    source: ExamplesSource
    examples: tuple[Example, ...]
    answers: tuple[ExampleAnswers, ...] = Field(default_factory=tuple)
    state: EvaluationState = EvaluationState.RUNNING
    error: str | None = None
    requested_by: str
    owner: str = ""
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None

    @property
    def total(self) -> int:
        return len(self.examples)

    @property
    def done(self) -> int:
        return len(self.answers)
