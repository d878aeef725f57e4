"""What the core needs from the outside, as Protocols. ``bot/`` provides the implementations."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

from commands.dataset.tokens import ModelTokenizer
from commands.models import (
    BaseModelInfo,
    ChatDelta,
    ChatReply,
    ChatRequest,
    Checkpoint,
    DatasetRef,
    DeployOptions,
    DeployTarget,
    Endpoint,
    EndpointState,
    Job,
    JobSpec,
    ServiceDataset,
    Task,
    Tier,
)
from commands.records import (
    ApprovalRecord,
    AuditEntry,
    CardDelivery,
    EndpointRecord,
    EvaluationFigures,
    JobRecord,
    LaunchRecord,
    OutgoingPost,
    ThreadPost,
    ViewStateRecord,
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

    def deploy_model(self, model: str, endpoint_name: str, *, sku: str | None = None) -> Endpoint:
        """Start serving a fine-tuned model (or a checkpoint's ``model``). The returned endpoint may
        still be ``creating``; poll ``get_endpoint``. A model already deployed raises
        ``Conflict(existing=<endpoint name>)``. ``sku``: a deployment SKU where the backend has them
        (``InvalidInput`` where it has none); ``None``: the backend's default."""
        ...

    def get_endpoint(self, name: str) -> Endpoint: ...

    def list_endpoints(self) -> list[Endpoint]: ...

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        """``POST /v1/chat/completions`` on the endpoint with its key. The key never leaves the backend."""
        ...

    def delete_endpoint(self, name: str) -> None:
        """Tear down and wait until it is gone. Deleting an endpoint that is already gone is not an error."""
        ...

    def delete_model(self, model: str) -> None:
        """Delete a fine-tuned model. ``Conflict`` naming the endpoint while one serves it."""
        ...


@runtime_checkable
class PausableBackend(Protocol):
    """A backend whose jobs can be paused and resumed (``foundry``). Both return the job as the
    service now reports it; pausing a job that cannot be paused raises ``Conflict``."""

    def pause_job(self, job_id: str) -> Job: ...

    def resume_job(self, job_id: str) -> Job: ...


@runtime_checkable
class CheckpointedBackend(Protocol):
    """A backend that keeps deployable checkpoints of a job (``foundry``: the last three steps the
    service keeps; ``local``: one per epoch). Oldest first; empty until the job has any."""

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]: ...


@runtime_checkable
class TieredBackend(Protocol):
    """A backend with training tiers and deployment SKUs (``foundry``). Each list starts with the
    default (the operator's setting)."""

    def training_tiers(self) -> list[Tier]: ...

    def deployment_skus(self) -> list[Tier]: ...


@runtime_checkable
class ServiceDatasets(Protocol):
    """A backend whose service keeps datasets a job can train on without an upload (``azure``: the
    project's own ``uri_file`` data assets; ``foundry``: files uploaded with purpose ``fine-tune``). A job
    references one by its ``ref``; ftbot downloads it only to check it locally."""

    def list_datasets(self) -> list[ServiceDataset]:
        """The JSONL datasets the service keeps (the latest version of each data asset), newest first."""
        ...

    def get_dataset(self, ref: str) -> ServiceDataset:
        """One dataset by its ``ref``, with its size when the service tells it. ``NotFound`` when there is
        none; ``InvalidInput`` when it is not one JSONL file."""
        ...

    def download_dataset(self, ref: str, dest: Path) -> None:
        """Write the dataset's bytes to ``dest``."""
        ...


class EndpointOps(Protocol):
    """The endpoint half of ``FineTuningBackend``, as it acts in one deploy target: every backend is one
    (for its training project), and ``TargetedBackend.endpoints_at`` gives one per other target."""

    def deploy_model(self, model: str, endpoint_name: str, *, sku: str | None = None) -> Endpoint: ...

    def get_endpoint(self, name: str) -> Endpoint: ...

    def list_endpoints(self) -> list[Endpoint]: ...

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply: ...

    def delete_endpoint(self, name: str) -> None: ...


@runtime_checkable
class TargetedBackend(Protocol):
    """A backend that deploys to other projects than the one it trains in (FTBOT_DEPLOY_TARGETS), as
    Microsoft's article on serverless fine-tuning describes: another region or another subscription,
    with the model id of the training project."""

    def deploy_targets(self) -> list[DeployTarget]:
        """Every target, ``home`` (the training project) first."""
        ...

    def check_target(self, target: str, model: str, *, sku: str | None = None) -> None:
        """The article's rules for deploying ``model`` (a fine-tuned model or checkpoint) to ``target``
        with deployment SKU ``sku`` (None: the backend's default), checked before any deploy call:
        ``PermissionDenied`` naming the subscription the credential cannot reach (the training one or the
        target's), ``InvalidInput`` naming the allowed regions when the target's region is not one the
        model's fine-tunes can be deployed to (with that SKU, where regions depend on it)."""
        ...

    def endpoints_at(self, target: str) -> EndpointOps:
        """The endpoint operations in ``target`` (``NotFound`` for a name that is not configured)."""
        ...


@runtime_checkable
class BaseModelChat(Protocol):
    """A backend that can ask a fine-tuned model's base model the same question (evaluation, side-by-side
    test chat): ``local`` in the endpoint's own process without the adapter; ``foundry`` and ``azure``
    through a base deployment named in the settings."""

    def base_model_missing(self, endpoint_name: str, base_model: str) -> str | None:
        """None when ``chat_base`` can answer as ``base_model``; otherwise why not, as a sentence."""
        ...

    def chat_base(self, endpoint_name: str, base_model: str, request: ChatRequest) -> ChatReply: ...


@runtime_checkable
class StreamingChat(Protocol):
    """Endpoint operations that can stream an answer as it is generated (``stream: true`` on the
    OpenAI-compatible endpoints). The iterator blocks between pieces; it raises the same
    ``commands.errors`` types as ``chat``, before the first piece or between pieces."""

    def chat_stream(self, endpoint_name: str, request: ChatRequest) -> Iterator[ChatDelta]: ...


@runtime_checkable
class EvaluationLine(Protocol):
    """A store transaction that knows a job's latest evaluation, as the card's line says it."""

    def evaluation_line(self, job_id: str) -> str | None: ...


@runtime_checkable
class EvaluationFiguresReader(Protocol):
    """A store transaction that knows a job's latest evaluation's figures (``/finetune compare``)."""

    def evaluation_figures(self, job_id: str) -> EvaluationFigures | None: ...


@runtime_checkable
class TokenizerSource(Protocol):
    """A backend that can count a dataset with a base model's own tokenizer (``local``: its real models
    once their folder is on disk). ``None``: no tokenizer for that model; the counts stay approximate."""

    def tokenizer_for(self, model: str) -> ModelTokenizer | None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class StoreTx(Protocol):
    """The repository inside one transaction. Never commits; ``Store.transaction`` does."""

    # jobs
    def add_job(self, job: JobRecord) -> None: ...
    def get_job(self, job_id: str) -> JobRecord: ...  # NotFound
    def find_jobs(
        self,
        *,
        channel_id: str | None = None,
        user_id: str | None = None,
        limit: int = 20,  # pragma: no mutate (a Protocol's stub: no call reads its default)
    ) -> list[JobRecord]: ...
    def update_job(
        self,
        job_id: str,
        *,
        bump: bool = True,  # pragma: no mutate (a Protocol's stub: no call reads its default)
        **changes: object,
    ) -> JobRecord: ...
    def held_jobs(self, *, before: datetime) -> list[JobRecord]:
        """Jobs HELD over budget (waiting for an approver) since before ``before``, oldest first."""
        ...

    def status_message(self, job_id: str) -> tuple[str, str] | None:
        """(channel, ts) of the job's card once posted (a rerun's card links to its first job's)."""
        ...

    def request_cancel(self, job_id: str, by: str, at: datetime) -> str | None:
        """Mark a cancel as requested. Returns None if this call won, or who requested it first."""
        ...

    def cancel_requested(self, job_id: str) -> bool: ...
    def progress(self, job_id: str) -> tuple[int, int]:
        """(backend events already turned into thread posts, finished epochs already posted)."""
        ...

    def set_progress(self, job_id: str, events_seen: int, epochs_seen: int) -> None: ...

    # endpoints
    def claim_endpoint(self, endpoint: EndpointRecord) -> EndpointRecord:
        """Insert a CREATING endpoint. ``Conflict(existing=name)`` when the model already has a live
        endpoint or the name is taken — enforced by the database, so concurrent clicks get one."""
        ...

    def get_endpoint(self, name: str) -> EndpointRecord: ...  # NotFound
    def endpoints_for_job(self, job_id: str) -> list[EndpointRecord]: ...
    def live_endpoints(self) -> list[EndpointRecord]: ...
    def transition_endpoint(
        self, name: str, from_states: tuple[EndpointState, ...], to_state: EndpointState, **changes: object
    ) -> EndpointRecord | None:
        """Move an endpoint between states only if it is in one of ``from_states`` (None otherwise)."""
        ...

    def touch_endpoint(self, name: str, **changes: object) -> EndpointRecord: ...

    # approvals
    def open_approval(
        self,
        job_id: str,
        action: str,
        requested_by: str,
        at: datetime,
        *,
        options: DeployOptions | None = None,
    ) -> tuple[ApprovalRecord, bool]:
        """(the pending request, whether this call created it). ``options``: the deploy request, kept
        whole with it (a request already pending keeps its own)."""
        ...

    def get_approval(self, approval_id: int) -> ApprovalRecord: ...  # NotFound
    def pending_approval(self, job_id: str) -> ApprovalRecord | None: ...
    def decide_approval(
        self, approval_id: int, approved: bool, by: str, at: datetime
    ) -> ApprovalRecord | None:
        """Record a decision if the request is still pending (None if someone decided first)."""
        ...

    # audit log and thread outbox
    def audit(self, entry: AuditEntry) -> None: ...
    def audit_entries(self, limit: int = 1000) -> list[AuditEntry]:  # pragma: no mutate (a stub's default)
        """The audit log, oldest first."""
        ...

    def post(self, post: ThreadPost, *, key: str, at: datetime) -> bool:
        """Queue a thread message once per ``key``. False when that key was queued before."""
        ...

    # launches in progress (check, submit, start)
    def begin_launch(self, launch: LaunchRecord) -> None:
        """Record a launch as ``checking``. ``Conflict(existing=id)`` when the id is taken."""
        ...

    def get_launch(self, launch_id: str) -> LaunchRecord: ...  # NotFound
    def finish_launch(self, launch_id: str, job_id: str, *, at: datetime) -> None:
        """checking → submitted with its job, in the transaction that adds the job. ``Conflict`` when
        the launch was answered meanwhile (so the job is rolled back with it)."""
        ...

    def checking_launches(self) -> list[LaunchRecord]:
        """Launches still ``checking``, oldest first (the scheduler decides which were cut short)."""
        ...

    def answer_launch(self, launch_id: str, *, at: datetime) -> bool:
        """checking → answered. False when it was not checking any more (another replica answered it,
        or its job was submitted), so a launch is answered once."""
        ...

    # view state kept server-side (wizard state too large for private_metadata)
    def put_view_state(self, record: ViewStateRecord) -> None:
        """Keep ``record`` under its key, replacing what that key held. ``InvalidInput`` when the
        payload cannot be kept (``ViewStateRecord.check_storable``); ``Conflict`` when the key is held
        by another workspace."""
        ...

    def get_view_state(self, key: str, *, team_id: str, now: datetime) -> ViewStateRecord | None:
        """The state under ``key``; None when there is none, it expired by ``now``, or it belongs to
        another workspace than ``team_id``."""
        ...

    def purge_view_states(self, now: datetime) -> int:
        """Delete the states expired by ``now``; returns how many."""
        ...


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[StoreTx]: ...


class SchedulerTx(StoreTx, Protocol):
    """What the scheduler and the Slack delivery need besides the core: leases shared by replicas, job
    claims for polling, card delivery bookkeeping and the outbox's delivery side."""

    # leases and polling claims
    def claim_due_jobs(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        next_poll: datetime,
        limit: int,
        *,
        pending_grace: timedelta | None = None,
    ) -> list[str]:
        """Lease up to ``limit`` live jobs due for a poll (unleased, leased by ``owner`` or expired)."""
        ...

    def live_job_count(self) -> int: ...
    def release_leases(self, owner: str) -> None:
        """Give up every lease ``owner`` holds (a clean shutdown)."""
        ...

    def acquire_lease(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the named singleton lease; False while another owner holds it."""
        ...

    def release_lease(self, name: str, owner: str) -> None: ...
    def lease_owners(self, now: datetime) -> set[str]: ...
    def expire_leases(self, owners: Collection[str]) -> None: ...
    def endpoints_to_poll(self) -> list[str]: ...

    # job cards
    def status_message(self, job_id: str) -> tuple[str, str] | None:
        """(channel, ts) of the job's card once posted."""
        ...

    def save_status_message(self, job_id: str, channel_id: str, ts: str, at: datetime) -> None: ...
    def cards_to_deliver(self, limit: int) -> list[CardDelivery]: ...
    def mark_card_posting(self, job_id: str, at: datetime) -> None:
        """Recorded (and committed) just before a card's first post, so a deliverer that died before
        recording Slack's answer is found out by the next one."""

    def mark_card_delivered(self, job_id: str, version: int) -> None: ...
    def undelivered_cards(self) -> int: ...

    # outbox delivery
    def outbox_due(self, now: datetime, limit: int) -> list[OutgoingPost]: ...
    def mark_sending(self, outbox_id: int, at: datetime) -> None:
        """Recorded (and committed) just before a thread post is sent."""

    def mark_sent(self, outbox_id: int, at: datetime) -> None: ...
    def mark_failed(self, outbox_id: int, error: str, retry_at: datetime) -> None: ...
    def unsent_count(self) -> int: ...


class SchedulerStore(Protocol):
    def transaction(self) -> AbstractContextManager[SchedulerTx]: ...


class ApproverDirectory(Protocol):
    """Who may approve deploys and tear-downs (FTBOT_APPROVERS: user ids and user-group ids)."""

    def is_approver(self, user_id: str) -> bool: ...
    def approvers(self) -> list[str]: ...
