"""Streamed answers of OpenAI-compatible endpoints (``stream: true``) as ``ChatDelta`` pieces: the text as it
comes, then one last piece with the finish reason and the usage (``stream_options.include_usage``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from commands.errors import Unavailable
from commands.models import ChatDelta, Usage


def chunk_deltas(chunks: Iterable[Mapping[str, Any]]) -> Iterator[ChatDelta]:
    """``chat.completion.chunk`` objects (as dicts) as deltas; the finish reason and usage come last."""
    finish: str | None = None
    usage: Usage | None = None
    for chunk in chunks:
        if chunk.get("error"):
            message = (chunk["error"] or {}).get("message") if isinstance(chunk["error"], dict) else None
            raise Unavailable(f"The endpoint stopped answering: {message or chunk['error']}")
        if chunk.get("usage"):
            u = chunk["usage"]
            usage = Usage(
                prompt_tokens=int(u.get("prompt_tokens") or 0),
                completion_tokens=int(u.get("completion_tokens") or 0),
                total_tokens=int(u.get("total_tokens") or 0),
            )
        for choice in chunk.get("choices") or []:
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield ChatDelta(text=str(text))
            if choice.get("finish_reason"):
                finish = str(choice["finish_reason"])
    yield ChatDelta(finish_reason=finish, usage=usage)


def sse_chunks(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream (``data: {...}`` lines), up to ``data: [DONE]``."""
    for raw in lines:
        line = raw.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[len(b"data:") :].strip()
        if data == b"[DONE]":
            return
        try:
            chunk = json.loads(data)
        except ValueError as e:
            raise Unavailable("The endpoint sent a stream ftbot does not understand.") from e
        if isinstance(chunk, dict):
            yield chunk


def sse_deltas(lines: Iterable[bytes]) -> Iterator[ChatDelta]:
    return chunk_deltas(sse_chunks(lines))
