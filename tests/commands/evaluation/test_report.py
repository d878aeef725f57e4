"""An evaluation's headline and figures, by hand: an evaluation of a checkpoint's endpoint says which
checkpoint on the card's line, and ``figures`` is what ``/finetune compare`` shows (chrF, token F1, exact
match against the base model, the example count, whether they were seen in training)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.evaluation.examples import Example
from commands.evaluation.metrics import Tally
from commands.evaluation.records import (
    Answer,
    EvaluationRecord,
    EvaluationState,
    ExampleAnswers,
    ExamplesSource,
)
from commands.evaluation.report import examples_phrase, figures, headline, report, result_data
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


# --- three examples, every figure by hand -----------------------------------------------------------

#: against "Order 1 ships tomorrow.": tokens order, 1, has, shipped: common 2, P = R = 1/2, token F1 1/2
TUNED_1 = "Order 1 has shipped."
TUNED_1_CHRF = 30.690901316129484  # sacrebleu
#: tokens order, 1, ships: common 3, P 1, R 3/4, token F1 6/7
BASE_1 = "Order 1 ships."
BASE_1_CHRF = 53.85737126927575


def _three(
    *,
    state: EvaluationState = EvaluationState.SUCCEEDED,
    base: tuple[Answer | None, ...] | None = None,
    base_model: str | None = "m",
    error: str | None = None,
    prompt: str | None = None,
) -> EvaluationRecord:
    """Fine-tuned: example 0 exactly, example 1 partly (TUNED_1), example 2 wrongly; base: example 0
    wrongly, example 1 partly (BASE_1, closer), example 2 wrongly. Completion tokens 5, 6, 7 (fine-tuned)
    and 1, 2, 3 (base)."""
    examples = [_example(i) for i in range(3)]
    if prompt is not None:
        examples[0] = Example(messages=(ChatMessage(role="user", content=prompt),), reference=prompt)
    tuned = [
        Answer(reply=examples[0].reference, prompt_tokens=100, completion_tokens=5),
        Answer(reply=TUNED_1, prompt_tokens=100, completion_tokens=6),
        Answer(reply=WRONG, prompt_tokens=100, completion_tokens=7),
    ]
    bases = base or (
        Answer(reply=WRONG, prompt_tokens=50, completion_tokens=1),
        Answer(reply=BASE_1, prompt_tokens=50, completion_tokens=2),
        Answer(reply=WRONG, prompt_tokens=50, completion_tokens=3),
    )
    return EvaluationRecord(
        id="job-1-ev-abc123",
        job_id="job-1",
        endpoint="ftbot-1-1",
        checkpoint=None,
        base_model=base_model,
        base_missing=None if base_model else "no base deployment",
        source=ExamplesSource.VALIDATION,
        examples=tuple(examples),
        answers=tuple(ExampleAnswers(tuned=t, base=b) for t, b in zip(tuned, bases, strict=True)),
        state=state,
        error=error,
        requested_by="U1",
        created_at=T0,
        updated_at=T0,
    )


def test_report_figures_by_hand() -> None:
    found = report(_three())
    # fine-tuned: exact 1/3, F1 (1 + 1/2 + 0) / 3, chrF (100 + 30.69 + 0) / 3, length (23 + 20 + 3) / 3
    assert vars(found.tuned) == pytest.approx(
        {
            "examples": 3,
            "exact": 100 / 3,
            "f1": 50.0,
            "chrf": (100 + TUNED_1_CHRF) / 3,
            "mean_length": 46 / 3,
            "failures": 0,
        }
    )
    # base: exact 0, F1 (6/7) / 3, chrF 53.86 / 3, length (3 + 14 + 3) / 3
    assert found.base is not None
    assert vars(found.base) == pytest.approx(
        {
            "examples": 3,
            "exact": 0.0,
            "f1": 100 * 2 / 7,
            "chrf": BASE_1_CHRF / 3,
            "mean_length": 20 / 3,
            "failures": 0,
        }
    )
    # example 0: a win (100 vs 0), example 1: a loss (30.7 vs 53.9), example 2: a tie (0 vs 0)
    assert found.tally == Tally(wins=1, ties=1, losses=1)
    assert found.differing == [0, 1]
    assert [s.chrf for s in found.tuned_scores] == pytest.approx([100.0, TUNED_1_CHRF, 0.0])
    assert found.base_scores is not None
    assert [s.chrf for s in found.base_scores] == pytest.approx([0.0, BASE_1_CHRF, 0.0])


def test_a_base_model_that_missed_an_example_is_no_comparison() -> None:
    base = (Answer(reply=WRONG), None, Answer(reply=WRONG))
    found = report(_three(base=base))
    assert (found.base, found.tally, found.differing, found.base_scores) == (None, None, [], None)
    assert found.tuned.examples == 3


def test_a_report_reads_only_the_answered_examples() -> None:
    partial = _record(state=EvaluationState.FAILED, answered=1)
    found = report(partial)
    assert found.tuned.examples == 1 and found.tuned.chrf == pytest.approx(100.0)
    assert found.base is not None and found.base.examples == 1


def test_figures_round_to_one_decimal() -> None:
    assert figures(_three()) == EvaluationFigures(
        line="chrF 43.6 vs base 18.0 on 3 held-out examples",
        finished=True,
        examples=3,
        seen_in_training=False,
        checkpoint=None,
        tuned=ModelScores(chrf=43.6, f1=50.0, exact=33.3),
        base=ModelScores(chrf=18.0, f1=28.6, exact=0.0),
    )


def test_figures_of_a_failed_evaluation_are_only_its_line() -> None:
    failed = figures(_record(state=EvaluationState.FAILED, answered=1))
    assert failed == EvaluationFigures(line="Failed at 1/2: the endpoint went away", examples=1)


def test_a_failure_without_a_reason_says_so() -> None:
    assert headline(_three(state=EvaluationState.FAILED)) == "Failed at 3/3: no reason given"
    assert headline(_three(state=EvaluationState.FAILED, error="gone")) == "Failed at 3/3: gone"
    assert headline(_three(state=EvaluationState.INTERRUPTED)) == (
        "Interrupted at 3/3; click Evaluate to run it again"
    )


def test_examples_phrase_says_where_the_examples_came_from() -> None:
    assert examples_phrase(_record(), 7) == "7 held-out examples"
    assert examples_phrase(_record(source=ExamplesSource.TRAINING), 1) == (
        "1 training examples (seen in training)"
    )


def test_the_result_data_holds_every_figure_by_hand() -> None:
    assert result_data(_three()) == {
        "evaluation_id": "job-1-ev-abc123",
        "state": "succeeded",
        "error": None,
        "endpoint": "ftbot-1-1",
        "checkpoint": None,
        "examples": 3,
        "total": 3,
        "seen_in_training": False,
        "base_model": "m",
        "base_missing": None,
        "tuned": {"exact": 33.3, "f1": 50.0, "chrf": 43.6, "mean_length": 15.3, "failures": 0},
        "base": {"exact": 0.0, "f1": 28.6, "chrf": 18.0, "mean_length": 6.7, "failures": 0},
        "tally": {"wins": 1, "ties": 1, "losses": 1},
        "differing": [
            {
                "prompt": "Where is order 0?",
                "reference": "Order 0 ships tomorrow.",
                "tuned": "Order 0 ships tomorrow.",
                "base": WRONG,
                "tuned_chrf": 100.0,
                "base_chrf": 0.0,
            },
            {
                "prompt": "Where is order 1?",
                "reference": "Order 1 ships tomorrow.",
                "tuned": TUNED_1,
                "base": BASE_1,
                "tuned_chrf": 30.7,
                "base_chrf": 53.9,
            },
        ],
        "headline": "chrF 43.6 vs base 18.0 on 3 held-out examples",
        "completion_tokens": 5 + 6 + 7 + 1 + 2 + 3,
        "requested_by": "U1",
    }


def test_the_result_data_of_a_failed_evaluation_without_a_base_model() -> None:
    record = _record(state=EvaluationState.FAILED, answered=1, base=False, source=ExamplesSource.TRAINING)
    assert result_data(record) == {
        "evaluation_id": "job-1-ev-abc123",
        "state": "failed",
        "error": "the endpoint went away",
        "endpoint": "ftbot-1-1",
        "checkpoint": None,
        "examples": 1,
        "total": 2,
        "seen_in_training": True,
        "base_model": None,
        "base_missing": "no base deployment",
        "tuned": {"exact": 100.0, "f1": 100.0, "chrf": 100.0, "mean_length": 23.0, "failures": 0},
        "base": None,
        "tally": None,
        "differing": [],
        "headline": "Failed at 1/2: the endpoint went away",
        "completion_tokens": 0,
        "requested_by": "U1",
    }


def test_the_result_data_keeps_600_characters_of_each_text_and_a_failed_reply_as_none() -> None:
    long = "word " * 200  # 1,000 characters
    base = (Answer(reply=None, error="timeout"), Answer(reply=WRONG), Answer(reply=WRONG))
    data = result_data(_three(prompt=long, base=base))
    first = data["differing"][0]  # type: ignore[index]
    assert first == {
        "prompt": long[:600],
        "reference": long[:600],
        "tuned": long[:600],
        "base": None,
        "tuned_chrf": 100.0,
        "base_chrf": 0.0,
    }
    assert data["base"] == {"exact": 0.0, "f1": 0.0, "chrf": 0.0, "mean_length": 3.0, "failures": 1}
    assert data["completion_tokens"] == 5 + 6 + 7
