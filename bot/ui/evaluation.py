"""An evaluation in the thread: the table of both models' figures, the win/tie/loss count, and the
examples where the two differ most, side by side (clipped and escaped: model text is never markup)."""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.models.blocks import ActionsBlock, Block

from bot.ui.blocks import context, fields_section, section
from bot.ui.buttons import deploy_button, deploy_checkpoint_button
from bot.ui.ids import Block as B
from bot.ui.text import clip, code, escape_clip, mention

#: how much of each text an example shows
EXAMPLE_CHARS = 400
_COLUMNS = (
    ("exact", "exact %"),
    ("f1", "F1"),
    ("chrf", "chrF"),
    ("mean_length", "length"),
    ("failures", "failed"),
)


def _row(label: str, figures: Mapping[str, object]) -> str:
    cells = "".join(f"{figures.get(key, ''):>9}" for key, _ in _COLUMNS)
    return f"{label:<11}{cells}"


def table_text(data: Mapping[str, object]) -> str:
    """The figures as a fixed-width table in a code block (names are ours, numbers are numbers)."""
    lines = [f"{'':<11}" + "".join(f"{title:>9}" for _, title in _COLUMNS)]
    tuned = data.get("tuned")
    if isinstance(tuned, Mapping):
        lines.append(_row("fine-tuned", tuned))
    base = data.get("base")
    if isinstance(base, Mapping):
        lines.append(_row("base", base))
    return "```\n" + "\n".join(lines) + "\n```"


def _tally_text(data: Mapping[str, object]) -> str | None:
    tally = data.get("tally")
    if not isinstance(tally, Mapping):
        return None
    return (
        f"Per example on chrF: fine-tuned better on *{tally.get('wins', 0)}*, "
        f"tie on *{tally.get('ties', 0)}*, "
        f"base better on *{tally.get('losses', 0)}*."
    )


def _judge_text(data: Mapping[str, object]) -> str | None:
    judge = data.get("judge")
    if not isinstance(judge, Mapping):
        return None
    failed = f", no verdict on *{judge.get('failed', 0)}*" if judge.get("failed") else ""
    return (
        f"Judge {code(clip(str(judge.get('model', '')), 100))} prefers: "
        f"fine-tuned on *{judge.get('tuned', 0)}*, "
        f"tie on *{judge.get('tie', 0)}*, base on *{judge.get('base', 0)}*{failed}."
    )


def _cost_text(data: Mapping[str, object]) -> str | None:
    lines = data.get("costs")
    if not isinstance(lines, list) or not lines:
        return None
    return "Cost of this evaluation: " + "; ".join(escape_clip(line, 300) for line in lines[:3]) + "."


def _summary_text(data: Mapping[str, object]) -> str:
    state = data.get("state")
    who = mention(str(data.get("requested_by") or "")) if data.get("requested_by") else "someone"
    if state == "succeeded":
        head = f":bar_chart: *Evaluation* (asked by {who}): {escape_clip(data.get('headline', ''), 400)}"
    elif state == "interrupted":
        head = f":warning: *Evaluation interrupted* at {data.get('examples')}/{data.get('total')} examples."
    else:
        reason = escape_clip(data.get("error") or "no reason given", 600)
        head = f":x: *Evaluation failed* at {data.get('examples')}/{data.get('total')} examples: {reason}"
    notes = []
    if isinstance(checkpoint := data.get("checkpoint"), int):
        notes.append(
            f"Evaluated checkpoint {checkpoint} (endpoint {code(clip(str(data.get('endpoint', '')), 100))})."
        )
    if data.get("seen_in_training"):
        notes.append(
            ":warning: The job has no validation data, so these are *training examples, seen in training*: "
            "they flatter the fine-tuned model."
        )
    if data.get("base_missing"):
        notes.append(f"Fine-tuned model only: {escape_clip(data['base_missing'], 400)}.")
    elif data.get("base_model"):
        notes.append(f"Base model: {code(clip(str(data['base_model']), 150))}.")
    return "\n".join([head, *notes])


def _example_blocks(n: int, example: Mapping[str, object]) -> list[Block]:
    def text(key: str) -> str:
        value = example.get(key)
        return "_(no reply)_" if value is None else escape_clip(value, EXAMPLE_CHARS)

    prompt = f"*Example {n}* · *Prompt*\n{text('prompt')}\n*Reference*\n{text('reference')}"
    return [
        section(f"{B.EVAL_EXAMPLE}.{n}", prompt),
        fields_section(
            f"{B.EVAL_EXAMPLE}.{n}.replies",
            [
                f"*Base* (chrF {example.get('base_chrf')})\n{text('base')}",
                f"*Fine-tuned* (chrF {example.get('tuned_chrf')})\n{text('tuned')}",
            ],
        ),
    ]


def evaluation_post(data: Mapping[str, object], text: str = "") -> tuple[str, list[Block]]:
    """The thread post of an evaluation's result (``PostKind.EVALUATION``); ``text``: a note to add."""
    summary = _summary_text(data) + (f"\n{escape_clip(text, 1000)}" if text else "")
    blocks: list[Block] = [section(B.EVAL_SUMMARY, summary)]
    if data.get("examples"):
        table = table_text(data)
        notes = [t for t in (_tally_text(data), _judge_text(data)) if t]
        blocks.append(section(B.EVAL_TABLE, "\n".join([table, *notes])))
    differing = data.get("differing")
    if isinstance(differing, list) and differing:
        blocks.append(context(B.EVAL_NOTE, "Where the two models differ most:"))
        for n, example in enumerate(differing[:3], start=1):
            if isinstance(example, Mapping):
                blocks += _example_blocks(n, example)
    cost = _cost_text(data)
    tokens = data.get("completion_tokens")
    if cost:
        blocks.append(context(f"{B.EVAL_NOTE}.tokens", cost))
    elif tokens:
        blocks.append(context(f"{B.EVAL_NOTE}.tokens", f"{tokens:,} reply tokens generated in all."))
    return clip(summary, 3000), blocks


def evaluation_chart_comment(data: Mapping[str, object], text: str = "") -> str:
    """The chart upload's comment (plain: Slack shows an upload's comment as it is written, escaped)."""
    comment = f"Evaluation: {escape_clip(data.get('headline', ''), 300)}"
    return comment + (f"\n{escape_clip(text, 500)}" if text else "")


def no_endpoint_blocks(job_id: str, message: str, checkpoint: int | None = None) -> list[Block]:
    """The answer to Evaluate on a job with nothing live: why, and the Deploy button (never a deploy);
    ``checkpoint``: nothing live serves that checkpoint, so the button opens Deploy with it chosen."""
    button = deploy_button(job_id) if checkpoint is None else deploy_checkpoint_button(job_id, checkpoint)
    return [
        section(B.EVAL_SUMMARY, f":information_source: {escape_clip(message, 1000)}"),
        ActionsBlock(block_id=B.EVAL_ACTIONS, elements=[button]),
    ]
