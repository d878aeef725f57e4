"""``/finetune doctor``'s answer: a summary, then one section per check (✓, ✗, — or ⚠, the check's name,
why, and the fix when there is one to make). Block ids: ``doctor_summary``, ``doctor_check.{name}``."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.ui.blocks import section
from bot.ui.ids import Block as B
from bot.ui.text import escape_clip
from commands.doctor import MARKS, Report, Status

DETAIL_MAX = 1500
FIX_MAX = 1000


def summary_text(report: Report) -> str:
    failed = report.failed
    if not failed:
        ran = sum(1 for c in report.checks if c.status is not Status.SKIP)
        return f"✓ ftbot's setup: all {ran} applicable checks pass."
    return f"✗ ftbot's setup: {len(failed)} check(s) fail ({', '.join(c.name for c in failed)})."


def doctor_message(report: Report) -> tuple[str, list[Block]]:
    """The fallback text and the blocks."""
    text = summary_text(report)
    blocks: list[Block] = [section(B.DOCTOR_SUMMARY, f"*{text}*")]
    for check in report.checks:
        line = f"{MARKS[check.status]} *{check.name}*  {escape_clip(check.detail, DETAIL_MAX)}"
        if check.fix and check.status in (Status.FAIL, Status.WARN):
            line += f"\n_Fix:_ {escape_clip(check.fix, FIX_MAX)}"
        blocks.append(section(f"{B.DOCTOR_CHECK}.{check.name}", line))
    return text, blocks
