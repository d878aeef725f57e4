"""Test chat from the modal, off the ack path: the fine-tuned answer streamed into the job's thread (see
``bot.slack.streaming``), the base model asked alongside when the user ticked "Also ask the base model",
and the exchange recorded; a reply Slack would not take goes through the outbox instead."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.streaming import StreamSlots, ThreadReply, describe, footer_of
from bot.ui.chat import stream_header
from bot.ui.ids import Block as B
from bot.ui.thread import thread_post
from commands.errors import FtbotError
from commands.lifecycle.chats import Chats, ChatTurn
from commands.models import ChatDelta, ChatReply, Usage

log = logging.getLogger("ftbot.test_chat")

_BODY = (str(B.CHAT_PROMPT_TEXT), str(B.CHAT_REPLY_TEXT))
_DONE = object()


async def _deltas(chats: Chats, turn: ChatTurn) -> asyncio.Queue[object]:
    """The backend's stream read in a worker thread, its pieces (then an error or ``_DONE``) queued."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()

    def produce() -> None:
        try:
            for delta in chats.stream(turn):
                loop.call_soon_threadsafe(queue.put_nowait, delta)
        except Exception as e:  # handed to the reader, which raises it
            loop.call_soon_threadsafe(queue.put_nowait, e)
            return
        loop.call_soon_threadsafe(queue.put_nowait, _DONE)

    loop.run_in_executor(None, contextvars.copy_context().run, produce)  # its lines keep the request's ref
    return queue


async def run_test_chat(client: AsyncWebClient, slots: StreamSlots, chats: Chats, turn: ChatTurn) -> None:
    """Answer one Test chat in its thread. Backend errors are raised (the listener tells the user);
    Slack's refusals never are."""
    started = time.monotonic()
    queue = await _deltas(chats, turn)
    base_task = asyncio.create_task(asyncio.to_thread(chats.ask_base, turn))
    channel, thread_ts = turn.thread or (turn.job.channel_id, "")
    job = turn.job
    reply = ThreadReply(
        client,
        channel,
        thread_ts,
        stream_header(turn.actor.user_id, turn.endpoint.name, turn.prompt, turn.system),
        lambda text: thread_post(chats.partial_post(turn, text), job, ()),
        recipient=(turn.actor.user_id, turn.actor.team_id) if turn.actor.team_id else None,
        stream=turn.thread is not None,
    )
    finish, usage, content_filter = None, Usage(), None
    async with slots.of(turn.actor.team_id or "-"):  # Tier 2 starts and stops: a few streams at a time
        while (item := await queue.get()) is not _DONE:
            if isinstance(item, Exception):
                await base_task
                if reply.ts is not None:  # a stream already shows part of it: close it with the reason
                    note = f"{reply.text}\n\n_(The endpoint stopped answering: {_reason(item)})_"
                    await reply.finish(*thread_post(chats.partial_post(turn, note), job, ()), footer=())
                raise item
            assert isinstance(item, ChatDelta)
            await reply.add(item.text)
            finish = item.finish_reason or finish
            usage = item.usage or usage
            content_filter = item.content_filter or content_filter
        latency_ms = round((time.monotonic() - started) * 1000)
        answer = ChatReply(
            content=reply.text, finish_reason=finish, usage=usage, content_filter=content_filter
        )
        base = await base_task
        shown = turn.thread is not None
        post = await asyncio.to_thread(chats.finish, turn, answer, latency_ms, base, delivered=shown)
        if shown:
            text, blocks = thread_post(post, job, ())
            shown = await reply.finish(text, blocks, footer_of(blocks, _BODY))
            if not shown:
                await asyncio.to_thread(chats.deliver_later, turn, post)
    log.info("test chat on %s answered: %s", turn.endpoint.name, describe(reply))


def _reason(e: Exception) -> str:
    return e.message if isinstance(e, FtbotError) else type(e).__name__
