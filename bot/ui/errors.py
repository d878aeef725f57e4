"""How errors look in Slack."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.ui.ids import Block as B
from bot.ui.text import clip, code, escape
from commands.errors import At, FtbotError, UsageError, User, fill


def _name(value: str) -> str:
    if isinstance(value, User):  # a Slack user id has no ':'; a CLI user (``cli:name``) shows as text
        return escape(value) if ":" in value else f"<@{value}>"
    return escape(value) if isinstance(value, At) else code(value)


def message_text(err: FtbotError) -> str:
    """The error's message in mrkdwn: its text escaped (it may quote user input), its ids and names
    as code spans, its users as mentions."""
    return fill(escape(err.template), err.names, _name)


def error_text(err: FtbotError) -> str:
    text = f":warning: {message_text(err)}"
    if isinstance(err, UsageError) and err.hint and err.hint not in err.message:
        text += f"\nUsage: `{escape(err.hint)}`"
    return clip(text, 2900)


def error_blocks(err: FtbotError) -> list[Block]:
    return [SectionBlock(block_id=B.ERROR, text=MarkdownTextObject(text=error_text(err)))]


def unexpected_text(ref: str) -> str:
    return f":warning: Something went wrong (ref {ref}). The team can find the details in the log."
