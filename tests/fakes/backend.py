"""An in-memory FineTuningBackend for use-case, Slack and scheduler tests (a Protocol fake).

Jobs move one step per ``get_job`` (queued → running → epoch metrics → succeeded) unless a test
scripts them with ``fail_with`` / ``hold``. Calls are counted per method.

``FakeBackend`` has only the common Protocol; ``RichFakeBackend`` adds the optional ports
(``PausableBackend``, ``CheckpointedBackend``, ``TieredBackend``) as the foundry backend has them, with
one checkpoint per finished epoch (numbered by epoch) and a base model that trains with DPO.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from commands.errors import Conflict, InvalidInput, NotFound, Unavailable
from commands.models import (
    BaseModelInfo,
    ChatDelta,
    ChatReply,
    ChatRequest,
    Checkpoint,
    DatasetRef,
    Endpoint,
    EndpointState,
    Job,
    JobEvent,
    JobSpec,
    JobState,
    Method,
    MetricPoint,
    Task,
    Tier,
    Usage,
)

MODELS = (
    BaseModelInfo(name="ftbot-tiny", source="local", description="built-in tiny model", context_length=512),
    BaseModelInfo(
        name="Phi-4-mini-instruct",
        source="azureml",
        deploy_regions=("eastus2",),
        tasks=(Task.CHAT_COMPLETION, Task.TEXT_COMPLETION),
        context_length=4096,
    ),
)


class FakeBackend:
    kind = "local"

    def __init__(self, *, epochs: int = 2, steps_per_epoch: int = 2, endpoint_polls: int = 1) -> None:
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.endpoint_polls = endpoint_polls
        self.calls: Counter[str] = Counter()
        self.jobs: dict[str, dict] = {}
        self.endpoints: dict[str, dict] = {}
        self.models: dict[str, str | None] = {}  # fine-tuned model -> endpoint name
        self.uploads: list[Path] = []
        self.submitted: Counter[str] = Counter()
        self.fail_next: dict[str, Exception] = {}
        self.hold: set[str] = set()  # job ids that stay running until released
        self.fail_jobs: dict[str, str] = {}  # job id -> failure reason
        self.deploys: list[tuple[str, str, str | None]] = []  # (model, endpoint, sku) of each deploy call
        self._lock = threading.RLock()

    def _call(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1
            err = self.fail_next.pop(name, None)
        if err is not None:
            raise err

    # --- Protocol ---
    catalogue: tuple[BaseModelInfo, ...] = MODELS

    def list_base_models(self) -> list[BaseModelInfo]:
        self._call("list_base_models")
        return list(self.catalogue)

    def get_base_model(self, name: str) -> BaseModelInfo:
        self._call("get_base_model")
        for m in self.catalogue:
            if m.name == name:
                return m
        raise NotFound(f"no model {name}")

    def upload_dataset(self, path: Path, *, name: str, task: Task) -> DatasetRef:
        self._call("upload_dataset")
        if not path.exists():
            raise InvalidInput(f"missing {path}")
        self.uploads.append(path)
        return DatasetRef(kind="asset", value=f"asset:{name}", name=name)

    def submit_job(self, spec: JobSpec) -> Job:
        self._call("submit_job")
        with self._lock:
            if spec.name not in self.jobs:
                self.submitted[spec.name] += 1
                self.jobs[spec.name] = {
                    "spec": spec,
                    "step": 0,
                    "state": JobState.QUEUED,
                    "metrics": [],
                    "events": [("queued", "Job queued")],
                    "created": datetime.now(UTC),
                }
            return self._job(spec.name)

    def _job(self, job_id: str) -> Job:
        j = self.jobs[job_id]
        spec: JobSpec = j["spec"]
        return Job(
            id=job_id,
            state=j["state"],
            service_status=j["state"].value.capitalize(),
            base_model=spec.base_model,
            created_at=j["created"],
            error=j.get("error"),
            events=tuple(JobEvent(at=j["created"], kind=k, message=m) for k, m in j["events"]),
            metrics=tuple(j["metrics"]),
            output_model=spec.output_model_name if j["state"] is JobState.SUCCEEDED else None,
            studio_url=None,
        )

    def get_job(self, job_id: str) -> Job:
        self._call("get_job")
        with self._lock:
            if job_id not in self.jobs:
                raise NotFound(f"no job {job_id}")
            j = self.jobs[job_id]
            if not j["state"].terminal and j["state"] is not JobState.PAUSED and job_id not in self.hold:
                self._advance(job_id, j)
            return self._job(job_id)

    def _advance(self, job_id: str, j: dict) -> None:
        if j["state"] is JobState.QUEUED:
            j["state"] = JobState.RUNNING
            j["events"].append(("started", "Training started"))
            return
        if job_id in self.fail_jobs:
            j["state"] = JobState.FAILED
            j["error"] = self.fail_jobs[job_id]
            j["events"].append(("failed", self.fail_jobs[job_id]))
            return
        total = self.epochs * self.steps_per_epoch
        if len(j["metrics"]) < total:
            step = len(j["metrics"]) + 1
            epoch = (step - 1) // self.steps_per_epoch + 1
            end_of_epoch = step % self.steps_per_epoch == 0
            j["metrics"].append(
                MetricPoint(
                    step=step,
                    epoch=epoch,
                    train_loss=3.0 / step,
                    train_mean_token_accuracy=min(0.99, 0.3 + 0.1 * step),
                    valid_loss=3.2 / step if end_of_epoch else None,
                )
            )
            return
        j["state"] = JobState.SUCCEEDED
        self.models[j["spec"].output_model_name] = None
        j["events"].append(("completed", "Job completed"))

    def cancel_job(self, job_id: str) -> Job:
        self._call("cancel_job")
        with self._lock:
            if job_id not in self.jobs:
                raise NotFound(f"no job {job_id}")
            j = self.jobs[job_id]
            if not j["state"].terminal:
                j["state"] = JobState.CANCELLED
                j["events"].append(("cancelled", "Job cancelled"))
            return self._job(job_id)

    def deploy_model(self, model: str, endpoint_name: str, *, sku: str | None = None) -> Endpoint:
        self._call("deploy_model")
        self._check_sku(sku)
        with self._lock:
            self.deploys.append((model, endpoint_name, sku))
            if model not in self.models:
                raise NotFound(f"no model {model}")
            if self.models[model] is not None:
                raise Conflict(f"{model} is deployed as {self.models[model]}", existing=self.models[model])
            self.models[model] = endpoint_name
            self.endpoints[endpoint_name] = {"model": model, "polls": 0, "state": EndpointState.CREATING}
            return self._endpoint(endpoint_name)

    def _check_sku(self, sku: str | None) -> None:
        if sku is not None:
            raise InvalidInput(f"the {self.kind} backend has no deployment SKUs")

    def _endpoint(self, name: str) -> Endpoint:
        e = self.endpoints[name]
        uri = f"http://127.0.0.1:9/{name}" if e["state"] is EndpointState.READY else None
        return Endpoint(name=name, model=e["model"], state=e["state"], scoring_uri=uri)

    def get_endpoint(self, name: str) -> Endpoint:
        self._call("get_endpoint")
        with self._lock:
            e = self.endpoints.get(name)
            if e is None:
                raise NotFound(f"no endpoint {name}")
            if e["state"] is EndpointState.CREATING:
                e["polls"] += 1
                if e["polls"] >= self.endpoint_polls:
                    e["state"] = EndpointState.READY
            return self._endpoint(name)

    def list_endpoints(self) -> list[Endpoint]:
        self._call("list_endpoints")
        with self._lock:
            return [self._endpoint(n) for n in self.endpoints]

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        self._call("chat")
        if self.chat_gate is not None:
            self.chat_gate.wait(10)
        with self._lock:
            e = self.endpoints.get(endpoint_name)
            if e is None:
                raise NotFound(f"no endpoint {endpoint_name}")
            if e["state"] is not EndpointState.READY:
                raise Unavailable("not ready")
        prompt = request.messages[-1].content
        return ChatReply(
            content=f"echo: {prompt}",
            finish_reason="stop",
            usage=Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7),
        )

    #: seconds between streamed pieces (a test of batched appends sets it)
    stream_pause: float = 0.0

    def chat_stream(self, endpoint_name: str, request: ChatRequest) -> Iterator[ChatDelta]:
        """``chat``'s answer a word at a time, then the finish reason and usage."""
        reply = self.chat(endpoint_name, request)
        for i, word in enumerate(reply.content.split(" ")):
            if self.stream_pause:
                time.sleep(self.stream_pause)
            yield ChatDelta(text=word if i == 0 else " " + word)
        yield ChatDelta(finish_reason=reply.finish_reason, usage=reply.usage)

    # --- BaseModelChat: the base model answers beside the fine-tuned one (evaluation, test chat) ---
    #: why the base model cannot answer (None: it can)
    base_missing: str | None = None
    #: set by a test to hold every chat until it is set (an evaluation still running)
    chat_gate: threading.Event | None = None

    def base_model_missing(self, endpoint_name: str, base_model: str) -> str | None:
        return self.base_missing

    def chat_base(self, endpoint_name: str, base_model: str, request: ChatRequest) -> ChatReply:
        self._call("chat_base")
        if self.chat_gate is not None:
            self.chat_gate.wait(10)
        if endpoint_name not in self.endpoints:
            raise NotFound(f"no endpoint {endpoint_name}")
        return ChatReply(
            content=f"I am {base_model} and cannot say.",
            finish_reason="stop",
            usage=Usage(prompt_tokens=3, completion_tokens=7, total_tokens=10),
        )

    def delete_endpoint(self, name: str) -> None:
        self._call("delete_endpoint")
        with self._lock:
            e = self.endpoints.pop(name, None)
            if e is not None:
                self.models[e["model"]] = None

    def delete_model(self, model: str) -> None:
        self._call("delete_model")
        with self._lock:
            if model not in self.models:
                raise NotFound(f"no model {model}")
            if self.models[model] is not None:
                raise Conflict(f"{model} is deployed", existing=self.models[model])
            del self.models[model]


TIERS = (
    Tier(name="Standard", label="Standard", note="Regional: data stays in the resource's region."),
    Tier(name="GlobalStandard", label="Global", note="Any region; 10-30% cheaper than Standard."),
    Tier(name="Developer", label="Developer", note="Spot capacity, half of Global; no residency guarantee."),
)
SKUS = (
    Tier(name="Standard", label="Standard", note="Regional, hourly hosting fee."),
    Tier(name="GlobalStandard", label="Global Standard", note="Any region, hourly hosting fee."),
    Tier(name="Developer", label="Developer", note="No hourly fee; deleted after 24 hours."),
)
RICH_MODELS = (
    MODELS[0].model_copy(update={"methods": (Method.SUPERVISED, Method.DPO)}),
    *MODELS[1:],
)


class RichFakeBackend(FakeBackend):
    """``FakeBackend`` with pause/resume, one checkpoint per finished epoch, training tiers and SKUs."""

    kind = "foundry"
    catalogue = RICH_MODELS

    def pause_job(self, job_id: str) -> Job:
        self._call("pause_job")
        with self._lock:
            j = self._known_job(job_id)
            if j["state"] is not JobState.RUNNING:
                raise Conflict(f"job {job_id} is {j['state'].value}; only a running job can be paused")
            j["state"] = JobState.PAUSED
            j["events"].append(("paused", "Job paused"))
            return self._job(job_id)

    def resume_job(self, job_id: str) -> Job:
        self._call("resume_job")
        with self._lock:
            j = self._known_job(job_id)
            if j["state"] is not JobState.PAUSED:
                raise Conflict(f"job {job_id} is {j['state'].value}; only a paused job can be resumed")
            j["state"] = JobState.RUNNING
            j["events"].append(("resumed", "Job resumed"))
            return self._job(job_id)

    def _known_job(self, job_id: str) -> dict:
        if job_id not in self.jobs:
            raise NotFound(f"no job {job_id}")
        return self.jobs[job_id]

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        self._call("list_checkpoints")
        with self._lock:
            j = self._known_job(job_id)
            out = []
            for m in j["metrics"]:
                if m.step % self.steps_per_epoch or m.epoch is None:
                    continue
                metrics = {"train_loss": m.train_loss, "valid_loss": m.valid_loss}
                out.append(
                    Checkpoint(
                        number=m.epoch,
                        model=f"{j['spec'].output_model_name}:ckpt-{m.epoch}",
                        step=m.step,
                        epoch=m.epoch,
                        metrics={k: v for k, v in metrics.items() if v is not None},
                    )
                )
                if j["state"] is JobState.SUCCEEDED:
                    self.models.setdefault(out[-1].model, None)
            return out

    def training_tiers(self) -> list[Tier]:
        return list(TIERS)

    def deployment_skus(self) -> list[Tier]:
        return list(SKUS)

    def _check_sku(self, sku: str | None) -> None:
        if sku is not None and sku not in {s.name for s in SKUS}:
            raise InvalidInput(f"no deployment SKU {sku}")
