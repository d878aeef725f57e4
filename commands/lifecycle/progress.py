"""What a job's metrics say: finished epochs, the final numbers, whether a poll brought anything new."""

from __future__ import annotations

from commands.models import Job, MetricPoint
from commands.records import JobRecord


def nothing_new(record: JobRecord, job: Job, seen: tuple[int, int]) -> bool:
    """True when a poll brought nothing to store or post: same state and status, no new event, no
    newly finished epoch."""
    events_seen, epochs_seen = seen
    return (
        job.state is record.state
        and job.service_status == record.service_status
        and len(job.events) <= events_seen
        and len(completed_epochs(job)) <= epochs_seen
        and (not job.studio_url or job.studio_url == record.studio_url)
    )


def completed_epochs(job: Job) -> list[MetricPoint]:
    """The last metrics of each finished epoch, with that epoch's last validation loss. An epoch is
    finished when a later epoch has started, or the job has ended."""
    by_epoch: dict[int, list[MetricPoint]] = {}
    for m in job.metrics:
        if m.epoch is not None:
            by_epoch.setdefault(m.epoch, []).append(m)
    if not by_epoch:
        return []
    last = max(by_epoch)
    out = []
    for epoch in sorted(by_epoch):
        if epoch == last and not job.state.terminal:
            break
        rows = by_epoch[epoch]
        valid = next((r.valid_loss for r in reversed(rows) if r.valid_loss is not None), None)
        acc = next(
            (r.valid_mean_token_accuracy for r in reversed(rows) if r.valid_mean_token_accuracy is not None),
            None,
        )
        out.append(rows[-1].model_copy(update={"valid_loss": valid, "valid_mean_token_accuracy": acc}))
    return out


def final_metrics(job: Job) -> dict[str, object]:
    out: dict[str, object] = {}
    train = [m.train_loss for m in job.metrics if m.train_loss is not None]
    valid = [m.valid_loss for m in job.metrics if m.valid_loss is not None]
    acc = [m.train_mean_token_accuracy for m in job.metrics if m.train_mean_token_accuracy is not None]
    if train:
        out.update(first_train_loss=train[0], final_train_loss=train[-1])
    if valid:
        out["final_valid_loss"] = valid[-1]
    if acc:
        out["final_train_accuracy"] = acc[-1]
    if job.trained_tokens:
        out["trained_tokens"] = job.trained_tokens
    out["steps"] = len(job.metrics)
    return out
