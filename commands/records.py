"""What ftbot remembers about jobs, endpoints, approvals and actions: the store's typed values.

The store (``bot/store``) reads and writes these; use cases and Block Kit builders take them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from commands.errors import InvalidInput
from commands.models import DeployOptions, EndpointState, Frozen, JobSpec, JobState, MetricPoint


class Surface(StrEnum):
    SLASH = "slash"
    BUTTON = "button"
    MODAL = "modal"
    HOME = "home"
    SCHEDULER = "scheduler"
    CLI = "cli"


class Actor(Frozen):
    """Who asked, from where. ``user_id`` is a Slack user id (or ``scheduler``)."""

    user_id: str
    channel_id: str | None = None
    team_id: str = ""
    surface: Surface = Surface.SLASH


class DatasetSummary(Frozen):
    """What the card says about the data: enough to judge the job at a glance."""

    training_name: str
    examples: int
    total_tokens: int = 0
    billed_tokens_estimate: int = 0
    epochs: int | None = None  # the epochs the estimate assumed (Default: chosen from the data)
    approximate_tokens: bool = False
    warnings: int = 0
    validation_name: str | None = None
    validation_examples: int | None = None
    split_fraction: float | None = None
    #: why the training data was not validated here (a service dataset over the download limit); None: it was
    not_checked: str | None = None


class JobRecord(Frozen):
    id: str
    team_id: str = ""
    channel_id: str
    user_id: str
    spec: JobSpec
    summary: DatasetSummary | None = None
    state: JobState
    service_status: str = ""
    error: str | None = None
    output_model: str | None = None
    studio_url: str | None = None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    version: int = 1
    rerun_of: str | None = None  # the job this one reruns (``/finetune rerun``, Rerun… on a card)

    @property
    def base_model(self) -> str:
        return self.spec.base_model


class EndpointRecord(Frozen):
    name: str
    job_id: str
    model: str
    state: EndpointState
    scoring_uri: str | None = None
    error: str | None = None
    requested_by: str
    created_at: datetime
    updated_at: datetime
    ready_at: datetime | None = None
    deleted_at: datetime | None = None
    deleted_by: str | None = None  # who asked for the tear-down (``scheduler`` for the TTL)
    last_used_at: datetime | None = None
    idle_reminder_at: datetime | None = None
    options: DeployOptions = DeployOptions()  # what the deploy asked for (checkpoint, SKU)

    @property
    def live(self) -> bool:
        return self.state in (EndpointState.CREATING, EndpointState.READY, EndpointState.DELETING)


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ApprovalRecord(Frozen):
    id: int
    job_id: str
    action: str  # "deploy"
    state: ApprovalState
    requested_by: str
    decided_by: str | None = None
    created_at: datetime
    decided_at: datetime | None = None
    options: DeployOptions = DeployOptions()  # the deploy request, whole: Approve deploys exactly this


class AuditEntry(Frozen):
    at: datetime
    actor: str
    action: str
    target: str = ""
    surface: Surface
    result: str  # ok, denied, error
    detail: str = ""
    channel_id: str | None = None


class JobCard(Frozen):
    """Everything the job card shows, read in one go."""

    job: JobRecord
    endpoint: EndpointRecord | None = None
    pending_approval: ApprovalRecord | None = None
    metrics: tuple[MetricPoint, ...] = Field(default_factory=tuple)
    #: what the backend can do for this card's buttons: Pause/Resume, and a Deploy dialog with options
    pausable: bool = False
    deploy_dialog: bool = False
    #: the latest evaluation's line ("Evaluating: 18/40", "chrF 61.2 vs base 23.4 on 40 held-out examples")
    evaluation: str | None = None
    #: where the card of the job this one reruns is (channel, ts), for the card's "Rerun of" link
    rerun_origin: tuple[str, str] | None = None


class ModelScores(Frozen):
    """One model's headline figures in an evaluation, in percent (one decimal)."""

    chrf: float
    f1: float
    exact: float


class EvaluationFigures(Frozen):
    """A job's latest evaluation as ``/finetune compare`` shows it: the card's line, and once it has
    finished, each model's headline figures. ``base`` None: the fine-tuned model was asked alone."""

    line: str  # the card's Evaluation line ("Evaluating: 18/40", "chrF 61.2 vs base 23.4 on …")
    finished: bool = False  # succeeded: ``tuned`` (and ``base`` where asked) hold its figures
    examples: int = 0
    seen_in_training: bool = False
    checkpoint: int | None = None  # the checkpoint its endpoint served (None: the final model)
    tuned: ModelScores | None = None
    base: ModelScores | None = None


class PostKind(StrEnum):
    """Thread messages under a job card."""

    QUEUED = "queued"
    RUNNING = "running"
    EPOCH = "epoch"  # data: metric (MetricPoint dict), epoch
    SUCCEEDED = "succeeded"  # data: summary metrics; mentions the submitter
    FAILED = "failed"  # data: reason; mentions the submitter
    CANCELLED = "cancelled"  # data: by
    EVENT = "event"  # a backend event worth showing, text only
    LOSS_CHART = "loss_chart"  # rendered as a PNG upload (files_upload_v2) from the job's metrics
    OVERFIT_WARNING = "overfit_warning"  # data: train_loss, valid_loss
    APPROVAL_REQUEST = "approval_request"  # data: approval_id, requested_by, approvers (ids)
    APPROVAL_DECIDED = "approval_decided"  # data: approval_id, decided_by, approved (bool)
    DEPLOYING = "deploying"  # data: endpoint, by
    DEPLOYED = "deployed"  # data: endpoint
    DEPLOY_FAILED = "deploy_failed"  # data: endpoint, reason
    TORN_DOWN = "torn_down"  # data: endpoint, by, model (the model remains and can be redeployed)
    CHAT = "chat"  # data: endpoint, by, prompt, system, reply, usage, content_filter
    IDLE_REMINDER = "idle_reminder"  # data: endpoint, idle_hours
    TTL_TEARDOWN = "ttl_teardown"  # data: endpoint, ttl_hours
    REFUSED = "refused"  # data: action, by — recorded for on-call; the user is told ephemerally
    CHECKPOINTS = "checkpoints"  # data: checkpoints (Checkpoint dicts, oldest first) of a succeeded job
    PAUSED = "paused"  # data: by — a pause was asked for (the card follows the service's state)
    RESUMED = "resumed"  # data: by
    RERUN = "rerun"  # data: job (the rerun's id), by — in the thread of the job it reruns
    INFO = "info"
    EVALUATION = "evaluation"  # data: evaluation_id — the table and the examples where the models differ
    EVALUATION_CHART = "evaluation_chart"  # data: evaluation_id — a bar chart PNG upload


class ThreadPost(Frozen):
    """A message owed to a job's thread. ``text`` is plain (the builder escapes it); ``data`` holds
    the kind-specific values listed on ``PostKind``."""

    job_id: str
    kind: PostKind
    text: str = ""
    data: dict[str, object] = Field(default_factory=dict)


class OutgoingPost(Frozen):
    """A queued thread message ready to deliver, with where its job's thread is (None: no card yet)."""

    id: int
    job_id: str
    post: ThreadPost
    channel_id: str | None = None
    thread_ts: str | None = None
    attempts: int = 0
    sending_since: datetime | None = None  # an earlier send may have reached Slack: look before resending
    team_id: str = ""  # the job's workspace (whose token delivers it)
    enterprise_id: str | None = None


class CardDelivery(Frozen):
    """A job card Slack has not seen at ``version`` yet; ``ts`` is None until the card is posted."""

    job_id: str
    version: int
    channel_id: str
    ts: str | None = None
    posting_since: datetime | None = None  # an earlier post may have reached Slack: look before reposting
    team_id: str = ""  # the job's workspace (whose token delivers it)
    enterprise_id: str | None = None


class LaunchState(StrEnum):
    CHECKING = "checking"  # the dataset is being checked; no job yet
    SUBMITTED = "submitted"  # the job exists (``job_id``): its card answers the user
    ANSWERED = "answered"  # the launch died before its job existed; the user was told to run it again


class LaunchRecord(Frozen):
    """A launch in progress (check, then submit, then start), so a process that dies while it checks the
    dataset never leaves the user without an answer. ``what`` says what the user asked, to run again."""

    id: str
    team_id: str = ""
    enterprise_id: str | None = None
    channel_id: str
    user_id: str
    owner: str  # the lease owner of the process that runs the launch
    surface: Surface
    what: str
    state: LaunchState = LaunchState.CHECKING
    job_id: str | None = None
    created_at: datetime
    updated_at: datetime


#: the most a view's server-side state may hold (UTF-8 bytes of ``ViewStateRecord.payload``)
VIEW_STATE_MAX_BYTES = 64 * 1024


class ViewStateRecord(Frozen):
    """A view's state kept server-side (wizard state that might outgrow ``private_metadata``'s 3,000
    characters: long URLs with signed query strings, long file names). The view's metadata carries only
    ``key``; the state is read back by its workspace (``team_id``) until ``expires_at``."""

    key: str = Field(min_length=1, max_length=128)
    team_id: str
    enterprise_id: str | None = None
    user_id: str
    payload: str
    created_at: datetime
    expires_at: datetime

    def check_storable(self) -> None:
        """``InvalidInput`` when the payload is over ``VIEW_STATE_MAX_BYTES`` or holds what a database
        text column refuses (NUL, unpaired surrogates). Every store calls it before it writes."""
        try:
            size = len(self.payload.encode("utf-8"))
        except UnicodeEncodeError as e:
            raise InvalidInput(
                "This form holds characters ftbot cannot keep; remove them and try again."
            ) from e
        if "\x00" in self.payload:
            raise InvalidInput("This form holds characters ftbot cannot keep; remove them and try again.")
        if size > VIEW_STATE_MAX_BYTES:
            raise InvalidInput(
                "This form is too large to keep ({size} bytes, at most {limit}); shorten its longest fields.",
                size=str(size),
                limit=str(VIEW_STATE_MAX_BYTES),
            )
