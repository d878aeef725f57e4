"""An evaluation's headline and figures, by hand: an evaluation of a checkpoint's endpoint says which
checkpoint on the card's line, and ``figures`` is what ``/finetune compare`` shows (chrF, token F1, exact
match against the base model, the example count, whether they were seen in training)."""

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
from commands.evaluation.report import figures, headline, result_data
from commands.models import ChatMessage
from commands.records import EvaluationFigures, ModelScores

T0 = datetime(2026, 12, 15, 9, 0, tzinfo=UTC)
#: no character of it is in any reference: every score against one is 0
WRONG = "xyz"


def _example(i: int) -> Example:
    question = ChatMessage(role="user", content=f"Where is order {i}?")
    return Example(messages=(question,), reference=f"Order {i} ships tomorrow.")


def _record(
    *,
    checkpoint: int | None = None,
    state: EvaluationState = EvaluationState.SUCCEEDED,
    answered: int = 2,
    base: bool = True,
    source: ExamplesSource = ExamplesSource.VALIDATION,
) -> EvaluationRecord:
    """Two examples: the fine-tuned model answers the first exactly and the second wrongly; the base
    model answers both wrongly. By hand: fine-tuned chrF (100 + 0) / 2 = 50, token F1 50, exact 50%."""
    tuned = [Answer(reply=_example(0).reference), Answer(reply=WRONG)]
    answers = tuple(
        ExampleAnswers(tuned=t, base=Answer(reply=WRONG) if base else None) for t in tuned[:answered]
    )
    return EvaluationRecord(
        id="job-1-ev-abc123",
        job_id="job-1",
        endpoint="ftbot-1-1",
        checkpoint=checkpoint,
        base_model="m" if base else None,
        base_missing=None if base else "no base deployment",
        source=source,
        examples=(_example(0), _example(1)),
        answers=answers,
        state=state,
        error="the endpoint went away" if state is EvaluationState.FAILED else None,
        requested_by="U1",
        created_at=T0,
        updated_at=T0,
    )


def test_the_headline_names_the_checkpoint_it_evaluated() -> None:
    assert headline(_record()) == "chrF 50.0 vs base 0.0 on 2 held-out examples"
    assert headline(_record(checkpoint=3)) == "Checkpoint 3: chrF 50.0 vs base 0.0 on 2 held-out examples"
    running = _record(checkpoint=3, state=EvaluationState.RUNNING, answered=1)
    assert headline(running) == "Evaluating checkpoint 3: 1/2"
    assert headline(_record(state=EvaluationState.RUNNING, answered=1)) == "Evaluating: 1/2"
    failed = _record(checkpoint=3, state=EvaluationState.FAILED, answered=1)
    assert headline(failed) == "Checkpoint 3: Failed at 1/2: the endpoint went away"
    interrupted = _record(checkpoint=0, state=EvaluationState.INTERRUPTED, answered=1)
    assert headline(interrupted) == ("Checkpoint 0: Interrupted at 1/2; click Evaluate to run it again")


def test_the_thread_post_keeps_the_checkpoint() -> None:
    assert result_data(_record(checkpoint=2))["checkpoint"] == 2
    assert result_data(_record())["checkpoint"] is None


def test_figures_are_each_models_headline_scores_once_it_succeeded() -> None:
    assert figures(_record(checkpoint=2)) == EvaluationFigures(
        line="Checkpoint 2: chrF 50.0 vs base 0.0 on 2 held-out examples",
        finished=True,
        examples=2,
        seen_in_training=False,
        checkpoint=2,
        tuned=ModelScores(chrf=50.0, f1=50.0, exact=50.0),
        base=ModelScores(chrf=0.0, f1=0.0, exact=0.0),
    )


def test_figures_of_training_examples_without_a_base_model() -> None:
    alone = figures(_record(base=False, source=ExamplesSource.TRAINING))
    assert alone.seen_in_training is True and alone.base is None
    assert alone.tuned == ModelScores(chrf=50.0, f1=50.0, exact=50.0)
    assert alone.line == "chrF 50.0 on 2 training examples (seen in training) (no base model to compare)"


def test_figures_of_an_evaluation_still_running_are_only_its_line() -> None:
    running = figures(_record(state=EvaluationState.RUNNING, answered=1))
    assert running == EvaluationFigures(line="Evaluating: 1/2", examples=1)
