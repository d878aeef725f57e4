"""Test chat on a deployment name: the reply, a content filter, an unknown or not-ready deployment; the same
streamed (pieces in order, then the finish reason, usage and filter results; refusals before the first
piece; an error event mid-stream)."""

from __future__ import annotations

import pytest

from bot.backends.foundry.backend import FoundryBackend
from commands.errors import BackendAuthError, FtbotError, InvalidInput, NotFound, Unavailable
from commands.models import ChatMessage, ChatRequest
from tests.fakes.foundry import FakeFoundry
from tests.support.sse import SSE_HEADERS, chat_chunks, sse, stream_error

World = tuple[FoundryBackend, FakeFoundry]
HELLO = ChatRequest(messages=(ChatMessage(role="user", content="hello"),), temperature=0.2, max_tokens=9)


def _deployed(fake: FakeFoundry, state: str = "Succeeded") -> None:
    fake.deployments["ftbot-ep"] = {
        "name": "ftbot-ep",
        "properties": {"provisioningState": state, "model": {"name": "m"}},
    }


def test_chat_sends_deployment_name_temperature_and_max_tokens(world: World) -> None:
    backend, fake = world
    _deployed(fake)
    reply = backend.chat("ftbot-ep", HELLO)
    assert reply.content == "echo: hello" and reply.finish_reason == "stop"
    (call,) = fake.requests_to("POST", r"^/chat/completions$")
    assert (
        call.body["model"] == "ftbot-ep" and call.body["temperature"] == 0.2 and call.body["max_tokens"] == 9
    )
    assert call.headers["authorization"] == "Bearer test-key"


def test_content_filter_is_an_empty_reply_that_says_so(world: World) -> None:
    backend, fake = world
    _deployed(fake)
    body = {"error": {"code": "content_filter", "message": "The prompt was filtered.", "param": "prompt"}}
    fake.inject("POST", r"^/chat/completions$", 400, body)
    reply = backend.chat("ftbot-ep", HELLO)
    assert reply.content == "" and reply.finish_reason == "content_filter"
    assert reply.content_filter == {"message": "The prompt was filtered."}


def test_unknown_and_not_ready(world: World) -> None:
    backend, fake = world
    with pytest.raises(NotFound):
        backend.chat("ftbot-none", HELLO)
    _deployed(fake, "Creating")
    with pytest.raises(Unavailable, match="not ready"):
        backend.chat("ftbot-ep", HELLO)


# ---- streamed: ``stream=True`` with ``stream_options.include_usage`` ----------------------------------
def test_a_streamed_answer_comes_in_order_and_ends_with_the_same_facts_as_chat(world: World) -> None:
    backend, fake = world
    _deployed(fake)
    whole = backend.chat("ftbot-ep", HELLO)
    deltas = list(backend.chat_stream("ftbot-ep", HELLO))
    *pieces, last = deltas
    assert [d.text for d in pieces] == ["echo:", " hello"]
    assert all(d.finish_reason is None and d.usage is None for d in pieces)
    assert last.text == "" and last.finish_reason == whole.finish_reason == "stop"
    assert last.usage == whole.usage and last.usage.total_tokens == 4
    assert last.content_filter == whole.content_filter  # the footer's filter line, as a whole reply's
    sent = fake.requests_to("POST", r"^/chat/completions$")[-1]
    assert sent.body["stream"] is True and sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["model"] == "ftbot-ep" and sent.body["max_tokens"] == 9


def test_an_unknown_or_unready_deployment_raises_before_the_first_piece(world: World) -> None:
    backend, fake = world
    with pytest.raises(NotFound):
        next(backend.chat_stream("ftbot-none", HELLO))
    _deployed(fake, "Creating")
    with pytest.raises(Unavailable, match="not ready"):
        next(backend.chat_stream("ftbot-ep", HELLO))


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, BackendAuthError), (429, Unavailable), (500, Unavailable), (400, InvalidInput)],
)
def test_a_refusal_raises_before_the_first_piece_as_chat_does(
    world: World, status: int, error: type[FtbotError]
) -> None:
    backend, fake = world
    _deployed(fake)
    body = {"error": {"code": str(status), "message": "refused"}}
    fake.inject("POST", r"^/chat/completions$", status, body, times=6, headers={"retry-after-ms": "1"})
    with pytest.raises(error) as whole:
        backend.chat("ftbot-ep", HELLO)
    with pytest.raises(error) as streamed:
        next(backend.chat_stream("ftbot-ep", HELLO))
    assert streamed.value.message == whole.value.message


def test_a_filtered_prompt_streams_as_an_empty_answer_that_says_so(world: World) -> None:
    backend, fake = world
    _deployed(fake)
    body = {"error": {"code": "content_filter", "message": "The prompt was filtered.", "param": "prompt"}}
    fake.inject("POST", r"^/chat/completions$", 400, body, times=2)
    whole = backend.chat("ftbot-ep", HELLO)
    (last,) = backend.chat_stream("ftbot-ep", HELLO)
    assert last.finish_reason == whole.finish_reason == "content_filter"
    assert last.content_filter == whole.content_filter == {"message": "The prompt was filtered."}


def test_an_error_event_mid_stream_is_unavailable_after_the_pieces_so_far(world: World) -> None:
    backend, fake = world
    _deployed(fake)
    events = [*chat_chunks("partial answer")[:3], stream_error("Model overloaded; key=abc123 was used")]
    fake.inject("POST", r"^/chat/completions$", 200, sse(events, done=False), headers=SSE_HEADERS)
    got: list[str] = []
    with pytest.raises(Unavailable) as err:
        for delta in backend.chat_stream("ftbot-ep", HELLO):
            got.append(delta.text)
    assert got == ["partial", " answer"]
    assert "stopped answering: Model overloaded" in err.value.message
    assert "abc123" not in err.value.message
