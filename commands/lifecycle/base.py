"""What every lifecycle use case shares: its ports, the audit log, the outbox, the approver check, the
recording of an approver's decision."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from commands.costs.budgets import BudgetGuard
from commands.costs.recorder import Costs
from commands.errors import Conflict, PermissionDenied, User
from commands.ports import ApproverDirectory, Clock, FineTuningBackend, Store, StoreTx
from commands.records import Actor, ApprovalRecord, AuditEntry, PostKind, ThreadPost

log = logging.getLogger("ftbot.lifecycle")


@dataclass(frozen=True)
class Deps:
    """The ports the use cases run on. ``on_change`` hints delivery that the store has news."""

    backend: FineTuningBackend
    store: Store
    clock: Clock
    approvers: ApproverDirectory
    work_dir: Path
    on_change: Callable[[], None] = field(default=lambda: None)
    #: this process's name in the store (host, pid, random part): whose launches are in progress
    owner: str = ""
    #: where billable facts are recorded (trained tokens, hosting, replies); None: nothing is recorded
    costs: Costs | None = None
    #: monthly budgets per channel (FTBOT_BUDGETS); None: no budgets, nothing is held
    budgets: BudgetGuard | None = None


class UseCase:
    """Base of the lifecycle use cases: the shared ports and the writes every state change makes.

    Every state change and the thread messages it deserves are written in one transaction (the
    outbox), so a crash never loses a message or sends one twice."""

    def __init__(self, deps: Deps) -> None:
        self.backend = deps.backend
        self.store = deps.store
        self.clock = deps.clock
        self.approvers = deps.approvers
        self.work_dir = deps.work_dir
        self.owner = deps.owner
        self.costs = deps.costs
        self.budgets = deps.budgets
        self._on_change = deps.on_change

    def _audit(
        self, tx: StoreTx, actor: Actor, action: str, target: str, result: str, detail: str = ""
    ) -> None:
        tx.audit(
            AuditEntry(
                at=self.clock.now(),
                actor=actor.user_id,
                action=action,
                target=target,
                surface=actor.surface,
                result=result,
                detail=detail[:500],
                channel_id=actor.channel_id,
            )
        )

    def _post(
        self, tx: StoreTx, job_id: str, kind: PostKind, key: str, text: str = "", **data: object
    ) -> None:
        tx.post(
            ThreadPost(job_id=job_id, kind=kind, text=text, data=data),
            key=f"{job_id}:{key}",
            at=self.clock.now(),
        )

    def _require_approver(self, actor: Actor, action: str, target: str) -> None:
        if self.approvers.is_approver(actor.user_id):
            return
        with self.store.transaction() as tx:
            self._audit(tx, actor, action, target, "denied", "not an approver")
        doing = action.replace("_", " ")
        hint = " Ask one of them, or click Deploy to request approval." if action == "deploy" else ""
        raise PermissionDenied(f"Only approvers can {doing} ({{target}}).{hint}", target=target)

    def _record_decision(
        self,
        actor: Actor,
        approval_id: int,
        approve: bool,
        then: Callable[[StoreTx, ApprovalRecord, datetime], object],
        *,
        detail: str = "",
        **post: object,
    ) -> ApprovalRecord:
        """Record an approver's Approve or Reject on an approval request in one transaction: the decision,
        its audit line (with ``detail``), its thread post (with ``post``) and ``then(tx, decided, now)``,
        what the decision changes. ``Conflict`` when someone decided first (audited as a duplicate). The
        caller has checked that ``actor`` is an approver."""
        action = "approve" if approve else "reject"
        now = self.clock.now()
        with self.store.transaction() as tx:
            decided = tx.decide_approval(approval_id, approve, actor.user_id, now)
            if decided is None:
                current = tx.get_approval(approval_id)
                self._audit(tx, actor, action, current.job_id, "duplicate", detail)
            else:
                self._audit(tx, actor, action, decided.job_id, "ok", detail)
                self._post(
                    tx,
                    decided.job_id,
                    PostKind.APPROVAL_DECIDED,
                    f"approval:{approval_id}:decided",
                    "",  # pragma: no mutate (_post's default text: left out, the post is the same)
                    approval_id=approval_id,
                    decided_by=actor.user_id,
                    approved=approve,
                    requested_by=decided.requested_by,
                    **post,
                )
                then(tx, decided, now)
        self._changed()
        if decided is None:
            already = f"This request was already {current.state.value} by"
            if current.decided_by:
                raise Conflict(already + " {by}.", by=User(current.decided_by))
            raise Conflict(already + " someone.")
        return decided

    def _changed(self) -> None:
        try:
            self._on_change()
        except Exception:  # a wake-up hint must never break a use case
            log.debug("on_change hook failed", exc_info=True)
