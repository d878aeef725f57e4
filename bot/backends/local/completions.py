"""The OpenAI chat completions wire format the local endpoint speaks: the request body, the
``chat.completion`` reply, and the ``chat.completion.chunk`` stream (server-sent events) of a streamed one.
What answers is a ``Generator``: the loaded model, or a test's stand-in."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.backends.local.generation import Generation


class Generator(Protocol):
    context_length: int

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> list[int]: ...

    def generate(
        self, prompt: list[int], *, temperature: float, max_tokens: int, min_tokens: int = 0
    ) -> Generation: ...


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant"]
    content: str


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    messages: list[_Message] = Field(min_length=1)
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    min_tokens: int = Field(default=0, ge=0, le=4096)  # vLLM's extension: no end of reply before this many
    model: str | None = None  # the base model's name: answered by the base model, without the adapter
    stream: bool = False
    stream_options: _StreamOptions | None = None


def completion(model_name: str, prompt: list[int], out: Generation, created: int) -> dict[str, object]:
    """The OpenAI ``chat.completion`` object for one generation."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": created,
        "model": model_name,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": out.text},
                "finish_reason": out.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": len(prompt),
            "completion_tokens": out.completion_tokens,
            "total_tokens": len(prompt) + out.completion_tokens,
        },
    }


def _chunk(base: dict[str, object], delta: dict[str, str], finish: str | None) -> bytes:
    body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def sse(
    generator: Generator,
    prompt: list[int],
    body: ChatBody,
    *,
    max_tokens: int,
    model_name: str,
    created: int,
    settle: Callable[[int], None],
) -> Iterator[bytes]:
    """The OpenAI ``chat.completion.chunk`` stream: the role, the text as it comes, the finish reason,
    the usage (when asked with ``stream_options.include_usage``), then ``[DONE]``. Starlette iterates it
    in a worker thread; if the client goes away the generation is stopped."""
    base: dict[str, object] = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model_name,
    }
    cancel = threading.Event()
    kwargs: dict[str, Any] = {
        "temperature": body.temperature,
        "max_tokens": max_tokens,
        "min_tokens": min(body.min_tokens, max_tokens),
    }
    stream = getattr(generator, "stream", None)
    parts: Iterator[str | Generation] = (
        stream(prompt, cancel=cancel, **kwargs) if stream else iter([generator.generate(prompt, **kwargs)])
    )
    used = len(prompt)
    try:
        yield _chunk(base, {"role": "assistant", "content": ""}, None)
        for part in parts:
            if isinstance(part, Generation):
                used += part.completion_tokens
                if not stream and part.text:
                    yield _chunk(base, {"content": part.text}, None)
                yield _chunk(base, {}, part.finish_reason)
                if body.stream_options is not None and body.stream_options.include_usage:
                    usage = {
                        "prompt_tokens": len(prompt),
                        "completion_tokens": part.completion_tokens,
                        "total_tokens": len(prompt) + part.completion_tokens,
                    }
                    yield b"data: " + json.dumps({**base, "choices": [], "usage": usage}).encode() + b"\n\n"
            elif part:
                yield _chunk(base, {"content": part}, None)
        yield b"data: [DONE]\n\n"
    finally:
        cancel.set()
        close = getattr(parts, "close", None)
        if close is not None:
            close()
        settle(used)
