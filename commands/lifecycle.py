"""The fine-tuning lifecycle as use cases: submit, poll, cancel, deploy (with approvals), chat, tear
down, endpoint hygiene. Slack-free: listeners and the scheduler call these from worker threads.

Every state change and the thread messages it deserves are written in one transaction (the outbox),
so a crash never loses a message or sends one twice. Double clicks are settled by the store's
constraints (one live endpoint per model, one pending approval per job, one cancel request).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from commands.dataset import ValidationReport, split_dataset, validate_dataset
from commands.errors import Conflict, FtbotError, InvalidInput, NotFound, PermissionDenied, Unavailable
from commands.models import (
    BaseModelInfo,
    ChatMessage,
    ChatReply,
    ChatRequest,
    DatasetRef,
    EndpointState,
    Hyperparameters,
    Job,
    JobSpec,
    JobState,
    MetricPoint,
    Task,
    normalized_model_name,
)
from commands.ports import ApproverDirectory, Clock, FineTuningBackend, Store, StoreTx
from commands.records import (
    Actor,
    ApprovalRecord,
    AuditEntry,
    DatasetSummary,
    EndpointRecord,
    JobCard,
    JobRecord,
    PostKind,
    Surface,
    ThreadPost,
)

log = logging.getLogger("ftbot.lifecycle")

_STATE_POSTS = {
    JobState.QUEUED: PostKind.QUEUED,
    JobState.RUNNING: PostKind.RUNNING,
    JobState.SUCCEEDED: PostKind.SUCCEEDED,
    JobState.FAILED: PostKind.FAILED,
    JobState.CANCELLED: PostKind.CANCELLED,
}
_LIVE = (JobState.PENDING, JobState.QUEUED, JobState.RUNNING, JobState.UNKNOWN)
_SHOWN_EVENTS = {"queued", "started", "running", "epoch", "completed", "succeeded", "failed", "cancelled"}
MAX_PROMPT = 8000
# A CREATING endpoint the backend does not know yet is redeployed by polling only after this long
# (a crash between the claim and the backend call); before that, the click's own call is in flight.
DEPLOY_GRACE = timedelta(seconds=10)


@dataclass(frozen=True)
class LocalData:
    """A dataset on local disk (already downloaded by the bot), with the name users know it by."""

    path: Path
    name: str


@dataclass(frozen=True)
class SubmitRequest:
    model: str
    training: LocalData
    validation: LocalData | None = None
    split: float | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    suffix: str | None = None
    task: Task = Task.CHAT_COMPLETION


@dataclass(frozen=True)
class Checked:
    """A validated submission, ready to start: what the review step shows."""

    request: SubmitRequest
    model: BaseModelInfo
    report: ValidationReport
    summary: DatasetSummary


class DatasetRejected(InvalidInput):
    """The dataset has errors: nothing is submitted. ``report`` holds every problem."""

    code = "dataset_invalid"

    def __init__(self, report: ValidationReport, name: str, *, field: str | None = None) -> None:
        first = "; ".join(f"line {i.line}: {i.message}" if i.line else i.message for i in report.errors[:3])
        total = sum(report.error_counts.values())
        super().__init__(f"`{name}` has {total} error(s), so nothing was submitted. {first}", field=field)
        self.report = report


@dataclass(frozen=True)
class DeployOutcome:
    endpoint: EndpointRecord | None = None
    approval: ApprovalRecord | None = None
    approval_is_new: bool = False


class Lifecycle:
    def __init__(
        self,
        *,
        backend: FineTuningBackend,
        store: Store,
        clock: Clock,
        approvers: ApproverDirectory,
        work_dir: Path,
        idle_hours: float = 24,
        ttl_hours: float | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.backend = backend
        self.store = store
        self.clock = clock
        self.approvers = approvers
        self.work_dir = work_dir
        self.idle_hours = idle_hours
        self.ttl_hours = ttl_hours
        self._on_change = on_change or (lambda: None)

    # --- helpers ---------------------------------------------------------------------------------

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
        raise PermissionDenied(
            f"Only approvers can {action.replace('_', ' ')} (`{target}`). "
            "Ask one of them, or click Deploy to request approval."
            if action == "deploy"
            else f"Only approvers can {action.replace('_', ' ')} (`{target}`)."
        )

    def _changed(self) -> None:
        try:
            self._on_change()
        except Exception:  # a wake-up hint must never break a use case
            log.debug("on_change hook failed", exc_info=True)

    # --- models and datasets ---------------------------------------------------------------------

    def models(self) -> list[BaseModelInfo]:
        return self.backend.list_base_models()

    def base_model(self, name: str) -> BaseModelInfo:
        try:
            return self.backend.get_base_model(name)
        except NotFound as e:
            raise InvalidInput(
                f"There is no base model called `{name}`. "
                "`/finetune models` lists the ones you can fine-tune.",
                field="model",
            ) from e

    def check_dataset(
        self,
        path: Path,
        *,
        model: BaseModelInfo | None = None,
        task: Task = Task.CHAT_COMPLETION,
        validation: Path | None = None,
    ) -> ValidationReport:
        exact = model is None or (
            model.source != "local" and model.name.lower().startswith(("gpt", "o1", "o3", "o4"))
        )
        return validate_dataset(
            path,
            task=task,
            context_length=model.context_length if model else 4096,
            validation=validation,
            exact_tokenizer=exact,
            backend_text_format="text_ground_truth" if self.backend.kind == "azure" else "prompt_completion",
        )

    def check(self, request: SubmitRequest) -> Checked:
        """Validate everything a submission needs (model, data, split) without starting anything."""
        model = self.base_model(request.model)
        if request.task not in model.tasks:
            raise InvalidInput(f"`{model.name}` cannot be fine-tuned for {request.task.value}.", field="task")
        validation = request.validation.path if request.validation else None
        report = self.check_dataset(
            request.training.path, model=model, task=request.task, validation=validation
        )
        if not report.ok:
            raise DatasetRejected(report, request.training.name, field="training")
        if report.validation is not None and not report.validation.ok:
            raise DatasetRejected(
                report.validation, request.validation.name if request.validation else "", field="validation"
            )
        stats = report.stats
        epochs = request.hyperparameters.n_epochs or stats.default_epochs
        per_epoch = (stats.billed_tokens_estimate or 0) // max(1, stats.default_epochs)
        summary = DatasetSummary(
            training_name=request.training.name,
            examples=report.examples,
            total_tokens=stats.tokens_per_example.total if stats.tokens_per_example else 0,
            billed_tokens_estimate=per_epoch * epochs,
            epochs=epochs,
            approximate_tokens=stats.approximate_tokens,
            warnings=sum(report.warning_counts.values()),
            validation_name=request.validation.name if request.validation else None,
            validation_examples=report.validation.examples if report.validation else None,
            split_fraction=request.split,
        )
        return Checked(request=request, model=model, report=report, summary=summary)

    # --- submit ----------------------------------------------------------------------------------

    def new_job_id(self, model: str, suffix: str | None) -> str:
        stem = normalized_model_name(model)[:28].strip("-") or "model"
        tail = normalized_model_name(suffix)[:16].strip("-") if suffix else ""
        return "-".join(p for p in ("ft", stem, tail, secrets.token_hex(3)) if p)

    def submit(self, actor: Actor, checked: Checked) -> JobRecord:
        """Record the job (PENDING) and its card. ``start`` hands it to the backend; if the process dies
        in between, the scheduler starts it (``submit_job`` is idempotent on the job name)."""
        req = checked.request
        job_id = self.new_job_id(checked.model.name, req.suffix)
        job_dir = self.work_dir / job_id
        job_dir.mkdir(parents=True, exist_ok=True)
        training = DatasetRef(kind="file", value=str(req.training.path), name=req.training.name)
        validation = None
        if req.validation is not None:
            validation = DatasetRef(kind="file", value=str(req.validation.path), name=req.validation.name)
        elif req.split:
            train_path, valid_path = split_dataset(req.training.path, req.split, seed=0, out_dir=job_dir)
            training = DatasetRef(kind="file", value=str(train_path), name=req.training.name)
            validation = DatasetRef(
                kind="file", value=str(valid_path), name=f"{req.training.name} (split {req.split:g})"
            )
        spec = JobSpec(
            name=job_id,
            base_model=checked.model.name,
            task=req.task,
            training=training,
            validation=validation,
            hyperparameters=req.hyperparameters,
            suffix=req.suffix,
            output_model_name=f"{normalized_model_name(checked.model.name)}-{job_id.rsplit('-', 1)[-1]}"
            + (f"-{normalized_model_name(req.suffix)}" if req.suffix else ""),
            tags={"ftbot_job": job_id, "slack_channel": actor.channel_id or "", "slack_user": actor.user_id},
        )
        now = self.clock.now()
        record = JobRecord(
            id=job_id,
            team_id=actor.team_id,
            channel_id=actor.channel_id or "",
            user_id=actor.user_id,
            spec=spec,
            summary=checked.summary,
            state=JobState.PENDING,
            service_status="submitting",
            created_at=now,
            updated_at=now,
        )
        with self.store.transaction() as tx:
            tx.add_job(record)
            self._audit(
                tx,
                actor,
                "submit",
                job_id,
                "ok",
                f"model={checked.model.name} examples={checked.report.examples}",
            )
        self._changed()
        return record

    def start(self, job_id: str) -> JobRecord:
        """Upload the data and submit a PENDING job to the backend. Safe to repeat."""
        with self.store.transaction() as tx:
            record = tx.get_job(job_id)
            cancelled = tx.cancel_requested(job_id)
        if record.state is not JobState.PENDING:
            return record
        if cancelled:
            return self._finish_locally(record, JobState.CANCELLED, "cancelled before it was submitted")
        try:
            spec = self._uploaded(record.spec)
            job = self.backend.submit_job(spec)
        except (InvalidInput, NotFound, Conflict) as e:
            return self._finish_locally(record, JobState.FAILED, e.message)
        except Unavailable as e:
            log.warning(
                "backend unavailable while submitting %s (%s); the scheduler retries", job_id, e.message
            )
            return record
        with self.store.transaction() as tx:
            tx.update_job(job_id, bump=False, spec=spec)
        record = self._apply(job_id, job)
        with self.store.transaction() as tx:
            cancel_now = tx.cancel_requested(job_id)
        if cancel_now and not record.state.terminal:
            self.backend.cancel_job(job_id)
        return record

    def _uploaded(self, spec: JobSpec) -> JobSpec:
        changes: dict[str, DatasetRef] = {}
        for field_name in ("training", "validation"):
            ref: DatasetRef | None = getattr(spec, field_name)
            if ref is not None and ref.kind == "file":
                asset = self.backend.upload_dataset(
                    Path(ref.value), name=f"{spec.name}-{field_name}", task=spec.task
                )
                changes[field_name] = asset.model_copy(update={"name": ref.name})
        return spec.model_copy(update=changes) if changes else spec

    def _finish_locally(self, record: JobRecord, state: JobState, reason: str) -> JobRecord:
        now = self.clock.now()
        with self.store.transaction() as tx:
            updated = tx.update_job(
                record.id,
                state=state,
                service_status=state.value,
                error=reason if state is JobState.FAILED else None,
                finished_at=now,
                updated_at=now,
            )
            self._post(tx, record.id, _STATE_POSTS[state], f"state:{state.value}", reason=reason)
        self._changed()
        return updated

    # --- polling ---------------------------------------------------------------------------------

    def poll(self, job_id: str) -> JobRecord:
        """Bring one job up to date from the backend; post what changed. Idempotent."""
        with self.store.transaction() as tx:
            record = tx.get_job(job_id)
            seen = tx.progress(job_id)
        if record.state is JobState.PENDING:
            return self.start(job_id)
        if record.state.terminal:
            return record
        job = self.backend.get_job(job_id)
        if _nothing_new(record, job, seen):  # the common case: one read, no write
            return record
        return self._apply(job_id, job)

    def _apply(self, job_id: str, job: Job) -> JobRecord:
        now = self.clock.now()
        with self.store.transaction() as tx:
            record = tx.get_job(job_id)
            events_seen, epochs_seen = tx.progress(job_id)
            changed_state = job.state is not record.state and not record.state.terminal
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
            if len(job.events) > events_seen or len(epochs) > epochs_seen:
                tx.set_progress(job_id, max(events_seen, len(job.events)), max(epochs_seen, len(epochs)))
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
                post_kind = _STATE_POSTS.get(job.state)
                if post_kind is not None:
                    data: dict[str, object] = {"reason": job.error or ""}
                    if job.state is JobState.SUCCEEDED:
                        data.update(final_metrics(job), output_model=job.output_model or "")
                    if job.state is JobState.FAILED and job.metrics_note:
                        data["note"] = job.metrics_note
                    post = ThreadPost(job_id=job_id, kind=post_kind, data=data)
                    tx.post(post, key=f"{job_id}:state:{job.state.value}", at=now)
                if job.state is JobState.SUCCEEDED:
                    if job.metrics:
                        self._post(
                            tx,
                            job_id,
                            PostKind.LOSS_CHART,
                            "loss_chart",
                            metrics=[m.model_dump() for m in job.metrics],
                        )
                    elif job.metrics_note:
                        self._post(tx, job_id, PostKind.INFO, "metrics_note", job.metrics_note)
            updated = tx.update_job(job_id, bump=changed_state, **changes)
        self._changed()
        return updated

    # --- cancel ----------------------------------------------------------------------------------

    def cancel(self, actor: Actor, job_id: str) -> JobRecord:
        with self.store.transaction() as tx:
            record = tx.get_job(job_id)
        if actor.user_id != record.user_id and not self.approvers.is_approver(actor.user_id):
            with self.store.transaction() as tx:
                self._audit(tx, actor, "cancel", job_id, "denied", "not the submitter or an approver")
            raise PermissionDenied(
                f"Only the submitter (<@{record.user_id}>) or an approver can cancel `{job_id}`."
            )
        if record.state.terminal:
            raise Conflict(f"`{job_id}` has already {record.state.value}; there is nothing to cancel.")
        with self.store.transaction() as tx:
            first = tx.request_cancel(job_id, actor.user_id, self.clock.now())
            self._audit(tx, actor, "cancel", job_id, "ok" if first is None else "duplicate")
        if first is not None:
            raise Conflict(f"A cancel of `{job_id}` was already requested by <@{first}>.")
        if record.state is JobState.PENDING:
            return self.start(job_id)  # sees the request and cancels without submitting
        job = self.backend.cancel_job(job_id)
        return self._apply(job_id, job)

    # --- deploy and approvals --------------------------------------------------------------------

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
            raise Conflict(f"`{record.id}` is {record.state.value}; only a succeeded job can be deployed.")
        if live:
            raise Conflict(f"`{record.id}` is already deployed as `{live[0].name}`.", existing=live[0].name)
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
            who = f"<@{current.decided_by}>" if current.decided_by else "someone"
            raise Conflict(f"This request was already {current.state.value} by {who}.")
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
        return self._deploy_on_backend(endpoint)

    def _deploy_on_backend(self, endpoint: EndpointRecord) -> EndpointRecord:
        try:
            result = self.backend.deploy_model(endpoint.model, endpoint.name)
        except Conflict as e:
            if e.existing == endpoint.name:  # our own earlier attempt: adopt it
                return self.poll_endpoint(endpoint.name)
            return self._endpoint_failed(endpoint, e.message)
        except Unavailable:
            log.warning("backend unavailable while deploying %s; the scheduler will retry", endpoint.name)
            return endpoint
        except FtbotError as e:
            return self._endpoint_failed(endpoint, e.message)
        return self._endpoint_state(
            endpoint, result.state, scoring_uri=result.scoring_uri, error=result.error
        )

    def _endpoint_failed(self, endpoint: EndpointRecord, reason: str) -> EndpointRecord:
        return self._endpoint_state(endpoint, EndpointState.FAILED, error=reason)

    def _endpoint_state(
        self,
        endpoint: EndpointRecord,
        state: EndpointState,
        *,
        scoring_uri: str | None = None,
        error: str | None = None,
        stopped: bool = False,
    ) -> EndpointRecord:
        if state is endpoint.state:
            return endpoint
        now = self.clock.now()
        changes: dict[str, object] = {"updated_at": now}
        if state is EndpointState.READY:
            changes.update(ready_at=now, scoring_uri=scoring_uri, last_used_at=None)
        if error:
            changes["error"] = error
        with self.store.transaction() as tx:
            moved = tx.transition_endpoint(endpoint.name, (endpoint.state,), state, **changes)
            if moved is None:  # someone else moved it first
                return tx.get_endpoint(endpoint.name)
            if state is EndpointState.READY:
                self._post(
                    tx, moved.job_id, PostKind.DEPLOYED, f"deploy:{moved.name}:ready", endpoint=moved.name
                )
            elif state is EndpointState.FAILED:
                self._post(
                    tx,
                    moved.job_id,
                    PostKind.DEPLOY_FAILED,
                    f"deploy:{moved.name}:failed",
                    endpoint=moved.name,
                    reason=error or "",
                    stopped=stopped,
                )
            tx.update_job(moved.job_id)
        self._changed()
        if state is EndpointState.FAILED:
            self._remove_leftover(moved.name)
        return moved

    def _remove_leftover(self, name: str) -> None:
        """A failed endpoint serves nothing, but on the backend it still holds the model's one deployment:
        remove it, so Deploy works again. Best effort: the store already says FAILED."""
        try:
            self.backend.delete_endpoint(name)
        except FtbotError as e:
            log.warning("could not remove the failed endpoint %s from the backend: %s", name, e.message)

    def check_endpoints(self) -> int:
        """Ask the backend about every READY endpoint; one that died (its process, its deployment) is marked
        FAILED and the thread told. Returns how many were found dead."""
        with self.store.transaction() as tx:
            ready = [e for e in tx.live_endpoints() if e.state is EndpointState.READY]
        dead = 0
        for ep in ready:
            try:
                remote = self.backend.get_endpoint(ep.name)
            except NotFound:
                reason = "The endpoint no longer exists on the backend."
            except FtbotError:
                continue  # cannot tell now; the next sweep asks again
            else:
                if remote.state is not EndpointState.FAILED:
                    continue
                reason = remote.error or "The endpoint stopped."
            self._endpoint_state(ep, EndpointState.FAILED, error=reason, stopped=True)
            dead += 1
        return dead

    def poll_endpoint(self, name: str) -> EndpointRecord:
        """Move a CREATING endpoint to READY/FAILED, finish a DELETING one. Idempotent."""
        with self.store.transaction() as tx:
            endpoint = tx.get_endpoint(name)
        if endpoint.state is EndpointState.DELETING:
            return self._delete_on_backend(endpoint, None)
        if endpoint.state is not EndpointState.CREATING:
            return endpoint
        try:
            remote = self.backend.get_endpoint(name)
        except NotFound:
            if self.clock.now() - endpoint.created_at < DEPLOY_GRACE:
                return endpoint  # the click's own deploy call may still be on its way
            return self._deploy_on_backend(endpoint)  # the deploy call never reached the backend
        return self._endpoint_state(
            endpoint, remote.state, scoring_uri=remote.scoring_uri, error=remote.error
        )

    # --- tear down -------------------------------------------------------------------------------

    def teardown(self, actor: Actor, name: str) -> EndpointRecord:
        with self.store.transaction() as tx:
            endpoint = tx.get_endpoint(name)
        self._require_approver(actor, "tear_down", name)
        with self.store.transaction() as tx:
            moving = tx.transition_endpoint(
                name,
                (EndpointState.CREATING, EndpointState.READY, EndpointState.FAILED),
                EndpointState.DELETING,
                updated_at=self.clock.now(),
            )
            self._audit(tx, actor, "tear_down", name, "ok" if moving else "duplicate")
        if moving is None:
            state = (
                endpoint.state.value if endpoint.state is not EndpointState.DELETING else "being torn down"
            )
            raise Conflict(f"`{name}` is already {state}.")
        return self._delete_on_backend(moving, actor)

    def _delete_on_backend(self, endpoint: EndpointRecord, actor: Actor | None) -> EndpointRecord:
        self.backend.delete_endpoint(endpoint.name)  # idempotent; errors leave it DELETING for the scheduler
        now = self.clock.now()
        with self.store.transaction() as tx:
            done = tx.transition_endpoint(
                endpoint.name,
                (EndpointState.DELETING,),
                EndpointState.DELETED,
                deleted_at=now,
                updated_at=now,
            )
            if done is None:
                return tx.get_endpoint(endpoint.name)
            self._post(
                tx,
                done.job_id,
                PostKind.TORN_DOWN,
                f"deploy:{done.name}:deleted",
                endpoint=done.name,
                by=actor.user_id if actor else "",
                model=done.model,
            )
            tx.update_job(done.job_id)
        self._changed()
        return done

    # --- chat ------------------------------------------------------------------------------------

    def chat(
        self,
        actor: Actor,
        name: str,
        prompt: str,
        *,
        system: str | None = None,
        temperature: float = 0.7,
        max_tokens: int = 256,
    ) -> ChatReply:
        prompt = prompt.strip()
        if not prompt:
            raise InvalidInput("Say something to the model: the prompt is empty.", field="prompt")
        if len(prompt) > MAX_PROMPT:
            raise InvalidInput(
                f"The prompt is too long ({len(prompt)} characters; at most {MAX_PROMPT}).", field="prompt"
            )
        with self.store.transaction() as tx:
            endpoint = tx.get_endpoint(name)
        if endpoint.state is not EndpointState.READY:
            raise Conflict(f"`{name}` is {endpoint.state.value}, not ready for chat.")
        messages = ([ChatMessage(role="system", content=system)] if system else []) + [
            ChatMessage(role="user", content=prompt)
        ]
        try:
            request = ChatRequest(messages=tuple(messages), temperature=temperature, max_tokens=max_tokens)
        except ValueError as e:
            raise InvalidInput("Temperature must be 0–2 and max tokens 1–4096.", field="temperature") from e
        reply = self.backend.chat(name, request)
        now = self.clock.now()
        with self.store.transaction() as tx:
            tx.touch_endpoint(name, last_used_at=now, idle_reminder_at=None)
            self._audit(tx, actor, "chat", name, "ok", f"tokens={reply.usage.total_tokens}")
            self._post(
                tx,
                endpoint.job_id,
                PostKind.CHAT,
                f"chat:{name}:{now.timestamp():.6f}:{actor.user_id}",
                endpoint=name,
                by=actor.user_id,
                prompt=prompt,
                system=system or "",
                reply=reply.content,
                usage=reply.usage.model_dump(),
                content_filter=reply.content_filter or {},
                finish_reason=reply.finish_reason or "",
            )
        self._changed()
        return reply

    # --- endpoint hygiene ------------------------------------------------------------------------

    def sweep_endpoints(self) -> int:
        """Find READY endpoints that died, remind threads about idle ones (billed hourly) and apply the TTL.
        Returns actions taken."""
        actions = self.check_endpoints()
        now = self.clock.now()
        with self.store.transaction() as tx:
            live = [e for e in tx.live_endpoints() if e.state is EndpointState.READY]
        for ep in live:
            ready_at = ep.ready_at or ep.created_at
            if self.ttl_hours is not None and now - ready_at >= timedelta(hours=self.ttl_hours):
                with self.store.transaction() as tx:
                    self._post(
                        tx,
                        ep.job_id,
                        PostKind.TTL_TEARDOWN,
                        f"deploy:{ep.name}:ttl",
                        endpoint=ep.name,
                        ttl_hours=self.ttl_hours,
                    )
                scheduler = Actor(user_id="scheduler", surface=Surface.SCHEDULER)
                with self.store.transaction() as tx:
                    moving = tx.transition_endpoint(
                        ep.name, (EndpointState.READY,), EndpointState.DELETING, updated_at=now
                    )
                    self._audit(tx, scheduler, "tear_down", ep.name, "ok" if moving else "duplicate", "TTL")
                if moving is not None:
                    self._delete_on_backend(moving, None)
                    actions += 1
                continue
            last = ep.last_used_at or ready_at
            idle = now - last
            if idle >= timedelta(hours=self.idle_hours) and (
                ep.idle_reminder_at is None or ep.idle_reminder_at < last
            ):
                with self.store.transaction() as tx:
                    tx.touch_endpoint(ep.name, idle_reminder_at=now)
                    self._post(
                        tx,
                        ep.job_id,
                        PostKind.IDLE_REMINDER,
                        f"deploy:{ep.name}:idle:{last.timestamp():.0f}",
                        endpoint=ep.name,
                        idle_hours=round(idle.total_seconds() / 3600, 1),
                    )
                actions += 1
        if actions:
            self._changed()
        return actions

    # --- queries ---------------------------------------------------------------------------------

    def card(self, job_id: str) -> JobCard:
        with self.store.transaction() as tx:
            job = tx.get_job(job_id)
            endpoints = tx.endpoints_for_job(job_id)
            pending = tx.pending_approval(job_id)
        current = next((e for e in endpoints if e.live), endpoints[-1] if endpoints else None)
        return JobCard(job=job, endpoint=current, pending_approval=pending)

    def jobs(
        self, *, channel_id: str | None = None, user_id: str | None = None, limit: int = 20
    ) -> list[JobRecord]:
        with self.store.transaction() as tx:
            return tx.find_jobs(channel_id=channel_id, user_id=user_id, limit=limit)

    def live_endpoints(self) -> list[EndpointRecord]:
        with self.store.transaction() as tx:
            return tx.live_endpoints()

    def endpoint(self, name: str) -> EndpointRecord:
        with self.store.transaction() as tx:
            return tx.get_endpoint(name)

    def channel_of_endpoint(self, name: str) -> str:
        with self.store.transaction() as tx:
            return tx.get_job(tx.get_endpoint(name).job_id).channel_id


def _nothing_new(record: JobRecord, job: Job, seen: tuple[int, int]) -> bool:
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
