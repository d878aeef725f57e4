"""A fake Azure OpenAI resource on the wire: the v1 data plane (``{endpoint}/openai/v1/…``) as an httpx
transport for the ``openai`` client, and ARM ``accounts/{account}/deployments`` as an azure-core transport
for azure-mgmt-cognitiveservices. Bodies have the shapes of reference/azure-foundry-finetuning.md (Azure's
``pending`` status, ``-1`` hyperparameters and nulls, ``ftchkpt-`` checkpoint ids, newest-first events).

Time passes with ``advance()``: a job walks ``pending → running → succeeded`` (or ``failed``), emitting
message and metrics events; a deployment walks ``Accepted → Creating → Succeeded`` (or ``Failed``). Faults:
``inject`` (any status, e.g. 429 with Retry-After, 500), ``inject_timeout`` (the answer is lost, and with
``after=True`` the request took effect first), ``reject_file``, ``fail_job``, ``fail_deployment`` and
``not_ready`` (the data plane answers ``DeploymentNotReady`` after ARM says ``Succeeded``).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import requests

from tests.bot.backends.fake_azure.wire import FakeAzureTransport, FakeCredential, Reply

ENDPOINT = "https://ftbot-res.openai.azure.com"
ARM_ENDPOINT = "https://management.azure.com"
SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
RESOURCE_GROUP = "rg-ftbot"
ACCOUNT = "ftbot-res"
DEPLOYMENTS_PATH = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.CognitiveServices/accounts/{ACCOUNT}/deployments"
)
GPT41 = "gpt-4.1-2025-04-14"
GPT4O_MINI = "gpt-4o-mini-2024-07-18"
START = 1_715_824_115  # the reference's create time
TICK = 400  # service seconds per advance(): longer than the backend's event window
STEPS = 3  # advances a job spends running


def _err(code: str, message: str, status: int, **headers: str) -> Reply:
    return Reply(
        status, {"error": {"code": code, "message": message, "param": None, "type": "error"}}, headers
    )


@dataclass
class Injected:
    method: str
    pattern: re.Pattern[str]
    reply: Reply | None  # None: a timeout
    times: int
    after: bool = False


@dataclass
class Call:
    plane: str  # "v1" or "arm"
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeFoundry:
    models: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    injected: list[Injected] = field(default_factory=list)
    rejected_files: dict[str, str] = field(default_factory=dict)  # filename part → reason
    failing_jobs: dict[str, dict[str, str]] = field(default_factory=dict)  # ftbot key → error
    slow_jobs: set[str] = field(default_factory=set)  # ftbot keys that stay running
    failing_deployments: dict[str, str] = field(default_factory=dict)  # name → reason
    not_ready_answers: int = 0
    deleted_models: list[str] = field(default_factory=list)
    clock: int = START
    auto_advance: bool = False  # each read of a job or deployment moves it one step (no test to advance)
    latency_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # where the account is: a second fake stands for a deploy target in another subscription and region
    subscription: str = SUBSCRIPTION
    resource_group: str = RESOURCE_GROUP
    account: str = ACCOUNT
    endpoint: str = ENDPOINT
    location: str = "eastus2"
    kind: str = "OpenAI"
    unreachable: bool = False  # the credential has no role in the subscription: ARM answers 403
    sources: dict[str, FakeFoundry] = field(default_factory=dict)  # accounts a model.source may name, by id

    @property
    def account_path(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.CognitiveServices/accounts/{self.account}"
        )

    @property
    def deployments_path(self) -> str:
        return f"{self.account_path}/deployments"

    def __post_init__(self) -> None:
        if not self.models:
            for name in (GPT41, GPT4O_MINI, "text-embedding-3-small"):
                self.add_model(name, fine_tune=not name.startswith("text-"))

    # ---- set-up and faults -------------------------------------------------------------------------
    def add_model(self, name: str, *, fine_tune: bool = True) -> None:
        caps = {"fine_tune": fine_tune, "inference": True, "chat_completion": True, "completion": False}
        self.models.append(
            {
                "id": name,
                "object": "model",
                "created_at": START,
                "status": "succeeded",
                "capabilities": caps,
                "lifecycle_status": "generally-available",
            }
        )

    def inject(
        self,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next ``times`` requests matching ``path`` (a regex on the URL path) get this answer."""
        self.injected.append(Injected(method, re.compile(path), Reply(status, body, headers or {}), times))

    def inject_timeout(self, method: str, path: str, *, times: int = 1, after: bool = False) -> None:
        self.injected.append(Injected(method, re.compile(path), None, times, after))

    def add_file(self, filename: str, content: bytes, *, purpose: str = "fine-tune") -> str:
        """A file uploaded (and processed) before ftbot looks; returns its id."""
        file_id = f"file-{uuid.uuid4().hex}"
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "purpose": purpose,
            "filename": filename,
            "bytes": len(content),
            "created_at": self.clock,
            "status": "processed",
            "_content": content,
        }
        return file_id

    def reject_file(self, filename_part: str, reason: str) -> None:
        self.rejected_files[filename_part] = reason

    def fail_job(self, key: str, message: str, code: str = "invalidTrainingData") -> None:
        self.failing_jobs[key] = {"code": code, "message": message}

    def fail_deployment(self, name: str, reason: str) -> None:
        self.failing_deployments[name] = reason

    def _take_injection(self, method: str, path: str) -> Injected | None:
        with self.lock:
            for inj in self.injected:
                if inj.times > 0 and inj.method == method and inj.pattern.search(path):
                    inj.times -= 1
                    return inj
        return None

    # ---- time --------------------------------------------------------------------------------------
    def advance(self) -> None:
        with self.lock:
            self.clock += TICK
            for job in self.jobs.values():
                self._advance_job(job)
            for dep in self.deployments.values():
                self._advance_deployment(dep)

    def _event(self, job_id: str, message: str, *, kind: str = "message", data: Any = None) -> None:
        events = self.events.setdefault(job_id, [])
        event = {
            "id": f"ftevent-{uuid.uuid4().hex}",
            "created_at": self.clock + len(events) % 60,
            "level": "info",
            "message": message,
            "object": "fine_tuning.job.event",
            "type": kind,
        }
        if data is not None:
            event["data"] = data
        events.append(event)

    def _advance_job(self, job: dict[str, Any]) -> None:
        key = (job.get("metadata") or {}).get("ftbot_job", "")
        status = job["status"]
        if status == "pending":
            job["status"] = "running"
            self._event(job["id"], "Job started.")
            self._event(job["id"], "Training file validated; 12 examples.")
        elif status == "pausing":
            job["status"] = "paused"
            self._event(job["id"], "Job paused.")
        elif status == "resuming":
            job["status"] = "running"
            self._event(job["id"], "Job resumed.")
        elif status == "running":
            job["_steps"] = job.get("_steps", 0) + 1
            step = job["_steps"] * 10
            loss = round(1.0 / job["_steps"], 3)
            data = {"step": step, "train_loss": loss, "train_mean_token_accuracy": 0.5, "valid_loss": -1}
            self._event(job["id"], f"Step {step}: training loss={loss}", kind="metrics", data=data)
            if key in self.slow_jobs or job["_steps"] < STEPS:
                return
            if key in self.failing_jobs:
                job.update(status="failed", error=self.failing_jobs[key], finished_at=self.clock)
                self._event(job["id"], "Job failed.")
                return
            suffix = f"-{job['suffix']}" if job.get("suffix") else ""
            job.update(
                status="succeeded",
                fine_tuned_model=f"{job['model']}.ft-{job['id'][6:]}{suffix}",
                finished_at=self.clock,
                trained_tokens=2342,
                result_files=[f"file-{uuid.uuid4().hex}"],
            )
            self._event(job["id"], "Training hours billed: 0.500")
            self._event(job["id"], "Job succeeded.")

    def _advance_deployment(self, dep: dict[str, Any]) -> None:
        props = dep["properties"]
        if props["provisioningState"] == "Accepted":
            props["provisioningState"] = "Creating"
        elif props["provisioningState"] == "Creating":
            failed = dep["name"] in self.failing_deployments
            props["provisioningState"] = "Failed" if failed else "Succeeded"

    def settle(self) -> None:
        """End every operation still polled (a test's teardown), so no client thread keeps asking."""
        with self.lock:
            for op in self.operations.values():
                op.setdefault("done", "Canceled")

    # ---- transports --------------------------------------------------------------------------------
    def openai_transport(self) -> httpx.MockTransport:
        from tests.fakes.foundry_v1 import DataPlane

        plane = DataPlane(self)
        return httpx.MockTransport(lambda request: self._serve_httpx(plane.handle, request))

    def arm_transport(self) -> FakeAzureTransport:
        from tests.fakes.foundry_arm import Arm

        return FakeAzureTransport(_ArmService(self, Arm(self)))

    def _serve_httpx(self, handle: Callable[..., Reply], request: httpx.Request) -> httpx.Response:
        if self.latency_s:
            time.sleep(self.latency_s)  # a round trip to Azure
        url = urlsplit(str(request.url))
        path = url.path.split("/openai/v1", 1)[-1]
        body = request.read()
        self._record("v1", request.method, path, url.query, dict(request.headers), body)
        inj = self._take_injection(request.method, path)
        if inj is not None and inj.reply is None:
            if inj.after:
                handle(request.method, path, dict(parse_qsl(url.query)), request.headers, body)
            raise httpx.ReadTimeout("injected timeout", request=request)
        reply = inj.reply if inj is not None and inj.reply is not None else None
        if reply is None:
            reply = handle(request.method, path, dict(parse_qsl(url.query)), request.headers, body)
        headers = {"apim-request-id": str(uuid.uuid4()), **reply.headers}
        if reply.body is None:
            return httpx.Response(reply.status, headers=headers)
        if isinstance(reply.body, bytes):
            return httpx.Response(reply.status, headers=headers, content=reply.body)
        return httpx.Response(reply.status, headers=headers, json=reply.body)

    def _record(
        self, plane: str, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> None:
        parsed: Any = body
        if body and headers.get("content-type", "").startswith("application/json"):
            parsed = json.loads(body)
        elif body and headers.get("content-type", "").startswith("multipart/form-data"):
            parsed = multipart(headers["content-type"], body)
        with self.lock:
            self.calls.append(Call(plane, method, path, dict(parse_qsl(query)), headers, parsed))

    def requests_to(self, method: str, pattern: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.search(pattern, c.path)]

    def now(self) -> str:
        return datetime.fromtimestamp(self.clock, UTC).isoformat()


def multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Form fields of a multipart body: text as str, the file as (filename, bytes)."""
    raw = f"Content-Type: {content_type}\r\n\r\n".encode() + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    out: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        payload = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        out[str(name)] = (filename, payload) if filename else payload.decode()
    return out


class _ArmService:
    """The ``Service`` FakeAzureTransport hands requests to: records them, applies faults, routes."""

    def __init__(self, fake: FakeFoundry, arm: Any) -> None:
        self.fake = fake
        self.arm = arm

    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        parts = urlsplit(url)
        lowered = {k.lower(): v for k, v in headers.items()}
        self.fake._record("arm", method, parts.path, parts.query, lowered, body or b"")
        inj = self.fake._take_injection(method, parts.path)
        if inj is not None and inj.reply is None:
            if inj.after:
                self.arm.handle(method, parts.path, json.loads(body) if body else None)
            raise requests.exceptions.ReadTimeout("injected timeout")
        if inj is not None and inj.reply is not None:
            return inj.reply
        reply: Reply = self.arm.handle(method, parts.path, json.loads(body) if body else None)
        return reply


def make_foundry(
    fake: FakeFoundry | None = None,
    *,
    models: tuple[str, ...] = (),
    api_key: str | None = "test-key",
    training_type: str = "Standard",
    deployment_sku: str = "Standard",
    **backend_options: Any,
) -> tuple[Any, FakeFoundry, FakeCredential]:
    """A real ``FoundryBackend`` on real clients whose transports are ``fake``'s: small retries and
    polling intervals, so faults are quick to test."""
    import openai

    from bot.backends.foundry.backend import FoundryBackend
    from bot.backends.foundry.clients import FoundryConfig, management_client

    fake = fake or FakeFoundry()
    credential = FakeCredential()
    config = FoundryConfig(
        endpoint=ENDPOINT,
        subscription_id=SUBSCRIPTION,
        resource_group=RESOURCE_GROUP,
        account=ACCOUNT,
        arm_endpoint=ARM_ENDPOINT,
        models=models,
        training_type=training_type,
        deployment_sku=deployment_sku,
        api_key=api_key,
    )
    from bot.backends.foundry.clients import data_plane_client

    data_plane: openai.OpenAI = data_plane_client(
        config,
        credential,
        http_client=httpx.Client(transport=fake.openai_transport()),
        max_retries=2,
        timeout=5.0,
    )
    arm = management_client(
        config,
        credential,
        transport=fake.arm_transport(),
        retry_total=1,
        retry_backoff_factor=0.001,
        polling_interval=0.02,
    )
    backend_options.setdefault("file_poll_s", 0.0)
    backend_options.setdefault("sleep", lambda s: None)
    return FoundryBackend(data_plane, arm, config, **backend_options), fake, credential


def backend_for_settings(settings: Any) -> Any:
    """``FTBOT_BACKEND_FACTORY=tests.fakes.foundry:backend_for_settings``: a ``foundry`` backend on a fake
    that moves on its own (every read of a job or deployment is one step), for Slack flows end to end."""
    backend, _, _ = make_foundry(FakeFoundry(auto_advance=True))
    return backend
