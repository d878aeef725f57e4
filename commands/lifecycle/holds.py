"""Budget holds: a submit that would take its channel past its monthly budget (FTBOT_BUDGETS) is recorded
HELD with an approval request in its thread (spent, this request, budget); so is one whose cost could not
be estimated (its data was too large to read here) in a channel that has a budget, with that reason. An
approver's Approve moves it on to submission; Reject, or no decision within ``HOLD_HOURS``, ends it
CANCELLED with a line in the thread. The scheduler never starts a HELD job: only Approve does.

``Holds.decide`` is where an Approve or Reject click lands: a deploy request goes on to ``Deploys``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from commands.costs.budgets import Overspend
from commands.lifecycle.base import Deps, UseCase
from commands.models import JobState
from commands.ports import StoreTx
from commands.records import Actor, ApprovalRecord, JobRecord, PostKind, Surface


class _Starts(Protocol):  # ``Jobs``: hands a PENDING job to the backend
    def start(self, job_id: str) -> JobRecord: ...


class _Decides(Protocol):  # ``Deploys``: Approve / Reject on a deploy request
    def decide(self, actor: Actor, approval_id: int, approve: bool) -> ApprovalRecord: ...


#: how long a held submit waits for an approver before it is cancelled
HOLD_HOURS = 24
SUBMIT = "submit"
HELD_STATUS = "awaiting budget approval"
#: held because its cost could not be estimated (data not read here, or training billed by the hour)
HELD_UNESTIMATED_STATUS = "awaiting budget approval: cost not estimated"
_SCHEDULER = Actor(user_id="scheduler", surface=Surface.SCHEDULER)


def open_hold(use_case: UseCase, tx: StoreTx, actor: Actor, job_id: str, over: Overspend) -> ApprovalRecord:
    """Inside the transaction that records the HELD job: the approval request and its thread post."""
    approval, _ = tx.open_approval(job_id, SUBMIT, actor.user_id, use_case.clock.now())
    use_case._audit(
        tx,
        actor,
        "submit.hold",
        job_id,
        "ok",
        over.audit_detail(),
    )
    use_case._post(
        tx,
        job_id,
        PostKind.APPROVAL_REQUEST,
        f"approval:{approval.id}:request",
        approval_id=approval.id,
        requested_by=actor.user_id,
        approvers=use_case.approvers.approvers(),
        action=SUBMIT,
        hold_hours=HOLD_HOURS,
        **over.data(),
    )
    return approval


class Holds(UseCase):
    """Decide on approval requests (submits held over budget here, deploys in ``Deploys``) and end the
    holds nobody decided on in time."""

    def __init__(self, deps: Deps, jobs: _Starts, deploys: _Decides) -> None:
        super().__init__(deps)
        self.jobs = jobs
        self.deploys = deploys

    def decide(self, actor: Actor, approval_id: int, approve: bool) -> ApprovalRecord:
        """Approve or Reject on an approval request. ``PermissionDenied`` for a non-approver,
        ``Conflict`` when someone decided first."""
        with self.store.transaction() as tx:
            approval = tx.get_approval(approval_id)
            unknown = approval.action == SUBMIT and unestimated(tx.get_job(approval.job_id))
        if approval.action != SUBMIT:
            return self.deploys.decide(actor, approval_id, approve)
        self._require_approver(actor, "approve" if approve else "reject", approval.job_id)

        def move_on(tx: StoreTx, decided: ApprovalRecord, now: datetime) -> None:
            if approve:  # on to submission: ``start`` hands it to the backend
                tx.update_job(decided.job_id, state=JobState.PENDING, service_status="submitting")
            else:
                why = (
                    "Rejected: its cost could not be estimated"
                    if unknown
                    else "Rejected over the channel's budget"
                )
                end_hold(self, tx, decided.job_id, f"{why}; nothing was submitted.", now, actor)

        what = "unestimated submit" if unknown else "over-budget submit"
        post = {"unestimated": True} if unknown else {}
        decided = self._record_decision(
            actor, approval_id, approve, move_on, detail=what, action=SUBMIT, **post
        )
        if approve:
            self.jobs.start(decided.job_id)
        return decided

    def expire(self) -> int:
        """Cancel the holds nobody decided on within ``HOLD_HOURS`` (a scheduled sweep; idempotent)."""
        now = self.clock.now()
        ended = 0
        with self.store.transaction() as tx:
            stale = tx.held_jobs(before=now - timedelta(hours=HOLD_HOURS))
        for job in stale:
            with self.store.transaction() as tx:
                pending = tx.pending_approval(job.id)
                if (
                    pending is not None
                    and tx.decide_approval(pending.id, False, _SCHEDULER.user_id, now) is None
                ):
                    continue  # an approver decided in between
                if tx.get_job(job.id).state is not JobState.HELD:
                    continue
                reason = f"No approver decided within {HOLD_HOURS} hours, so nothing was submitted."
                end_hold(self, tx, job.id, reason, now)
                self._audit(tx, _SCHEDULER, "reject", job.id, "ok", f"over-budget submit expired ({reason})")
            ended += 1
        if ended:
            self._changed()
        return ended


def unestimated(job: JobRecord) -> bool:
    """Whether ``job`` was held because its cost could not be estimated (its training data was not read
    here, or its model is billed by the hour of training) rather than because the estimate was over the
    budget. (A job held before its status said so: training data not read here, no billed tokens.)"""
    if job.service_status == HELD_UNESTIMATED_STATUS:
        return True
    summary = job.summary
    return summary is not None and summary.not_checked is not None and not summary.billed_tokens_estimate


def end_hold(
    use_case: UseCase, tx: StoreTx, job_id: str, reason: str, now: datetime, by: Actor | None = None
) -> JobRecord:
    """A held job ends CANCELLED (nothing was submitted), with ``reason`` in its thread."""
    updated = tx.update_job(
        job_id,
        state=JobState.CANCELLED,
        service_status=JobState.CANCELLED.value,
        finished_at=now,
        updated_at=now,
    )
    use_case._post(
        tx,
        job_id,
        PostKind.CANCELLED,
        f"state:{JobState.CANCELLED.value}",
        reason=reason,
        held=True,
        by=by.user_id if by is not None else None,
    )
    return updated


def withdraw_hold(use_case: UseCase, actor: Actor, job_id: str) -> JobRecord:
    """The submitter (or an approver) cancels a held job: its approval request closes, nothing was or is
    submitted."""
    now = use_case.clock.now()
    with use_case.store.transaction() as tx:
        pending = tx.pending_approval(job_id)
        if pending is not None:
            tx.decide_approval(pending.id, False, actor.user_id, now)
        updated = end_hold(use_case, tx, job_id, "Withdrawn before it was submitted.", now, actor)
    use_case._changed()
    return updated
