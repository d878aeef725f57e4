"""Test chat on a deployment: ``chat.completions.create`` on the v1 API with the deployment's name as
``model``, whole or streamed (``stream=True``). A content-filtered prompt comes back as an empty reply that
says so, never as an error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai

from bot.backends.foundry.errors import map_openai_error, scrub
from bot.backends.streaming import chunk_deltas, reply_deltas
from commands.errors import NotFound, Unavailable
from commands.models import ChatDelta, ChatReply, ChatRequest, Usage

NOT_READY = "DeploymentNotReady"


def _code(err: openai.APIStatusError) -> str:
    body: dict[str, Any] = err.body if isinstance(err.body, dict) else {}
    inner = body.get("error")
    return str((inner if isinstance(inner, dict) else body).get("code") or "")


def _refused(endpoint_name: str, err: openai.APIStatusError) -> ChatReply:
    """The empty reply of a content-filtered prompt; any other refusal raised as its ``commands.errors``
    type (a deployment that is not ready yet, an unknown one, the service's limits)."""
    code = _code(err)
    if code == NOT_READY:
        raise Unavailable(
            "{endpoint} is not ready to answer yet. Try again in a few minutes.", endpoint=endpoint_name
        ) from err
    if code.lower() == "content_filter":
        message = scrub(str((err.body or {}).get("message", "")) if isinstance(err.body, dict) else "")
        return ChatReply(content="", finish_reason="content_filter", content_filter={"message": message})
    if err.status_code == 404:
        raise NotFound("No endpoint called {endpoint}.", endpoint=endpoint_name) from err
    raise map_openai_error(err, what=f"The endpoint {endpoint_name}") from err


class Chat:
    def __init__(self, client: openai.OpenAI) -> None:
        self._client = client

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        messages: Any = [m.model_dump() for m in request.messages]
        try:
            completion = self._client.chat.completions.create(
                model=endpoint_name,
                messages=messages,
                temperature=request.temperature,
                max_tokens=request.max_tokens,
            )
        except openai.APIStatusError as err:
            return _refused(endpoint_name, err)
        except openai.OpenAIError as err:
            raise map_openai_error(err, what=f"The endpoint {endpoint_name}") from err
        if not completion.choices:
            raise Unavailable("The endpoint {endpoint} returned no answer.", endpoint=endpoint_name)
        first = completion.choices[0]
        usage = completion.usage
        raw = completion.model_dump()
        filters: dict[str, object] = {}
        if raw["choices"][0].get("content_filter_results"):
            filters["completion"] = raw["choices"][0]["content_filter_results"]
        if raw.get("prompt_filter_results"):
            filters["prompt"] = raw["prompt_filter_results"]
        return ChatReply(
            content=first.message.content or "",
            finish_reason=first.finish_reason,
            usage=Usage(
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                total_tokens=usage.total_tokens if usage else 0,
            ),
            content_filter=filters or None,
        )

    def chat_stream(self, endpoint_name: str, request: ChatRequest) -> Iterator[ChatDelta]:
        """``chat`` with ``stream=True``: the answer as the deployment generates it, the usage last
        (``stream_options.include_usage``). A refusal raises before the first piece, as ``chat`` does; a
        filtered prompt is an empty answer that says so; an error event mid-stream is ``Unavailable``."""
        what = f"The endpoint {endpoint_name}"
        messages: Any = [m.model_dump() for m in request.messages]
        try:
            stream = self._client.chat.completions.create(
                model=endpoint_name,
                messages=messages,
                temperature=request.temperature,
                max_tokens=request.max_tokens,
                stream=True,
                stream_options={"include_usage": True},
            )
        except openai.APIStatusError as err:
            yield from reply_deltas(_refused(endpoint_name, err))
            return
        except openai.OpenAIError as err:
            raise map_openai_error(err, what=what) from err
        try:
            with stream:
                yield from chunk_deltas((chunk.model_dump() for chunk in stream), what=what, clean=scrub)
        except openai.OpenAIError as err:
            raise map_openai_error(err, what=what) from err

    def probe(self, deployment: str) -> bool:
        """Whether the data plane serves ``deployment`` yet: one request of one token. ``False`` while it
        answers ``DeploymentNotReady`` (or 404 while the name propagates)."""
        try:
            self._client.with_options(max_retries=0).chat.completions.create(
                model=deployment, messages=[{"role": "user", "content": "ping"}], max_tokens=1
            )
        except openai.APIStatusError as err:
            # it answers: whatever it says (a filter, a limit), it is deployed
            return not (_code(err) == NOT_READY or err.status_code == 404)
        except openai.OpenAIError:
            return False
        return True
