"""Replies to the one person who asked: through Slack's ``response_url`` on one shared HTTP session, and
by ``chat.postEphemeral`` when that cannot be used.

Bolt's own ``respond`` opens a new aiohttp session (and connection) for every reply; under load that
work sits on the event loop between acks. This keeps one session per process and is installed as
``respond`` for every request by a global middleware, so listeners do not change.

A reply cannot fail: when there is no usable ``response_url`` (missing, empty, not http(s)) or the POST
fails, the reply goes to the user by ``chat.postEphemeral`` in the request's channel; when that fails
too, one WARNING line says so. ``respond`` returns whether the reply was delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("ftbot.replies")

Respond = Callable[..., Awaitable[bool]]


def _jsonable(items: Any) -> Any:
    if items is None:
        return None
    return [i.to_dict() if hasattr(i, "to_dict") else i for i in items]


def usable_url(url: object) -> str | None:
    """``url`` when it is an absolute http(s) URL with a host, else ``None``."""
    if not isinstance(url, str) or not url:
        return None
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return None
    return url if ok else None


async def ephemeral(
    client: AsyncWebClient | None, channel: str | None, user: str | None, text: str, blocks: Any = None
) -> bool:
    """Post ``text`` (and ``blocks``) to ``user`` only, in ``channel``. False, after one WARNING line,
    when it could not be posted; never raises."""
    if client is None or not channel or not user:
        log.warning("a reply could not be delivered: no response_url and no channel to post it in")
        return False
    try:
        await client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=_jsonable(blocks))
    except Exception as e:  # SlackApiError, a dropped connection: the reply is lost, say so once
        error = e.response.get("error") if isinstance(e, SlackApiError) else type(e).__name__
        log.warning("a reply to %s could not be delivered (%s)", user, error)
        return False
    return True


class Responder:
    def __init__(self, timeout: float = 10) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _post(self, url: str, body: dict[str, Any]) -> bool:
        try:
            async with self._client().post(url, json=body) as reply:
                await reply.read()
                if reply.status >= 400:
                    log.info("response_url answered HTTP %s; replying by chat.postEphemeral", reply.status)
                return reply.status < 400
        except Exception as e:  # connection refused, timeout, a URL aiohttp will not take
            log.info("response_url failed (%s); replying by chat.postEphemeral", type(e).__name__)
            return False

    def bind(
        self,
        url: str | None,
        *,
        client: AsyncWebClient | None = None,
        channel: str | None = None,
        user: str | None = None,
    ) -> Respond:
        target = usable_url(url)

        async def respond(
            text: str | dict[str, Any] = "",
            blocks: Any = None,
            attachments: Any = None,
            response_type: str | None = None,
            replace_original: bool | None = None,
            delete_original: bool | None = None,
            **extra: Any,
        ) -> bool:
            body: dict[str, Any] = dict(text) if isinstance(text, dict) else {"text": text}
            for key, value in (
                ("blocks", _jsonable(blocks)),
                ("attachments", _jsonable(attachments)),
                ("response_type", response_type),
                ("replace_original", replace_original),
                ("delete_original", delete_original),
            ):
                if value is not None:
                    body[key] = value
            body.update({k: v for k, v in extra.items() if v is not None})
            if target is not None and await self._post(target, body):
                return True
            if delete_original or body.get("response_type") == "in_channel":
                log.warning("a reply could not be delivered through response_url")
                return False
            return await ephemeral(client, channel, user, str(body.get("text") or ""), body.get("blocks"))

        return respond

    async def middleware(self, context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> Any:
        context["respond"] = self.bind(
            context.response_url, client=context.client, channel=context.channel_id, user=context.user_id
        )
        return await next()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
