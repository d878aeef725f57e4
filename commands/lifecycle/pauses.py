"""Pause and Resume: a running job held by the service and taken up again, where the backend can
(``PausableBackend``). Allowed for the submitter or an approver, audited like Cancel."""

from __future__ import annotations

from commands.errors import Conflict, InvalidInput, PermissionDenied, User
from commands.lifecycle.base import Deps, UseCase
from commands.lifecycle.jobs import Jobs
from commands.models import JobState
from commands.ports import PausableBackend
from commands.records import Actor, JobRecord, PostKind

#: the state a job must be in for each action, and the thread post that records the request
_NEEDS = {"pause": JobState.RUNNING, "resume": JobState.PAUSED}
_POSTS = {"pause": PostKind.PAUSED, "resume": PostKind.RESUMED}


class Pauses(UseCase):
    """``pause`` and ``resume``: the backend's answer is recorded through ``Jobs`` like a poll."""

    def __init__(self, deps: Deps, jobs: Jobs) -> None:
        super().__init__(deps)
        self.jobs = jobs

    def pause(self, actor: Actor, job_id: str) -> JobRecord:
        return self._act(actor, job_id, "pause")

    def resume(self, actor: Actor, job_id: str) -> JobRecord:
        return self._act(actor, job_id, "resume")

    def _act(self, actor: Actor, job_id: str, action: str) -> JobRecord:
        backend = self.backend
        with self.store.transaction() as tx:
            record = tx.get_job(job_id)
        if not isinstance(backend, PausableBackend):
            raise InvalidInput(
                f"The {{backend}} backend cannot {action} jobs; only Cancel stops {{job}}.",
                backend=backend.kind,
                job=job_id,
            )
        if actor.user_id != record.user_id and not self.approvers.is_approver(actor.user_id):
            with self.store.transaction() as tx:
                self._audit(tx, actor, action, job_id, "denied", "not the submitter or an approver")
            raise PermissionDenied(
                f"Only the submitter ({{owner}}) or an approver can {action} {{job}}.",
                owner=User(record.user_id),
                job=job_id,
            )
        needed = _NEEDS[action]
        if record.state is not needed:
            raise Conflict(
                f"{{job}} is {record.state.value}; only a {needed.value} job can be {action}d.", job=job_id
            )
        job = backend.pause_job(job_id) if action == "pause" else backend.resume_job(job_id)
        with self.store.transaction() as tx:
            self._audit(tx, actor, action, job_id, "ok", f"service status {job.service_status}")
            at = self.clock.now().isoformat()
            self._post(tx, job_id, _POSTS[action], f"{action}:{at}", by=actor.user_id)
            tx.update_job(job_id)  # the card drops the button just clicked
        return self.jobs.record(job_id, job)
