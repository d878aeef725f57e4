"""`/finetune compare JOB1 JOB2`: one message with the two jobs side by side (two columns of fields, a row
per question: which job, base model, data, task parameters, final losses, the latest evaluation's figures,
cost where known), posted with a chart of both runs' losses overlaid
(``bot.slack.charts.overlaid_loss_chart_png``)."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.ui.blocks import FALLBACK_MAX, context, fields_section, section
from bot.ui.card import data_summary_text, hyperparameters_text
from bot.ui.costs import card_costs_parts
from bot.ui.ids import Block as B
from bot.ui.status import job_state_text
from bot.ui.text import clip, code, escape, escape_clip, mention
from commands.lifecycle.reruns import ComparedJob

_LOSSES = (
    ("final_train_loss", "Final training loss"),
    ("final_valid_loss", "Final validation loss"),
    ("final_train_accuracy", "Final training accuracy"),
)


def losses_text(side: ComparedJob) -> str:
    """The final figures of one run (mrkdwn), or why there are none."""
    final = side.final or {}
    lines = [
        f"{label}: {value:.4f}"
        for key, label in _LOSSES
        if isinstance(value := final.get(key), int | float) and not isinstance(value, bool)
    ]
    steps = final.get("steps")
    if isinstance(steps, int) and steps:
        lines.append(f"Steps: {steps:,}")
    if not lines:
        return f"_No losses reported{': ' + escape_clip(side.note, 300) if side.note else ''}_"
    return "\n".join(lines)


#: a cost with no price behind it
NO_PRICE = "—"


def _vs(label: str, tuned: float, base: float | None, unit: str = "") -> str:
    versus = f" vs base {base:.1f}{unit}" if base is not None else ""
    return f"{label} {tuned:.1f}{unit}{versus}"


def evaluation_text(side: ComparedJob) -> str:
    """The latest evaluation's headline figures (mrkdwn): chrF, token F1 and exact match against the
    base model, on how many examples, whether they were seen in training, which checkpoint; while it
    runs or after it failed, the card's line; "Not evaluated" before any."""
    figures = side.evaluation
    if figures is None:
        return "_Not evaluated_"
    tuned, base = figures.tuned, figures.base
    if not figures.finished or tuned is None:
        return escape_clip(figures.line, 500)
    lines = [
        _vs("chrF", tuned.chrf, base.chrf if base else None),
        _vs("Token F1", tuned.f1, base.f1 if base else None),
        _vs("Exact match", tuned.exact, base.exact if base else None, "%"),
    ]
    if figures.seen_in_training:
        lines.append(f"on {figures.examples} training examples, :warning: *seen in training*")
    else:
        lines.append(f"on {figures.examples} held-out examples")
    if base is None:
        lines.append("_no base model to compare_")
    if figures.checkpoint is not None:
        lines.append(f"Checkpoint {figures.checkpoint}")
    return "\n".join(lines)


def cost_text(side: ComparedJob) -> str:
    """What the job's card says about money, one part a line; "—" where no price is known."""
    parts = card_costs_parts(side.costs) if side.costs is not None else []
    return "\n".join(parts) if parts else NO_PRICE


def _job_text(side: ComparedJob) -> str:
    job = side.job
    text = f"*{code(clip(job.id, 100))}*\n{job_state_text(job)} · by {mention(job.user_id)}"
    if job.rerun_of:
        text += f"\nRerun of {code(clip(job.rerun_of, 100))}"
    return text


def _rows(label: str, a: str, b: str) -> list[str]:
    return [f"*{label}*\n{a}", f"*{label}*\n{b}"]


def compare_blocks(a: ComparedJob, b: ComparedJob) -> tuple[str, list[Block]]:
    """The comparison's fallback text and blocks (each job a column, one row per question)."""
    jobs_and_data = [
        *_rows("Job", _job_text(a), _job_text(b)),
        *_rows("Base model", code(clip(a.job.base_model, 150)), code(clip(b.job.base_model, 150))),
        *_rows(
            "Data",
            data_summary_text(a.job.summary, a.job.spec.training.name),
            data_summary_text(b.job.summary, b.job.spec.training.name),
        ),
    ]
    settings_and_results = [
        *_rows(
            "Task parameters",
            hyperparameters_text(a.job.spec.hyperparameters),
            hyperparameters_text(b.job.spec.hyperparameters),
        ),
        *_rows("Method · suffix", _method_text(a), _method_text(b)),
        *_rows("Losses", losses_text(a), losses_text(b)),
    ]
    title = (
        f":bar_chart: *Comparing* {code(clip(a.job.id, 100))} (left) and {code(clip(b.job.id, 100))} (right)"
    )
    blocks: list[Block] = [
        section(B.COMPARE_TITLE, title),
        fields_section(f"{B.COMPARE_FIELDS}.setup", jobs_and_data),
        fields_section(f"{B.COMPARE_FIELDS}.results", settings_and_results),
        fields_section(
            f"{B.COMPARE_FIELDS}.evaluation",
            [
                *_rows("Evaluation", evaluation_text(a), evaluation_text(b)),
                *_rows("Cost", cost_text(a), cost_text(b)),
            ],
        ),
        context(
            B.COMPARE_NOTE,
            "The chart in this message's thread overlays both runs' losses by step. Lower validation loss "
            "is better; a gap that grows between training and validation loss means overfitting.",
        ),
    ]
    fallback = f"Comparing {escape(a.job.id)} and {escape(b.job.id)}"
    return clip(fallback, FALLBACK_MAX), blocks


def _method_text(side: ComparedJob) -> str:
    spec = side.job.spec
    suffix = code(clip(spec.suffix, 40)) if spec.suffix else "no suffix"
    return f"{escape(spec.method.value)} · {suffix}"
