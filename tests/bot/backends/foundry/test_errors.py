"""Service errors read as clear sentences: each case of bot/backends/foundry/errors.py on the wire."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.backends.foundry.backend import FoundryBackend
from bot.backends.foundry.errors import scrub
from commands.errors import BackendAuthError, Conflict, InvalidInput, NotFound, Unavailable
from commands.models import JobSpec
from tests.fakes.foundry import FakeFoundry

World = tuple[FoundryBackend, FakeFoundry]


def _error(code: str, message: str) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "param": None, "type": "error"}}


def test_unauthorized_names_the_role_and_never_the_key(world: World) -> None:
    backend, fake = world
    fake.inject(
        "GET",
        r"^/models$",
        401,
        _error("unauthorized", "Access denied due to invalid subscription key test-key."),
    )
    with pytest.raises(BackendAuthError) as refused:
        backend.list_base_models()
    assert "Cognitive Services OpenAI Contributor" in refused.value.message
    assert "test-key" not in refused.value.message


def test_forbidden_on_arm_names_the_role_and_account(world: World) -> None:
    backend, fake = world
    fake.inject(
        "GET",
        r"/deployments/ftbot-x$",
        403,
        _error("AuthorizationFailed", "The client does not have authorization."),
    )
    with pytest.raises(BackendAuthError) as refused:
        backend.get_endpoint("ftbot-x")
    assert (
        "Cognitive Services OpenAI Contributor" in refused.value.message
        and "ftbot-res" in refused.value.message
    )


def test_quota_429_is_a_conflict_saying_so(world: World, make_spec: Callable[..., JobSpec]) -> None:
    backend, fake = world
    fake.inject(
        "POST",
        r"^/fine_tuning/jobs$",
        429,
        _error("quotaExceeded", "You have reached the maximum of 3 running jobs."),
    )
    with pytest.raises(
        Conflict, match=r"no quota left for this: You have reached the maximum of 3 running jobs\."
    ):
        backend.submit_job(make_spec())
    assert len(fake.jobs) == 0


def test_throttling_after_the_clients_retries_is_unavailable_with_retry_after(world: World) -> None:
    backend, fake = world
    fake.inject(
        "GET",
        r"^/models$",
        429,
        _error("tooManyRequests", "Slow down."),
        times=3,
        headers={"retry-after-ms": "1"},
    )
    with pytest.raises(Unavailable) as throttled:
        backend.list_base_models()
    assert throttled.value.retry_after == pytest.approx(0.001)
    assert len(fake.requests_to("GET", r"^/models$")) == 3  # first try and the client's 2 retries


def test_server_errors_and_timeouts_are_unavailable(world: World) -> None:
    backend, fake = world
    fake.inject(
        "GET",
        r"^/models$",
        503,
        _error("serviceUnavailable", "busy"),
        times=3,
        headers={"retry-after-ms": "1"},
    )
    with pytest.raises(Unavailable, match="HTTP 503"):
        backend.list_base_models()
    fake.inject_timeout("GET", r"^/models$", times=3)
    with pytest.raises(Unavailable, match="did not answer in time"):
        backend.catalogue.refresh_base_models()


def test_model_that_cannot_be_fine_tuned_here(world: World, make_spec: Callable[..., JobSpec]) -> None:
    backend, fake = world
    message = "The specified base model does not support fine-tuning."
    fake.inject("POST", r"^/fine_tuning/jobs$", 400, _error("invalidPayload", message))
    with pytest.raises(InvalidInput) as refused:
        backend.submit_job(make_spec())
    assert message in refused.value.message and "region" in refused.value.message


def test_not_found_names_the_thing(world: World) -> None:
    backend, _ = world
    with pytest.raises(NotFound, match="ftbot-none"):
        backend.get_endpoint("ftbot-none")


def test_scrub_removes_keys_and_tokens() -> None:
    assert scrub("bad api-key=abc123 and Bearer eyJ0.x.y") == "bad api-key=*** and Bearer ***"
    assert (
        scrub("https://a.blob.core.windows.net/c/f?sv=1&sig=secret")
        == "https://a.blob.core.windows.net/c/f?sv=***&sig=***"
    )
