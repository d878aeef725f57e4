"""The metrics/on-call wrapper keeps a backend's optional ports: a paused job can still be paused with
metrics on. Checked statically, as Python 3.12's ``isinstance`` on a Protocol does (past __getattr__)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest

from bot.backends.observed import OPTIONAL, observe
from commands.errors import BackendAuthError
from commands.models import ChatDelta, ChatMessage, ChatRequest
from commands.ports import CheckpointedBackend, PausableBackend, StreamingChat, TieredBackend
from tests.fakes.backend import FakeBackend, RichFakeBackend


def _statically_has(obj: object, name: str) -> bool:
    try:
        inspect.getattr_static(obj, name)
    except AttributeError:
        return False
    return True


def test_the_wrapper_has_exactly_the_optional_methods_the_backend_has() -> None:
    rich, plain = observe(RichFakeBackend(), metrics=False), observe(FakeBackend(), metrics=False)
    for port in (PausableBackend, CheckpointedBackend, TieredBackend):
        assert isinstance(rich, port) and not isinstance(plain, port)
    have = {name for name in OPTIONAL if _statically_has(rich, name)}
    assert have == {name for name in OPTIONAL if callable(getattr(RichFakeBackend(), name, None))}
    assert not any(_statically_has(plain, name) for name in OPTIONAL)


def test_forwarded_calls_reach_the_backend_and_are_counted_as_its_own() -> None:
    inner = RichFakeBackend()
    observed = observe(inner, metrics=False)
    assert observed.training_tiers() == inner.training_tiers()  # type: ignore[attr-defined]


class _LosesItsCredentialMidStream(FakeBackend):
    def chat_stream(self, endpoint_name: str, request: ChatRequest) -> Iterator[ChatDelta]:
        yield ChatDelta(text="half")
        raise BackendAuthError("The key was revoked.")


def test_a_streaming_backend_still_streams_and_an_error_between_pieces_is_the_calls() -> None:
    observed = observe(_LosesItsCredentialMidStream(), metrics=False)
    assert isinstance(observed, StreamingChat) and not isinstance(
        observe(object(), metrics=False), StreamingChat
    )
    stream = observed.chat_stream("ep", ChatRequest(messages=(ChatMessage(role="user", content="hi"),)))
    assert next(stream) == ChatDelta(text="half") and observed.credential_problem is None
    with pytest.raises(BackendAuthError):
        next(stream)
    assert observed.credential_problem == "The key was revoked."
