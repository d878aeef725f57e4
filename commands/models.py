"""Typed values of the fine-tuning domain, shared by use cases, backends and the Slack layer.

Backends take and return these, never SDK entities.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Task(StrEnum):
    CHAT_COMPLETION = "chat_completion"
    TEXT_COMPLETION = "text_completion"


class JobState(StrEnum):
    """Normalised job state. Backends map their own statuses onto these; the raw one stays in
    ``Job.service_status``. ``PENDING`` is ftbot's own: recorded, not yet accepted by the backend."""

    PENDING = "pending"
    HELD = "held"  # ftbot's own: over the channel's budget, waiting for an approver; never started as is
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"  # the service holds it on request (pausing and resuming count as running)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # a status the backend reported that we do not know: keep polling, show it as-is

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class EndpointState(StrEnum):
    CREATING = "creating"
    READY = "ready"
    FAILED = "failed"
    DELETING = "deleting"
    DELETED = "deleted"

    @property
    def terminal(self) -> bool:
        return self in (EndpointState.READY, EndpointState.FAILED, EndpointState.DELETED)


class Method(StrEnum):
    """How a job trains: supervised on chat examples, or DPO on preference pairs
    (``input``, ``preferred_output``, ``non_preferred_output``)."""

    SUPERVISED = "supervised"
    DPO = "dpo"


class Hyperparameters(Frozen):
    """The portal's names. ``None`` means Default (the service or ftbot picks from the data).
    ``beta`` is DPO's only."""

    n_epochs: int | None = Field(default=None, ge=1, le=50)
    batch_size: int | None = Field(default=None, ge=1, le=256)
    learning_rate_multiplier: float | None = Field(default=None, gt=0, le=10)
    beta: float | None = Field(default=None, gt=0, le=2)

    @property
    def is_default(self) -> bool:
        return (
            self.n_epochs is None
            and self.batch_size is None
            and self.learning_rate_multiplier is None
            and self.beta is None
        )


class DatasetRef(Frozen):
    """Where training or validation data lives.

    ``file``: a local JSONL path; ``url``: an https URL the backend can read itself (Blob SAS, web);
    ``asset``: an id returned by ``Backend.upload_dataset`` (Azure data asset / local dataset id).
    """

    kind: Literal["file", "url", "asset"]
    value: str
    name: str | None = None  # display name (file name), never a secret-bearing URL


class ServiceDataset(Frozen):
    """A dataset the backend's service already keeps, so a job can train on it without an upload: one of
    the Azure AI Foundry project's own data assets (``kind="data_asset"``, ``ref`` ``azureml:NAME:VERSION``)
    or a file uploaded to Azure OpenAI with purpose ``fine-tune`` (``kind="file"``, ``ref`` ``file-…``)."""

    ref: str  # what a job references: ``azureml:NAME:VERSION`` or ``file-…``
    name: str  # what users know it by (the asset's name and version, the file's name)
    kind: Literal["data_asset", "file"]
    size: int | None = None  # bytes; None: the service did not say
    created_at: datetime | None = None


class BaseModelInfo(Frozen):
    name: str  # what `/finetune models` shows and `--model` takes
    version: str | None = None
    source: str  # registry name (azureml, azureml-meta...) or "local"
    description: str = ""
    tasks: tuple[Task, ...] = (Task.CHAT_COMPLETION,)
    deploy_regions: tuple[str, ...] = ()  # maas-finetuning-deploy-regions; empty: anywhere / n/a
    needs_subscription: bool = False  # marketplace subscription before training (non-Microsoft)
    context_length: int = 4096
    methods: tuple[Method, ...] = (Method.SUPERVISED,)  # what the service says the model can train with
    model_id: str | None = None  # backend's full id (azureml://registries/.../versions/N)


class JobSpec(Frozen):
    """Everything needed to start a fine-tuning job. ``name`` is the idempotency key: submitting the
    same name twice never creates two jobs."""

    name: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    base_model: str
    task: Task = Task.CHAT_COMPLETION
    training: DatasetRef
    validation: DatasetRef | None = None
    hyperparameters: Hyperparameters = Hyperparameters()
    suffix: str | None = Field(default=None, max_length=40)
    output_model_name: str
    tags: dict[str, str] = Field(default_factory=dict)
    method: Method = Method.SUPERVISED
    training_type: str | None = None  # the backend's training tier (foundry); None: the backend's default


class JobEvent(Frozen):
    at: datetime
    kind: str  # queued, started, epoch, completed, failed, cancelled, info
    message: str


class MetricPoint(Frozen):
    """One row of the results file (Azure / OpenAI column names)."""

    step: int
    epoch: int | None = None
    train_loss: float | None = None
    train_mean_token_accuracy: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None


class Job(Frozen):
    id: str  # the backend's job name (== JobSpec.name)
    state: JobState
    service_status: str  # the backend's own word, kept as-is
    base_model: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None  # the service's reason when failed
    events: tuple[JobEvent, ...] = ()
    metrics: tuple[MetricPoint, ...] = ()
    metrics_note: str | None = None  # why metrics are missing, when they are
    output_model: str | None = None  # registered model name when succeeded
    studio_url: str | None = None
    trained_tokens: int | None = None


class Checkpoint(Frozen):
    """A deployable snapshot of a job's model. ``number`` is how the thread and ``--checkpoint N``
    name it: the step on ``foundry``, the epoch on ``local``."""

    number: int
    model: str  # what ``deploy_model`` takes to serve this checkpoint
    step: int | None = None
    epoch: int | None = None
    metrics: dict[str, float] = Field(default_factory=dict)  # train_loss, valid_loss, *_accuracy
    created_at: datetime | None = None


class Tier(Frozen):
    """A training tier or deployment SKU a backend offers: ``name`` is the value sent to the service
    and taken by ``--training-type`` / the settings; ``note`` says in one line what it means for data
    residency and price."""

    name: str
    label: str
    note: str = ""


class DeployOptions(Frozen):
    """Everything one Deploy asks for, stored whole with its approval: Approve deploys exactly this.
    ``None`` fields mean the default (the final model, the backend's SKU setting)."""

    checkpoint: int | None = None  # ``Checkpoint.number``
    sku: str | None = None
    target: str | None = None  # a ``DeployTarget.name`` (FTBOT_DEPLOY_TARGETS); None: ``home``


#: The target that is the training project itself.
HOME_TARGET = "home"


class DeployTarget(Frozen):
    """Where an endpoint can live (FTBOT_DEPLOY_TARGETS: ``NAME=SUBSCRIPTION/RESOURCE_GROUP/PROJECT``).
    ``home`` is the training project. ``project`` is the Foundry project on ``azure``, the Azure OpenAI
    account on ``foundry``."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
    subscription_id: str = Field(min_length=1)
    resource_group: str = Field(min_length=1)
    project: str = Field(min_length=1)

    @property
    def path(self) -> str:
        """``SUBSCRIPTION/RESOURCE_GROUP/PROJECT``, as the setting writes it (no secret in it)."""
        return f"{self.subscription_id}/{self.resource_group}/{self.project}"


class Endpoint(Frozen):
    name: str
    model: str  # the fine-tuned model it serves
    state: EndpointState
    scoring_uri: str | None = None
    created_at: datetime | None = None
    error: str | None = None
    studio_url: str | None = None
    expires_at: datetime | None = None  # when the service deletes it on its own (Developer tier, idle)


class ChatMessage(Frozen):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(Frozen):
    messages: tuple[ChatMessage, ...] = Field(min_length=1)
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=256, ge=1, le=4096)


class Usage(Frozen):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatReply(Frozen):
    content: str
    finish_reason: str | None = None
    usage: Usage = Usage()
    content_filter: dict[str, object] | None = None  # reported, never hidden


class ChatDelta(Frozen):
    """One piece of a streamed answer: text as it comes; the last piece carries the finish reason and,
    where the service reports them, the usage and the content filter's results."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    content_filter: dict[str, object] | None = None  # as ``ChatReply``'s, on the last piece


_NORMALISE = re.compile(r"[^a-z0-9]+")


def normalized_model_name(name: str) -> str:
    """``normalized_model_name`` of Microsoft's "Fine-tune models using serverless API deployments in
    Azure AI Foundry": lower-case, runs of anything else become one dash."""
    return _NORMALISE.sub("-", name.lower()).strip(
        "-"  # pragma: no mutate (only [a-z0-9-] is left: "XX-XX" strips the same)
    )
