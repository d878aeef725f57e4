"""What every listener needs: whether the channel is enabled, work off the event loop, telling a user."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.errors import describe
from bot.runtime.services import Services
from bot.slack.replies import ephemeral
from commands.errors import NotEnabledHere
from commands.records import Actor

T = TypeVar("T")


def ensure_enabled(services: Services, actor: Actor) -> None:
    """The workspace's own allowed channels (``/finetune config channels``), else FTBOT_ALLOWED_CHANNELS;
    none: every channel. Read from a short in-process cache, so the ack path rarely reads the store."""
    allowed = services.workspace_settings.current().allowed_channels
    if allowed and actor.channel_id not in allowed:
        raise NotEnabledHere(
            "ftbot is not enabled in this channel. Ask an approver to add it "
            "(`/finetune config channels add #channel`, or FTBOT_ALLOWED_CHANNELS)."
        )


async def off_loop(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking work (SDK calls, database, downloads) in a worker thread, never on the event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)


async def notify(client: AsyncWebClient, actor: Actor, channel: str | None, error: BaseException) -> None:
    """Tell one user, ephemerally, that something they started in a modal failed (one WARNING line
    when even that cannot be delivered; never raises)."""
    text, blocks = describe(error)
    await ephemeral(client, channel, actor.user_id, text, blocks)
