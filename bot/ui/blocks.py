"""The blocks every builder makes, clipped to Slack's limits: a section, a context line, a grid of
fields."""

from __future__ import annotations

from collections.abc import Iterable

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

from bot.ui.text import clip

SECTION_MAX = 3000  # a section's text
FIELD_MAX = 2000  # one of a section's fields
FIELDS_MAX = 10  # fields in one section
FALLBACK_MAX = 3000  # chat.update refuses text over 4,000 characters (msg_too_long)


def section(block_id: str, text: str) -> SectionBlock:
    return SectionBlock(block_id=block_id, text=MarkdownTextObject(text=clip(text, SECTION_MAX)))


def context(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(block_id=block_id, elements=[MarkdownTextObject(text=clip(text, SECTION_MAX))])


def fields_section(block_id: str, fields: Iterable[str]) -> SectionBlock:
    """A section of mrkdwn fields (Slack shows them two abreast); the first ten, each clipped."""
    texts = list(fields)[:FIELDS_MAX]
    return SectionBlock(
        block_id=block_id, fields=[MarkdownTextObject(text=clip(f, FIELD_MAX)) for f in texts]
    )
