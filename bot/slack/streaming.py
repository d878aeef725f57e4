"""A Test chat reply shown in the job's thread while the model writes it.

Streamed with ``chat.startStream`` / ``appendStream`` / ``stopStream`` where Slack takes it: appends are
batched (every ``FLUSH_SECONDS`` or ``FLUSH_CHARS``), and starts and stops (Tier 2) are bounded by a few
streams at a time per workspace, queued beyond that. When Slack refuses streaming (any error from the three
methods, an expired stream, a 429 on start) the reply is posted and edited in place at most every
``EDIT_SECONDS``; when even that fails, ``finish`` says so and the caller hands the reply to the outbox.
The user never sees an error for any of this."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.ui.chat import STREAM_MAX, stream_text

log = logging.getLogger("ftbot.streaming")

FLUSH_SECONDS = 0.5
FLUSH_CHARS = 400
EDIT_SECONDS = 2.0
STREAMS_PER_WORKSPACE = 3

SLACK_ERRORS = (SlackApiError, SlackRequestError, OSError, KeyError)

#: the message so far, rendered as a plain message: (fallback text, blocks)
Render = Callable[[str], tuple[str, Sequence[Block]]]


class StreamSlots:
    """At most ``per_workspace`` streams open at once in each workspace; the others wait their turn."""

    def __init__(self, per_workspace: int = STREAMS_PER_WORKSPACE) -> None:
        self.per_workspace = per_workspace
        self._slots: dict[str, asyncio.Semaphore] = {}

    def of(self, workspace: str) -> asyncio.Semaphore:
        return self._slots.setdefault(workspace, asyncio.Semaphore(self.per_workspace))


def _error(e: Exception) -> str:
    if isinstance(e, SlackApiError):
        return str(e.response.get("error") or f"http_{e.response.status_code}")
    return type(e).__name__


class ThreadReply:
    """One reply in a thread: streamed, else posted and edited in place, else (``finish`` False) not shown."""

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str,
        header: str,
        render: Render,
        *,
        recipient: tuple[str, str] | None = None,
        stream: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.channel, self.thread_ts = client, channel, thread_ts
        self.header, self.render, self.recipient, self.clock = header, render, recipient, clock
        self.streaming = stream  # False: edit in place (or post once at the end)
        self.ts: str | None = None
        self.text = ""  # the model's text so far (raw)
        self.pending = ""  # escaped, not yet sent to the stream
        self.last = clock()
        self.fallback_reason: str | None = None

    async def add(self, text: str) -> None:
        if not text:
            return
        room = STREAM_MAX - len(self.header) - len(stream_text(self.text))
        self.text += text
        if room > 0:
            self.pending += stream_text(text)[:room]
        waited = self.clock() - self.last
        if self.streaming and (waited >= FLUSH_SECONDS or len(self.pending) >= FLUSH_CHARS):
            await self._flush_stream()
        elif not self.streaming and self.thread_ts and waited >= EDIT_SECONDS:
            await self._show(*self.render(self.text + " …"))

    async def _flush_stream(self) -> None:
        if not self.pending and (self.ts is not None or not self.header.strip()):
            return  # nothing to add; and a stream never starts empty (finish posts the whole reply)
        try:
            if self.ts is None:
                user, team = self.recipient or (None, None)
                started = await self.client.chat_startStream(
                    channel=self.channel,
                    thread_ts=self.thread_ts,
                    markdown_text=self.header + self.pending,
                    recipient_user_id=user,
                    recipient_team_id=team,
                )
                self.ts = str(started["ts"])
            else:
                await self.client.chat_appendStream(
                    channel=self.channel, ts=self.ts, markdown_text=self.pending
                )
            self.pending = ""
        except SLACK_ERRORS as e:
            await self._leave_stream(e)
        self.last = self.clock()

    async def _leave_stream(self, e: Exception) -> None:
        """Slack refused the stream: from now on the same message (if there is one) is edited in place."""
        self.fallback_reason = _error(e)
        log.info("test chat stream refused (%s); editing the reply in place instead", self.fallback_reason)
        self.streaming = False
        if self.ts is not None:
            with contextlib.suppress(*SLACK_ERRORS):  # so that chat.update can edit it (expired: stopped)
                await self.client.chat_stopStream(channel=self.channel, ts=self.ts)

    async def _show(self, text: str, blocks: Sequence[Block]) -> bool:
        """Post the reply, or edit the one posted; False when Slack takes neither."""
        self.last = self.clock()
        try:
            if self.ts is not None:
                try:
                    await self.client.chat_update(channel=self.channel, ts=self.ts, text=text, blocks=blocks)
                    return True
                except SlackApiError as e:
                    log.info("test chat reply not edited (%s); posting it again", _error(e))
            posted = await self.client.chat_postMessage(
                channel=self.channel, thread_ts=self.thread_ts, text=text, blocks=blocks
            )
            self.ts = str(posted["ts"])
            return True
        except SLACK_ERRORS as e:
            log.warning("test chat reply not shown (%s); the outbox will post it", _error(e))
            return False

    async def finish(self, text: str, blocks: Sequence[Block], footer: Sequence[Block]) -> bool:
        """The whole reply: the stream's rest and ``footer`` (tokens, finish reason, latency), or the
        complete message ``text``/``blocks`` in place. False: not in the thread; the caller posts it later."""
        if self.streaming:
            await self._flush_stream()
        if self.streaming and self.ts is not None:
            try:
                await self.client.chat_stopStream(channel=self.channel, ts=self.ts, blocks=list(footer))
                return True
            except SLACK_ERRORS as e:
                await self._leave_stream(e)
        return await self._show(text, blocks)


def footer_of(blocks: Sequence[Block], body_ids: tuple[str, ...]) -> list[Block]:
    """The blocks of a rendered reply that are not its prompt or answer text (they are streamed)."""
    return [b for b in blocks if not str(getattr(b, "block_id", "") or "").startswith(body_ids)]


def describe(reply: ThreadReply) -> dict[str, Any]:
    """For the log: how the reply was shown."""
    return {"streamed": reply.streaming, "ts": reply.ts, "fallback": reply.fallback_reason}
