"""A job's service events → ftbot's ``JobEvent``s and ``MetricPoint``s.

``metrics`` events carry ``data`` with the step's losses and accuracies (``valid_mean_token_accuracy`` in
events, ``validation_mean_token_accuracy`` in results.csv: both accepted; ``-1`` means no value). The
other events become ``JobEvent``s: the service's lifecycle lines (enqueued, started, succeeded…) keep
their own kind, the rest are batched, one ``info`` event per ``BATCH_S`` window of service time, so a
chatty job does not flood its thread. A window is only emitted once it is closed (a later event exists,
or the job has ended): the list only ever grows at its end, which is what the poller relies on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.backends.foundry.errors import scrub
from commands.models import JobEvent, MetricPoint

BATCH_S = 300
MAX_LINES = 10

_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(enqueued|queued)\b", re.I), "queued"),
    (re.compile(r"\b(job|training) started\b", re.I), "started"),
    (re.compile(r"\bjob (succeeded|completed)\b|\btraining completed\b", re.I), "completed"),
    (re.compile(r"\bjob failed\b", re.I), "failed"),
    (re.compile(r"\bjob (cancelled|canceled)\b", re.I), "cancelled"),
)
_ACCURACY_KEYS = ("valid_mean_token_accuracy", "validation_mean_token_accuracy")


def when(epoch_s: object) -> datetime | None:
    """A service timestamp (Unix seconds) as an aware datetime; ``None`` for null or nonsense."""
    if isinstance(epoch_s, (int, float)) and epoch_s > 0:
        return datetime.fromtimestamp(float(epoch_s), UTC)
    return None


def _number(data: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value != -1:
            return float(value)
    return None


def metric_points(raw: Iterable[Mapping[str, Any]]) -> list[MetricPoint]:
    """One point per step (the last event of a step wins), in step order."""
    by_step: dict[int, MetricPoint] = {}
    for event in raw:
        data = event.get("data")
        if event.get("type") != "metrics" or not isinstance(data, Mapping):
            continue
        step = data.get("step")
        if not isinstance(step, int):
            continue
        by_step[step] = MetricPoint(
            step=step,
            train_loss=_number(data, "train_loss"),
            train_mean_token_accuracy=_number(data, "train_mean_token_accuracy"),
            valid_loss=_number(data, "valid_loss"),
            valid_mean_token_accuracy=_number(data, *_ACCURACY_KEYS),
        )
    return [by_step[s] for s in sorted(by_step)]


def _kind(message: str) -> str:
    return next((kind for pattern, kind in _KINDS if pattern.search(message)), "info")


def _batched(messages: list[tuple[datetime, str]]) -> JobEvent:
    lines = [m for _, m in messages]
    shown = lines[:MAX_LINES]
    if len(lines) > MAX_LINES:
        shown.append(f"… and {len(lines) - MAX_LINES} more")
    return JobEvent(at=messages[0][0], kind="info", message="\n".join(shown))


def job_events(raw: Iterable[Mapping[str, Any]], *, ended: bool) -> list[JobEvent]:
    """The service's events in time order, the open window held back unless the job has ``ended``."""
    ordered = sorted(
        (e for e in raw if when(e.get("created_at")) is not None),
        key=lambda e: (e["created_at"], str(e.get("id", ""))),
    )
    if not ordered:
        return []
    open_window = int(ordered[-1]["created_at"]) // BATCH_S
    out: list[JobEvent] = []
    window: int | None = None
    pending: list[tuple[datetime, str]] = []
    for event in ordered:
        slot = int(event["created_at"]) // BATCH_S
        if slot == open_window and not ended:
            break
        if slot != window and pending:
            out.append(_batched(pending))
            pending = []
        window = slot
        if event.get("type") == "metrics":
            continue
        at = when(event["created_at"]) or datetime.now(UTC)
        message = scrub(str(event.get("message") or "").strip())
        if not message:
            continue
        kind = _kind(message)
        if kind == "info":
            pending.append((at, message))
        else:
            if pending:
                out.append(_batched(pending))
                pending = []
            out.append(JobEvent(at=at, kind=kind, message=message))
    if pending:
        out.append(_batched(pending))
    return out
