"""Test chat from the modal: the fine-tuned answer streamed as it is generated, optionally the base model's
answer beside it, and the exchange recorded (audit, cost, last use) like ``/finetune chat``.

The caller (Slack) shows the answer as it comes and tells ``finish`` whether it already put the final
message in the thread; if not, the exchange goes through the outbox like every other thread post, so a
reply is never lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from commands.errors import FtbotError, InvalidInput
from commands.lifecycle.base import Deps, UseCase
from commands.lifecycle.endpoints import MAX_PROMPT, _ready_for_chat
from commands.lifecycle.targets import endpoint_ops
from commands.models import ChatDelta, ChatMessage, ChatReply, ChatRequest
from commands.ports import BaseModelChat, StoreTx, StreamingChat
from commands.records import Actor, EndpointRecord, JobRecord, PostKind, ThreadPost


@dataclass(frozen=True)
class ChatTurn:
    """One Test chat: who asked which endpoint what, and where its job's thread is."""

    actor: Actor
    endpoint: EndpointRecord
    job: JobRecord
    prompt: str
    system: str | None
    request: ChatRequest
    #: the job card (channel, ts): the thread the reply goes to; None while the card is not posted yet
    thread: tuple[str, str] | None
    #: the base model asked alongside (side-by-side); None when not asked
    base_model: str | None = None


@dataclass(frozen=True)
class BaseAnswer:
    """The base model's answer beside the fine-tuned one, or why there is none."""

    model: str
    reply: ChatReply | None
    latency_ms: int = 0
    missing: str | None = None


class Chats(UseCase):
    def __init__(self, deps: Deps, *, base_chat: BaseModelChat | None = None) -> None:
        super().__init__(deps)
        self.base_chat = base_chat

    def begin(
        self,
        actor: Actor,
        name: str,
        prompt: str,
        *,
        system: str | None = None,
        temperature: float = 0.7,
        max_tokens: int = 256,
        with_base: bool = False,
    ) -> ChatTurn:
        prompt = prompt.strip()
        if not prompt:
            raise InvalidInput("Say something to the model: the prompt is empty.", field="prompt")
        if len(prompt) > MAX_PROMPT:
            raise InvalidInput(
                f"The prompt is too long ({len(prompt)} characters; at most {MAX_PROMPT}).", field="prompt"
            )
        messages = [ChatMessage(role="system", content=system)] if system else []
        messages.append(ChatMessage(role="user", content=prompt))
        request = ChatRequest(messages=tuple(messages), temperature=temperature, max_tokens=max_tokens)
        with self.store.transaction() as tx:
            endpoint = _ready_for_chat(tx.get_endpoint(name))
            job = tx.get_job(endpoint.job_id)
            thread = tx.status_message(job.id)
        base = job.base_model if with_base else None
        return ChatTurn(actor, endpoint, job, prompt, system, request, thread, base)

    def stream(self, turn: ChatTurn) -> Iterator[ChatDelta]:
        """The fine-tuned answer as it is generated where the backend streams, else in one piece."""
        ops = endpoint_ops(self.backend, turn.endpoint.options.target)
        if isinstance(ops, StreamingChat):
            yield from ops.chat_stream(turn.endpoint.name, turn.request)
            return
        reply = ops.chat(turn.endpoint.name, turn.request)
        yield ChatDelta(
            text=reply.content,
            finish_reason=reply.finish_reason or "",
            usage=reply.usage,
            content_filter=reply.content_filter,
        )

    def ask_base(self, turn: ChatTurn) -> BaseAnswer | None:
        """The base model's answer (None when not asked); its failure is said, never raised."""
        model = turn.base_model
        if model is None:
            return None
        chat = self.base_chat
        missing = (
            "this backend cannot ask base models"
            if chat is None
            else chat.base_model_missing(turn.endpoint.name, model)
        )
        if chat is None or missing is not None:
            return BaseAnswer(model, None, missing=missing)
        started = time.monotonic()
        try:
            reply = chat.chat_base(turn.endpoint.name, model, turn.request)
        except FtbotError as e:
            return BaseAnswer(model, None, missing=f"the base model did not answer: {e.message}")
        return BaseAnswer(model, reply, latency_ms=round((time.monotonic() - started) * 1000))

    def finish(
        self,
        turn: ChatTurn,
        reply: ChatReply,
        latency_ms: int,
        base: BaseAnswer | None = None,
        *,
        delivered: bool,
    ) -> ThreadPost:
        """Record the exchange (cost, last use, audit) and return its thread post; unless ``delivered``
        (the caller already shows it in the thread), the post goes through the outbox."""
        now = self.clock.now()
        name = turn.endpoint.name
        cost = None
        if self.costs is not None:
            with self.store.transaction() as tx:
                job = tx.get_job(turn.job.id)
            cost = self.costs.reply(job, turn.endpoint, turn.actor.user_id, reply.usage, now)
        post = ThreadPost(
            job_id=turn.job.id, kind=PostKind.CHAT, data=_post_data(turn, reply, latency_ms, base)
        )
        if cost is not None:
            post = post.model_copy(update={"data": {**post.data, "cost": str(cost)}})
        with self.store.transaction() as tx:
            tx.touch_endpoint(name, last_used_at=now, idle_reminder_at=None)
            detail = f"tokens={reply.usage.total_tokens}" + (" base" if base else "")
            self._audit(tx, turn.actor, "chat", name, "ok", detail + ("" if delivered else " posted"))
            if not delivered:
                self._post_chat(tx, turn, post, now.timestamp())
        self._changed()
        return post

    @staticmethod
    def partial_post(turn: ChatTurn, text: str) -> ThreadPost:
        """The exchange while the answer is still coming (for a message edited in place)."""
        data = _post_data(turn, ChatReply(content=text), 0, None)
        return ThreadPost(job_id=turn.job.id, kind=PostKind.CHAT, data=data)

    def deliver_later(self, turn: ChatTurn, post: ThreadPost) -> None:
        """Slack took neither the stream nor a plain message: the outbox posts it (retrying)."""
        with self.store.transaction() as tx:
            self._post_chat(tx, turn, post, self.clock.now().timestamp())
        self._changed()

    def _post_chat(self, tx: StoreTx, turn: ChatTurn, post: ThreadPost, at: float) -> None:
        key = f"chat:{turn.endpoint.name}:{at:.6f}:{turn.actor.user_id}"
        tx.post(post, key=f"{turn.job.id}:{key}", at=self.clock.now())


def _post_data(
    turn: ChatTurn, reply: ChatReply, latency_ms: int, base: BaseAnswer | None
) -> dict[str, object]:
    data: dict[str, object] = {
        "endpoint": turn.endpoint.name,
        "by": turn.actor.user_id,
        "prompt": turn.prompt,
        "system": turn.system or "",
        "reply": reply.content,
        "usage": reply.usage.model_dump(),
        "content_filter": reply.content_filter or {},
        "finish_reason": reply.finish_reason or "",
        "latency_ms": latency_ms,
    }
    if base is not None:
        data["base"] = {
            "model": base.model,
            "reply": base.reply.content if base.reply else "",
            "usage": base.reply.usage.model_dump() if base.reply else {},
            "finish_reason": (base.reply.finish_reason or "") if base.reply else "",
            "latency_ms": base.latency_ms,
            "missing": base.missing or "",
        }
    return data
