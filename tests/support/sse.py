"""OpenAI's streamed chat answer (``stream: true``) as the wire fakes send it: ``chat.completion.chunk``
events as server-sent events (``data: {...}`` lines, ``data: [DONE]`` last)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

SSE_HEADERS = {"content-type": "text/event-stream"}


def sse(events: Iterable[Mapping[str, Any]], *, done: bool = True) -> bytes:
    """The events as a server-sent event stream, ``data: [DONE]`` last unless ``done`` is False."""
    lines = [f"data: {json.dumps(event)}\n\n" for event in events]
    return "".join([*lines, "data: [DONE]\n\n" if done else ""]).encode()


def chat_chunks(
    answer: str,
    *,
    model: str = "m",
    finish_reason: str = "stop",
    usage: Mapping[str, int] | None = None,
    filters: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``answer`` a word at a time, then the finish reason, then (``stream_options.include_usage``) a last
    chunk with no choices and the usage. ``filters``: Azure's ``content_filter_results`` on each piece."""

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model}
        return {**base, "choices": choices, **extra}

    pieces = [word if i == 0 else " " + word for i, word in enumerate(answer.split(" "))] if answer else []
    out = [chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
    for piece in pieces:
        choice: dict[str, Any] = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
        if filters is not None:
            choice["content_filter_results"] = dict(filters)
        out.append(chunk([choice]))
    out.append(chunk([{"index": 0, "delta": {}, "finish_reason": finish_reason}]))
    if usage is not None:
        out.append(chunk([], usage=dict(usage)))
    return out


def stream_error(message: str, code: str = "server_error") -> dict[str, Any]:
    """The event a service sends when it fails after the answer began."""
    return {"error": {"message": message, "type": code, "code": code, "param": None}}
