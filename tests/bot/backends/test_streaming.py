"""OpenAI-style server-sent events as ``ChatDelta`` pieces, read from the local endpoint's own server app
(in process, its fake generator) and from hand-written streams."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.backends.local.quota import RateLimiter
from bot.backends.local.server import build_app
from bot.backends.streaming import chunk_deltas, sse_deltas
from commands.errors import Unavailable
from commands.models import ChatDelta, Usage
from tests.bot.backends.local.test_server_app import BODY, KEY, EchoGenerator, FakeClock


def test_the_local_servers_stream_reads_as_text_then_finish_and_usage() -> None:
    limiter = RateLimiter(tokens_per_minute=10_000, requests_per_minute=100, clock=FakeClock())
    client = TestClient(build_app(EchoGenerator(), key=KEY, model_name="m1", limiter=limiter))
    body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", "/v1/chat/completions", json=body, headers={"Authorization": KEY}) as resp:
        deltas = list(sse_deltas(line.encode() for line in resp.iter_lines()))
    assert "".join(d.text for d in deltas) == "ok ok ok "
    assert deltas[-1] == ChatDelta(
        finish_reason="stop", usage=Usage(prompt_tokens=4, completion_tokens=3, total_tokens=7)
    )
    assert all(d.finish_reason is None for d in deltas[:-1])


def test_a_stream_without_usage_ends_with_the_finish_reason_alone() -> None:
    lines = [
        b'data: {"choices": [{"delta": {"content": "hi"}, "finish_reason": null}]}',
        b"",
        b'data: {"choices": [{"delta": {}, "finish_reason": "length"}]}',
        b"data: [DONE]",
        b'data: {"choices": [{"delta": {"content": "after done"}}]}',
    ]
    assert list(sse_deltas(lines)) == [ChatDelta(text="hi"), ChatDelta(finish_reason="length")]


@pytest.mark.parametrize("line", [b"data: {not json", b'data: {"error": {"message": "overloaded"}}'])
def test_a_broken_or_failed_stream_is_unavailable(line: bytes) -> None:
    with pytest.raises(Unavailable):
        list(sse_deltas([b'data: {"choices": [{"delta": {"content": "x"}}]}', line]))


def test_filter_results_end_on_the_last_piece_and_a_filtered_category_stays_filtered() -> None:
    flagged = {"violence": {"filtered": True, "severity": "high"}, "hate": {"filtered": False}}
    later = {
        "violence": {"filtered": False, "severity": "safe"},
        "hate": {"filtered": False, "severity": "low"},
    }
    chunks = [
        {"choices": [], "prompt_filter_results": [{"prompt_index": 0}]},
        {"choices": [{"delta": {"content": "a"}, "content_filter_results": flagged}]},
        {"choices": [{"delta": {"content": "b"}, "content_filter_results": later}]},
        {"choices": [{"delta": {}, "finish_reason": "content_filter"}]},
    ]
    *pieces, last = chunk_deltas(chunks)
    assert [p.text for p in pieces] == ["a", "b"] and all(p.content_filter is None for p in pieces)
    assert last.content_filter == {
        "prompt": [{"prompt_index": 0}],
        "completion": {"violence": flagged["violence"], "hate": later["hate"]},
    }


def test_an_error_event_names_the_endpoint_and_is_cleaned() -> None:
    lines = [b'data: {"error": {"message": "overloaded key=123"}}']
    with pytest.raises(Unavailable, match=r"^ep-1 stopped answering: overloaded key=\*\*\*$"):
        list(sse_deltas(lines, what="ep-1", clean=lambda s: s.replace("123", "***")))
