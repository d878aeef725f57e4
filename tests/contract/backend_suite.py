"""The shared Protocol test-suite: every FineTuningBackend must pass it.

A backend's test module subclasses ``BackendContract`` and provides a ``harness`` fixture returning an
object that satisfies ``BackendHarness``. The harness knows how to make time pass for its backend
(advance a fake clock, or wait for real training) — the assertions here are the same for all.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Protocol

import pytest

from commands.errors import Conflict, NotFound
from commands.models import (
    ChatMessage,
    ChatRequest,
    DatasetRef,
    Endpoint,
    EndpointState,
    Job,
    JobSpec,
    JobState,
)
from commands.ports import FineTuningBackend, StreamingChat


class BackendHarness(Protocol):
    backend: FineTuningBackend
    base_model: str

    def training_data(self) -> DatasetRef:
        """A valid chat dataset ready to submit (uploaded, or a ref the backend accepts)."""
        ...

    def spec(self, name: str, *, long_running: bool = False) -> JobSpec:
        """A JobSpec for ``base_model`` and ``training_data``. ``long_running``: a job that will not
        finish before a cancel arrives."""
        ...

    def wait_job(self, job_id: str, until: Callable[[Job], bool], timeout: float = 120) -> Job:
        """Poll ``get_job`` (making time pass as the backend needs) until ``until(job)`` holds."""
        ...

    def wait_endpoint(
        self, name: str, until: Callable[[Endpoint], bool], timeout: float = 60
    ) -> Endpoint: ...


def _parameters(function: Callable[..., object]) -> list[tuple[str, str, bool]]:
    """Name, kind and whether it has a default, for each parameter after ``self``."""
    params = list(inspect.signature(function).parameters.values())[1:]
    return [(p.name, p.kind.name, p.default is not p.empty) for p in params]


PROTOCOL_METHODS = sorted(
    name for name, member in vars(FineTuningBackend).items() if inspect.isfunction(member) and name[0] != "_"
)


class BackendContract:
    """Subclass in a ``Test*`` class and provide a ``harness`` fixture."""

    def test_methods_take_the_protocols_parameters(self, harness: BackendHarness) -> None:
        backend = harness.backend
        assert isinstance(backend, FineTuningBackend)
        assert backend.kind in ("azure", "foundry", "local")
        for name in PROTOCOL_METHODS:
            mine = getattr(type(backend), name)
            assert _parameters(mine) == _parameters(getattr(FineTuningBackend, name)), name

    def test_base_models_are_listed_and_found_by_name(self, harness: BackendHarness) -> None:
        names = [m.name for m in harness.backend.list_base_models()]
        assert harness.base_model in names
        info = harness.backend.get_base_model(harness.base_model)
        assert info.name == harness.base_model
        assert info.context_length > 0
        with pytest.raises(NotFound):
            harness.backend.get_base_model("no-such-model-xyz")

    def test_unknown_ids_raise_not_found(self, harness: BackendHarness) -> None:
        b = harness.backend
        with pytest.raises(NotFound):
            b.get_job("ftbot-no-such-job")
        with pytest.raises(NotFound):
            b.get_endpoint("ftbot-no-such-endpoint")
        with pytest.raises(NotFound):
            b.chat("ftbot-no-such-endpoint", ChatRequest(messages=(ChatMessage(role="user", content="hi"),)))

    def test_whole_lifecycle(self, harness: BackendHarness) -> None:
        b = harness.backend
        spec = harness.spec("ftbot-contract-life")
        first = b.submit_job(spec)
        assert first.id == spec.name
        assert first.state in (JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED, JobState.UNKNOWN)
        again = b.submit_job(spec)  # idempotent on the name: no second job
        assert again.id == first.id

        done = harness.wait_job(first.id, lambda j: j.state.terminal)
        assert done.state is JobState.SUCCEEDED, done.error
        assert done.output_model
        assert done.metrics or done.metrics_note
        assert any(e.kind == "completed" for e in done.events) or done.service_status

        model = done.output_model
        ep = b.deploy_model(model, "ftbot-contract-ep")
        assert ep.model == model
        ready = harness.wait_endpoint(ep.name, lambda e: e.state.terminal)
        assert ready.state is EndpointState.READY, ready.error
        assert ready.scoring_uri
        assert any(e.name == ep.name for e in b.list_endpoints())

        with pytest.raises(Conflict) as one_per_model:
            b.deploy_model(model, "ftbot-contract-ep2")
        assert one_per_model.value.existing == ep.name

        reply = b.chat(
            ep.name, ChatRequest(messages=(ChatMessage(role="user", content="Hello"),), max_tokens=8)
        )
        assert isinstance(reply.content, str)
        assert reply.usage.total_tokens > 0
        if isinstance(b, StreamingChat):  # streamed: text pieces, then the facts a whole reply carries
            *pieces, last = b.chat_stream(
                ep.name, ChatRequest(messages=(ChatMessage(role="user", content="Hello"),), max_tokens=8)
            )
            assert all(p.finish_reason is None and p.usage is None for p in pieces)
            assert last.text == "" and last.finish_reason and last.usage and last.usage.total_tokens > 0

        with pytest.raises(Conflict) as in_use:
            b.delete_model(model)
        assert in_use.value.existing == ep.name

        b.delete_endpoint(ep.name)
        b.delete_endpoint(ep.name)  # already gone: not an error
        try:
            gone = b.get_endpoint(ep.name)
        except NotFound:
            pass
        else:
            assert gone.state in (EndpointState.DELETING, EndpointState.DELETED)
        b.delete_model(model)

    def test_cancel(self, harness: BackendHarness) -> None:
        b = harness.backend
        job = b.submit_job(harness.spec("ftbot-contract-cancel", long_running=True))
        b.cancel_job(job.id)
        end = harness.wait_job(job.id, lambda j: j.state.terminal)
        assert end.state is JobState.CANCELLED
        again = b.cancel_job(job.id)  # cancelling a terminal job returns it unchanged
        assert again.state is JobState.CANCELLED
