"""SQLAlchemy 2 tables. Alembic migrations under ``bot/store/migrations`` create them; keep both in step
(``tests/bot/store/test_migrations.py`` checks that the migrated schema matches these models)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class JobRow(Base):
    """One fine-tuning job as ftbot tracks it. ``id`` is the backend job name (the idempotency key)."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), default="")
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    base_model: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict] = mapped_column(JSON)  # the JobSpec, as submitted
    summary: Mapped[dict] = mapped_column(JSON, default=dict)  # dataset summary shown on the card
    state: Mapped[str] = mapped_column(String(32), index=True)
    service_status: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    output_model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    studio_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    rerun_of: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the job this one reruns
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(nullable=True)
    cancel_requested_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # delivery bookkeeping: the card shows `version`; Slack has seen `delivered_version`
    version: Mapped[int] = mapped_column(Integer, default=1)
    delivered_version: Mapped[int] = mapped_column(Integer, default=0)
    # set just before the card is first posted: a deliverer that finds it set (and no card) died between
    # Slack's answer and recording it, so it looks for the card in the channel before posting another
    card_posting_since: Mapped[datetime | None] = mapped_column(nullable=True)
    events_seen: Mapped[int] = mapped_column(
        Integer, default=0
    )  # backend events already turned into thread posts
    metrics_seen: Mapped[int] = mapped_column(Integer, default=0)
    # row lease: which replica polls this job, until when
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    next_poll_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)

    __table_args__ = (Index("ix_jobs_live", "state", "next_poll_at"), Index("ix_jobs_team", "team_id"))


class StatusMessageRow(Base):
    """The job card: one parent message per job, edited in place. Stored, never read back from Slack."""

    __tablename__ = "status_messages"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    team_id: Mapped[str] = mapped_column(String(32), default="")
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class EndpointRow(Base):
    """A deployment of a fine-tuned model. One live endpoint per model, enforced by ``model_slot``:
    it holds the model name while the endpoint is live and NULL once deleted/failed (unique)."""

    __tablename__ = "endpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(200))
    model_slot: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    state: Mapped[str] = mapped_column(String(32), index=True)
    scoring_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ready_at: Mapped[datetime | None] = mapped_column(nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    deleted_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    idle_reminder_at: Mapped[datetime | None] = mapped_column(nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # the DeployOptions it was deployed with (checkpoint, SKU); NULL: the defaults
    deploy_options: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    team_id: Mapped[str] = mapped_column(String(32), default="", index=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ApprovalRow(Base):
    """A request for an approver's decision (deploy). ``pending_key`` is unique while pending, so a job
    has at most one open request per action."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    pending_key: Mapped[str | None] = mapped_column(String(120), nullable=True, unique=True)
    state: Mapped[str] = mapped_column(String(16))  # pending, approved, rejected
    requested_by: Mapped[str] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    channel_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # the deploy request, whole (DeployOptions): Approve deploys exactly this; NULL: the defaults
    deploy_options: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    team_id: Mapped[str] = mapped_column(String(32), default="", index=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class AuditRow(Base):
    """Who did what, when, from which surface, with what result. Never holds secrets."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    surface: Mapped[str] = mapped_column(String(32))  # slash, button, modal, scheduler, cli, home
    result: Mapped[str] = mapped_column(String(16))  # ok, denied, error
    detail: Mapped[str] = mapped_column(Text, default="")
    channel_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    team_id: Mapped[str] = mapped_column(String(32), default="", index=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class OutboxRow(Base):
    """Slack messages owed to a thread, written in the same transaction as the state change that
    caused them and delivered (with retries) by the scheduler. ``dedupe_key`` makes a message
    impossible to enqueue twice."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))  # thread_message, loss_chart
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # set just before a send (see JobRow.card_posting_since); kept after a failure, which may have been
    # the lookup's rather than the send's
    sending_since: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (UniqueConstraint("dedupe_key", name="uq_outbox_dedupe"),)


class LeaseRow(Base):
    """Named singleton leases (e.g. the idle-endpoint sweep) shared by replicas."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]


class LaunchRow(Base):
    """A launch in progress (check, submit, start): a replica that finds one ``checking`` whose owner
    died, or that is too old, tells the user to run it again (``answered``). Per workspace."""

    __tablename__ = "launches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), index=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(64))
    surface: Mapped[str] = mapped_column(String(32))
    what: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # checking, submitted, answered
    job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_launches_state_created", "state", "created_at"),)


class ViewStateRow(Base):
    """A view's state kept server-side (wizard state too large for ``private_metadata``), read back by
    its workspace until ``expires_at``; the scheduler purges the expired ones."""

    __tablename__ = "view_states"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    user_id: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class IncidentRow(Base):
    """Something that failed for a service reason, paged to the on-call once (``FTBOT_ONCALL``).

    ``key`` names what failed (``job:<id>``, ``endpoint:<name>``, ``process:scheduler``…); ``open_key``
    holds it while the incident is open (unique), so a retry storm or a second replica opens no second
    incident, and NULL once it recovered. ``posts`` is where the page went: ``[[channel, ts], …]``."""

    __tablename__ = "incidents"

    ref: Mapped[str] = mapped_column(String(16), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), default="", index=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    open_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    what: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    next_step: Mapped[str] = mapped_column(Text)
    job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    posts: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    acknowledged_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)


class WorkspaceSettingsRow(Base):
    """One workspace's own settings (OAuth mode): its approvers and the channels ftbot answers in, set
    with ``/finetune config``; NULL: the environment's defaults (FTBOT_APPROVERS, FTBOT_ALLOWED_CHANNELS).
    ``installer_id`` is who installed ftbot there: the one who may name the first approvers."""

    __tablename__ = "workspace_settings"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    approvers: Mapped[list | None] = mapped_column(JSON, nullable=True)
    allowed_channels: Mapped[list | None] = mapped_column(JSON, nullable=True)
    installer_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(32), default="")


class EvaluationRow(Base):
    """An evaluation of a job's fine-tuned model against its base model (``bot/store/evaluations.py``).
    ``running_key`` holds the job id while it runs and NULL after (unique): one at a time per job."""

    __tablename__ = "evaluations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(String(32), default="", index=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    running_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    # the checkpoint the endpoint served, as the job's thread numbers them; NULL: the final model
    checkpoint: Mapped[int | None] = mapped_column(Integer, nullable=True)
    base_model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    base_missing: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    examples: Mapped[list] = mapped_column(JSON)
    answers: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


# Slack's OAuth installations and states, which slack_sdk's own SQLAlchemy stores read and write
# (bot/store/installations.py; slack_sdk.oauth.installation_store.sqlalchemy, .state_store.sqlalchemy):
# their table names, columns and indexes, naive UTC datetimes. Kept here so that the models and the
# migrations stay in step; tests/bot/store/test_installations.py checks the migrated tables against theirs.
slack_installations = Table(
    "slack_installations",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)

slack_bots = Table(
    "slack_bots",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    "slack_oauth_states",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)


class CostFactRow(Base):
    """One billable fact (``commands.costs.CostFact``) with the prices in force when it happened, so a
    later change of the price table never rewrites what was spent. ``key`` makes recording idempotent."""

    __tablename__ = "cost_facts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[str] = mapped_column(String(32), default="", index=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    endpoint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    fact: Mapped[dict] = mapped_column(JSON)  # the whole CostFact, rate included


class CostNoticeRow(Base):
    """A one-time notice that was sent (a channel's budget threshold for a month), per workspace."""

    __tablename__ = "cost_notices"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime]
