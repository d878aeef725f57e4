"""Updates: what the backend says of a live job, recorded and told in its thread: its state and status,
the events worth a line, each finished epoch, and on success the loss chart and the checkpoints."""

from __future__ import annotations

from commands.lifecycle.base import UseCase
from commands.lifecycle.options import thread_checkpoints
from commands.lifecycle.progress import completed_epochs, final_metrics
from commands.models import Checkpoint, Job, JobState
from commands.ports import StoreTx
from commands.records import JobRecord, PostKind, ThreadPost

#: the thread post for each state a job moves to
STATE_POSTS = {
    JobState.QUEUED: PostKind.QUEUED,
    JobState.RUNNING: PostKind.RUNNING,
    JobState.SUCCEEDED: PostKind.SUCCEEDED,
    JobState.FAILED: PostKind.FAILED,
    JobState.CANCELLED: PostKind.CANCELLED,
}
_SHOWN_EVENTS = {"queued", "started", "running", "epoch", "completed", "succeeded", "failed", "cancelled"}


class Updates(UseCase):
    """Record a backend's ``Job`` (a poll's, a cancel's, a pause's answer) against the stored job.
    Idempotent: each post has its key, progress counters only grow."""

    def apply(self, job_id: str, job: Job) -> JobRecord:
        now = self.clock.now()
        checkpoints = thread_checkpoints(self.backend, job_id) if job.state is JobState.SUCCEEDED else None
        with self.store.transaction() as tx:
            record = tx.get_job(job_id)
            changed_state = job.state is not record.state and not record.state.terminal
            self._progress_posts(tx, job_id, job)
            if not changed_state and job.service_status == record.service_status:
                return record
            changes: dict[str, object] = {"service_status": job.service_status, "updated_at": now}
            if job.studio_url:
                changes["studio_url"] = job.studio_url
            if changed_state:
                changes["state"] = job.state
                if job.state.terminal:
                    changes["finished_at"] = job.finished_at or now
                    changes["error"] = job.error
                    changes["output_model"] = job.output_model
                self._state_posts(tx, job_id, job, checkpoints)
            updated = tx.update_job(job_id, bump=changed_state, **changes)
        if changed_state and job.state.terminal and self.costs is not None:
            self.costs.training_ended(updated, job.trained_tokens)
        self._changed()
        return updated

    def _progress_posts(self, tx: StoreTx, job_id: str, job: Job) -> None:
        """One post per finished epoch and per event worth a line that the thread has not had yet."""
        events_seen, epochs_seen = tx.progress(job_id)
        epochs = completed_epochs(job)
        for point in epochs:  # one post per finished epoch; the key makes it once
            self._post(
                tx,
                job_id,
                PostKind.EPOCH,
                f"epoch:{point.epoch}",
                metric=point.model_dump(),
                epoch=point.epoch,
            )
        for i, event in enumerate(job.events[events_seen:], start=events_seen):
            if event.kind not in _SHOWN_EVENTS:
                self._post(tx, job_id, PostKind.EVENT, f"event:{i}", event.message)
        if len(job.events) > events_seen or len(epochs) > epochs_seen:  # pragma: no mutate (>=: same counts)
            tx.set_progress(job_id, max(events_seen, len(job.events)), max(epochs_seen, len(epochs)))

    def _state_posts(self, tx: StoreTx, job_id: str, job: Job, checkpoints: list[Checkpoint] | None) -> None:
        """What the thread hears when the job moves to ``job.state``: the state, and on success the loss
        chart (or why there is none) and the deployable checkpoints."""
        post_kind = STATE_POSTS.get(job.state)
        if post_kind is not None:
            data: dict[str, object] = {"reason": job.error or ""}
            if job.state is JobState.SUCCEEDED:
                data.update(final_metrics(job), output_model=job.output_model or "")
            if job.state is JobState.FAILED and job.metrics_note:
                data["note"] = job.metrics_note
            post = ThreadPost(job_id=job_id, kind=post_kind, data=data)
            tx.post(post, key=f"{job_id}:state:{job.state.value}", at=self.clock.now())
        if job.state is not JobState.SUCCEEDED:
            return
        if job.metrics:
            self._post(
                tx, job_id, PostKind.LOSS_CHART, "loss_chart", metrics=[m.model_dump() for m in job.metrics]
            )
        elif job.metrics_note:
            self._post(tx, job_id, PostKind.INFO, "metrics_note", job.metrics_note)
        if checkpoints:
            listed = [c.model_dump(mode="json") for c in checkpoints]
            self._post(tx, job_id, PostKind.CHECKPOINTS, "checkpoints", checkpoints=listed)
