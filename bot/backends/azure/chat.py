"""A serverless endpoint's answer to ``POST {scoring_uri}/v1/chat/completions`` → ftbot's ``ChatReply``, or
with ``stream: true`` its server-sent events → ``ChatDelta`` pieces.

The rate limit quoted (200,000 tokens and 1,000 requests per minute per deployment) and the content
filter are those of serverless deployments, per Microsoft's "Fine-tune models using serverless API
deployments in Azure AI Foundry".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from bot.backends.azure.errors import scrub
from bot.backends.streaming import reply_deltas, sse_deltas
from commands.errors import BackendAuthError, InvalidInput, NotFound, Unavailable
from commands.models import ChatDelta, ChatReply, Usage


def chat_reply(endpoint_name: str, response: httpx.Response) -> ChatReply:
    """The reply, a content-filtered empty reply, or the ``commands.errors`` type for the HTTP status."""
    body = _json_body(response)
    error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
    status = response.status_code
    if status == 400 and str(error.get("code", "")).lower() == "content_filter":
        inner = error.get("innererror") or error.get("inner_error") or {}
        filtered = inner.get("content_filter_result") if isinstance(inner, dict) else None
        return ChatReply(
            content="",
            finish_reason="content_filter",
            content_filter={"prompt": filtered or {}, "message": scrub(str(error.get("message", "")))},
        )
    if status >= 400:
        raise _refusal(endpoint_name, response, error)
    choices = body.get("choices") or []
    if not choices:
        raise Unavailable(f"The endpoint {endpoint_name} returned no answer.")
    first = choices[0]
    usage = body.get("usage") or {}
    content_filter: dict[str, object] = {}
    if first.get("content_filter_results"):
        content_filter["completion"] = first["content_filter_results"]
    if body.get("prompt_filter_results"):
        content_filter["prompt"] = body["prompt_filter_results"]
    return ChatReply(
        content=str((first.get("message") or {}).get("content") or ""),
        finish_reason=first.get("finish_reason"),
        usage=Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            total_tokens=int(usage.get("total_tokens") or 0),
        ),
        content_filter=content_filter or None,
    )


def chat_deltas(endpoint_name: str, response: httpx.Response) -> Iterator[ChatDelta]:
    """A streamed answer (``response`` opened with ``httpx.Client.stream``) as deltas. A refusal is the
    error ``chat_reply`` raises, before any piece; an endpoint that answered in one JSON body instead of
    events still reads as a stream. A connection lost mid-stream is ``Unavailable``."""
    what = f"The endpoint {endpoint_name}"
    try:
        if response.status_code != 200 or "text/event-stream" not in response.headers.get("content-type", ""):
            response.read()
            yield from reply_deltas(chat_reply(endpoint_name, response))
            return
        lines = (line.encode() for line in response.iter_lines())
        yield from sse_deltas(lines, what=what, clean=scrub)
    except httpx.HTTPError as e:
        raise Unavailable(f"{what} stopped answering ({type(e).__name__}).") from e


def _json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refusal(endpoint_name: str, response: httpx.Response, error: dict[str, Any]) -> Exception:
    """The error for an HTTP status of 400 or more (other than a content-filter refusal)."""
    status = response.status_code
    if status == 429:
        retry: float | None
        try:
            retry = float(response.headers.get("retry-after", ""))
        except ValueError:
            retry = None
        wait = f"{retry:g} s" if retry is not None else "a minute"
        return Unavailable(
            f"The endpoint {endpoint_name} is at its rate limit "
            "(200,000 tokens and 1,000 requests per minute per "
            f"deployment). Try again in {wait}.",
            retry_after=retry,
        )
    if status in (401, 403):
        return BackendAuthError(f"The endpoint {endpoint_name} refused its own key (HTTP {status}).")
    if status == 404:
        return NotFound(f"The endpoint {endpoint_name} has no chat completions route.")
    if status >= 500:
        return Unavailable(f"The endpoint {endpoint_name} failed (HTTP {status}). Try again shortly.")
    message = scrub(str(error.get("message") or response.text[:300]))
    return InvalidInput(f"The endpoint {endpoint_name} refused the request: {message}")
