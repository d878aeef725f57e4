"""An evaluation's figures, read from its stored answers: each model's summary, win/tie/loss on chrF,
the examples where the models differ most, and the headline the job card shows."""

from __future__ import annotations

from dataclasses import dataclass

from commands.evaluation.metrics import Score, Summary, Tally, most_different, score, summarize, tally
from commands.evaluation.records import EvaluationRecord, EvaluationState, ExamplesSource
from commands.records import EvaluationFigures, ModelScores


@dataclass(frozen=True)
class Report:
    tuned: Summary
    base: Summary | None
    tally: Tally | None
    differing: list[int]  # example indexes, most different first
    tuned_scores: list[Score]
    base_scores: list[Score] | None


def report(record: EvaluationRecord) -> Report:
    pairs = list(zip(record.examples, record.answers, strict=False))
    tuned = [score(a.tuned.reply, ex.reference) for ex, a in pairs]
    base: list[Score] | None = None
    if record.base_model is not None and all(a.base is not None for _, a in pairs):
        base = [score(a.base.reply if a.base else None, ex.reference) for ex, a in pairs]
    return Report(
        tuned=summarize(tuned),
        base=summarize(base) if base is not None else None,
        tally=tally(tuned, base) if base is not None else None,
        differing=most_different(tuned, base) if base is not None else [],
        tuned_scores=tuned,
        base_scores=base,
    )


def examples_phrase(record: EvaluationRecord, count: int) -> str:
    if record.source is ExamplesSource.VALIDATION:
        return f"{count} held-out examples"
    return f"{count} training examples (seen in training)"


def headline(record: EvaluationRecord) -> str:
    """The card's Evaluation line: progress while it runs, the chrF figures once it is done; an
    evaluation of a checkpoint's endpoint says which checkpoint."""
    if record.state is EvaluationState.RUNNING:
        of = f" checkpoint {record.checkpoint}" if record.checkpoint is not None else ""
        return f"Evaluating{of}: {record.done}/{record.total}"
    line = _outcome(record)
    return f"Checkpoint {record.checkpoint}: {line}" if record.checkpoint is not None else line


def _outcome(record: EvaluationRecord) -> str:
    if record.state is EvaluationState.INTERRUPTED:
        return f"Interrupted at {record.done}/{record.total}; click Evaluate to run it again"
    if record.state is EvaluationState.FAILED:
        return f"Failed at {record.done}/{record.total}: {record.error or 'no reason given'}"
    scored = report(record)
    text = f"chrF {scored.tuned.chrf:.1f}"
    if scored.base is not None:
        text += f" vs base {scored.base.chrf:.1f}"
    text += f" on {examples_phrase(record, record.done)}"
    if scored.base is None:
        text += " (no base model to compare)"
    return text


def _scores(summary: Summary) -> ModelScores:
    return ModelScores(chrf=round(summary.chrf, 1), f1=round(summary.f1, 1), exact=round(summary.exact, 1))


def figures(record: EvaluationRecord) -> EvaluationFigures:
    """What ``/finetune compare`` shows of an evaluation: its line, and its figures once it succeeded."""
    done = record.state is EvaluationState.SUCCEEDED
    scored = report(record) if done else None
    return EvaluationFigures(
        line=headline(record),
        finished=done,
        examples=record.done,
        seen_in_training=record.source is ExamplesSource.TRAINING,
        checkpoint=record.checkpoint,
        tuned=_scores(scored.tuned) if scored else None,
        base=_scores(scored.base) if scored and scored.base else None,
    )


#: how much of a prompt, reference or reply a thread post keeps (the builder clips again for Slack)
KEPT_CHARS = 600


def _summary_data(summary: Summary) -> dict[str, float | int]:
    return {
        "exact": round(summary.exact, 1),
        "f1": round(summary.f1, 1),
        "chrf": round(summary.chrf, 1),
        "mean_length": round(summary.mean_length, 1),
        "failures": summary.failures,
    }


def _keep(text: str | None) -> str | None:
    return None if text is None else text[:KEPT_CHARS]


def result_data(record: EvaluationRecord) -> dict[str, object]:
    """What the thread post and the chart show, kept with the post (plain values, unescaped)."""
    figures = report(record)
    differing = []
    for i in figures.differing:
        answers, example = record.answers[i], record.examples[i]
        differing.append(
            {
                "prompt": _keep(example.prompt),
                "reference": _keep(example.reference),
                "tuned": _keep(answers.tuned.reply),
                "base": _keep(answers.base.reply if answers.base else None),
                "tuned_chrf": round(figures.tuned_scores[i].chrf, 1),
                "base_chrf": round(figures.base_scores[i].chrf, 1) if figures.base_scores else None,
            }
        )
    tokens = sum(
        a.tuned.completion_tokens + (a.base.completion_tokens if a.base else 0) for a in record.answers
    )
    return {
        "evaluation_id": record.id,
        "state": record.state.value,
        "error": record.error,
        "endpoint": record.endpoint,
        "checkpoint": record.checkpoint,
        "examples": record.done,
        "total": record.total,
        "seen_in_training": record.source is ExamplesSource.TRAINING,
        "base_model": record.base_model,
        "base_missing": record.base_missing,
        "tuned": _summary_data(figures.tuned),
        "base": _summary_data(figures.base) if figures.base else None,
        "tally": vars(figures.tally) if figures.tally else None,
        "differing": differing,
        "headline": headline(record),
        "completion_tokens": tokens,
        "requested_by": record.requested_by,
    }
