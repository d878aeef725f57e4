"""Deploys: an approver's click deploys, anyone else's asks the approvers; approve or reject a request."""

from __future__ import annotations

from commands.errors import Conflict, User
from commands.lifecycle.base import Deps, UseCase
from commands.lifecycle.endpoints import Endpoints
from commands.lifecycle.values import DeployOutcome
from commands.models import EndpointState, JobState
from commands.records import Actor, ApprovalRecord, EndpointRecord, JobRecord, PostKind


class Deploys(UseCase):
    """Deploy a succeeded job's model, with approvals. The store lets one click win; ``Endpoints``
    carries the endpoint on from its claim."""

    def __init__(self, deps: Deps, endpoints: Endpoints) -> None:
        super().__init__(deps)
        self.endpoints = endpoints

    def endpoint_name(self, job_id: str, attempt: int) -> str:
        return f"ftbot-{job_id.rsplit('-', 1)[-1]}-{attempt}"

    def request_deploy(self, actor: Actor, job_id: str) -> DeployOutcome:
        """An approver's click deploys; anyone else's opens (or finds) an approval request."""
        with self.store.transaction() as tx:
            record = tx.get_job(job_id)
            live = [e for e in tx.endpoints_for_job(job_id) if e.live]
        self._deployable(record, live)
        if self.approvers.is_approver(actor.user_id):
            return DeployOutcome(endpoint=self.deploy(actor, job_id))
        with self.store.transaction() as tx:
            approval, created = tx.open_approval(job_id, "deploy", actor.user_id, self.clock.now())
            self._audit(tx, actor, "deploy.request", job_id, "ok" if created else "duplicate")
            if created:
                self._post(
                    tx,
                    job_id,
                    PostKind.APPROVAL_REQUEST,
                    f"approval:{approval.id}:request",
                    approval_id=approval.id,
                    requested_by=actor.user_id,
                    approvers=self.approvers.approvers(),
                )
                tx.update_job(job_id)  # the card shows the pending request
        self._changed()
        return DeployOutcome(approval=approval, approval_is_new=created)

    @staticmethod
    def _deployable(record: JobRecord, live: list[EndpointRecord]) -> str:
        if record.state is not JobState.SUCCEEDED or not record.output_model:
            raise Conflict(
                f"{{job}} is {record.state.value}; only a succeeded job can be deployed.", job=record.id
            )
        if live:
            raise Conflict(
                "{job} is already deployed as {endpoint}.",
                existing=live[0].name,
                job=record.id,
                endpoint=live[0].name,
            )
        return record.output_model

    def decide(self, actor: Actor, approval_id: int, approve: bool) -> ApprovalRecord:
        with self.store.transaction() as tx:
            approval = tx.get_approval(approval_id)
        action = "approve" if approve else "reject"
        self._require_approver(actor, action, approval.job_id)
        with self.store.transaction() as tx:
            decided = tx.decide_approval(approval_id, approve, actor.user_id, self.clock.now())
            if decided is None:
                current = tx.get_approval(approval_id)
                self._audit(tx, actor, action, current.job_id, "duplicate")
            else:
                self._audit(tx, actor, action, decided.job_id, "ok")
                self._post(
                    tx,
                    decided.job_id,
                    PostKind.APPROVAL_DECIDED,
                    f"approval:{approval_id}:decided",
                    approval_id=approval_id,
                    decided_by=actor.user_id,
                    approved=approve,
                    requested_by=decided.requested_by,
                )
                tx.update_job(decided.job_id)
        self._changed()
        if decided is None:
            already = f"This request was already {current.state.value} by"
            if current.decided_by:
                raise Conflict(already + " {by}.", by=User(current.decided_by))
            raise Conflict(already + " someone.")
        if approve:
            self.deploy(actor, decided.job_id)
        return decided

    def deploy(self, actor: Actor, job_id: str) -> EndpointRecord:
        """Claim the job's endpoint in the store (the database lets one click win), then ask the backend."""
        self._require_approver(actor, "deploy", job_id)
        now = self.clock.now()
        with self.store.transaction() as tx:
            record = tx.get_job(job_id)
            existing = tx.endpoints_for_job(job_id)
            model = self._deployable(record, [e for e in existing if e.live])
            claim = EndpointRecord(
                name=self.endpoint_name(job_id, len(existing) + 1),
                job_id=job_id,
                model=model,
                state=EndpointState.CREATING,
                requested_by=actor.user_id,
                created_at=now,
                updated_at=now,
            )
            endpoint = tx.claim_endpoint(claim)
            pending = tx.pending_approval(job_id)
            if pending is not None:
                tx.decide_approval(pending.id, True, actor.user_id, now)
            self._audit(tx, actor, "deploy", endpoint.name, "ok", f"model={model}")
            self._post(
                tx,
                job_id,
                PostKind.DEPLOYING,
                f"deploy:{endpoint.name}:start",
                endpoint=endpoint.name,
                by=actor.user_id,
            )
            tx.update_job(job_id)
        self._changed()
        return self.endpoints.deploy_on_backend(endpoint)
