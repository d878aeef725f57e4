"""Datasets and fine-tuning jobs: ``data.create_or_update`` for a training file, ``create_finetuning_job``
and ``jobs.create_or_update`` to start training, ``jobs.get`` and ``jobs.begin_cancel`` after that, as
Microsoft's "Fine-tune models using serverless API deployments in Azure AI Foundry" and the azure-ai-ml
fine-tuning sample do. Jobs come back as ftbot's ``Job`` values, with events, metrics and the output model.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.ai.ml import Input, Output
from azure.ai.ml.constants import AssetTypes
from azure.ai.ml.entities import CustomModelFineTuningJob, Data
from azure.ai.ml.finetuning import FineTuningTaskType, create_finetuning_job
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from bot.backends.azure.catalogue import REGISTRY_MODEL, Catalogue
from bot.backends.azure.errors import azure_errors, scrub
from bot.backends.azure.hyperparameters import to_service_hyperparameters
from bot.backends.azure.metrics import MetricsReader, MlflowMetrics, job_metrics
from bot.backends.azure.project import FoundryProject, parse_time
from commands.errors import InvalidInput, NotFound
from commands.models import (
    BaseModelInfo,
    DatasetRef,
    Job,
    JobEvent,
    JobSpec,
    JobState,
    Task,
    normalized_model_name,
)

logger = logging.getLogger(__name__)

EXPERIMENT_NAME = "ftbot"
UTF8_BOM = b"\xef\xbb\xbf"

#: azure-ai-ml JobStatus values (``.value``) → ftbot's JobState. Anything else is UNKNOWN, kept as-is.
JOB_STATES: dict[str, JobState] = {
    "NotStarted": JobState.QUEUED,
    "Starting": JobState.QUEUED,
    "Provisioning": JobState.QUEUED,
    "Preparing": JobState.QUEUED,
    "Queued": JobState.QUEUED,
    "Running": JobState.RUNNING,
    "Finalizing": JobState.RUNNING,
    "CancelRequested": JobState.RUNNING,
    "Completed": JobState.SUCCEEDED,
    "Failed": JobState.FAILED,
    "NotResponding": JobState.FAILED,
    "Canceled": JobState.CANCELLED,
}

_TASK_TYPES = {
    Task.CHAT_COMPLETION: FineTuningTaskType.CHAT_COMPLETION,
    Task.TEXT_COMPLETION: FineTuningTaskType.TEXT_COMPLETION,
}


def _status_text(status: object) -> str:
    """``JobStatus`` is a str Enum in azure-ai-ml 1.35: ``f"{s}"`` gives ``JobStatus.RUNNING``; use
    ``.value``."""
    value = getattr(status, "value", status)
    return str(value) if value is not None else "Unknown"


def _model_name_from_input(model: Any) -> str | None:
    path = getattr(model, "path", None) if model is not None else None
    match = REGISTRY_MODEL.match(str(path or ""))
    return match.group(2) if match else None


def _job_events(
    state: JobState,
    *,
    created: datetime | None,
    started: datetime | None,
    finished: datetime | None,
    error: str | None,
    output_model: str | None,
) -> list[JobEvent]:
    """The job's timeline as the service's timestamps tell it."""
    events: list[JobEvent] = []
    if created:
        events.append(JobEvent(at=created, kind="queued", message="Submitted to Azure AI Foundry."))
    if started and state in (JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED):
        events.append(JobEvent(at=started, kind="started", message="Training started."))
    end_at = finished or started or created or datetime.now(UTC)
    if state is JobState.SUCCEEDED:
        if output_model:
            events.append(JobEvent(at=end_at, kind="completed", message=f"Registered model {output_model}."))
        else:
            events.append(
                JobEvent(at=end_at, kind="info", message="Completed; waiting for the model to be registered.")
            )
    elif state is JobState.FAILED:
        events.append(JobEvent(at=end_at, kind="failed", message=error or "Failed."))
    elif state is JobState.CANCELLED:
        events.append(JobEvent(at=end_at, kind="cancelled", message="Cancelled."))
    return events


class Jobs:
    """``upload_dataset``, ``submit_job``, ``get_job`` and ``cancel_job`` of the backend. ``metrics_reader``
    reads a job's training metrics (default: MLflow through azureml-mlflow, when installed)."""

    def __init__(
        self, project: FoundryProject, catalogue: Catalogue, *, metrics_reader: MetricsReader | None = None
    ) -> None:
        self._project = project
        self._ws = project.ws
        self._catalogue = catalogue
        self._metrics_reader: MetricsReader = metrics_reader or MlflowMetrics(
            lambda: project.workspace().mlflow_tracking_uri
        )

    # ---- datasets --------------------------------------------------------------------------------------
    def upload_dataset(self, path: Path, *, name: str, task: Task) -> DatasetRef:
        """Local JSONL → a ``uri_file`` data asset, written as UTF-8 with a BOM as Microsoft's "Fine-tune
        models using serverless API deployments in Azure AI Foundry" asks. The version is the content
        hash, so uploading the same file twice creates one asset."""
        path = Path(path)
        if not path.is_file():
            raise InvalidInput(f"{path.name}: no such file.", field="data")
        raw = path.read_bytes()
        body = raw[len(UTF8_BOM) :] if raw.startswith(UTF8_BOM) else raw
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidInput(f"{path.name} is not UTF-8 text (byte {e.start}).", field="data") from e
        content = UTF8_BOM + body
        asset = normalized_model_name(name) or "ftbot-data"
        version = hashlib.sha256(content).hexdigest()[:16]
        ref = DatasetRef(kind="asset", value=f"azureml:{asset}:{version}", name=path.name)
        with azure_errors(f"The dataset {asset}"):
            try:
                self._ws.data.get(asset, version=version)
                return ref  # same content already uploaded
            except ResourceNotFoundError:
                pass
            with tempfile.TemporaryDirectory(prefix="ftbot-upload-") as tmp:
                copy = Path(tmp) / (path.stem + ".jsonl")
                copy.write_bytes(content)
                self._ws.data.create_or_update(
                    Data(
                        name=asset,
                        version=version,
                        type=AssetTypes.URI_FILE,
                        path=str(copy),
                        description=f"ftbot {task.value} dataset {path.name}",
                        tags={"ftbot.task": task.value, "ftbot.source": path.name},
                    )
                )
        return ref

    def _input_uri(self, ref: DatasetRef, *, name: str, task: Task) -> str:
        if ref.kind == "asset":
            return ref.value
        if ref.kind == "url":
            if not ref.value.lower().startswith("https://"):
                raise InvalidInput("Azure reads datasets from https URLs only (Blob SAS or a web location).")
            return ref.value  # passed as a uri_file input: Azure downloads it, ftbot does not
        return self.upload_dataset(Path(ref.value), name=name, task=task).value

    # ---- jobs ------------------------------------------------------------------------------------------
    def submit_job(self, spec: JobSpec) -> Job:
        """Idempotent on ``spec.name``: an existing job of that name is returned, never a second one
        created."""
        existing = self.find_job(spec.name)
        if existing is not None:
            return self._to_job(existing)
        base = self._catalogue.get_base_model(spec.base_model)
        if spec.task not in base.tasks:
            raise InvalidInput(f"{base.name} cannot be fine-tuned for {spec.task.value}.", field="task")
        if not base.model_id:
            raise NotFound(f"The base model {base.name} has no registry id.")
        if base.needs_subscription:
            self._catalogue.ensure_marketplace_subscription(base)
        training = self._input_uri(spec.training, name=f"{spec.name}-train", task=spec.task)
        validation = (
            self._input_uri(spec.validation, name=f"{spec.name}-validation", task=spec.task)
            if spec.validation is not None
            else None
        )
        job = _finetuning_job(spec, base, training, validation)
        with azure_errors(f"The fine-tuning job {spec.name}"):
            try:
                created = self._ws.jobs.create_or_update(job)
            except ResourceExistsError:
                created = self._ws.jobs.get(spec.name)  # a concurrent submit won the race: adopt its job
            except HttpResponseError as err:
                if err.status_code == 409:
                    created = self._ws.jobs.get(spec.name)
                else:
                    raise
        logger.info("submitted fine-tuning job %s (%s)", spec.name, base.name)
        return self._to_job(created)

    def find_job(self, name: str) -> Any | None:
        """The job entity of that name, or ``None``."""
        with azure_errors(f"The fine-tuning job {name}"):
            try:
                return self._ws.jobs.get(name)
            except ResourceNotFoundError:
                return None

    def get_job(self, job_id: str) -> Job:
        with azure_errors(f"The fine-tuning job {job_id}"):
            job = self._ws.jobs.get(job_id)
        return self._to_job(job)

    def cancel_job(self, job_id: str) -> Job:
        current = self.get_job(job_id)
        if current.state.terminal:
            return current
        with azure_errors(f"The fine-tuning job {job_id}"):
            self._ws.jobs.begin_cancel(job_id).result()
        logger.info("asked Azure to cancel job %s", job_id)
        return self.get_job(job_id)

    def _to_job(self, job: Any) -> Job:
        status = _status_text(getattr(job, "status", None))
        state = JOB_STATES.get(status, JobState.UNKNOWN)
        props: Mapping[str, Any] = getattr(job, "properties", None) or {}
        created = parse_time(getattr(getattr(job, "creation_context", None), "created_at", None))
        finished = parse_time(props.get("EndTimeUtc"))
        studio_url = getattr(job, "studio_url", None)
        name = str(job.name)
        base = props.get("azureml.ModelName") or _model_name_from_input(getattr(job, "model", None))
        error = self._failure_reason(name, status) if state is JobState.FAILED else None
        output_model = self._output_model(job) if state is JobState.SUCCEEDED else None
        events = _job_events(
            state,
            created=created,
            started=parse_time(props.get("StartTimeUtc")),
            finished=finished,
            error=error,
            output_model=output_model,
        )
        metrics, note = job_metrics(self._metrics_reader, name, state, studio_url)
        return Job(
            id=name,
            state=state,
            service_status=status,
            base_model=str(base) if base else None,
            created_at=created,
            finished_at=finished if state.terminal else None,
            error=error,
            events=tuple(events),
            metrics=tuple(metrics),
            metrics_note=note,
            output_model=output_model,
            studio_url=studio_url,
        )

    def _output_model(self, job: Any) -> str | None:
        """The registered output model, resolved with ``models.get(name, label="latest")``: the service may
        sanitise the name or bump the version, so never assume ``versions/1``."""
        outputs = getattr(job, "outputs", None) or {}
        out = outputs.get("registered_model")
        requested = getattr(out, "name", None) or (out.get("name") if isinstance(out, dict) else None)
        if not requested:
            return None
        candidates = list(dict.fromkeys([str(requested), re.sub(r"[^a-zA-Z0-9-]", "-", str(requested))]))
        for candidate in candidates:
            with azure_errors(f"The model {candidate}"):
                try:
                    model = self._ws.models.get(candidate, label="latest")
                except ResourceNotFoundError:
                    continue
            return str(model.name)
        return None

    def _failure_reason(self, name: str, status: str) -> str:
        """The service's message for a failed job, from the run's details (run history). That call is
        azure-ai-ml internal API (``jobs._runs_operations``), so any problem with it falls back to a generic
        line."""
        try:
            details = self._ws.jobs._runs_operations.get_run_details(name)
            err = getattr(details, "error", None)
            inner = getattr(err, "error", None)
            message = getattr(inner, "message", None) or getattr(err, "message", None)
            if message:
                return scrub(str(message))
        except Exception:
            logger.warning("could not read the failure reason of job %s", name, exc_info=True)
        if status == "NotResponding":
            return "Azure stopped receiving updates from the job (NotResponding)."
        return "The job failed; the studio page has the service's details."


def _finetuning_job(
    spec: JobSpec, base: BaseModelInfo, training: str, validation: str | None
) -> CustomModelFineTuningJob:
    task = _TASK_TYPES[spec.task]
    output = normalized_model_name(spec.output_model_name)
    tags = {**{str(k): str(v) for k, v in spec.tags.items()}, "ftbot.base_model": base.name}
    if spec.suffix:
        tags["ftbot.suffix"] = spec.suffix
    common: dict[str, Any] = {
        "name": spec.name,
        "display_name": spec.name,
        "experiment_name": EXPERIMENT_NAME,
        "tags": tags,
    }
    hyperparameters = to_service_hyperparameters(spec.hyperparameters)
    model_id = str(base.model_id)
    if validation is not None:
        return create_finetuning_job(
            model=model_id,
            task=task,
            training_data=training,
            validation_data=validation,
            hyperparameters=hyperparameters or None,
            output_model_name_prefix=output,
            **common,
        )
    # create_finetuning_job(validation_data=None) raises UnboundLocalError (azure-ai-ml ≤ 1.35.2):
    # build the same entity it would, without validation data.
    return CustomModelFineTuningJob(
        task=task,
        model=Input(type=AssetTypes.MLFLOW_MODEL, path=model_id),
        training_data=Input(type=AssetTypes.URI_FILE, path=training),
        validation_data=None,
        hyperparameters=hyperparameters or None,
        outputs={"registered_model": Output(type=AssetTypes.MLFLOW_MODEL, name=output)},
        **common,
    )
