"""A FineTuningBackend that several ``ftbot serve`` processes share (replica and restart tests): its state
is one JSON file under a file lock in FTBOT_DATA_DIR, the way Azure is one service behind every replica,
and a serve killed with SIGKILL and the one started after it see the same jobs and endpoints.

Time moves by the wall clock (or the ``now`` a test passes): a job is queued for ``queued_s``, runs for
``running_s`` (a metric point per quarter), then succeeds; an endpoint is creating for ``creating_s``.
Every ``get_job`` is logged with the process id and time of the caller, so a test can check that no two
replicas polled one job at once; every create is counted, so it can check nothing was submitted or
deployed twice.

Loaded by ``ftbot serve`` through the FTBOT_BACKEND_FACTORY test hook:
``tests.fakes.shared_backend:build`` (timings from FTBOT_TEST_SHARED_TIMING="queued_s,running_s,creating_s").
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commands.errors import Conflict, NotFound, Unavailable
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
)

if TYPE_CHECKING:
    from bot.runtime.settings import Settings

TIMING_ENV = "FTBOT_TEST_SHARED_TIMING"
MODEL = BaseModelInfo(name="ftbot-tiny", source="local", description="shared test model", context_length=512)
STEPS = 4


def build(settings: Settings) -> SharedBackend:
    queued, running, creating = (float(x) for x in os.environ.get(TIMING_ENV, "1,3,1").split(","))
    return SharedBackend(settings.data_dir / "shared-backend.json", queued, running, creating)


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class SharedBackend:
    kind = "local"

    def __init__(
        self,
        path: Path,
        queued_s: float = 1,
        running_s: float = 3,
        creating_s: float = 1,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.queued_s, self.running_s, self.creating_s = queued_s, running_s, creating_s
        self.now = now
        path.parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def state(self) -> Iterator[dict[str, Any]]:
        with open(f"{self.path}.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released by the kernel if this process is killed
            try:
                data = json.loads(self.path.read_text()) if self.path.exists() else {}
            except ValueError:
                data = {}
            for key in ("jobs", "endpoints", "counts"):
                data.setdefault(key, {})
            data.setdefault("polls", [])
            yield data
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data))
            os.replace(tmp, self.path)  # atomic: a kill never leaves half a file

    @staticmethod
    def _count(data: dict[str, Any], what: str, name: str) -> None:
        counts = data["counts"].setdefault(what, {})
        counts[name] = counts.get(name, 0) + 1

    # --- Protocol ---
    def list_base_models(self) -> list[BaseModelInfo]:
        return [MODEL]

    def get_base_model(self, name: str) -> BaseModelInfo:
        if name != MODEL.name:
            raise NotFound(f"no model {name}")
        return MODEL

    def upload_dataset(self, path: Path, *, name: str, task: Task) -> DatasetRef:
        if not path.exists():
            raise NotFound(f"no file {path}")
        return DatasetRef(kind="asset", value=f"asset:{name}", name=name)

    def submit_job(self, spec: JobSpec) -> Job:
        with self.state() as data:
            self._count(data, "submit_calls", spec.name)
            if spec.name not in data["jobs"]:
                self._count(data, "submitted", spec.name)
                data["jobs"][spec.name] = {
                    "created": self.now(),
                    "model": spec.base_model,
                    "output": spec.output_model_name,
                    "cancelled": None,
                }
            return self._job(spec.name, data["jobs"][spec.name])

    def _job(self, name: str, j: dict[str, Any]) -> Job:
        age = (j["cancelled"] or self.now()) - j["created"]
        start = j["created"] + self.queued_s
        events = [JobEvent(at=_at(j["created"]), kind="queued", message="Job queued")]
        metrics: list[MetricPoint] = []
        state = JobState.QUEUED
        if age >= self.queued_s:
            state = JobState.RUNNING
            events.append(JobEvent(at=_at(start), kind="started", message="Training started"))
            steps = min(STEPS, int((age - self.queued_s) / self.running_s * STEPS))
            for step in range(1, steps + 1):
                metrics.append(
                    MetricPoint(
                        step=step,
                        epoch=(step + 1) // 2,
                        train_loss=3.0 / step,
                        valid_loss=3.1 / step if step % 2 == 0 else None,
                    )
                )
            if age >= self.queued_s + self.running_s:
                state = JobState.SUCCEEDED
                events.append(JobEvent(at=_at(start + self.running_s), kind="completed", message="Done"))
        if j["cancelled"] is not None and state is not JobState.SUCCEEDED:
            state = JobState.CANCELLED
            events.append(JobEvent(at=_at(j["cancelled"]), kind="cancelled", message="Job cancelled"))
        return Job(
            id=name,
            state=state,
            service_status=state.value.capitalize(),
            base_model=j["model"],
            created_at=_at(j["created"]),
            events=tuple(events),
            metrics=tuple(metrics),
            output_model=j["output"] if state is JobState.SUCCEEDED else None,
        )

    def get_job(self, job_id: str) -> Job:
        with self.state() as data:
            if job_id not in data["jobs"]:
                raise NotFound(f"no job {job_id}")
            data["polls"].append([job_id, os.getpid(), self.now()])
            return self._job(job_id, data["jobs"][job_id])

    def cancel_job(self, job_id: str) -> Job:
        with self.state() as data:
            j = data["jobs"].get(job_id)
            if j is None:
                raise NotFound(f"no job {job_id}")
            if not self._job(job_id, j).state.terminal:
                j["cancelled"] = self.now()
            return self._job(job_id, j)

    def deploy_model(self, model: str, endpoint_name: str, *, sku: str | None = None) -> Endpoint:
        with self.state() as data:
            self._count(data, "deploy_calls", endpoint_name)
            if endpoint_name in data["endpoints"]:
                return self._endpoint(endpoint_name, data["endpoints"][endpoint_name])
            for name, e in data["endpoints"].items():
                if e["model"] == model:
                    raise Conflict(f"{model} is deployed as {name}", existing=name)
            self._count(data, "deployed", model)
            data["endpoints"][endpoint_name] = {"model": model, "created": self.now()}
            return self._endpoint(endpoint_name, data["endpoints"][endpoint_name])

    def _endpoint(self, name: str, e: dict[str, Any]) -> Endpoint:
        ready = self.now() - e["created"] >= self.creating_s
        state = EndpointState.READY if ready else EndpointState.CREATING
        uri = f"http://127.0.0.1:9/{name}" if ready else None
        return Endpoint(name=name, model=e["model"], state=state, scoring_uri=uri)

    def get_endpoint(self, name: str) -> Endpoint:
        with self.state() as data:
            e = data["endpoints"].get(name)
            if e is None:
                raise NotFound(f"no endpoint {name}")
            return self._endpoint(name, e)

    def list_endpoints(self) -> list[Endpoint]:
        with self.state() as data:
            return [self._endpoint(n, e) for n, e in data["endpoints"].items()]

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        if self.get_endpoint(endpoint_name).state is not EndpointState.READY:  # NotFound when gone
            raise Unavailable(f"{endpoint_name} is not ready")
        return ChatReply(
            content=f"echo: {request.messages[-1].content}",
            finish_reason="stop",
            usage=Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
        )

    def delete_endpoint(self, name: str) -> None:
        with self.state() as data:
            if data["endpoints"].pop(name, None) is not None:
                self._count(data, "deleted", name)

    def delete_model(self, model: str) -> None:
        with self.state() as data:
            for name, e in data["endpoints"].items():
                if e["model"] == model:
                    raise Conflict(f"{model} is deployed as {name}", existing=name)

    # --- for the test ---
    def snapshot(self) -> dict[str, Any]:
        with self.state() as data:
            return json.loads(json.dumps(data))
