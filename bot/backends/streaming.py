"""Streamed answers of OpenAI-compatible endpoints (``stream: true``) as ``ChatDelta`` pieces: the text as it
comes, then one last piece with the finish reason, the usage (``stream_options.include_usage``) and the
content filter's results where the service sends them (Azure: ``prompt_filter_results`` and each choice's
``content_filter_results``), so the final message says what a whole reply would."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from commands.errors import Unavailable
from commands.models import ChatDelta, ChatReply, Usage


def chunk_deltas(
    chunks: Iterable[Mapping[str, Any]],
    *,
    what: str = "The endpoint",
    clean: Callable[[str], str] = str,
) -> Iterator[ChatDelta]:
    """``chat.completion.chunk`` objects (as dicts) as deltas; the finish reason and usage come last. An
    ``error`` event mid-stream raises ``Unavailable`` naming ``what``, with the service's message passed
    through ``clean`` (the backend's scrubber)."""
    finish: str | None = None
    usage: Usage | None = None
    filters: dict[str, object] = {}
    for chunk in chunks:
        if chunk.get("error"):
            raise Unavailable(f"{what} stopped answering: {clean(_error_message(chunk['error']))}")
        if chunk.get("usage"):
            usage = _usage(chunk["usage"])
        if chunk.get("prompt_filter_results"):
            filters["prompt"] = chunk["prompt_filter_results"]
        for choice in chunk.get("choices") or []:
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield ChatDelta(text=str(text))
            if choice.get("content_filter_results"):
                filters["completion"] = _merged(filters.get("completion"), choice["content_filter_results"])
            if choice.get("finish_reason"):
                finish = str(choice["finish_reason"])
    yield ChatDelta(finish_reason=finish, usage=usage, content_filter=filters or None)


def reply_deltas(reply: ChatReply) -> Iterator[ChatDelta]:
    """A whole reply as a stream: its text, then the last piece (for an endpoint that answered in one go,
    or a prompt the content filter refused)."""
    if reply.content:
        yield ChatDelta(text=reply.content)
    yield ChatDelta(finish_reason=reply.finish_reason, usage=reply.usage, content_filter=reply.content_filter)


def _error_message(error: object) -> str:
    message = error.get("message") if isinstance(error, Mapping) else None
    return str(message or error)


def _usage(u: Mapping[str, Any]) -> Usage:
    return Usage(
        prompt_tokens=int(u.get("prompt_tokens") or 0),
        completion_tokens=int(u.get("completion_tokens") or 0),
        total_tokens=int(u.get("total_tokens") or 0),
    )


def _merged(seen: object, results: Mapping[str, Any]) -> dict[str, object]:
    """The completion's filter results over all chunks: the latest per category, a filtered one kept."""
    merged: dict[str, object] = dict(seen) if isinstance(seen, Mapping) else {}
    for category, result in results.items():
        before = merged.get(category)
        if not (isinstance(before, Mapping) and before.get("filtered") is True):
            merged[category] = result
    return merged


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


def sse_deltas(
    lines: Iterable[bytes], *, what: str = "The endpoint", clean: Callable[[str], str] = str
) -> Iterator[ChatDelta]:
    return chunk_deltas(sse_chunks(lines), what=what, clean=clean)
