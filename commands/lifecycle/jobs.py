"""Jobs: list the base models, check a submission, launch it (check, submit, start), poll it, cancel it."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from commands.costs.budgets import Overspend
from commands.dataset import (
    MIN_EXAMPLES,
    MIN_VALIDATION_EXAMPLES,
    ValidationReport,
    split_dataset,
    validate_dataset,
)
from commands.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable, User
from commands.lifecycle.base import Deps, UseCase
from commands.lifecycle.holds import HELD_STATUS, HELD_UNESTIMATED_STATUS, open_hold, withdraw_hold
from commands.lifecycle.options import check_method, training_tier
from commands.lifecycle.progress import nothing_new
from commands.lifecycle.service_data import (
    check_sources,
    cost_unknown,
    dataset_ref,
    not_checked,
    unchecked_report,
)
from commands.lifecycle.sources import remember_sources
from commands.lifecycle.updates import STATE_POSTS, Updates
from commands.lifecycle.values import Checked, Launched, SubmitRequest
from commands.models import (
    BaseModelInfo,
    DatasetRef,
    Job,
    JobSpec,
    JobState,
    Method,
    Task,
    normalized_model_name,
)
from commands.ports import TokenizerSource
from commands.records import Actor, DatasetSummary, JobRecord, LaunchRecord, PostKind

log = logging.getLogger("ftbot.lifecycle")


class DatasetRejected(InvalidInput):
    """The dataset has errors: nothing is submitted. ``report`` holds every problem."""

    code = "dataset_invalid"

    def __init__(self, report: ValidationReport, name: str, *, field: str | None = None) -> None:
        first = "; ".join(f"line {i.line}: {i.message}" if i.line else i.message for i in report.errors[:3])
        total = sum(report.error_counts.values())
        super().__init__(
            f"{{dataset}} has {total} error(s), so nothing was submitted. {first}", field=field, dataset=name
        )
        self.report = report


def _held_status(over: Overspend | None) -> str:
    """A new job's service status: submitting, or held for an approver (with why, when not over)."""
    if over is None:
        return "submitting"
    return HELD_STATUS if over.request is not None else HELD_UNESTIMATED_STATUS


class Jobs(UseCase):
    """A job from its check to its end: what ``/finetune submit``, the wizard and the poller drive. What the
    backend says of a live job is recorded by ``updates``."""

    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)
        self.updates = Updates(deps)

    def models(self) -> list[BaseModelInfo]:
        return self.backend.list_base_models()

    def base_model(self, name: str) -> BaseModelInfo:
        try:
            return self.backend.get_base_model(name)
        except NotFound as e:
            raise InvalidInput(
                "There is no base model called {model}. {command} lists the ones you can fine-tune.",
                field="model",
                model=name,
                command="/finetune models",
            ) from e

    def check_dataset(
        self,
        path: Path,
        *,
        model: BaseModelInfo | None = None,
        task: Task = Task.CHAT_COMPLETION,
        validation: Path | None = None,
        method: Method = Method.SUPERVISED,
        min_examples: int = MIN_EXAMPLES,
    ) -> ValidationReport:
        exact = model is None or (
            model.source != "local" and model.name.lower().startswith(("gpt", "o1", "o3", "o4"))
        )
        tokenizer = None
        if model is not None and isinstance(self.backend, TokenizerSource):
            tokenizer = self.backend.tokenizer_for(model.name)
        return validate_dataset(
            path,
            task=task,
            context_length=model.context_length if model else 4096,
            validation=validation,
            exact_tokenizer=exact,
            tokenizer=tokenizer,
            backend_text_format="text_ground_truth" if self.backend.kind == "azure" else "prompt_completion",
            method=method,
            min_examples=min_examples,
        )

    def check(self, request: SubmitRequest) -> Checked:
        """Validate everything a submission needs (model, data, split) without starting anything."""
        model = self.base_model(request.model)
        if request.task not in model.tasks:
            raise InvalidInput(
                f"{{model}} cannot be fine-tuned for {request.task.value}.", field="task", model=model.name
            )
        check_method(model, request.method, request.hyperparameters)
        tier = training_tier(self.backend, request.training_type)
        if tier != request.training_type:
            request = replace(request, training_type=tier)
        report = self._report(request, model)
        if report.error_counts:  # the training file's own errors (its ``ok`` covers the validation file too)
            raise DatasetRejected(report, request.training.name, field="training")
        if report.validation is not None and not report.validation.ok:
            raise DatasetRejected(
                report.validation, request.validation.name if request.validation else "", field="validation"
            )
        stats, notes = report.stats, not_checked(request)
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
            not_checked=notes[0] if notes and request.training.path is None else None,
        )
        return Checked(request=request, model=model, report=report, summary=summary, not_checked=notes)

    def _report(self, request: SubmitRequest, model: BaseModelInfo) -> ValidationReport:
        """The check of the data that is here: a service dataset too large to download is not read (its
        report is empty), and its validation data is checked on its own."""
        check_sources(request, self.backend.kind)
        validation = request.validation.path if request.validation else None
        if request.training.path is not None:
            return self.check_dataset(
                request.training.path,
                model=model,
                task=request.task,
                validation=validation,
                method=request.method,
            )
        report = unchecked_report(model.context_length)
        if validation is not None:
            alone = self.check_dataset(  # with validation data's minimum, as beside training data
                validation,
                model=model,
                task=request.task,
                method=request.method,
                min_examples=MIN_VALIDATION_EXAMPLES,
            )
            report = report.model_copy(update={"validation": alone})
        return report

    # --- launch ----------------------------------------------------------------------------------

    def launch(self, actor: Actor, prepare: Callable[[], SubmitRequest], *, what: str) -> Launched:
        """Bring the data in (``prepare``), check it, record the job and hand it to the backend:
        ``/finetune submit`` and the wizard's Start. Nothing unchecked starts; a refused dataset raises
        ``DatasetRejected``.

        The launch is recorded before anything slow, so that if this process dies while it downloads or
        checks, the scheduler of the next one tells the user what to run again (``what``, no secrets);
        it is closed in the transaction that records the job, so nothing is ever submitted twice."""
        launch_id = self._begin_launch(actor, what)
        try:
            checked = self.check(prepare())
            job = self.submit(actor, checked, launch_id=launch_id)
        except BaseException:  # the caller answers the user with this error: nothing left to answer
            with self.store.transaction() as tx:
                tx.answer_launch(launch_id, at=self.clock.now())
            raise
        return Launched(checked=checked, job=self.start(job.id))

    def _begin_launch(self, actor: Actor, what: str) -> str:
        now = self.clock.now()
        launch = LaunchRecord(
            id=secrets.token_hex(8),
            team_id=actor.team_id,
            channel_id=actor.channel_id or "",
            user_id=actor.user_id,
            owner=self.owner,
            surface=actor.surface,
            what=what[:300],
            created_at=now,
            updated_at=now,
        )
        with self.store.transaction() as tx:
            tx.begin_launch(launch)
        return launch.id

    def new_job_id(self, model: str, suffix: str | None) -> str:
        stem = normalized_model_name(model)[:28].strip("-") or "model"
        tail = normalized_model_name(suffix)[:16].strip("-") if suffix else ""
        return "-".join(p for p in ("ft", stem, tail, secrets.token_hex(3)) if p)

    def submit(self, actor: Actor, checked: Checked, *, launch_id: str | None = None) -> JobRecord:
        """Record the job (PENDING) and its card. ``start`` hands it to the backend; if the process dies
        in between, the scheduler starts it (``submit_job`` is idempotent on the job name)."""
        req = checked.request
        job_id = req.name or self.new_job_id(checked.model.name, req.suffix)
        job_dir = self.work_dir / job_id
        job_dir.mkdir(parents=True, exist_ok=True)
        remember_sources(job_dir, req)  # what a rerun reuses without downloading again
        training = dataset_ref(req.training)
        validation = None
        if req.validation is not None:
            validation = dataset_ref(req.validation)
        elif req.split and req.training.path is not None:
            train_path, valid_path = split_dataset(req.training.path, req.split, seed=0, out_dir=job_dir)
            training = DatasetRef(kind="file", value=str(train_path), name=req.training.name)
            validation = DatasetRef(
                kind="file", value=str(valid_path), name=f"{req.training.name} (split {req.split:g})"
            )
        spec = JobSpec(
            name=job_id,
            # a backend's full model id as a job file gives it (a pinned version) stays as given
            base_model=req.model if req.model == checked.model.model_id else checked.model.name,
            task=req.task,
            training=training,
            validation=validation,
            hyperparameters=req.hyperparameters,
            suffix=req.suffix,
            output_model_name=req.output_model_name
            or (
                f"{normalized_model_name(checked.model.name)}-{job_id.rsplit('-', 1)[-1]}"
                + (f"-{normalized_model_name(req.suffix)}" if req.suffix else "")
            ),
            tags={
                **req.tags,
                "ftbot_job": job_id,
                "slack_channel": actor.channel_id or "",
                "slack_user": actor.user_id,
            },
            method=req.method,
            training_type=req.training_type,
        )
        now = self.clock.now()
        over = self._over_budget(actor, checked)  # held for an approver instead of submitted
        record = JobRecord(
            id=job_id,
            team_id=actor.team_id,
            channel_id=actor.channel_id or "",
            user_id=actor.user_id,
            spec=spec,
            summary=checked.summary,
            state=JobState.PENDING if over is None else JobState.HELD,
            service_status=_held_status(over),
            created_at=now,
            updated_at=now,
            rerun_of=req.rerun_of,
        )
        with self.store.transaction() as tx:
            tx.add_job(record)
            if req.rerun_of:  # the first job's thread points to its rerun
                self._post(tx, req.rerun_of, PostKind.RERUN, f"rerun:{job_id}", job=job_id, by=actor.user_id)
            if launch_id is not None:
                tx.finish_launch(launch_id, job_id, at=now)
            self._audit(
                tx,
                actor,
                "submit",
                job_id,
                "ok",
                f"model={checked.model.name} examples={checked.report.examples}",
            )
            if over is not None:
                open_hold(self, tx, actor, job_id, over)
        self._changed()
        return record

    def _over_budget(self, actor: Actor, checked: Checked) -> Overspend | None:
        """The budget numbers when this submit's estimate would take its channel past its budget, or when
        its cost cannot be estimated in a channel that has a budget: data too large to read here, or
        training billed by the hour (how long it trains is not known before it runs). A model without a
        training price has no cost to hold."""
        if self.budgets is None or self.costs is None or not actor.channel_id:
            return None
        model, tier = checked.model.name, checked.request.training_type
        hourly = self.costs.training_hourly(model, tier)
        if hourly is not None:
            why = (
                f"The cost of this job could not be estimated: {model} is billed by the hour of training "
                f"({hourly} an hour), and how long it trains is not known before it runs."
            )
            return self.budgets.unestimated(actor.team_id, actor.channel_id, why, self.clock.now())
        tokens = checked.summary.billed_tokens_estimate
        unread = cost_unknown(checked.request)
        if not tokens and unread is not None:
            rate = self.costs.training_rate(model, tier)
            if rate is None or rate.training_per_million_tokens is None:
                return None
            return self.budgets.unestimated(actor.team_id, actor.channel_id, unread, self.clock.now())
        estimate = self.costs.estimate_training(model, tokens, tier)
        return self.budgets.check(actor.team_id, actor.channel_id, estimate, self.clock.now())

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
        record = self.updates.apply(job_id, job)
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
        return spec.model_copy(update=changes) if changes else spec  # pragma: no mutate (a copy: equal)

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
            self._post(tx, record.id, STATE_POSTS[state], f"state:{state.value}", reason=reason)
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
        if nothing_new(record, job, seen):  # the common case: one read, no write
            return record
        return self.updates.apply(job_id, job)

    def record(self, job_id: str, job: Job) -> JobRecord:
        """Record what the backend says of a job (a pause or resume answer) as a poll would."""
        return self.updates.apply(job_id, job)

    # --- cancel ----------------------------------------------------------------------------------

    def cancel(self, actor: Actor, job_id: str) -> JobRecord:
        with self.store.transaction() as tx:
            record = tx.get_job(job_id)
        if actor.user_id != record.user_id and not self.approvers.is_approver(actor.user_id):
            with self.store.transaction() as tx:
                self._audit(tx, actor, "cancel", job_id, "denied", "not the submitter or an approver")
            raise PermissionDenied(
                "Only the submitter ({owner}) or an approver can cancel {job}.",
                owner=User(record.user_id),
                job=job_id,
            )
        if record.state.terminal:
            raise Conflict(
                f"{{job}} has already {record.state.value}; there is nothing to cancel.", job=job_id
            )
        with self.store.transaction() as tx:
            first = tx.request_cancel(job_id, actor.user_id, self.clock.now())
            self._audit(tx, actor, "cancel", job_id, "ok" if first is None else "duplicate")
        if first is not None:
            raise Conflict("A cancel of {job} was already requested by {by}.", job=job_id, by=User(first))
        if record.state is JobState.HELD:  # never submitted: end it here, with its approval request
            return withdraw_hold(self, actor, job_id)
        if record.state is JobState.PENDING:
            return self.start(job_id)  # sees the request and cancels without submitting
        job = self.backend.cancel_job(job_id)
        return self.updates.apply(job_id, job)
