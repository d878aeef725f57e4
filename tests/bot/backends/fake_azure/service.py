"""``FakeAzureML``: the fake service, its test controls, and the router over its route mixins."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.bot.backends.fake_azure.endpoints import EndpointRoutes
from tests.bot.backends.fake_azure.jobs import JobRoutes
from tests.bot.backends.fake_azure.registries import RegistryRoutes
from tests.bot.backends.fake_azure.storage import StorageRoutes
from tests.bot.backends.fake_azure.wire import (
    ARM,
    REGISTRY_HOST,
    REGISTRY_SUBSCRIPTION,
    WORKSPACE,
    WORKSPACE_GUID,
    WS_PATH,
    FakeAzureTransport,
    FakeNotFound,
    Injected,
    Recorded,
    Reply,
    error_body,
)


class FakeAzureML(JobRoutes, StorageRoutes, EndpointRoutes, RegistryRoutes):
    """The service's state plus a router. ``transport()`` gives the azure-core transport to hand to
    MLClient."""

    # ---- setup helpers -------------------------------------------------------------------------------------
    def add_subscription(self, name: str, model_id: str) -> None:
        self.subscriptions[name] = self._subscription_body(name, model_id)

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and ``path_regex`` (searched in the path)
        with the given reply instead of the normal handler."""
        self._injected.append(
            Injected(method.upper(), re.compile(path_regex), Reply(status, body, headers or {}), times)
        )

    def advance(self, steps: int = 1) -> None:
        """Make time pass: every job not in a terminal state moves one status forward."""
        with self._lock:
            for _ in range(steps):
                for name, job in self.jobs.items():
                    self._step_job(name, job)

    # ---- queries for tests ---------------------------------------------------------------------------------
    def calls(self, method: str | None = None, path_regex: str | None = None) -> list[Recorded]:
        pat = re.compile(path_regex) if path_regex else None
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper()) and (pat is None or pat.search(r.path))
        ]

    def transport(self) -> FakeAzureTransport:
        return FakeAzureTransport(self)

    # ---- transport entry point -----------------------------------------------------------------------------
    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        parsed: Any = None
        if body:
            ctype = headers.get("Content-Type", headers.get("content-type", ""))
            parsed = json.loads(body) if "json" in ctype else body
        safe_headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        rec = Recorded(method.upper(), url, parts.hostname or "", parts.path, query, safe_headers, parsed)
        if self.latency_s:
            time.sleep(self.latency_s)
        with self._lock:
            self.requests.append(rec)
            for inj in self._injected:
                if inj.times > 0 and inj.method == rec.method and inj.pattern.search(rec.path):
                    inj.times -= 1
                    return inj.reply
            try:
                return self._route(rec)
            except FakeNotFound as e:
                return Reply(404, error_body("UserError", str(e), "NotFound"))

    def _route(self, r: Recorded) -> Reply:
        host, path, m = r.host, r.path, r.method
        if host.endswith(".blob.core.windows.net"):
            return self._blob(r)
        if host == f"{self.location}.api.azureml.ms" or host.endswith(".api.azureml.ms"):
            return self._dataplane(r)
        if host == REGISTRY_HOST:
            return self._registry(r)
        if host != ARM:
            raise FakeNotFound(f"no route for host {host}")
        if path.startswith("/fake-operations/"):
            return self._operation_status(path.rsplit("/", 1)[-1])
        if path == WS_PATH and m == "GET":
            return Reply(200, self._workspace_body())
        if not path.startswith(WS_PATH + "/"):
            raise FakeNotFound(f"no route for {path}")
        rest = path[len(WS_PATH) + 1 :].split("/")
        kind = rest[0]
        handlers: dict[str, Callable[[Recorded, list[str]], Reply]] = {
            "jobs": self._jobs,
            "models": self._models,
            "datastores": self._datastores,
            "data": self._data,
            "serverlessEndpoints": self._endpoints,
            "marketplaceSubscriptions": self._subscriptions,
        }
        if kind not in handlers:
            raise FakeNotFound(f"no route for {path}")
        return handlers[kind](r, rest[1:])

    # ---- workspace -----------------------------------------------------------------------------------------
    def _workspace_body(self) -> dict[str, Any]:
        return {
            "id": WS_PATH,
            "name": WORKSPACE,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "location": self.location,
            "kind": "Project",
            "properties": {
                "workspaceId": WORKSPACE_GUID,
                "friendlyName": WORKSPACE,
                "discoveryUrl": f"https://{self.location}.api.azureml.ms/discovery",
                "mlFlowTrackingUri": f"azureml://{self.location}.api.azureml.ms/mlflow/v1.0{WS_PATH}",
                "provisioningState": "Succeeded",
            },
        }

    def _dataplane(self, r: Recorded) -> Reply:
        base = f"https://{self.location}.api.azureml.ms"
        if r.path.endswith("/discovery") and "registrymanagement" not in r.path:
            return Reply(
                200,
                {
                    "api": base,
                    "catalog": base,
                    "experimentation": base,
                    "history": base,
                    "instance": base,
                    "modelmanagement": base,
                    "pipelines": base,
                    "studio": base,
                },
            )
        reg = re.fullmatch(r"/registrymanagement/v1\.0/registries/([^/]+)/discovery", r.path)
        if reg:
            name = reg.group(1)
            if name not in self.registries:
                return Reply(404, error_body("UserError", f"Registry {name} not found", "NotFound"))
            return Reply(
                200,
                {
                    "registryName": name,
                    "subscriptionId": REGISTRY_SUBSCRIPTION,
                    "resourceGroup": f"rg-{name}",
                    "primaryRegion": "eastus",
                    "primaryRegionResourceProviderUri": f"https://{REGISTRY_HOST}/",
                },
            )
        details = re.search(r"/history/v1\.0/.*/runs/([^/]+)/details$", r.path)
        if details and r.method == "GET":
            name = details.group(1)
            job = self._job_or_404(name)
            status = job["properties"]["status"]
            body: dict[str, Any] = {"runId": name, "status": status, "target": "serverless"}
            if status == "Failed":
                body["error"] = {
                    "error": {"code": "UserError", "message": self.job_errors.get(name, "failed")}
                }
            return Reply(200, body)
        raise FakeNotFound(f"no dataplane route for {r.path}")
