"""Azure AI Foundry serverless (MaaS) fine-tuning, on azure-ai-ml.

``AzureBackend`` implements ``commands.ports.FineTuningBackend`` with the calls Microsoft's article and SDK
sample make (reference/azure-ai-ml.md): registry ``models.get(label="latest")`` for base models and their
``maas-finetuning-deploy-regions`` tag, ``data.create_or_update`` for datasets, ``marketplace_subscriptions``
for non-Microsoft models, ``create_finetuning_job`` + ``jobs.create_or_update``, ``jobs.get`` /
``begin_cancel``, ``ServerlessEndpoint`` + ``serverless_endpoints.*``, ``get_keys`` and
``POST {scoring_uri}/v1/chat/completions``.

It is built from injected ``MLClient`` objects (one for the Foundry project, one per registry), so tests hand
it clients whose azure-core transport is an in-process fake. azure-ai-ml is synchronous and slow: callers run
these methods in worker threads, never on Bolt's ack path. Every SDK error leaves as a ``commands.errors``
type through ``bot.backends.azure.errors``. Endpoint keys are fetched per call, used for one request and
never logged, stored or returned.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from azure.ai.ml import Input, MLClient, Output
from azure.ai.ml.constants import AssetTypes
from azure.ai.ml.entities import (
    CustomModelFineTuningJob,
    Data,
    MarketplaceSubscription,
    ServerlessEndpoint,
)
from azure.ai.ml.finetuning import FineTuningTaskType, create_finetuning_job
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from bot.backends.azure.errors import azure_errors, scrub
from bot.backends.azure.hyperparameters import to_service_hyperparameters
from commands.errors import BackendAuthError, Conflict, FtbotError, InvalidInput, NotFound, Unavailable
from commands.models import (
    BaseModelInfo,
    ChatReply,
    ChatRequest,
    DatasetRef,
    Endpoint,
    EndpointState,
    Job,
    JobEvent,
    JobSpec,
    JobState,
    MetricPoint,
    Task,
    Usage,
    normalized_model_name,
)

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from bot.runtime.settings import Settings

logger = logging.getLogger(__name__)

#: Microsoft's own registry: its models (the Phi family) need no marketplace subscription
MICROSOFT_REGISTRY = "azureml"
DEPLOY_REGIONS_TAG = "maas-finetuning-deploy-regions"
EXPERIMENT_NAME = "ftbot"
UTF8_BOM = b"\xef\xbb\xbf"

#: Base models offered when FTBOT_AZURE_MODELS adds nothing: serverless fine-tunable models from the article,
#: as ``registry/name``. Each is resolved to its latest version (and tags) when the catalogue is loaded;
#: models a project cannot see are left out with a log line.
DEFAULT_MODELS: tuple[str, ...] = (
    "azureml/Phi-4-mini-instruct",
    "azureml/Phi-3.5-mini-instruct",
    "azureml/Phi-3-mini-4k-instruct",
    "azureml/Phi-3-mini-128k-instruct",
    "azureml/Phi-3-medium-4k-instruct",
    "azureml/Phi-3-medium-128k-instruct",
    "azureml-meta/Meta-Llama-3.1-8B-Instruct",
    "azureml-meta/Meta-Llama-3.1-70B-Instruct",
    "azureml-mistral/Ministral-3B",
    "azureml-mistral/Mistral-Nemo",
)

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

#: ServerlessEndpoint.provisioning_state (snake_case in the SDK) → EndpointState
ENDPOINT_STATES: dict[str, EndpointState] = {
    "succeeded": EndpointState.READY,
    "failed": EndpointState.FAILED,
    "canceled": EndpointState.FAILED,
    "deleting": EndpointState.DELETING,
}

_TASK_TYPES = {
    Task.CHAT_COMPLETION: FineTuningTaskType.CHAT_COMPLETION,
    Task.TEXT_COMPLETION: FineTuningTaskType.TEXT_COMPLETION,
}
_MODEL_IN_ID = re.compile(r"/models/([^/]+)(?:/versions/[^/]+)?/?$")
_REGISTRY_MODEL = re.compile(r"^azureml://registries/([^/]+)/models/([^/]+)(?:/versions/([^/]+))?$")

MetricsReader = Callable[[str], Sequence[MetricPoint]]


class MetricsUnavailable(Exception):
    """Raised by a metrics reader that cannot read metrics here (e.g. azureml-mlflow is not installed)."""


def client_options(
    *,
    retry_total: int = 3,
    retry_backoff_factor: float = 0.8,
    polling_interval: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Keyword arguments for every ``MLClient`` ftbot builds: azure-core's own retry policy (it backs off on
    429 and 5xx and honours Retry-After), telemetry off. Tests pass ``retry_total=0, polling_interval=0``."""
    options: dict[str, Any] = {
        "retry_total": retry_total,
        "retry_backoff_factor": retry_backoff_factor,
        "retry_backoff_max": 30,
        "enable_telemetry": False,
        "show_progress": False,  # no tqdm upload bars on the bot's (or `ftbot submit --json`'s) stdout
        **extra,
    }
    if polling_interval is not None:
        options["polling_interval"] = polling_interval
    return options


def _cheap_experimental_check() -> None:
    """azure-ai-ml calls ``inspect.stack()`` on every call of an ``@experimental`` class or method (serverless
    endpoints, marketplace subscriptions, fine-tuning jobs) only to decide whether to log its "experimental"
    warning; ``inspect.stack()`` reads the source of every frame and costs 50-500 ms a call. Replace that
    check with the same test (is ``_from_rest_object`` on the stack?) done on frame objects. Idempotent; if a
    future azure-ai-ml drops the private function, nothing is patched."""
    import sys

    try:
        from azure.ai.ml._utils import _experimental
    except ImportError:  # pragma: no cover - layout of a future azure-ai-ml
        return
    if not hasattr(_experimental, "_should_skip_warning") or getattr(
        _experimental._should_skip_warning, "_ftbot", False
    ):
        return

    def _should_skip_warning() -> bool:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == "_from_rest_object":
                return True
            frame = frame.f_back  # type: ignore[assignment]
        return False

    _should_skip_warning._ftbot = True  # type: ignore[attr-defined]
    _experimental._should_skip_warning = _should_skip_warning


@dataclass(frozen=True)
class _Workspace:
    location: str
    guid: str
    mlflow_tracking_uri: str | None


def _status_text(status: object) -> str:
    """``JobStatus`` is a str Enum in azure-ai-ml 1.35: ``f"{s}"`` gives ``JobStatus.RUNNING``; use
    ``.value``."""
    value = getattr(status, "value", status)
    return str(value) if value is not None else "Unknown"


def parse_regions(tag: str | None) -> tuple[str, ...]:
    """The ``maas-finetuning-deploy-regions`` tag: its exact format is not documented, so accept a JSON list
    or any comma/semicolon/space separated string. Region names are lower-cased without spaces (``East US 2``
    →
    ``eastus2``) as ``Workspace.location`` writes them."""
    if not tag:
        return ()
    items: list[str]
    try:
        parsed = json.loads(tag)
    except ValueError:
        parsed = None
    items = [str(p) for p in parsed] if isinstance(parsed, list) else re.split(r"[,;|\n]+", tag.strip("[]"))
    out: list[str] = []
    for item in items:
        region = re.sub(r"[\s\"']+", "", item).lower()
        if region and region not in out:
            out.append(region)
    return tuple(out)


def _tasks_from_tags(tags: Mapping[str, str]) -> tuple[Task, ...]:
    task = str(tags.get("task", "")).lower()
    if "chat" in task:
        return (Task.CHAT_COMPLETION,)
    if "text-generation" in task or "completion" in task:
        return (Task.TEXT_COMPLETION, Task.CHAT_COMPLETION)
    return (Task.CHAT_COMPLETION, Task.TEXT_COMPLETION)


def _context_length(tags: Mapping[str, str]) -> int:
    for key in ("maxContextLength", "context_length", "max_context_length", "model_max_length"):
        value = tags.get(key)
        if value and str(value).isdigit():
            return int(value)
    return 4096


def _split_model_ref(ref: str, default_registry: str) -> tuple[str, str]:
    registry, sep, name = ref.partition("/")
    return (registry, name) if sep else (default_registry, ref)


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class AzureBackend:
    """``FineTuningBackend`` on Azure AI Foundry. Thread-safe for the bot's worker threads."""

    kind = "azure"

    def __init__(
        self,
        workspace: MLClient,
        registries: Mapping[str, MLClient] | None = None,
        *,
        registry_factory: Callable[[str], MLClient] | None = None,
        models: Sequence[str] = DEFAULT_MODELS,
        default_registry: str = MICROSOFT_REGISTRY,
        catalog_ttl_s: float = 3600.0,
        deploy_wait_s: float = 900.0,
        http_client: httpx.Client | None = None,
        metrics_reader: MetricsReader | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``workspace`` is the Foundry project's client; ``registries`` maps registry names to registry
        clients (``MLClient(cred, registry_name=...)``); ``registry_factory`` builds a missing one on first
        use (its constructor calls the registry discovery service). ``models`` lists the catalogue as ``name``
        (in ``default_registry``) or ``registry/name``. ``deploy_wait_s``: how long ``deploy_model`` waits for
        the endpoint's LRO before returning it as ``creating``. ``metrics_reader`` reads a job's training
        metrics (default: MLflow through azureml-mlflow, when installed)."""
        self._ws = workspace
        self._registries: dict[str, MLClient] = dict(registries or {})
        self._registry_factory = registry_factory
        self._models = list(dict.fromkeys(models))
        self._default_registry = default_registry
        self._catalog_ttl_s = catalog_ttl_s
        self._deploy_wait_s = deploy_wait_s
        self._http = http_client or httpx.Client(timeout=httpx.Timeout(120.0, connect=10.0))
        self._metrics_reader = metrics_reader
        self._clock = clock
        self._lock = threading.RLock()
        self._catalog_lock = threading.Lock()
        self._catalog: tuple[float, list[BaseModelInfo]] | None = None
        self._workspace_info: _Workspace | None = None
        _cheap_experimental_check()

    # ---- construction ----------------------------------------------------------------------------------
    @classmethod
    def from_settings(
        cls, settings: Settings, *, credential: TokenCredential | None = None, **client_kwargs: Any
    ) -> AzureBackend:
        """Clients for AZURE_SUBSCRIPTION_ID / AZURE_RESOURCE_GROUP / AZURE_AI_PROJECT with azure-identity's
        ``DefaultAzureCredential`` (managed identity in a container, ``az login`` on a laptop). Registry
        clients are built lazily, the first time a model from that registry is needed."""
        if not (
            settings.azure_subscription_id and settings.azure_resource_group and settings.azure_ai_project
        ):
            raise InvalidInput(
                "The Azure backend needs AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP and AZURE_AI_PROJECT."
            )
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        options = client_options(**client_kwargs)
        workspace = MLClient(
            credential,
            subscription_id=settings.azure_subscription_id,
            resource_group_name=settings.azure_resource_group,
            workspace_name=settings.azure_ai_project,
            **options,
        )

        def registry(name: str) -> MLClient:
            return MLClient(credential, registry_name=name, **options)

        extras = [m for m in settings.azure_models if m]
        return cls(
            workspace,
            registry_factory=registry,
            models=[*DEFAULT_MODELS, *extras],
            default_registry=settings.azure_registry,
        )

    def _registry(self, name: str) -> MLClient:
        with self._lock:
            client = self._registries.get(name)
            if client is not None:
                return client
            if self._registry_factory is None:
                raise NotFound(f"The model registry {name} is not configured for ftbot.")
            with azure_errors(f"The model registry {name}"):
                client = self._registry_factory(name)
            self._registries[name] = client
            return client

    def _workspace(self) -> _Workspace:
        with self._lock:
            if self._workspace_info is None:
                with azure_errors("The Azure AI Foundry project"):
                    ws = self._ws.workspaces.get(self._ws.workspace_name)
                self._workspace_info = _Workspace(
                    location=str(ws.location or "").lower().replace(" ", ""),
                    guid=str(getattr(ws, "_workspace_id", "") or ""),
                    mlflow_tracking_uri=getattr(ws, "mlflow_tracking_uri", None),
                )
            return self._workspace_info

    # ---- base models -----------------------------------------------------------------------------------
    def list_base_models(self) -> list[BaseModelInfo]:
        """The catalogue, cached for ``catalog_ttl_s``: at most one round of registry calls per TTL, so
        Slack's option loads (3 s budget) are answered from memory. Concurrent callers wait for one load."""
        cached = self._catalog
        if cached is not None and self._clock() - cached[0] < self._catalog_ttl_s:
            return list(cached[1])
        with self._catalog_lock:
            cached = self._catalog
            if cached is not None and self._clock() - cached[0] < self._catalog_ttl_s:
                return list(cached[1])
            models = self._load_catalog()
            self._catalog = (self._clock(), models)
            return list(models)

    def refresh_base_models(self) -> list[BaseModelInfo]:
        """Drop the cache and load again (call from a background thread at start-up to warm it)."""
        with self._catalog_lock:
            self._catalog = None
        return self.list_base_models()

    def _load_catalog(self) -> list[BaseModelInfo]:
        refs = [_split_model_ref(m, self._default_registry) for m in self._models]
        errors: list[FtbotError] = []

        def resolve(ref: tuple[str, str]) -> BaseModelInfo | None:
            registry, name = ref
            try:
                return self._resolve_base_model(registry, name)
            except NotFound:
                logger.info("base model %s/%s is not available to this project; left out", registry, name)
                return None
            except FtbotError as err:
                logger.warning("could not load base model %s/%s: %s", registry, name, err.message)
                errors.append(err)
                return None

        with ThreadPoolExecutor(max_workers=min(8, max(1, len(refs)))) as pool:
            found = [m for m in pool.map(resolve, refs) if m is not None]
        if not found and errors:
            raise errors[0]
        return found

    def _resolve_base_model(self, registry: str, name: str, version: str | None = None) -> BaseModelInfo:
        client = self._registry(registry)
        with azure_errors(f"The base model {name}"):
            model = (
                client.models.get(name, version=version)
                if version
                else client.models.get(name, label="latest")
            )
        tags = {str(k): str(v) for k, v in (model.tags or {}).items()}
        return BaseModelInfo(
            name=str(model.name or name),
            version=str(model.version) if model.version else None,
            source=registry,
            description=(model.description or "")[:300],
            tasks=_tasks_from_tags(tags),
            deploy_regions=parse_regions(tags.get(DEPLOY_REGIONS_TAG)),
            needs_subscription=registry != MICROSOFT_REGISTRY,
            context_length=_context_length(tags),
            model_id=str(model.id),
        )

    def get_base_model(self, name: str) -> BaseModelInfo:
        """By the name ``list_base_models`` shows, ``registry/name``, or a full registry asset id
        (``azureml://registries/R/models/N/versions/V``, as the CLI YAML gives it: that exact version)."""
        wanted = name.strip()
        pinned = _REGISTRY_MODEL.match(wanted)
        if pinned:
            registry, plain, version = pinned.groups()
            try:
                return self._resolve_base_model(registry, plain, version)
            except NotFound:
                raise NotFound(f"No base model {wanted} in the registry {registry}.") from None
        for model in self.list_base_models():
            if (
                model.name.lower() == wanted.lower()
                or f"{model.source}/{model.name}".lower() == wanted.lower()
            ):
                return model
        registry, plain = _split_model_ref(wanted, self._default_registry)
        try:
            return self._resolve_base_model(registry, plain)
        except NotFound:
            raise NotFound(
                f"No base model called {name!r}. "
                "`/finetune models` lists the ones this project can fine-tune."
            ) from None

    # ---- datasets --------------------------------------------------------------------------------------
    def upload_dataset(self, path: Path, *, name: str, task: Task) -> DatasetRef:
        """Local JSONL → a ``uri_file`` data asset, written as UTF-8 with a BOM as the article asks. The
        version is the content hash, so uploading the same file twice creates one asset."""
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
        existing = self._find_job(spec.name)
        if existing is not None:
            return self._to_job(existing)
        base = self.get_base_model(spec.base_model)
        if spec.task not in base.tasks:
            raise InvalidInput(f"{base.name} cannot be fine-tuned for {spec.task.value}.", field="task")
        if not base.model_id:
            raise NotFound(f"The base model {base.name} has no registry id.")
        if base.needs_subscription:
            self.ensure_marketplace_subscription(base)
        training = self._input_uri(spec.training, name=f"{spec.name}-train", task=spec.task)
        validation = (
            self._input_uri(spec.validation, name=f"{spec.name}-validation", task=spec.task)
            if spec.validation is not None
            else None
        )
        job = self._finetuning_job(spec, base, training, validation)
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

    def _find_job(self, name: str) -> Any | None:
        with azure_errors(f"The fine-tuning job {name}"):
            try:
                return self._ws.jobs.get(name)
            except ResourceNotFoundError:
                return None

    def _finetuning_job(
        self, spec: JobSpec, base: BaseModelInfo, training: str, validation: str | None
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
        # create_finetuning_job(validation_data=None) raises UnboundLocalError (azure-ai-ml ≤ 1.35.2,
        # reference §0.5): build the same entity it would, without validation data.
        return CustomModelFineTuningJob(
            task=task,
            model=Input(type=AssetTypes.MLFLOW_MODEL, path=model_id),
            training_data=Input(type=AssetTypes.URI_FILE, path=training),
            validation_data=None,
            hyperparameters=hyperparameters or None,
            outputs={"registered_model": Output(type=AssetTypes.MLFLOW_MODEL, name=output)},
            **common,
        )

    def ensure_marketplace_subscription(self, base: BaseModelInfo) -> None:
        """Subscribe the project to a non-Microsoft model's marketplace offer before training. Idempotent: an
        existing subscription is fine. The model id is given without ``/versions/N``, as the sample does."""
        model_id = re.sub(r"/versions/[^/]+$", "", str(base.model_id))
        name = normalized_model_name(base.name)[:50] or "ftbot-model"
        with azure_errors(f"The marketplace subscription for {base.name}"):
            try:
                current = self._ws.marketplace_subscriptions.get(name)
            except ResourceNotFoundError:
                current = None
            if current is not None and str(current.status or "").lower() in ("subscribed", ""):
                return
            try:
                self._ws.marketplace_subscriptions.begin_create_or_update(
                    MarketplaceSubscription(name=name, model_id=model_id)
                ).result()
            except ResourceExistsError:
                return
        logger.info("created marketplace subscription %s for %s", name, base.name)

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
        created = _parse_time(getattr(getattr(job, "creation_context", None), "created_at", None))
        started = _parse_time(props.get("StartTimeUtc"))
        finished = _parse_time(props.get("EndTimeUtc"))
        studio_url = getattr(job, "studio_url", None)
        name = str(job.name)
        base = props.get("azureml.ModelName") or self._model_name_from_input(getattr(job, "model", None))

        error: str | None = None
        if state is JobState.FAILED:
            error = self._failure_reason(name, status)
        output_model: str | None = None
        events: list[JobEvent] = []
        if created:
            events.append(JobEvent(at=created, kind="queued", message="Submitted to Azure AI Foundry."))
        if started and state in (JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED):
            events.append(JobEvent(at=started, kind="started", message="Training started."))
        end_at = finished or started or created or datetime.now(UTC)
        if state is JobState.SUCCEEDED:
            output_model = self._output_model(job)
            if output_model:
                events.append(
                    JobEvent(at=end_at, kind="completed", message=f"Registered model {output_model}.")
                )
            else:
                events.append(
                    JobEvent(
                        at=end_at, kind="info", message="Completed; waiting for the model to be registered."
                    )
                )
        elif state is JobState.FAILED:
            events.append(JobEvent(at=end_at, kind="failed", message=error or "Failed."))
        elif state is JobState.CANCELLED:
            events.append(JobEvent(at=end_at, kind="cancelled", message="Cancelled."))

        metrics, note = self._metrics(name, state, studio_url)
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

    @staticmethod
    def _model_name_from_input(model: Any) -> str | None:
        path = getattr(model, "path", None) if model is not None else None
        match = _REGISTRY_MODEL.match(str(path or ""))
        return match.group(2) if match else None

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

    def _metrics(
        self, name: str, state: JobState, studio_url: str | None
    ) -> tuple[list[MetricPoint], str | None]:
        where = f" See the job's studio page: {studio_url}" if studio_url else ""
        if state in (JobState.PENDING, JobState.QUEUED):
            return [], "Training has not started yet."
        reader = self._metrics_reader or self._mlflow_metrics
        try:
            points = list(reader(name))
        except MetricsUnavailable as e:
            return [], f"{e}{where}"
        except Exception:
            logger.warning("could not read metrics of job %s", name, exc_info=True)
            return [], f"Training metrics could not be read from Azure.{where}"
        if not points:
            return [], f"Azure has not reported training metrics for this job.{where}"
        return points, None

    def _mlflow_metrics(self, name: str) -> list[MetricPoint]:
        """Training metrics from the job's MLflow run. Needs the optional extra ``mlflow``
        (azureml-mlflow)."""
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as e:
            raise MetricsUnavailable(
                "Training metrics need azureml-mlflow, which is not installed (pip install 'ftbot[mlflow]')."
            ) from e
        tracking_uri = self._workspace().mlflow_tracking_uri
        if not tracking_uri:
            raise MetricsUnavailable("This project has no MLflow tracking URI.")
        client = MlflowClient(tracking_uri=tracking_uri)
        runs = [name]
        try:  # MaaS fine-tuning logs from a child run; look at the job's run and its children
            children = client.search_runs(
                experiment_ids=[client.get_run(name).info.experiment_id],
                filter_string=f"tags.mlflow.parentRunId = '{name}'",
            )
            runs += [r.info.run_id for r in children]
        except Exception:
            logger.debug("no child runs for %s", name, exc_info=True)
        columns = {
            "train_loss": "train_loss",
            "loss": "train_loss",
            "train_mean_token_accuracy": "train_mean_token_accuracy",
            "eval_loss": "valid_loss",
            "valid_loss": "valid_loss",
            "validation_loss": "valid_loss",
            "eval_mean_token_accuracy": "valid_mean_token_accuracy",
            "valid_mean_token_accuracy": "valid_mean_token_accuracy",
        }
        rows: dict[int, dict[str, float]] = {}
        for run_id in runs:
            for key, column in columns.items():
                try:
                    history = client.get_metric_history(run_id, key)
                except Exception:  # the metric is not logged by this run
                    logger.debug("no metric %s in run %s", key, run_id)
                    continue
                for point in history:
                    rows.setdefault(int(point.step), {}).setdefault(column, float(point.value))
        return [MetricPoint(step=s, **values) for s, values in sorted(rows.items())]

    # ---- endpoints -------------------------------------------------------------------------------------
    def deploy_model(self, model: str, endpoint_name: str) -> Endpoint:
        """Serve a fine-tuned model from a serverless endpoint. Refuses a region not in the base model's
        ``maas-finetuning-deploy-regions`` tag, and a second endpoint for the same model (the article's rule:
        one deployment per custom model) with ``Conflict(existing=...)``."""
        with azure_errors(f"The model {model}"):
            version = self._ws.models.get(model, label="latest")
        serving = self._endpoints_serving(model)
        if serving:
            raise Conflict(
                f"{model} is already deployed as {serving[0].name}: "
                "a fine-tuned model can have one deployment.",
                existing=serving[0].name,
            )
        with azure_errors(f"The endpoint {endpoint_name}"):
            try:
                other = self._ws.serverless_endpoints.get(endpoint_name)
            except ResourceNotFoundError:
                other = None
        if other is not None:
            raise Conflict(
                f"An endpoint named {endpoint_name} already exists "
                f"(serving {self._to_endpoint(other).model}).",
                existing=endpoint_name,
            )
        ws = self._workspace()
        self._check_region(version, ws.location)
        model_id = f"azureml://locations/{ws.location}/workspaces/{ws.guid}/models/{model}/versions/{version.version}"
        endpoint = ServerlessEndpoint(name=endpoint_name, model_id=model_id, tags={"ftbot.model": model})
        with azure_errors(f"The endpoint {endpoint_name}"):
            poller = self._ws.serverless_endpoints.begin_create_or_update(endpoint)
            poller.wait(timeout=self._deploy_wait_s)
            created = poller.result() if poller.done() else self._ws.serverless_endpoints.get(endpoint_name)
        logger.info("deploying %s as serverless endpoint %s", model, endpoint_name)
        return self._to_endpoint(created)

    def _check_region(self, version: Any, location: str) -> None:
        base = self._base_of(version)
        if base is None or not base.deploy_regions:
            return
        if location not in base.deploy_regions:
            raise InvalidInput(
                f"{base.name} fine-tunes can be deployed only in {', '.join(base.deploy_regions)}; "
                f"this Azure AI Foundry project is in {location}. Use a project in one of those regions."
            )

    def _base_of(self, version: Any) -> BaseModelInfo | None:
        """The base model a fine-tuned model was trained from: its job's ``model`` input (a registry asset
        id)."""
        job_name = getattr(version, "job_name", None)
        if not job_name:
            return None
        with azure_errors(f"The fine-tuning job {job_name}"):
            try:
                job = self._ws.jobs.get(job_name)
            except ResourceNotFoundError:
                return None
        props: Mapping[str, Any] = getattr(job, "properties", None) or {}
        model_path = str(
            getattr(getattr(job, "model", None), "path", "") or props.get("original_model_id") or ""
        )
        match = _REGISTRY_MODEL.match(model_path)
        if not match:
            return None
        registry, name, ver = match.groups()
        for info in self.list_base_models():
            if info.source == registry and info.name == name:
                return info
        try:
            return self._resolve_base_model(registry, name, ver)
        except NotFound:
            return None

    def _endpoints_serving(self, model: str) -> list[Endpoint]:
        return [e for e in self.list_endpoints() if e.model == model and e.state is not EndpointState.DELETED]

    def get_endpoint(self, name: str) -> Endpoint:
        with azure_errors(f"The endpoint {name}"):
            endpoint = self._ws.serverless_endpoints.get(name)
        return self._to_endpoint(endpoint)

    def list_endpoints(self) -> list[Endpoint]:
        with azure_errors("The serverless endpoints"):
            return [self._to_endpoint(e) for e in self._ws.serverless_endpoints.list()]

    @staticmethod
    def _to_endpoint(endpoint: Any) -> Endpoint:
        state_text = str(getattr(endpoint, "provisioning_state", "") or "").lower()
        model_id = str(getattr(endpoint, "model_id", "") or "")
        match = _MODEL_IN_ID.search(model_id)
        system = getattr(endpoint, "system_data", None)
        created = _parse_time(getattr(system, "created_at", None))
        state = ENDPOINT_STATES.get(state_text, EndpointState.CREATING)
        return Endpoint(
            name=str(endpoint.name),
            model=match.group(1) if match else model_id,
            state=state,
            scoring_uri=getattr(endpoint, "scoring_uri", None),
            created_at=created,
            error=f"Provisioning {state_text}." if state is EndpointState.FAILED else None,
        )

    def delete_endpoint(self, name: str) -> None:
        with azure_errors(f"The endpoint {name}"):
            try:
                self._ws.serverless_endpoints.begin_delete(name).result()
            except ResourceNotFoundError:
                return
        logger.info("deleted serverless endpoint %s", name)

    def delete_model(self, model: str) -> None:
        """Refuses while an endpoint serves the model (the article: delete the deployment first). Otherwise
        the model is archived: azure-ai-ml has no hard delete for workspace models; archiving hides every
        version."""
        serving = self._endpoints_serving(model)
        if serving:
            raise Conflict(
                f"{model} is still served by {serving[0].name}. Tear the endpoint down first.",
                existing=serving[0].name,
            )
        with azure_errors(f"The model {model}"):
            self._ws.models.archive(model)
        logger.info("archived model %s", model)

    # ---- chat ------------------------------------------------------------------------------------------
    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        """``POST {scoring_uri}/v1/chat/completions`` with the endpoint's primary key, as the article's sample
        does. The key is fetched for this call and never logged, stored or put in an error."""
        endpoint = self.get_endpoint(endpoint_name)
        if endpoint.state is not EndpointState.READY or not endpoint.scoring_uri:
            raise Unavailable(f"The endpoint {endpoint_name} is not ready yet ({endpoint.state.value}).")
        with azure_errors(f"The endpoint {endpoint_name}"):
            key = self._ws.serverless_endpoints.get_keys(endpoint_name).primary_key
        if not key:
            raise BackendAuthError(f"Azure returned no key for the endpoint {endpoint_name}.")
        payload = {
            "messages": [m.model_dump() for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        url = endpoint.scoring_uri.rstrip("/") + "/v1/chat/completions"
        try:
            response = self._http.post(
                url, json=payload, headers={"Authorization": key, "Content-Type": "application/json"}
            )
        except httpx.HTTPError as e:
            raise Unavailable(f"Could not reach the endpoint {endpoint_name} ({type(e).__name__}).") from e
        return _chat_reply(endpoint_name, response)


def _chat_reply(endpoint_name: str, response: httpx.Response) -> ChatReply:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
    status = response.status_code
    if status == 429:
        retry: float | None
        try:
            retry = float(response.headers.get("retry-after", ""))
        except ValueError:
            retry = None
        wait = f"{retry:g} s" if retry is not None else "a minute"
        raise Unavailable(
            f"The endpoint {endpoint_name} is at its rate limit "
            "(200,000 tokens and 1,000 requests per minute per "
            f"deployment). Try again in {wait}.",
            retry_after=retry,
        )
    if status == 400 and str(error.get("code", "")).lower() == "content_filter":
        inner = error.get("innererror") or error.get("inner_error") or {}
        filtered = inner.get("content_filter_result") if isinstance(inner, dict) else None
        return ChatReply(
            content="",
            finish_reason="content_filter",
            content_filter={"prompt": filtered or {}, "message": scrub(str(error.get("message", "")))},
        )
    if status in (401, 403):
        raise BackendAuthError(f"The endpoint {endpoint_name} refused its own key (HTTP {status}).")
    if status == 404:
        raise NotFound(f"The endpoint {endpoint_name} has no chat completions route.")
    if status >= 500:
        raise Unavailable(f"The endpoint {endpoint_name} failed (HTTP {status}). Try again shortly.")
    if status >= 400:
        message = scrub(str(error.get("message") or response.text[:300]))
        raise InvalidInput(f"The endpoint {endpoint_name} refused the request: {message}")
    choices = body.get("choices") or []
    if not choices:
        raise Unavailable(f"The endpoint {endpoint_name} returned no answer.")
    first = choices[0]
    usage = body.get("usage") or {}
    content_filter: dict[str, object] = {}
    if first.get("content_filter_results"):
        content_filter["completion"] = first["content_filter_results"]
    if body.get("prompt_filter_results"):
        content_filter["prompt"] = body["prompt_filter_results"]
    return ChatReply(
        content=str((first.get("message") or {}).get("content") or ""),
        finish_reason=first.get("finish_reason"),
        usage=Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            total_tokens=int(usage.get("total_tokens") or 0),
        ),
        content_filter=content_filter or None,
    )
