"""How a job or an endpoint is doing, in words: its state, how long it has run, its latest metrics, and
what an endpoint costs while it lives."""

from __future__ import annotations

from datetime import datetime

from bot.ui.text import duration, escape_clip
from commands.models import EndpointState, JobState, MetricPoint
from commands.records import EndpointRecord, JobRecord

JOB_STATE_EMOJI: dict[JobState, str] = {
    JobState.PENDING: ":hourglass_flowing_sand:",
    JobState.HELD: ":raised_hand:",
    JobState.QUEUED: ":inbox_tray:",
    JobState.RUNNING: ":gear:",
    JobState.PAUSED: ":double_vertical_bar:",
    JobState.SUCCEEDED: ":white_check_mark:",
    JobState.FAILED: ":x:",
    JobState.CANCELLED: ":no_entry_sign:",
    JobState.UNKNOWN: ":grey_question:",
}
ENDPOINT_STATE_EMOJI: dict[EndpointState, str] = {
    EndpointState.CREATING: ":construction:",
    EndpointState.READY: ":large_green_circle:",
    EndpointState.FAILED: ":red_circle:",
    EndpointState.DELETING: ":wastebasket:",
    EndpointState.DELETED: ":white_circle:",
}
HOURLY_COST_NOTE = "Hosting is billed by the hour until the endpoint is torn down."


def since(start: datetime | None, now: datetime) -> str:
    return "—" if start is None else duration((now - start).total_seconds())


def job_state_text(job: JobRecord) -> str:
    word = job.state.value.capitalize()
    if job.state is JobState.UNKNOWN and job.service_status:
        word = f"Unknown ({escape_clip(job.service_status, 60)})"
    return f"{JOB_STATE_EMOJI[job.state]} *{word}*"


def endpoint_state_text(endpoint: EndpointRecord) -> str:
    return f"{ENDPOINT_STATE_EMOJI[endpoint.state]} {endpoint.state.value}"


def elapsed(job: JobRecord, now: datetime) -> str:
    end = job.finished_at if job.state.terminal and job.finished_at else now
    return duration((end - job.created_at).total_seconds())


def endpoint_age(endpoint: EndpointRecord, now: datetime) -> str:
    return since(endpoint.ready_at or endpoint.created_at, now)


def metric_text(point: MetricPoint) -> str:
    parts = [f"step {point.step}"]
    if point.epoch is not None:
        parts.insert(0, f"epoch {point.epoch}")
    if point.train_loss is not None:
        parts.append(f"train loss {point.train_loss:.4f}")
    if point.valid_loss is not None:
        parts.append(f"validation loss {point.valid_loss:.4f}")
    if point.train_mean_token_accuracy is not None:
        parts.append(f"train accuracy {point.train_mean_token_accuracy:.1%}")
    if point.valid_mean_token_accuracy is not None:
        parts.append(f"validation accuracy {point.valid_mean_token_accuracy:.1%}")
    return " · ".join(parts)
