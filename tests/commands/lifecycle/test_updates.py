"""What the backend says of a live job, recorded against the stored one: progress posts once each, the
state and its posts when it moves, nothing written when nothing changed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from commands.costs.book import MemoryCostBook
from commands.costs.recorder import Costs
from commands.lifecycle.base import Deps
from commands.lifecycle.updates import Updates
from commands.models import Checkpoint, Job, JobEvent, JobState, MetricPoint
from commands.records import JobRecord, PostKind
from tests.commands.lifecycle.records import T0, deps, job_record
from tests.fakes.backend import FakeBackend, RichFakeBackend
from tests.support.doubles import Approvers, Clock
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


# --- every field and post, exactly ---------------------------------------------------------------


class _Costs(Costs):
    """Costs that remember each ended job it is told of."""

    def __init__(self) -> None:
        super().__init__(MemoryCostBook(), Clock())
        self.ended: list[tuple[str, JobState, int | None]] = []

    def training_ended(self, job: JobRecord, trained_tokens: int | None) -> None:
        self.ended.append((job.id, job.state, trained_tokens))


class _World:
    """One stored job (``state``) and the use case on it, with the clock, the costs and the wake-ups."""

    def __init__(
        self,
        tmp_path: Path,
        state: JobState = JobState.RUNNING,
        status: str = "Running",
        backend: FakeBackend | None = None,
        **record: object,
    ) -> None:
        self.store = MemoryStore()
        self.clock = Clock()
        self.costs = _Costs()
        self.changes = 0
        with self.store.transaction() as tx:
            base = job_record("job-1")
            tx.add_job(base.model_copy(update={"state": state, "service_status": status, **record}))
        self.backend = backend or FakeBackend()
        self.updates = Updates(
            Deps(
                backend=self.backend,
                store=self.store,
                clock=self.clock,
                approvers=Approvers(),
                work_dir=tmp_path,
                on_change=self._changed,
                costs=self.costs,
            )
        )

    def _changed(self) -> None:
        self.changes += 1

    def stored(self) -> JobRecord:
        with self.store.transaction() as tx:
            return tx.get_job("job-1")

    def progress(self) -> tuple[int, int]:
        with self.store.transaction() as tx:
            return tx.progress("job-1")

    def keyed(self) -> list[tuple[str, PostKind, str, dict[str, object]]]:
        return [(q.key, q.post.kind, q.post.text, dict(q.post.data)) for q in self.store.outbox]

    def next_now(self) -> datetime:
        """What the clock's next reading will be."""
        return self.clock.t + timedelta(milliseconds=1)


def _event(kind: str, message: str = "") -> JobEvent:
    return JobEvent(at=T0, kind=kind, message=message or kind)


def test_the_events_the_card_shows_are_not_posted_and_the_others_are_keyed_by_index(tmp_path: Path) -> None:
    w = _World(tmp_path)
    shown = ["queued", "started", "running", "epoch", "completed", "succeeded", "failed", "cancelled"]
    events = (*(_event(k) for k in shown), _event("info", "Note"))

    w.updates.apply("job-1", _job(events=events))

    assert w.keyed() == [("job-1:event:8", PostKind.EVENT, "Note", {})]
    assert w.progress() == (9, 0)


def test_new_events_are_posted_from_where_the_thread_left_off(tmp_path: Path) -> None:
    w = _World(tmp_path)
    first = (_event("info", "one"), _event("warning", "two"))
    w.updates.apply("job-1", _job(events=first))
    w.updates.apply("job-1", _job(events=(*first, _event("running"), _event("info", "four"))))

    assert [(k, t) for k, _, t, _ in w.keyed()] == [
        ("job-1:event:0", "one"),
        ("job-1:event:1", "two"),
        ("job-1:event:3", "four"),
    ]
    assert w.progress() == (4, 0)


def test_each_finished_epoch_is_posted_with_its_metrics(tmp_path: Path) -> None:
    w = _World(tmp_path)
    metrics = (
        MetricPoint(step=1, epoch=1, train_loss=1.0, valid_loss=1.5),
        MetricPoint(step=2, epoch=2, train_loss=0.5),
        MetricPoint(step=3, epoch=3, train_loss=0.25),
    )

    w.updates.apply("job-1", _job(metrics=metrics))

    epoch1 = MetricPoint(step=1, epoch=1, train_loss=1.0, valid_loss=1.5).model_dump()
    epoch2 = MetricPoint(step=2, epoch=2, train_loss=0.5).model_dump()
    assert w.keyed() == [
        ("job-1:epoch:1", PostKind.EPOCH, "", {"metric": epoch1, "epoch": 1}),
        ("job-1:epoch:2", PostKind.EPOCH, "", {"metric": epoch2, "epoch": 2}),
    ]
    assert w.progress() == (0, 2)


def test_progress_counters_only_grow(tmp_path: Path) -> None:
    w = _World(tmp_path)
    with w.store.transaction() as tx:
        tx.set_progress("job-1", 5, 0)
    metrics = tuple(MetricPoint(step=i, epoch=i, train_loss=1.0) for i in (1, 2, 3))

    w.updates.apply("job-1", _job(events=(_event("info", "old"),), metrics=metrics))

    assert w.progress() == (5, 2)  # fewer events than seen: the count stays
    assert [k for k, *_ in w.keyed()] == ["job-1:epoch:1", "job-1:epoch:2"]
    with w.store.transaction() as tx:
        tx.set_progress("job-1", 1, 4)
    w.updates.apply("job-1", _job(events=(_event("info", "old"), _event("info", "new"))))
    assert w.progress() == (2, 4)


def test_an_answer_with_nothing_new_writes_nothing(tmp_path: Path) -> None:
    w = _World(tmp_path)
    before = w.stored()

    after = w.updates.apply("job-1", _job(studio_url="https://studio/job-1"))

    assert after == before == w.stored()
    assert w.keyed() == [] and w.changes == 0 and w.costs.ended == []


def test_a_new_status_alone_is_recorded_without_a_new_card_version(tmp_path: Path) -> None:
    w = _World(tmp_path, studio_url="https://studio/old")
    now = w.next_now()

    updated = w.updates.apply("job-1", _job(status="Running (step 3)"))

    assert updated == w.stored()
    assert (updated.state, updated.service_status, updated.version) == (
        JobState.RUNNING,
        "Running (step 3)",
        1,
    )
    assert updated.updated_at == now and updated.finished_at is None
    assert updated.studio_url == "https://studio/old"  # an answer without a link keeps the one known
    assert w.keyed() == [] and w.changes == 1 and w.costs.ended == []
    again = w.updates.apply("job-1", _job(status="Running (step 4)", studio_url="https://studio/new"))
    assert (again.studio_url, again.version) == ("https://studio/new", 1)


def test_a_move_to_running_bumps_the_card_and_posts_the_state(tmp_path: Path) -> None:
    w = _World(tmp_path, JobState.QUEUED, "Queued", backend=RichFakeBackend())  # it keeps checkpoints
    now = w.next_now()

    updated = w.updates.apply("job-1", _job(JobState.RUNNING, "Running", error="ignored until it ends"))

    assert (updated.state, updated.service_status, updated.version) == (JobState.RUNNING, "Running", 2)
    assert updated.updated_at == now
    assert (updated.finished_at, updated.error, updated.output_model) == (None, None, None)
    assert w.keyed() == [("job-1:state:running", PostKind.RUNNING, "", {"reason": "ignored until it ends"})]
    assert w.changes == 1 and w.costs.ended == []
    assert w.backend.calls["list_checkpoints"] == 0
    assert [q.at > now for q in w.store.outbox] == [True]  # posted at the clock's time


def test_a_move_to_queued_posts_queued_with_no_reason(tmp_path: Path) -> None:
    w = _World(tmp_path, JobState.PENDING, "submitting")
    w.updates.apply("job-1", _job(JobState.QUEUED, "Queued"))
    assert w.keyed() == [("job-1:state:queued", PostKind.QUEUED, "", {"reason": ""})]


def test_a_pause_changes_the_state_without_a_state_post(tmp_path: Path) -> None:
    w = _World(tmp_path)
    updated = w.updates.apply("job-1", _job(JobState.PAUSED, "Paused"))
    assert (updated.state, updated.version) == (JobState.PAUSED, 2)
    assert w.keyed() == []


def test_a_failure_records_its_time_reason_and_note(tmp_path: Path) -> None:
    w = _World(tmp_path)
    now = w.next_now()

    failed = w.updates.apply(
        "job-1",
        _job(JobState.FAILED, "Failed", error="out of quota", metrics_note="no metrics", trained_tokens=70),
    )

    assert (failed.state, failed.service_status, failed.error, failed.output_model) == (
        JobState.FAILED,
        "Failed",
        "out of quota",
        None,
    )
    assert failed.finished_at == now and failed.updated_at == now and failed.version == 2
    assert w.keyed() == [
        ("job-1:state:failed", PostKind.FAILED, "", {"reason": "out of quota", "note": "no metrics"})
    ]
    assert w.costs.ended == [("job-1", JobState.FAILED, 70)] and w.changes == 1


def test_a_failure_without_a_note_posts_only_the_reason(tmp_path: Path) -> None:
    w = _World(tmp_path)
    w.updates.apply("job-1", _job(JobState.FAILED, "Failed", finished_at=T0))
    assert w.stored().finished_at == T0
    assert w.keyed() == [("job-1:state:failed", PostKind.FAILED, "", {"reason": ""})]


def test_a_cancel_posts_cancelled_and_counts_what_was_trained(tmp_path: Path) -> None:
    w = _World(tmp_path)
    w.updates.apply("job-1", _job(JobState.CANCELLED, "Cancelled", metrics_note="none"))
    assert w.keyed() == [("job-1:state:cancelled", PostKind.CANCELLED, "", {"reason": ""})]
    assert w.costs.ended == [("job-1", JobState.CANCELLED, None)]


class _Dated(RichFakeBackend):
    """Checkpoints with the time they were made."""

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        return [c.model_copy(update={"created_at": T0}) for c in super().list_checkpoints(job_id)]


def test_a_success_posts_its_final_numbers_chart_and_checkpoints(tmp_path: Path) -> None:
    backend = _Dated(epochs=1, steps_per_epoch=1)
    spec = job_record("job-1").spec
    backend.submit_job(spec)
    for _ in range(3):
        backend.get_job("job-1")  # running, one step, succeeded
    w = _World(tmp_path, backend=backend)
    metrics = (MetricPoint(step=1, epoch=1, train_loss=2.0), MetricPoint(step=2, epoch=1, train_loss=1.0))

    done = w.updates.apply(
        "job-1",
        _job(JobState.SUCCEEDED, "Completed", metrics=metrics, output_model="m-ft", trained_tokens=900),
    )

    assert (done.output_model, done.error) == ("m-ft", None)
    listed = {
        "number": 1,
        "model": "job-1-ft:ckpt-1",
        "step": 1,
        "epoch": 1,
        "metrics": {"train_loss": 3.0, "valid_loss": 3.2},
        "created_at": "2026-12-06T12:00:00Z",
    }
    last = MetricPoint(step=2, epoch=1, train_loss=1.0).model_dump()
    assert w.keyed() == [
        ("job-1:epoch:1", PostKind.EPOCH, "", {"metric": last, "epoch": 1}),
        (
            "job-1:state:succeeded",
            PostKind.SUCCEEDED,
            "",
            {
                "reason": "",
                "first_train_loss": 2.0,
                "final_train_loss": 1.0,
                "trained_tokens": 900,
                "steps": 2,
                "output_model": "m-ft",
            },
        ),
        ("job-1:loss_chart", PostKind.LOSS_CHART, "", {"metrics": [m.model_dump() for m in metrics]}),
        (
            "job-1:checkpoints",
            PostKind.CHECKPOINTS,
            "",
            {"checkpoints": [listed]},
        ),
    ]
    assert w.costs.ended == [("job-1", JobState.SUCCEEDED, 900)]


def test_a_success_without_metrics_says_why_and_without_a_model_posts_an_empty_one(tmp_path: Path) -> None:
    w = _World(tmp_path)

    w.updates.apply("job-1", _job(JobState.SUCCEEDED, "Completed", metrics_note="metrics are not kept"))

    assert w.keyed() == [
        ("job-1:state:succeeded", PostKind.SUCCEEDED, "", {"reason": "", "steps": 0, "output_model": ""}),
        ("job-1:metrics_note", PostKind.INFO, "metrics are not kept", {}),
    ]


def test_a_success_with_neither_metrics_nor_note_posts_only_the_state(tmp_path: Path) -> None:
    w = _World(tmp_path)
    w.updates.apply("job-1", _job(JobState.SUCCEEDED, "Completed"))
    assert [k for k, *_ in w.keyed()] == ["job-1:state:succeeded"]


def test_a_late_status_of_a_finished_job_is_recorded_without_moving_it(tmp_path: Path) -> None:
    w = _World(tmp_path, JobState.CANCELLED, "Cancelled")

    later = w.updates.apply("job-1", _job(JobState.RUNNING, "Cancelling"))

    assert (later.state, later.service_status, later.version) == (JobState.CANCELLED, "Cancelling", 1)
    assert w.keyed() == [] and w.costs.ended == []


def test_without_costs_an_ended_job_is_recorded_all_the_same(tmp_path: Path) -> None:
    updates, _ = _running(tmp_path)
    done = updates.apply("job-1", _job(JobState.SUCCEEDED, "Completed"))
    assert done.state is JobState.SUCCEEDED
