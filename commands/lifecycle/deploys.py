"""Deploys: an approver's click deploys, anyone else's asks the approvers; approve or reject a request.

A deploy request is one ``DeployOptions`` (the final model or a checkpoint, a SKU where the backend has
them), stored whole with its approval and with the endpoint: Approve deploys exactly what was asked."""

from __future__ import annotations

from commands.costs.budgets import Overspend
from commands.costs.prices import Money
from commands.errors import Conflict, PermissionDenied
from commands.lifecycle.base import Deps, UseCase
from commands.lifecycle.endpoints import Endpoints
from commands.lifecycle.options import (
    deployment_sku,
    deployment_skus,
    find_checkpoint,
    list_checkpoints,
)
from commands.lifecycle.targets import check_target, deploy_target, deploy_targets
from commands.lifecycle.values import DeployChoices, DeployOutcome
from commands.models import HOME_TARGET, DeployOptions, EndpointState, JobState
from commands.records import Actor, ApprovalRecord, EndpointRecord, JobRecord, PostKind

#: the hosting a deploy is checked against the channel's budget for: its first day
FIRST_DAY_HOURS = 24


class Deploys(UseCase):
    """Deploy a succeeded job's model, with approvals. The store lets one click win; ``Endpoints``
    carries the endpoint on from its claim."""

    def __init__(self, deps: Deps, endpoints: Endpoints) -> None:
        super().__init__(deps)
        self.endpoints = endpoints

    def endpoint_name(self, job_id: str, attempt: int) -> str:
        return f"ftbot-{job_id.rsplit('-', 1)[-1]}-{attempt}"  # pragma: no mutate (any maxsplit: last part)

    def channel_of(self, job_id: str) -> str:
        """The channel of the job's card (where a Deploy dialog's outcome is told); ``NotFound``."""
        with self.store.transaction() as tx:
            return tx.get_job(job_id).channel_id

    def choices(self, actor: Actor, job_id: str) -> DeployChoices:
        """What the Deploy dialog offers ``actor`` for ``job_id``; ``Conflict`` when it cannot be deployed."""
        with self.store.transaction() as tx:
            record = tx.get_job(job_id)
            live = [e for e in tx.endpoints_for_job(job_id) if e.live]
        model = self._deployable(record, live)
        return DeployChoices(
            job_id=job_id,
            model=model,
            checkpoints=tuple(list_checkpoints(self.backend, job_id)),
            skus=tuple(deployment_skus(self.backend)),
            approver=self.approvers.is_approver(actor.user_id),
            targets=tuple(targets) if len(targets := deploy_targets(self.backend)) > 1 else (),
            over_budget=self._over_budget(record, DeployOptions()),  # the one-click Deploy's, said first
        )

    def _checked(self, actor: Actor, job_id: str, options: DeployOptions) -> DeployOptions:
        """``options`` as the backend spells them; ``InvalidInput`` for a checkpoint or SKU it does not
        have, ``PermissionDenied`` for a SKU chosen by someone who is not an approver."""
        if options.checkpoint is not None:
            find_checkpoint(self.backend, job_id, options.checkpoint)
        if options.sku is not None and not self.approvers.is_approver(actor.user_id):
            raise PermissionDenied(
                "Only approvers choose the deployment SKU; request the deploy without one and the default "
                "({default}) is used.",
                default=next((s.name for s in deployment_skus(self.backend)), "none"),
            )
        return options.model_copy(
            update={
                "sku": deployment_sku(self.backend, options.sku),
                "target": deploy_target(self.backend, options.target),
            }
        )

    def request_deploy(
        self, actor: Actor, job_id: str, options: DeployOptions | None = None
    ) -> DeployOutcome:
        """An approver's request deploys; anyone else's opens (or finds) an approval request holding
        ``options`` (a pending request keeps the options it was opened with)."""
        with self.store.transaction() as tx:
            record = tx.get_job(job_id)
            live = [e for e in tx.endpoints_for_job(job_id) if e.live]
        self._deployable(record, live)
        options = self._checked(actor, job_id, options or DeployOptions())
        over = self._over_budget(record, options)  # past the budget: an approver's click, even for one
        if over is None and self.approvers.is_approver(actor.user_id):
            return DeployOutcome(endpoint=self.deploy(actor, job_id, options))
        self._check_target_of(job_id, options)  # refused now, not after an approver's click
        with self.store.transaction() as tx:
            approval, created = tx.open_approval(
                job_id, "deploy", actor.user_id, self.clock.now(), options=options
            )
            self._audit(
                tx,
                actor,
                "deploy.request",
                job_id,
                "ok" if created else "duplicate",
                _describe(options) + (f" over budget: {over.data()}" if over else ""),
            )
            if created:
                self._post(
                    tx,
                    job_id,
                    PostKind.APPROVAL_REQUEST,
                    f"approval:{approval.id}:request",
                    approval_id=approval.id,
                    requested_by=actor.user_id,
                    approvers=self.approvers.approvers(),
                    options=options.model_dump(mode="json"),  # pragma: no mutate (same dump in any mode)
                    **(over.data() if over else {}),
                )
                tx.update_job(job_id)  # the card shows the pending request
        self._changed()
        return DeployOutcome(approval=approval, approval_is_new=created)

    def _over_budget(self, record: JobRecord, options: DeployOptions) -> Overspend | None:
        """The budget numbers when the endpoint's first day of hosting would take the job's channel past
        its monthly budget (FTBOT_BUDGETS)."""
        if self.budgets is None or self.costs is None:
            return None
        rate = self.costs.hosting_rate(record.base_model, options.sku)
        if rate is None or rate.hosting_per_hour is None:
            return None
        day = Money(amount=rate.hosting_per_hour * FIRST_DAY_HOURS, currency=rate.currency)
        return self.budgets.check(record.team_id, record.channel_id, day, self.clock.now())

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
        if approve and approval.options.target is not None:  # a target's rules, before the approval counts
            self._check_target_of(approval.job_id, approval.options)
        decided = self._record_decision(
            actor, approval_id, approve, lambda tx, decided, _: tx.update_job(decided.job_id)
        )
        if approve:
            self.deploy(actor, decided.job_id, decided.options)
        return decided

    def _check_target_of(self, job_id: str, options: DeployOptions) -> None:
        with self.store.transaction() as tx:
            model = tx.get_job(job_id).output_model or ""
        if options.checkpoint is not None:
            model = find_checkpoint(self.backend, job_id, options.checkpoint).model
        check_target(self.backend, options, model)

    def deploy(self, actor: Actor, job_id: str, options: DeployOptions | None = None) -> EndpointRecord:
        """Claim the job's endpoint in the store (the database lets one click win), then ask the backend
        to serve exactly ``options`` (the final model, or a checkpoint's; the SKU)."""
        self._require_approver(actor, "deploy", job_id)
        options = options or DeployOptions()
        checkpoint = None
        if options.checkpoint is not None:
            checkpoint = find_checkpoint(self.backend, job_id, options.checkpoint)
        now = self.clock.now()
        with self.store.transaction() as tx:
            record = tx.get_job(job_id)
            existing = tx.endpoints_for_job(job_id)
            model = self._deployable(record, [e for e in existing if e.live])
            if checkpoint is not None:
                model = checkpoint.model
        check_target(self.backend, options, model)  # the article's rules, before any deploy call
        with self.store.transaction() as tx:
            existing = tx.endpoints_for_job(job_id)
            self._deployable(tx.get_job(job_id), [e for e in existing if e.live])  # still, after the check
            claim = EndpointRecord(
                name=self.endpoint_name(job_id, len(existing) + 1),
                job_id=job_id,
                model=model,
                state=EndpointState.CREATING,
                requested_by=actor.user_id,
                created_at=now,
                updated_at=now,
                options=options,
            )
            endpoint = tx.claim_endpoint(claim)
            pending = tx.pending_approval(job_id)
            if pending is not None:
                tx.decide_approval(pending.id, True, actor.user_id, now)
            self._audit(tx, actor, "deploy", endpoint.name, "ok", f"model={model} {_describe(options)}")
            self._post(
                tx,
                job_id,
                PostKind.DEPLOYING,
                f"deploy:{endpoint.name}:start",
                endpoint=endpoint.name,
                by=actor.user_id,
                options=options.model_dump(mode="json"),  # pragma: no mutate (same dump in any mode)
            )
            tx.update_job(job_id)
        self._changed()
        return self.endpoints.deploy_on_backend(endpoint)


def _describe(options: DeployOptions) -> str:
    """The options for the audit log: ``checkpoint=final sku=default`` and the like."""
    checkpoint = "final" if options.checkpoint is None else str(options.checkpoint)
    return f"checkpoint={checkpoint} sku={options.sku or 'default'} target={options.target or HOME_TARGET}"
