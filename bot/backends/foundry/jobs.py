"""Fine-tuning jobs on the v1 API: create (idempotent through ``metadata``), retrieve, cancel, pause,
resume, events and checkpoints, as ftbot's ``Job`` and ``Checkpoint`` values.

ftbot names a job (``JobSpec.name``); the service names it ``ftjob-…``. The job carries ftbot's name in
its ``metadata`` (``JOB_KEY``), so a create whose answer was lost is found by listing the jobs before it
is tried again, and ``get_job(name)`` finds the service's id the same way (then from memory).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import openai

from bot.backends.foundry.catalogue import Catalogue
from bot.backends.foundry.constants import (
    JOB_KEY,
    METHOD_NAMES,
    SEED_TAG,
    TRAINING_TIERS,
    checkpoint_model,
    find,
)
from bot.backends.foundry.errors import map_openai_error, openai_errors, scrub
from bot.backends.foundry.events import job_events, metric_points, when
from commands.errors import Conflict, InvalidInput, NotFound, Unavailable
from commands.models import Checkpoint, Job, JobSpec, JobState, Method

logger = logging.getLogger(__name__)

#: Azure's statuses (created … cancelled) and OpenAI's (validating_files, queued) → ftbot's. Anything
#: else is UNKNOWN, shown as the service wrote it.
JOB_STATES: dict[str, JobState] = {
    "created": JobState.QUEUED,
    "pending": JobState.QUEUED,
    "validating_files": JobState.QUEUED,
    "queued": JobState.QUEUED,
    "running": JobState.RUNNING,
    "pausing": JobState.RUNNING,
    "resuming": JobState.RUNNING,
    "paused": JobState.PAUSED,
    "succeeded": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
}
#: the service keeps this many checkpoints deployable ("the three most recent")
DEPLOYABLE_CHECKPOINTS = 3
MAX_LISTED = 1000


def hyperparameters(spec: JobSpec) -> dict[str, Any]:
    hp = spec.hyperparameters
    out: dict[str, Any] = {
        "n_epochs": hp.n_epochs if hp.n_epochs is not None else "auto",
        "batch_size": hp.batch_size if hp.batch_size is not None else "auto",
        "learning_rate_multiplier": hp.learning_rate_multiplier
        if hp.learning_rate_multiplier is not None
        else "auto",
    }
    if spec.method is Method.DPO:
        out["beta"] = hp.beta if hp.beta is not None else "auto"
    return out


def failure(error: Any) -> str | None:
    """The failed job's ``error.message`` and code, scrubbed."""
    if not error:
        return None
    data = error if isinstance(error, dict) else getattr(error, "model_dump", lambda: {})()
    message = scrub(str(data.get("message") or "").strip()) or "The service gave no reason."
    code = data.get("code")
    return f"{message} ({code})" if code else message


class Jobs:
    def __init__(
        self,
        client: openai.OpenAI,
        catalogue: Catalogue,
        *,
        training_type: str = "Standard",
        create_tries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._catalogue = catalogue
        self._training_type = training_type
        self._create_tries = create_tries
        self._sleep = sleep
        self._ids: dict[str, str] = {}  # ftbot name → service id
        self._ended: dict[str, Job] = {}  # terminal jobs do not change: asked once
        self._lock = threading.Lock()

    # ---- create ------------------------------------------------------------------------------------
    def submit_job(self, spec: JobSpec, training: str, validation: str | None) -> Job:
        """Idempotent on ``spec.name``: an existing job is returned, a lost answer is found again."""
        found = self.find(spec.name)
        if found is not None:
            return self.to_job(spec.name, found)
        base = self._catalogue.get_base_model(spec.base_model)
        if spec.method not in base.methods:
            raise InvalidInput(
                f"{{model}} cannot be trained with {spec.method.value} on this resource.",
                field="method",
                model=base.name,
            )
        tier = find(TRAINING_TIERS, spec.training_type or self._training_type)
        if tier is None:
            raise InvalidInput(
                "Unknown training type {tier}: use Standard, GlobalStandard or Developer.",
                field="training_type",
                tier=str(spec.training_type),
            )
        method = METHOD_NAMES[spec.method]
        body: dict[str, Any] = {
            "model": base.model_id or base.name,
            "training_file": training,
            "method": {"type": method, method: {"hyperparameters": hyperparameters(spec)}},
            "metadata": {JOB_KEY: spec.name},
            "extra_body": {"trainingType": tier.wire},
        }
        if validation:
            body["validation_file"] = validation
        if spec.suffix:
            body["suffix"] = spec.suffix
        seed = spec.tags.get(SEED_TAG)  # from `ftbot submit job.json`
        if seed is not None and seed.isdigit():
            body["seed"] = int(seed)
        created = self._create(spec.name, body)
        logger.info("submitted fine-tuning job %s as %s (%s)", spec.name, created.id, base.name)
        return self.to_job(spec.name, created)

    def _create(self, name: str, body: dict[str, Any]) -> Any:
        """Create without the client's own retries (a retried POST could make a second job): on a
        transient failure, look the job up by its key first, and create again only if it is not there."""
        once = self._client.with_options(max_retries=0)
        for attempt in range(1, self._create_tries + 1):
            try:
                with openai_errors(f"The fine-tuning job {name}"):
                    created = once.fine_tuning.jobs.create(**body)
                self._remember(name, created.id)
                return created
            except Unavailable as err:  # timeout, no answer, 5xx, throttling: maybe created
                if attempt == self._create_tries:
                    raise
                retry = err.retry_after
                found = self.find(name)
                if found is not None:
                    logger.info("job %s was created although its answer was lost; adopted", name)
                    return found
                self._sleep(min(retry if retry is not None else 2.0**attempt, 30.0))
        raise AssertionError("unreachable")

    # ---- lookup ------------------------------------------------------------------------------------
    def _remember(self, name: str, service_id: str) -> None:
        with self._lock:
            self._ids[name] = service_id

    def find(self, name: str) -> Any | None:
        """The service's job carrying ``name`` in its metadata, or ``None``."""
        with openai_errors("The list of fine-tuning jobs"):
            for i, item in enumerate(self._client.fine_tuning.jobs.list(limit=100)):
                if i >= MAX_LISTED:
                    break
                if (getattr(item, "metadata", None) or {}).get(JOB_KEY) == name:
                    self._remember(name, item.id)
                    return item
        return None

    def service_id(self, job_id: str) -> str:
        """``ftjob-…`` for ftbot's name (a service id is taken as it is)."""
        if job_id.startswith("ftjob-"):  # ftbot's own names start with "ft-": looked up by metadata
            return job_id
        with self._lock:
            known = self._ids.get(job_id)
        if known:
            return known
        found = self.find(job_id)
        if found is None:
            raise NotFound("No fine-tuning job {job} on the Azure OpenAI resource.", job=job_id)
        return str(found.id)

    # ---- read --------------------------------------------------------------------------------------
    def get_job(self, job_id: str) -> Job:
        with self._lock:
            ended = self._ended.get(job_id)
        if ended is not None:
            return ended
        service_id = self.service_id(job_id)
        with openai_errors(f"The fine-tuning job {job_id}"):
            raw = self._client.fine_tuning.jobs.retrieve(service_id)
        return self.to_job(job_id, raw)

    def to_job(self, name: str, raw: Any) -> Job:
        status = str(getattr(raw, "status", None) or "unknown")
        state = JOB_STATES.get(status, JobState.UNKNOWN)
        events: list[Any] = []
        if state is not JobState.QUEUED:
            with openai_errors(f"The events of {name}"):
                pages = self._client.fine_tuning.jobs.list_events(raw.id, limit=100)
                events = [e.model_dump() for _, e in zip(range(20 * MAX_LISTED), pages, strict=False)]
        metrics = metric_points(events)
        job = Job(
            id=name,
            state=state,
            service_status=status,
            base_model=getattr(raw, "model", None),
            created_at=when(getattr(raw, "created_at", None)),
            finished_at=when(getattr(raw, "finished_at", None)) if state.terminal else None,
            error=failure(getattr(raw, "error", None)) if state is JobState.FAILED else None,
            events=tuple(job_events(events, ended=state.terminal)),
            metrics=tuple(metrics),
            metrics_note=None
            if metrics or not state.terminal
            else "Azure OpenAI reported no training metrics for this job.",
            output_model=getattr(raw, "fine_tuned_model", None) if state is JobState.SUCCEEDED else None,
            trained_tokens=getattr(raw, "trained_tokens", None) or None,
        )
        if state.terminal:
            with self._lock:
                self._ended[name] = job
        return job

    # ---- act ---------------------------------------------------------------------------------------
    def cancel_job(self, job_id: str) -> Job:
        current = self.get_job(job_id)
        if current.state.terminal:
            return current
        with openai_errors(f"The fine-tuning job {job_id}"):
            raw = self._client.fine_tuning.jobs.cancel(self.service_id(job_id))
        return self.to_job(job_id, raw)

    def pause_job(self, job_id: str) -> Job:
        return self._toggle(job_id, "pause", ("running",))

    def resume_job(self, job_id: str) -> Job:
        return self._toggle(job_id, "resume", ("paused",))

    def _toggle(self, job_id: str, verb: str, allowed: tuple[str, ...]) -> Job:
        current = self.get_job(job_id)
        if current.service_status not in allowed:
            raise Conflict(
                f"{{job}} is {current.service_status}; only a {' or '.join(allowed)} job can be {verb}d.",
                job=job_id,
            )
        jobs = self._client.fine_tuning.jobs
        try:
            raw = (jobs.pause if verb == "pause" else jobs.resume)(self.service_id(job_id))
        except openai.BadRequestError as err:  # e.g. a running job that has not done a step yet
            mapped = map_openai_error(err, what=f"The fine-tuning job {job_id}")
            raise Conflict(f"Azure OpenAI would not {verb} {{job}}: {mapped.message}", job=job_id) from err
        except openai.OpenAIError as err:
            raise map_openai_error(err, what=f"The fine-tuning job {job_id}") from err
        return self.to_job(job_id, raw)

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        """The deployable checkpoints (the three most recent steps), oldest first; empty until the job
        has ended (the service lists them for terminal jobs only)."""
        job = self.get_job(job_id)
        if not job.state.terminal:
            return []
        with openai_errors(f"The checkpoints of {job_id}"):
            pages = self._client.fine_tuning.jobs.checkpoints.list(self.service_id(job_id), limit=100)
            raw = [c.model_dump() for _, c in zip(range(MAX_LISTED), pages, strict=False)]
        out: list[Checkpoint] = []
        for item in raw:
            step = item.get("step_number")
            if not isinstance(step, int):
                continue
            metrics = {
                str(k): float(v)
                for k, v in (item.get("metrics") or {}).items()
                if isinstance(v, (int, float)) and v != -1 and k != "step"
            }
            out.append(
                Checkpoint(
                    number=step,
                    model=checkpoint_model(
                        str(item.get("id") or ""), str(item.get("fine_tuned_model_checkpoint") or "")
                    ),
                    step=step,
                    metrics=metrics,
                    created_at=when(item.get("created_at")),
                )
            )
        out.sort(key=lambda c: c.number)
        return out[-DEPLOYABLE_CHECKPOINTS:]
