"""How errors look in Slack."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.ui.ids import Block as B
from bot.ui.text import clip, escape
from commands.errors import FtbotError, UsageError


def error_text(err: FtbotError) -> str:
    # messages come from commands/ and may quote user input: escape all of it (backticks survive)
    text = f":warning: {escape(err.message)}"
    if isinstance(err, UsageError) and err.hint and err.hint not in err.message:
        text += f"\nUsage: `{escape(err.hint)}`"
    return clip(text, 2900)


def error_blocks(err: FtbotError) -> list[Block]:
    return [SectionBlock(block_id=B.ERROR, text=MarkdownTextObject(text=error_text(err)))]


def unexpected_text(ref: str) -> str:
    return f":warning: Something went wrong (ref {ref}). The team can find the details in the log."
