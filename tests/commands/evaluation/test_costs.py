"""What an evaluation cost, line by line: each model's tokens summed over the examples it answered, the
money where the price file prices the model, and the judge's preferences counted."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from commands.costs.prices import Money
from commands.evaluation.costs import cost_lines, judge_tally
from commands.evaluation.examples import Example
from commands.evaluation.records import (
    Answer,
    EvaluationRecord,
    ExampleAnswers,
    ExamplesSource,
    Preference,
    Verdict,
)
from commands.models import ChatMessage

T0 = datetime(2026, 12, 15, 9, 0, tzinfo=UTC)


class Prices:
    """A pricer that prices only the models it is given (USD per token in, per token out), and remembers
    each call."""

    def __init__(self, **per_token: tuple[str, str]) -> None:
        self.per_token = {m: (Decimal(i), Decimal(o)) for m, (i, o) in per_token.items()}
        self.calls: list[tuple[str, int, int]] = []

    def __call__(self, model: str, input_tokens: int, output_tokens: int) -> Money | None:
        self.calls.append((model, input_tokens, output_tokens))
        if model not in self.per_token:
            return None
        i, o = self.per_token[model]
        return Money(amount=i * input_tokens + o * output_tokens, currency="USD")


def _record(answers: list[ExampleAnswers], *, base_model: str | None = "base-m") -> EvaluationRecord:
    example = Example(messages=(ChatMessage(role="user", content="q"),), reference="r")
    return EvaluationRecord(
        id="ev-1",
        job_id="job-1",
        endpoint="ep-1",
        base_model=base_model,
        source=ExamplesSource.VALIDATION,
        examples=tuple(example for _ in answers),
        answers=tuple(answers),
        requested_by="U1",
        created_at=T0,
        updated_at=T0,
    )


def _answer(prompt: int, reply: int, *, failed: bool = False) -> Answer:
    return Answer(reply=None if failed else "r", prompt_tokens=prompt, completion_tokens=reply)


def _verdict(
    preference: Preference | None, prompt: int = 0, reply: int = 0, model: str = "judge-m"
) -> Verdict:
    return Verdict(model=model, preference=preference, prompt_tokens=prompt, completion_tokens=reply)


def test_each_model_asked_has_a_line_with_its_tokens_summed_and_priced() -> None:
    record = _record(
        [
            ExampleAnswers(
                tuned=_answer(1000, 20), base=_answer(900, 7), judge=_verdict(Preference.TUNED, 300, 1)
            ),
            ExampleAnswers(
                tuned=_answer(234, 3), base=_answer(100, 5), judge=_verdict(Preference.BASE, 200, 2)
            ),
        ]
    )
    prices = Prices(**{"job-base": ("0.001", "0.01"), "base-m": ("0.002", "0.1"), "judge-m": ("0.01", "1")})
    assert cost_lines(record, prices, "job-base") == [
        # 1,234 * 0.001 + 23 * 0.01 = 1.464
        "Fine-tuned (on job-base): 1,234 prompt + 23 reply tokens ≈ USD 1.46",
        # 1,000 * 0.002 + 12 * 0.1 = 3.2
        "Base (base-m): 1,000 prompt + 12 reply tokens ≈ USD 3.20",
        # 500 * 0.01 + 3 * 1 = 8
        "Judge (judge-m): 500 prompt + 3 reply tokens ≈ USD 8.00",
    ]
    assert prices.calls == [("job-base", 1234, 23), ("base-m", 1000, 12), ("judge-m", 500, 3)]


def test_an_unpriced_model_states_its_tokens_only() -> None:
    record = _record([ExampleAnswers(tuned=_answer(5, 6), base=_answer(7, 8), judge=_verdict(None, 9, 10))])
    prices = Prices(**{"base-m": ("1", "1")})
    assert cost_lines(record, prices, "job-base") == [
        "Fine-tuned (on job-base): 5 prompt + 6 reply tokens (no price for job-base in FTBOT_PRICES)",
        "Base (base-m): 7 prompt + 8 reply tokens ≈ USD 15.00",
        "Judge (judge-m): 9 prompt + 10 reply tokens (no price for judge-m in FTBOT_PRICES)",
    ]


def test_without_a_pricer_every_line_is_tokens_only() -> None:
    record = _record([ExampleAnswers(tuned=_answer(1, 2), base=_answer(3, 4))])
    assert cost_lines(record, None, "job-base") == [
        "Fine-tuned (on job-base): 1 prompt + 2 reply tokens (no price for job-base in FTBOT_PRICES)",
        "Base (base-m): 3 prompt + 4 reply tokens (no price for base-m in FTBOT_PRICES)",
    ]


def test_no_base_model_and_no_judge_is_one_line() -> None:
    record = _record(
        [ExampleAnswers(tuned=_answer(1, 2)), ExampleAnswers(tuned=_answer(3, 4))], base_model=None
    )
    prices = Prices(**{"job-base": ("1", "2")})
    assert cost_lines(record, prices, "job-base") == [
        "Fine-tuned (on job-base): 4 prompt + 6 reply tokens ≈ USD 16.00"
    ]


def test_failed_answers_count_their_tokens_and_missing_ones_count_nothing() -> None:
    record = _record(
        [
            ExampleAnswers(tuned=_answer(10, 1, failed=True), base=None, judge=None),
            ExampleAnswers(tuned=_answer(20, 2), base=_answer(30, 3), judge=_verdict(Preference.TIE, 4, 5)),
        ]
    )
    assert cost_lines(record, None, "j") == [
        "Fine-tuned (on j): 30 prompt + 3 reply tokens (no price for j in FTBOT_PRICES)",
        "Base (base-m): 30 prompt + 3 reply tokens (no price for base-m in FTBOT_PRICES)",
        "Judge (judge-m): 4 prompt + 5 reply tokens (no price for judge-m in FTBOT_PRICES)",
    ]


def test_no_answers_yet_is_a_zero_line() -> None:
    assert cost_lines(_record([], base_model=None), None, "j") == [
        "Fine-tuned (on j): 0 prompt + 0 reply tokens (no price for j in FTBOT_PRICES)"
    ]


def test_the_judge_line_names_the_first_verdicts_model() -> None:
    record = _record(
        [
            ExampleAnswers(tuned=_answer(0, 0), base=_answer(0, 0)),
            ExampleAnswers(tuned=_answer(0, 0), base=_answer(0, 0), judge=_verdict(None, 1, 1, "first")),
            ExampleAnswers(tuned=_answer(0, 0), base=_answer(0, 0), judge=_verdict(None, 1, 1, "second")),
        ]
    )
    assert cost_lines(record, None, "j")[-1] == (
        "Judge (first): 2 prompt + 2 reply tokens (no price for first in FTBOT_PRICES)"
    )


def test_judge_tally_counts_each_preference_and_the_failures() -> None:
    record = _record(
        [
            ExampleAnswers(tuned=_answer(0, 0), base=_answer(0, 0), judge=_verdict(Preference.TUNED)),
            ExampleAnswers(tuned=_answer(0, 0), base=_answer(0, 0), judge=_verdict(Preference.TUNED)),
            ExampleAnswers(tuned=_answer(0, 0), base=_answer(0, 0), judge=_verdict(Preference.TUNED)),
            ExampleAnswers(tuned=_answer(0, 0), base=_answer(0, 0), judge=_verdict(Preference.BASE)),
            ExampleAnswers(tuned=_answer(0, 0), base=_answer(0, 0), judge=_verdict(Preference.TIE)),
            ExampleAnswers(tuned=_answer(0, 0), base=_answer(0, 0), judge=_verdict(Preference.TIE)),
            ExampleAnswers(tuned=_answer(0, 0), base=_answer(0, 0), judge=_verdict(None)),
            ExampleAnswers(tuned=_answer(0, 0), base=_answer(0, 0), judge=None),
        ]
    )
    assert judge_tally(record) == {"model": "judge-m", "tuned": 3, "base": 1, "tie": 2, "failed": 1}


def test_judge_tally_names_the_first_verdicts_model_and_counts_zeroes() -> None:
    record = _record(
        [
            ExampleAnswers(tuned=_answer(0, 0), judge=None),
            ExampleAnswers(tuned=_answer(0, 0), judge=_verdict(None, model="first")),
            ExampleAnswers(tuned=_answer(0, 0), judge=_verdict(None, model="second")),
        ]
    )
    assert judge_tally(record) == {"model": "first", "tuned": 0, "base": 0, "tie": 0, "failed": 2}


def test_no_judge_asked_is_no_tally() -> None:
    assert judge_tally(_record([ExampleAnswers(tuned=_answer(0, 0), base=_answer(0, 0))])) is None
    assert judge_tally(_record([])) is None
