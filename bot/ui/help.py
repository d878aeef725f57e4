"""The `/finetune help` message."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject

from bot.ui.blocks import section
from bot.ui.ids import Block as B
from bot.ui.text import escape, escape_clip
from commands.grammar import SUBCOMMANDS


def help_blocks(backend_kind: str) -> list[Block]:
    lines = [f"`{escape(s.usage)}`\n{escape(s.summary)}" for s in SUBCOMMANDS]
    return [
        HeaderBlock(text="ftbot: fine-tuning from Slack"),
        section(B.HELP, "\n\n".join(lines)),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Backend: *{escape_clip(backend_kind, 40)}*. Deploy and tear down need an "
                    "approver; anyone can request a deploy."
                )
            ]
        ),
    ]


def help_text() -> str:
    return "ftbot commands:\n" + "\n".join(f"{s.usage}: {s.summary}" for s in SUBCOMMANDS)
