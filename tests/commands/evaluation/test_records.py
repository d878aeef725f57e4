"""An evaluation's progress: how many examples it asks, how many have their answers."""

from __future__ import annotations

from datetime import UTC, datetime

from commands.evaluation.examples import Example
from commands.evaluation.records import (
    Answer,
    EvaluationRecord,
    EvaluationState,
    ExampleAnswers,
    ExamplesSource,
)
from commands.models import ChatMessage

T0 = datetime(2026, 12, 15, 9, 0, tzinfo=UTC)


def _record(examples: int, answered: int) -> EvaluationRecord:
    example = Example(messages=(ChatMessage(role="user", content="q"),), reference="r")
    return EvaluationRecord(
        id="ev-1",
        job_id="job-1",
        endpoint="ep-1",
        source=ExamplesSource.TRAINING,
        examples=(example,) * examples,
        answers=(ExampleAnswers(tuned=Answer(reply="r")),) * answered,
        requested_by="U1",
        created_at=T0,
        updated_at=T0,
    )


def test_total_is_the_examples_and_done_the_answers() -> None:
    record = _record(5, 2)
    assert (record.total, record.done) == (5, 2)
    assert (_record(0, 0).total, _record(0, 0).done) == (0, 0)
    assert (_record(3, 3).total, _record(3, 3).done) == (3, 3)


def test_a_new_record_is_running_with_no_answers_owner_or_team() -> None:
    record = _record(1, 0)
    assert record.state is EvaluationState.RUNNING and record.answers == ()
    assert (record.team_id, record.owner, record.error, record.checkpoint) == ("", "", None, None)
    assert (record.base_model, record.base_missing, record.finished_at) == (None, None, None)
