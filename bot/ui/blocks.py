"""The blocks every builder makes, clipped to Slack's limits: a section, a context line, a grid of
fields, and block ids that stay unique within a message."""

from __future__ import annotations

from collections.abc import Iterable

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

from bot.ui.limits import FALLBACK_MAX, FIELD_MAX, FIELDS_MAX, TEXT_MAX
from bot.ui.text import clip

SECTION_MAX = TEXT_MAX  # a section's text
EMPTY = "_(empty)_"  # Slack refuses a text object with no text

__all__ = ["FALLBACK_MAX", "FIELDS_MAX", "FIELD_MAX", "SECTION_MAX", "context", "fields_section", "section"]


def _mrkdwn(text: str, limit: int) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, limit) if text.strip() else EMPTY)


def section(block_id: str, text: str) -> SectionBlock:
    return SectionBlock(block_id=block_id, text=_mrkdwn(text, SECTION_MAX))


def context(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(block_id=block_id, elements=[_mrkdwn(text, SECTION_MAX)])


def fields_section(block_id: str, fields: Iterable[str]) -> SectionBlock:
    """A section of mrkdwn fields (Slack shows them two abreast); the first ten, each clipped."""
    texts = list(fields)[:FIELDS_MAX]
    return SectionBlock(block_id=block_id, fields=[_mrkdwn(f, FIELD_MAX) for f in texts])


def unique_block_id(base: str, seen: set[str]) -> str:
    """``base`` (clipped to fit Slack's 255 characters), numbered when ``seen`` already holds it."""
    base = base[:240]
    block_id, n = base, 1
    while block_id in seen:
        n += 1
        block_id = f"{base}.{n}"
    seen.add(block_id)
    return block_id
