"""Test chat on a serverless endpoint, streamed (``stream: true`` on ``{scoring_uri}/v1/chat/completions``):
the pieces in order, then the same facts as a whole reply (finish reason, usage, filter results); the
refusals of ``chat`` raised before the first piece; an error event or a lost connection mid-stream; an
endpoint in a deploy target streamed from where it lives."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from commands.errors import BackendAuthError, InvalidInput, NotFound, Unavailable
from commands.models import ChatDelta, ChatMessage, ChatRequest
from tests.bot.backends.fake_azure import PHI, AzureWorld, make_spec, make_world
from tests.bot.backends.fake_azure.cloud import make_target_world
from tests.support.sse import SSE_HEADERS, chat_chunks, sse, stream_error

HELLO = ChatRequest(
    messages=(ChatMessage(role="user", content="Hello there"),), temperature=0.2, max_tokens=5
)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> AzureWorld:
    world = make_world(monkeypatch)
    world.backend.submit_job(make_spec(model=PHI))
    world.fake.advance(4)
    model = world.backend.get_job("ftbot-job-1").output_model
    assert model
    world.backend.deploy_model(model, "ftbot-ep")
    return world


def _texts(deltas: list[ChatDelta]) -> list[str]:
    return [d.text for d in deltas if d.text]


def test_a_streamed_answer_comes_in_order_and_ends_with_the_same_facts_as_chat(world: AzureWorld) -> None:
    whole = world.backend.chat("ftbot-ep", HELLO)
    deltas = list(world.backend.chat_stream("ftbot-ep", HELLO))
    assert _texts(deltas) == ["echo:", " Hello", " there"] and "".join(_texts(deltas)) == whole.content
    last = deltas[-1]
    assert last.finish_reason == whole.finish_reason == "stop"
    assert last.usage == whole.usage and last.usage.total_tokens == 5
    assert all(d.usage is None and d.finish_reason is None for d in deltas[:-1])
    sent = world.scoring.requests[-1]
    assert str(sent.url) == "https://ftbot-ep.eastus2.models.ai.azure.com/v1/chat/completions"
    assert sent.headers["authorization"] == world.fake.endpoint_keys["ftbot-ep"]["primaryKey"]
    assert sent.headers["extra-parameters"] == "drop"  # an endpoint without stream_options ignores it
    payload = json.loads(sent.content)
    assert payload["stream"] is True and payload["stream_options"] == {"include_usage": True}
    assert payload["temperature"] == 0.2 and payload["max_tokens"] == 5


@pytest.mark.parametrize(
    ("status", "error"), [(429, Unavailable), (401, BackendAuthError), (404, NotFound), (400, InvalidInput)]
)
def test_a_refusal_raises_before_the_first_piece_as_chat_does(
    world: AzureWorld, status: int, error: type[Exception]
) -> None:
    def refusal() -> httpx.Response:
        body = {"error": {"code": str(status), "message": "refused"}}
        return httpx.Response(status, headers={"Retry-After": "7"}, json=body)

    world.scoring.queue += [refusal(), refusal()]
    with pytest.raises(error) as whole:
        world.backend.chat("ftbot-ep", HELLO)
    stream = world.backend.chat_stream("ftbot-ep", HELLO)
    with pytest.raises(error) as streamed:
        next(stream)
    assert str(streamed.value) == str(whole.value)
    assert getattr(streamed.value, "retry_after", None) == getattr(whole.value, "retry_after", None)


def test_an_endpoint_that_is_not_ready_is_refused_before_any_request(world: AzureWorld) -> None:
    world.fake.endpoints["ftbot-ep"]["properties"]["provisioningState"] = "Creating"
    asked = len(world.scoring.requests)
    with pytest.raises(Unavailable, match="not ready"):
        next(world.backend.chat_stream("ftbot-ep", HELLO))
    assert len(world.scoring.requests) == asked


def test_a_filtered_prompt_streams_as_an_empty_answer_that_says_so(world: AzureWorld) -> None:
    def filtered() -> httpx.Response:
        inner = {"content_filter_result": {"self_harm": {"filtered": True}}}
        body = {"error": {"code": "content_filter", "message": "filtered", "innererror": inner}}
        return httpx.Response(400, json=body)

    world.scoring.queue += [filtered(), filtered()]
    whole = world.backend.chat("ftbot-ep", HELLO)
    (last,) = world.backend.chat_stream("ftbot-ep", HELLO)
    assert last.finish_reason == whole.finish_reason == "content_filter"
    assert last.content_filter == whole.content_filter and last.content_filter


def test_filter_results_in_the_stream_reach_the_last_piece(world: AzureWorld) -> None:
    flagged = {"violence": {"filtered": True, "severity": "high"}}
    events = chat_chunks("cut here", finish_reason="content_filter", filters=flagged)
    events.insert(0, {"choices": [], "prompt_filter_results": [{"prompt_index": 0}]})
    world.scoring.queue.append(httpx.Response(200, headers=SSE_HEADERS, content=sse(events)))
    *_, last = world.backend.chat_stream("ftbot-ep", HELLO)
    assert last.finish_reason == "content_filter"
    assert last.content_filter == {"prompt": [{"prompt_index": 0}], "completion": flagged}


def test_an_endpoint_that_answers_in_one_body_still_streams(world: AzureWorld) -> None:
    """A serverless model that ignores ``stream`` and answers JSON: one piece, then the facts."""
    body = {
        "choices": [{"index": 0, "finish_reason": "length", "message": {"content": "whole answer"}}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4},
    }
    world.scoring.queue.append(httpx.Response(200, json=body))
    first, last = world.backend.chat_stream("ftbot-ep", HELLO)
    assert first.text == "whole answer" and last.finish_reason == "length" and last.usage
    assert last.usage.total_tokens == 4


def test_an_error_event_mid_stream_is_unavailable_after_the_pieces_so_far(world: AzureWorld) -> None:
    events = [*chat_chunks("partial answer")[:3], stream_error("overloaded; sig=s3cret")]
    world.scoring.queue.append(httpx.Response(200, headers=SSE_HEADERS, content=sse(events, done=False)))
    got: list[str] = []
    with pytest.raises(Unavailable) as err:
        for delta in world.backend.chat_stream("ftbot-ep", HELLO):
            got.append(delta.text)
    assert [t for t in got if t] == ["partial", " answer"]
    assert err.value.message.startswith("The endpoint ftbot-ep stopped answering: overloaded")
    assert "s3cret" not in err.value.message


def test_a_connection_lost_mid_stream_is_unavailable(world: AzureWorld) -> None:
    def body() -> Iterator[bytes]:
        yield sse(chat_chunks("partial answer")[:2], done=False)
        raise httpx.ReadError("connection reset")

    world.scoring.queue.append(httpx.Response(200, headers=SSE_HEADERS, content=body()))
    got: list[str] = []
    with pytest.raises(Unavailable, match="stopped answering"):
        for delta in world.backend.chat_stream("ftbot-ep", HELLO):
            got.append(delta.text)
    assert [t for t in got if t] == ["partial"]


def test_an_endpoint_in_a_deploy_target_streams_from_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_target_world(monkeypatch)
    world.backend.submit_job(make_spec(model=PHI))
    world.home.advance(4)
    model = world.backend.get_job("ftbot-job-1").output_model
    assert model
    west = world.backend.endpoints_at("west")
    west.deploy_model(model, "ftbot-west-1")
    deltas = list(west.chat_stream("ftbot-west-1", HELLO))
    assert "".join(_texts(deltas)) == "echo: Hello there" and deltas[-1].usage
    sent = world.scoring.requests[-1]
    assert str(sent.url) == "https://ftbot-west-1.westus3.models.ai.azure.com/v1/chat/completions"
    assert sent.headers["authorization"] == world.target.endpoint_keys["ftbot-west-1"]["primaryKey"]
    assert world.target.calls("POST", r"/serverlessEndpoints/ftbot-west-1/listKeys$")
    assert not world.home.calls("POST", r"/listKeys$")
