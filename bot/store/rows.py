"""Rows to records and back: the one place that knows how a stored row spells a ``commands`` value."""

from __future__ import annotations

from bot.store.tables import ApprovalRow, AuditRow, EndpointRow, JobRow, LaunchRow
from commands.models import DeployOptions, EndpointState, JobSpec, JobState
from commands.records import (
    ApprovalRecord,
    ApprovalState,
    AuditEntry,
    DatasetSummary,
    EndpointRecord,
    JobRecord,
    LaunchRecord,
    LaunchState,
    Surface,
)

LIVE_JOB_STATES = tuple(
    s.value for s in (JobState.PENDING, JobState.QUEUED, JobState.RUNNING, JobState.PAUSED, JobState.UNKNOWN)
)
TERMINAL_JOB_STATES = tuple(s.value for s in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED))
LIVE_ENDPOINT_STATES = tuple(
    s.value for s in (EndpointState.CREATING, EndpointState.READY, EndpointState.DELETING)
)


def column_value(v: object) -> object:
    """A record field as its column stores it (models as JSON, enums as their value)."""
    if isinstance(v, JobSpec | DatasetSummary):
        return v.model_dump(mode="json")
    if isinstance(v, JobState | EndpointState):
        return v.value
    return v


def options_column(options: DeployOptions | None) -> dict[str, object] | None:
    """Deploy options as their JSON column holds them (NULL for the defaults, as rows before 0004)."""
    if options is None or options == DeployOptions():
        return None
    return options.model_dump(mode="json")


def options_record(value: dict[str, object] | None) -> DeployOptions:
    return DeployOptions.model_validate(value) if value else DeployOptions()


def job_row(job: JobRecord) -> JobRow:
    return JobRow(
        id=job.id,
        team_id=job.team_id,
        channel_id=job.channel_id,
        user_id=job.user_id,
        base_model=job.spec.base_model,
        task=job.spec.task.value,
        spec=job.spec.model_dump(mode="json"),
        summary=job.summary.model_dump(mode="json") if job.summary else {},
        state=job.state.value,
        service_status=job.service_status,
        rerun_of=job.rerun_of,
        created_at=job.created_at,
        updated_at=job.updated_at,
        version=job.version,
        delivered_version=0,
        events_seen=0,
        metrics_seen=0,
    )


def job_record(row: JobRow) -> JobRecord:
    return JobRecord(
        id=row.id,
        team_id=row.team_id,
        channel_id=row.channel_id,
        user_id=row.user_id,
        spec=JobSpec.model_validate(row.spec),
        summary=DatasetSummary.model_validate(row.summary) if row.summary else None,
        state=JobState(row.state),
        service_status=row.service_status,
        error=row.error,
        output_model=row.output_model,
        studio_url=row.studio_url,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
        version=row.version,
        rerun_of=row.rerun_of,
    )


def endpoint_row(endpoint: EndpointRecord) -> EndpointRow:
    return EndpointRow(
        name=endpoint.name,
        job_id=endpoint.job_id,
        model=endpoint.model,
        model_slot=endpoint.model,  # unique while live: one live endpoint per model
        state=endpoint.state.value,
        requested_by=endpoint.requested_by,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
        deploy_options=options_column(endpoint.options),
    )


def endpoint_record(row: EndpointRow) -> EndpointRecord:
    return EndpointRecord(
        name=row.name,
        job_id=row.job_id,
        model=row.model,
        state=EndpointState(row.state),
        scoring_uri=row.scoring_uri,
        error=row.error,
        requested_by=row.requested_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        ready_at=row.ready_at,
        deleted_at=row.deleted_at,
        deleted_by=row.deleted_by,
        last_used_at=row.last_used_at,
        idle_reminder_at=row.idle_reminder_at,
        options=options_record(row.deploy_options),
    )


def approval_record(row: ApprovalRow) -> ApprovalRecord:
    return ApprovalRecord(
        id=row.id,
        job_id=row.job_id,
        action=row.action,
        state=ApprovalState(row.state),
        requested_by=row.requested_by,
        decided_by=row.decided_by,
        created_at=row.created_at,
        decided_at=row.decided_at,
        options=options_record(row.deploy_options),
    )


def audit_row(entry: AuditEntry) -> AuditRow:
    return AuditRow(
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        surface=entry.surface.value,
        result=entry.result,
        detail=entry.detail,
        channel_id=entry.channel_id,
    )


def audit_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        surface=Surface(row.surface),
        result=row.result,
        detail=row.detail,
        channel_id=row.channel_id,
    )


def launch_row(launch: LaunchRecord) -> LaunchRow:
    return LaunchRow(
        id=launch.id,
        team_id=launch.team_id,
        enterprise_id=launch.enterprise_id,
        channel_id=launch.channel_id,
        user_id=launch.user_id,
        owner=launch.owner,
        surface=launch.surface.value,
        what=launch.what,
        state=launch.state.value,
        job_id=launch.job_id,
        created_at=launch.created_at,
        updated_at=launch.updated_at,
    )


def launch_record(row: LaunchRow) -> LaunchRecord:
    return LaunchRecord(
        id=row.id,
        team_id=row.team_id,
        enterprise_id=row.enterprise_id,
        channel_id=row.channel_id,
        user_id=row.user_id,
        owner=row.owner,
        surface=Surface(row.surface),
        what=row.what,
        state=LaunchState(row.state),
        job_id=row.job_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
