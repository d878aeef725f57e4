"""What the core needs from the outside, as Protocols. ``bot/`` provides the implementations."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from commands.models import (
    BaseModelInfo,
    ChatReply,
    ChatRequest,
    DatasetRef,
    Endpoint,
    Job,
    JobSpec,
    Task,
)


@runtime_checkable
class FineTuningBackend(Protocol):
    """One Protocol for both backends (Azure AI Foundry and local).

    Methods are synchronous and may block (network, subprocesses): callers run them in worker threads,
    never on an event loop or Slack's ack path. Errors are ``commands.errors`` types:
    ``NotFound`` for unknown ids, ``InvalidInput`` for what the service refuses, ``Conflict`` for the
    one-deployment-per-model and delete-order rules, ``Unavailable`` for throttling and outages.
    """

    #: "azure" or "local"
    kind: str

    def list_base_models(self) -> list[BaseModelInfo]:
        """Fine-tunable base models. Cached by the implementation; cheap to call repeatedly."""
        ...

    def get_base_model(self, name: str) -> BaseModelInfo:
        """One base model by the name ``list_base_models`` shows. ``NotFound`` otherwise."""
        ...

    def upload_dataset(self, path: Path, *, name: str, task: Task) -> DatasetRef:
        """Make a local JSONL file available to the backend; returns an ``asset`` ref."""
        ...

    def submit_job(self, spec: JobSpec) -> Job:
        """Start a job. Idempotent on ``spec.name``: if a job of that name exists, return it unchanged."""
        ...

    def get_job(self, job_id: str) -> Job:
        """State, events, metrics and output model of a job."""
        ...

    def cancel_job(self, job_id: str) -> Job:
        """Ask the backend to cancel. Cancelling a terminal job returns it unchanged."""
        ...

    def deploy_model(self, model: str, endpoint_name: str) -> Endpoint:
        """Start serving a fine-tuned model. The returned endpoint may still be ``creating``; poll
        ``get_endpoint``. A model already deployed raises ``Conflict(existing=<endpoint name>)``."""
        ...

    def get_endpoint(self, name: str) -> Endpoint:
        ...

    def list_endpoints(self) -> list[Endpoint]:
        ...

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        """``POST /v1/chat/completions`` on the endpoint with its key. The key never leaves the backend."""
        ...

    def delete_endpoint(self, name: str) -> None:
        """Tear down and wait until it is gone. Deleting an endpoint that is already gone is not an error."""
        ...

    def delete_model(self, model: str) -> None:
        """Delete a fine-tuned model. ``Conflict`` naming the endpoint while one serves it."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...
