"""What the backend says of a live job, recorded against the stored one: progress posts once each, the
state and its posts when it moves, nothing written when nothing changed."""

from __future__ import annotations

from pathlib import Path

from commands.lifecycle.updates import Updates
from commands.models import Job, JobEvent, JobState, MetricPoint
from commands.records import PostKind
from tests.commands.lifecycle.records import T0, deps, job_record
from tests.support.memory_store import MemoryStore


def _running(tmp_path: Path) -> tuple[Updates, MemoryStore]:
    store = MemoryStore()
    with store.transaction() as tx:
        record = job_record("job-1")
        tx.add_job(record.model_copy(update={"state": JobState.RUNNING, "service_status": "Running"}))
    return Updates(deps(tmp_path, store=store)), store


def _job(state: JobState = JobState.RUNNING, status: str = "Running", **kw: object) -> Job:
    return Job.model_validate({"id": "job-1", "state": state, "service_status": status, **kw})


def test_progress_is_posted_once_and_hidden_events_are_not(tmp_path: Path) -> None:
    updates, store = _running(tmp_path)
    events = (
        JobEvent(at=T0, kind="running", message="shown by the card"),
        JobEvent(at=T0, kind="info", message="Note"),
    )
    metrics = (MetricPoint(step=1, epoch=1, train_loss=1.0), MetricPoint(step=2, epoch=2, train_loss=0.5))
    job = _job(events=events, metrics=metrics)

    updates.apply("job-1", job)
    updates.apply("job-1", job)  # the same answer again: nothing new to post

    posts = store.posts("job-1")
    assert [(p.kind, p.text) for p in posts] == [(PostKind.EPOCH, ""), (PostKind.EVENT, "Note")]
    assert posts[0].data["epoch"] == 1  # epoch 2 is not finished until epoch 3 starts or the job ends
    with store.transaction() as tx:
        assert tx.progress("job-1") == (2, 1)
        assert tx.get_job("job-1").state is JobState.RUNNING


def test_a_success_records_the_model_and_posts_the_state_and_the_chart(tmp_path: Path) -> None:
    updates, store = _running(tmp_path)
    metrics = (MetricPoint(step=1, epoch=1, train_loss=1.0),)

    updated = updates.apply(
        "job-1", _job(JobState.SUCCEEDED, "Completed", metrics=metrics, output_model="m-ft", finished_at=T0)
    )

    assert (updated.state, updated.service_status, updated.output_model, updated.finished_at) == (
        JobState.SUCCEEDED,
        "Completed",
        "m-ft",
        T0,
    )
    kinds = [p.kind for p in store.posts("job-1")]
    assert kinds == [PostKind.EPOCH, PostKind.SUCCEEDED, PostKind.LOSS_CHART]


def test_a_finished_job_is_not_moved_again(tmp_path: Path) -> None:
    updates, store = _running(tmp_path)
    updates.apply("job-1", _job(JobState.FAILED, "Failed", error="out of quota"))

    later = updates.apply("job-1", _job(JobState.SUCCEEDED, "Failed"))  # a late, contradicting answer

    assert (later.state, later.error) == (JobState.FAILED, "out of quota")
    assert [p.kind for p in store.posts("job-1")] == [PostKind.FAILED]
