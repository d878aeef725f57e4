"""A workspace's settings as ``/finetune config`` answers them and App Home shows them to approvers."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, DividerBlock

from bot.ui.blocks import section
from bot.ui.ids import SLASH_COMMAND
from bot.ui.ids import Block as B
from bot.ui.text import approver_mention, channel_mention

MAX_SHOWN = 50


def settings_text(
    approvers: Sequence[str], channels: Sequence[str], own_approvers: bool, own_channels: bool
) -> str:
    """Who approves and where ftbot answers, and whether each list is this workspace's own or the default."""
    who = " ".join(approver_mention(a) for a in approvers[:MAX_SHOWN]) or "nobody yet (nobody can deploy)"
    where = " ".join(channel_mention(c) for c in channels[:MAX_SHOWN]) or "every channel it is in"
    return (
        f"*Approvers*{'' if own_approvers else ' (default, FTBOT_APPROVERS)'}: {who}\n"
        f"*Allowed channels*{'' if own_channels else ' (default, FTBOT_ALLOWED_CHANNELS)'}: {where}\n"
        f"Change them with `{SLASH_COMMAND} config approvers add|remove @user` or "
        f"`{SLASH_COMMAND} config channels add|remove #channel` (approvers)."
    )


def settings_reply(
    approvers: Sequence[str], channels: Sequence[str], own_approvers: bool, own_channels: bool, lead: str = ""
) -> tuple[str, list[Block]]:
    text = (lead + "\n" if lead else "") + settings_text(approvers, channels, own_approvers, own_channels)
    return text, [section(B.CONFIG_SETTINGS, text)]


def home_settings_blocks(
    approvers: Sequence[str], channels: Sequence[str], own_approvers: bool, own_channels: bool
) -> list[Block]:
    """App Home's Settings section (shown to approvers only)."""
    body = settings_text(approvers, channels, own_approvers, own_channels)
    return [DividerBlock(), section(B.HOME_SETTINGS, "*Settings of this workspace*\n" + body)]
