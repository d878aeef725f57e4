"""A dataset's validation report as Block Kit: examples, token statistics, the billed-token estimate,
the first errors with their line numbers, warnings, and counts per code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import Block

from bot.ui.blocks import SECTION_MAX, context, fields_section, section
from bot.ui.ids import Block as B
from bot.ui.text import clip, code, escape_clip, number
from commands.dataset.report import DatasetStats, Issue, ValidationReport

MAX_ERRORS_SHOWN = 10
MAX_WARNINGS_SHOWN = 8
VALIDATION_FILE_SUFFIX = ".validation_file"


def billed_estimate(stats: DatasetStats, n_epochs: int | None = None) -> int | None:
    """The report's estimate, rescaled when the user picked their own number of epochs."""
    if stats.billed_tokens_estimate is None:
        return None
    if n_epochs is None or stats.default_epochs <= 0:
        return stats.billed_tokens_estimate
    return round(stats.billed_tokens_estimate / stats.default_epochs * n_epochs)


def estimate_text(stats: DatasetStats, n_epochs: int | None = None) -> str:
    billed = billed_estimate(stats, n_epochs)
    epochs = n_epochs if n_epochs is not None else stats.default_epochs
    which = "your choice" if n_epochs is not None else "the default for this dataset size"
    if billed is None:
        text = "*Billed-token estimate:* not available (tokens were not counted)."
    else:
        text = (
            f"*Billed-token estimate:* ≈ {number(billed)} tokens: {epochs} epochs ({which}) × the tokens of "
            f"one pass, each example capped at the {number(stats.context_length)}-token context."
        )
    if stats.approximate_tokens:
        text += (
            f"\n_Approximate: counted with `{escape_clip(stats.encoding, 40)}`, "
            "not this model's own tokenizer._"
        )
    elif stats.encoding.endswith(" tokenizer"):  # a backend supplied the base model's own tokenizer
        text += f"\n_Counted with this model's tokenizer (`{escape_clip(stats.encoding, 60)}`)._"
    return text


def _issue_line(issue: Issue) -> str:
    where = f"Line {issue.line}" if issue.line is not None else "File"
    return f"• {where} {code(clip(issue.code, 60))}: {escape_clip(issue.message, 400)}"


def _issues_text(heading: str, issues: Sequence[Issue], total: int, limit: int) -> str:
    shown = list(issues[:limit])
    head = (
        f"*{heading}* ({number(total)})"
        if total <= len(shown)
        else f"*{heading}* (first {len(shown)} of {number(total)})"
    )
    lines = [head]
    used = len(head)
    for issue in shown:
        line = _issue_line(issue)
        if used + len(line) + 1 > SECTION_MAX - 40:
            lines.append("…")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def _counts(counts: Mapping[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{code(clip(name, 60))} ×{number(n)}" for name, n in ordered[:15])


def _stats_fields(stats: DatasetStats) -> list[str]:
    fields = []
    tokens = stats.tokens_per_example
    if tokens is not None:
        fields.append(
            f"*Tokens per example*\nmin {number(tokens.min)} · p50 {number(tokens.p50)} · "
            f"p95 {number(tokens.p95)} · max {number(tokens.max)}"
        )
        fields.append(f"*Total tokens*\n{number(tokens.total)}")
    else:
        fields.append("*Tokens*\nnot counted")
    messages = stats.messages_per_example
    if messages is not None:
        fields.append(
            f"*Messages per example*\nmin {messages.min} · mean {messages.mean:.1f} · max {messages.max}"
        )
    over = "not counted" if stats.examples_over_context is None else number(stats.examples_over_context)
    fields.append(f"*Over the context length*\n{over} (context {number(stats.context_length)} tokens)")
    fields.append(f"*Duplicates*\n{number(stats.duplicates)}")
    fields.append(f"*Default epochs*\n{stats.default_epochs}")
    return fields


def validation_report_blocks(
    report: ValidationReport, *, title: str, n_epochs: int | None = None, _suffix: str = ""
) -> list[Block]:
    """The report, and the validation file's own report under it when there is one. ``n_epochs`` is
    the user's choice when not Default (rescales the estimate)."""
    stats = report.stats
    fmt = f"{stats.format} format" if stats.format else "format unknown"
    size = f"{stats.bytes / 1_000_000:.1f} MB" if stats.bytes >= 100_000 else f"{number(stats.bytes)} bytes"
    about = f"{number(report.examples)} examples ({fmt}, {size}{', UTF-8 with BOM' if stats.has_bom else ''})"
    if report.ok:
        verdict = f":white_check_mark: Ready to train: {about}."
    else:
        verdict = f":x: {number(report.error_total)} error(s) in {about}. Fix them before training."
    if report.warning_total:
        verdict += (
            f"\n:warning: {number(report.warning_total)} warning(s): training can go ahead, but read them."
        )
    blocks: list[Block] = [
        section(f"{B.VALIDATION_SUMMARY}{_suffix}", f"*{escape_clip(title, 200)}*\n{verdict}"),
        fields_section(f"{B.VALIDATION_STATS}{_suffix}", _stats_fields(stats)),
    ]
    if not _suffix:  # validation data is not billed as training tokens
        blocks.append(section(B.VALIDATION_ESTIMATE, estimate_text(stats, n_epochs)))
    if report.errors or report.error_total:
        blocks.append(
            section(
                f"{B.VALIDATION_ERRORS}{_suffix}",
                _issues_text(
                    "Errors", report.errors, max(report.error_total, len(report.errors)), MAX_ERRORS_SHOWN
                ),
            )
        )
    if report.warnings or report.warning_total:
        blocks.append(
            section(
                f"{B.VALIDATION_WARNINGS}{_suffix}",
                _issues_text(
                    "Warnings",
                    report.warnings,
                    max(report.warning_total, len(report.warnings)),
                    MAX_WARNINGS_SHOWN,
                ),
            )
        )
    counts = []
    if report.error_counts:
        counts.append("Errors by code: " + _counts(report.error_counts))
    if report.warning_counts:
        counts.append("Warnings by code: " + _counts(report.warning_counts))
    if counts:
        blocks.append(context(f"{B.VALIDATION_COUNTS}{_suffix}", "\n".join(counts)))
    if report.validation is not None and not _suffix:
        blocks += validation_report_blocks(
            report.validation, title="Validation file", n_epochs=n_epochs, _suffix=VALIDATION_FILE_SUFFIX
        )
    return blocks
