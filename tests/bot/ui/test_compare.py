"""The comparison message's evaluation and cost rows: each job's latest evaluation figures (chrF, token F1,
exact match against the base model, the example count, "seen in training", the checkpoint), what the card
says about money or "—" where nothing is priced; side by side, escaped, valid Block Kit."""

from __future__ import annotations

from decimal import Decimal

from bot.ui.compare import compare_blocks, cost_text, evaluation_text
from bot.ui.ids import Block as B
from commands.costs.prices import Money
from commands.costs.recorder import JobCosts
from commands.lifecycle.reruns import ComparedJob
from commands.models import JobState
from commands.records import EvaluationFigures, ModelScores
from tests.bot.ui.helpers import HOSTILE, assert_escaped, assert_message_ok, block, make_job

EVALUATED = EvaluationFigures(
    line="Checkpoint 2: chrF 61.2 vs base 23.4 on 40 held-out examples",
    finished=True,
    examples=40,
    checkpoint=2,
    tuned=ModelScores(chrf=61.2, f1=70.5, exact=25.0),
    base=ModelScores(chrf=23.4, f1=30.1, exact=5.0),
)


def _usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def _side(evaluation: EvaluationFigures | None = None, costs: JobCosts | None = None) -> ComparedJob:
    return ComparedJob(job=make_job(JobState.SUCCEEDED), evaluation=evaluation, costs=costs)


def test_a_finished_evaluation_shows_each_figure_against_the_base_model() -> None:
    assert evaluation_text(_side(EVALUATED)) == (
        "chrF 61.2 vs base 23.4\n"
        "Token F1 70.5 vs base 30.1\n"
        "Exact match 25.0% vs base 5.0%\n"
        "on 40 held-out examples\n"
        "Checkpoint 2"
    )


def test_training_examples_are_labelled_seen_in_training_and_a_missing_base_said() -> None:
    alone = EvaluationFigures(
        line="chrF 80.0 on 6 training examples (seen in training) (no base model to compare)",
        finished=True,
        examples=6,
        seen_in_training=True,
        tuned=ModelScores(chrf=80.0, f1=90.0, exact=50.0),
    )
    assert evaluation_text(_side(alone)) == (
        "chrF 80.0\n"
        "Token F1 90.0\n"
        "Exact match 50.0%\n"
        "on 6 training examples, :warning: *seen in training*\n"
        "_no base model to compare_"
    )


def test_before_and_while_evaluating_the_row_says_so() -> None:
    assert evaluation_text(_side()) == "_Not evaluated_"
    running = EvaluationFigures(line="Evaluating checkpoint 1: 18/40", examples=18)
    assert evaluation_text(_side(running)) == "Evaluating checkpoint 1: 18/40"
    failed = EvaluationFigures(line=f"Failed at 3/40: {HOSTILE}", examples=3)
    assert "&lt;!channel&gt;" in evaluation_text(_side(failed))


def test_cost_is_what_the_card_says_one_part_a_line_or_a_dash_without_a_price() -> None:
    assert cost_text(_side()) == "—"
    assert cost_text(_side(costs=JobCosts())) == "—"
    ended = JobCosts(
        training=_usd("2"),
        training_final=True,
        hosting=_usd("5.5"),
        hosting_per_hour=_usd("1"),
        hosting_live=True,
    )
    assert cost_text(_side(costs=ended)) == (
        "*Training cost:* USD 2.00\n*Hosting so far:* USD 5.50 (USD 1.00 per hour)"
    )
    estimate = JobCosts(training=_usd("0.125"))
    assert cost_text(_side(costs=estimate)) == "*Estimated training cost:* ≈ USD 0.13"


def test_the_evaluation_and_cost_rows_sit_side_by_side_in_one_block() -> None:
    left = _side(EVALUATED, JobCosts(training=_usd("2"), training_final=True, estimated=True))
    right = _side()
    _, blocks = compare_blocks(left, right)
    assert_message_ok(blocks)
    fields = [f["text"] for f in block(blocks, f"{B.COMPARE_FIELDS}.evaluation")["fields"]]
    assert fields == [
        f"*Evaluation*\n{evaluation_text(left)}",
        "*Evaluation*\n_Not evaluated_",
        "*Cost*\n*Training cost (estimated):* USD 2.00",
        "*Cost*\n—",
    ]


def test_a_hostile_evaluation_line_is_escaped_in_the_message() -> None:
    hostile = EvaluationFigures(line=f"Failed at 1/2: {HOSTILE}", examples=1)
    _, blocks = compare_blocks(_side(hostile), _side())
    assert_escaped(blocks)
