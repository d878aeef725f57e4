"""Test chat on a deployment name: the reply, a content filter, an unknown or not-ready deployment."""

from __future__ import annotations

import pytest

from bot.backends.foundry.backend import FoundryBackend
from commands.errors import NotFound, Unavailable
from commands.models import ChatMessage, ChatRequest
from tests.fakes.foundry import FakeFoundry

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
