"""What an evaluation cost: each model's tokens (prompt and reply) and, where the model has a price
(``FTBOT_PRICES``), the money; the judge's the same way. A model without a price gets its token counts."""

from __future__ import annotations

from collections.abc import Iterable

from commands.evaluation.ports import Pricer
from commands.evaluation.records import Answer, EvaluationRecord, Preference, Verdict


def _line(label: str, model: str, prompt_tokens: int, reply_tokens: int, pricer: Pricer | None) -> str:
    tokens = f"{prompt_tokens:,} prompt + {reply_tokens:,} reply tokens"
    price = pricer(model, prompt_tokens, reply_tokens) if pricer is not None else None
    if price is None:
        return f"{label}: {tokens} (no price for {model} in FTBOT_PRICES)"
    return f"{label}: {tokens} ≈ {price}"


def _sums(answers: Iterable[Answer | Verdict | None]) -> tuple[int, int]:
    found = [a for a in answers if a is not None]
    return sum(a.prompt_tokens for a in found), sum(a.completion_tokens for a in found)


def cost_lines(record: EvaluationRecord, pricer: Pricer | None, job_base_model: str) -> list[str]:
    """One line per model asked. The fine-tuned model is priced at its base model's inference price
    (``job_base_model``: what the price file names); an unpriced model states its tokens only."""
    tuned = _sums(a.tuned for a in record.answers)
    lines = [_line(f"Fine-tuned (on {job_base_model})", job_base_model, *tuned, pricer)]
    if record.base_model is not None:
        lines.append(
            _line(
                f"Base ({record.base_model})",
                record.base_model,
                *_sums(a.base for a in record.answers),
                pricer,
            )
        )
    verdicts = [a.judge for a in record.answers if a.judge is not None]
    if verdicts:
        lines.append(_line(f"Judge ({verdicts[0].model})", verdicts[0].model, *_sums(verdicts), pricer))
    return lines


def judge_tally(record: EvaluationRecord) -> dict[str, object] | None:
    """The judge's preferences counted over the examples (None: no judge was asked)."""
    verdicts = [a.judge for a in record.answers if a.judge is not None]
    if not verdicts:
        return None
    counts = {p.value: sum(1 for v in verdicts if v.preference is p) for p in Preference}
    return {"model": verdicts[0].model, **counts, "failed": sum(1 for v in verdicts if v.preference is None)}
