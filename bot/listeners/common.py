"""What every listener needs: who is asking, whether the channel is enabled, work off the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.errors import describe
from bot.runtime.services import Services
from bot.ui.ids import CHANNEL_ID, USER_ID
from commands.errors import InvalidInput, NotEnabledHere
from commands.records import Actor, Surface

log = logging.getLogger("ftbot.listeners")
T = TypeVar("T")


def actor_from(body: dict[str, Any], surface: Surface) -> Actor:
    """The user and channel of a command or interaction, refusing ids that are not Slack ids."""
    user = body.get("user_id") if surface is Surface.SLASH else (body.get("user") or {}).get("id")
    channel = body.get("channel_id") if surface is Surface.SLASH else (body.get("channel") or {}).get("id")
    if channel is None and surface is not Surface.SLASH:
        channel = (body.get("container") or {}).get("channel_id")
    team = body.get("team_id") if surface is Surface.SLASH else (body.get("team") or {}).get("id")
    if not isinstance(user, str) or not USER_ID.match(user):
        raise InvalidInput("This request does not say who sent it, so ftbot cannot act on it.")
    if channel is not None and (not isinstance(channel, str) or not CHANNEL_ID.match(channel)):
        raise InvalidInput("This request names a channel ftbot does not recognise.")
    return Actor(
        user_id=user, channel_id=channel, team_id=team if isinstance(team, str) else "", surface=surface
    )


def ensure_enabled(services: Services, actor: Actor) -> None:
    allowed = services.settings.allowed_channels
    if allowed and actor.channel_id not in allowed:
        raise NotEnabledHere(
            "ftbot is not enabled in this channel. Ask an admin to add it to FTBOT_ALLOWED_CHANNELS."
        )


async def off_loop(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking work (SDK calls, database, downloads) in a worker thread, never on the event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)


async def notify(client: AsyncWebClient, actor: Actor, channel: str, error: BaseException) -> None:
    """Tell one user, ephemerally, that something they started in a modal failed."""
    text, blocks = describe(error)
    try:
        await client.chat_postEphemeral(channel=channel, user=actor.user_id, text=text, blocks=blocks)
    except SlackApiError as e:
        log.warning("could not tell %s about a failure (%s)", actor.user_id, e.response.get("error"))
