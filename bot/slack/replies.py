"""Replies through Slack's response_url on one shared HTTP session.

Bolt's own ``respond`` opens a new aiohttp session (and connection) for every reply; under load that
work sits on the event loop between acks. This keeps one session per process and is installed as
``respond`` for every request by a global middleware, so listeners do not change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.context.async_context import AsyncBoltContext

log = logging.getLogger("ftbot.replies")


def _jsonable(items: Any) -> Any:
    if items is None:
        return None
    return [i.to_dict() if hasattr(i, "to_dict") else i for i in items]


class Responder:
    def __init__(self, timeout: float = 10) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    def bind(self, url: str) -> Callable[..., Awaitable[int]]:
        async def respond(
            text: str | dict[str, Any] = "",
            blocks: Any = None,
            attachments: Any = None,
            response_type: str | None = None,
            replace_original: bool | None = None,
            delete_original: bool | None = None,
            **extra: Any,
        ) -> int:
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
            async with self._client().post(url, json=body) as reply:
                await reply.read()
                if reply.status >= 400:
                    log.warning("response_url answered HTTP %s", reply.status)
                return reply.status

        return respond

    async def middleware(self, context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> Any:
        if context.response_url:
            context["respond"] = self.bind(context.response_url)
        return await next()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
