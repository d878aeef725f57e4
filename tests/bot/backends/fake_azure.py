"""A stateful, in-process fake of the Azure ML service, served to a real ``MLClient`` through azure-core's
``transport=`` (reference/azure-ai-ml.md §3).

``FakeAzureTransport`` is an azure-core ``HttpTransport`` (a ``RequestsTransport`` whose ``requests`` session
has an adapter mounted that answers from ``FakeAzureML`` instead of a socket), so azure-core builds its own
response types and the SDK's serialisation, LRO pollers and error mapping all run for real. Shapes follow the
recordings named in the reference (§4): the FineTuning PUT/GET of ``test_maap_finetuning_job``
(``properties.properties`` with ``original_model_id``, ``azureml.ModelName``, ``_outputModelName``;
``taskType`` echoed capitalised;
``systemData.createdAt``), the datastore/listSecrets/blob HEAD sequence, and the 400 ``UserError`` "Serverless
FineTuning not supported in westus" with inner code ``ModelNotSupportedByMaaS``.

State moves only when a test says so (``advance()``), except LROs, which finish after ``lro_polls`` polls.
Every request is recorded (``requests``) so tests can assert method, path, api-version and body fields.
"""

from __future__ import annotations

import base64
import functools
import io
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from azure.ai.ml import MLClient
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse

from bot.backends.azure.backend import DEPLOY_REGIONS_TAG, AzureBackend, client_options
from commands.models import DatasetRef, JobSpec

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
RESOURCE_GROUP = "rg-ftbot"
WORKSPACE = "ftbot-project"
WORKSPACE_GUID = "aa9b091a-b1a8-4232-ae52-53485599b022"
LOCATION = "eastus2"
REGISTRY_SUBSCRIPTION = "99999999-1111-2222-3333-444444444444"
REGISTRY_HOST = "cert-eastus.experiments.azureml.net"
STORAGE_ACCOUNT = "ftbotstorage"
CONTAINER = f"azureml-blobstore-{WORKSPACE_GUID}"
ARM = "management.azure.com"
MGMT_PREFIX = "/mferp/managementfrontend"

WS_PATH = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}"
)

#: job status sequence the fake walks through, one step per ``advance()``
JOB_PROGRESS = ("NotStarted", "Queued", "Running", "Completed")


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Recorded:
    method: str
    url: str
    host: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON, raw bytes for blob uploads, or None

    @property
    def api_version(self) -> str | None:
        return self.query.get("api-version")


@dataclass
class Reply:
    status: int
    body: Any = None  # dict/list → JSON; bytes → raw; None → empty
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Injected:
    method: str
    pattern: re.Pattern[str]
    reply: Reply
    times: int


def error_body(code: str, message: str, inner: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if inner:
        err["innerError"] = {"code": inner}
    return {"error": err}


class FakeCredential:
    """A ``TokenCredential``: an unsigned JWT with a ``tid`` claim, so ``studio_url`` can append the
    tenant."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)

        def b64(obj: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

        token = f"{b64({'alg': 'none'})}.{b64({'tid': 'tenant-0000', 'oid': 'me'})}.sig"
        return AccessToken(token, 4_102_444_800)


class FakeAzureML:
    """The service's state plus a router. ``transport()`` gives the azure-core transport to hand to
    MLClient."""

    def __init__(self, *, location: str = LOCATION, lro_polls: int = 1, latency_s: float = 0.0) -> None:
        self.location = location
        self.latency_s = latency_s  # per request, outside the lock: a stand-in for Azure's round trips
        self.lro_polls = lro_polls
        self.requests: list[Recorded] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.job_errors: dict[str, str] = {}  # job name → error message when it fails
        self.fail_models: dict[str, str] = {}  # base model name → failure message for jobs training it
        self.slow_jobs: set[str] = set()  # jobs that stay Running until cancelled
        self.models: dict[
            str, dict[str, Any]
        ] = {}  # ws model name → {"archived": bool, "versions": {v: body}}
        self.data: dict[tuple[str, str], dict[str, Any]] = {}
        self.blobs: dict[str, bytes] = {}
        self.blob_metadata: dict[str, dict[str, str]] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.endpoint_keys: dict[str, dict[str, str]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.registries: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._operations: dict[str, dict[str, Any]] = {}
        self._injected: list[_Injected] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)

    # ---- setup helpers -------------------------------------------------------------------------------------
    def add_registry_model(
        self, registry: str, name: str, version: str = "1", *, tags: dict[str, str] | None = None
    ) -> str:
        asset_id = f"azureml://registries/{registry}/models/{name}/versions/{version}"
        body = {
            "id": asset_id,
            "name": version,
            "properties": {
                "flavors": {},
                "tags": dict(tags or {}),
                "properties": {},
                "description": f"{name} from {registry}",
                "modelUri": f"azureml://registries/{registry}/models/{name}/versions/{version}/files",
            },
            "systemData": {"createdAt": _now()},
        }
        self.registries.setdefault(registry, {}).setdefault(name, []).append(body)
        return asset_id

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
            _Injected(method.upper(), re.compile(path_regex), Reply(status, body, headers or {}), times)
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

    # ---- job state machine ---------------------------------------------------------------------------------
    def _step_job(self, name: str, job: dict[str, Any]) -> None:
        props = job["properties"]
        status = props["status"]
        if status == "CancelRequested":
            props["status"] = "Canceled"
            return
        if status in ("Completed", "Failed", "Canceled"):
            return
        if status == "Running" and name in self.slow_jobs:
            return
        if status == "Running":
            base = props["properties"].get("azureml.ModelName", "")
            reason = self.job_errors.get(name) or self.fail_models.get(base)
            if reason:
                props["status"] = "Failed"
                self.job_errors[name] = reason
                return
            props["status"] = "Completed"
            props["properties"]["EndTimeUtc"] = _now()
            out = props["outputs"]["registered_model"]["assetName"]
            self._register_model(out, job_name=name)
            return
        props["status"] = JOB_PROGRESS[JOB_PROGRESS.index(status) + 1]

    def _register_model(self, name: str, *, job_name: str) -> None:
        entry = self.models.setdefault(name, {"archived": False, "versions": {}})
        entry["archived"] = False
        version = str(len(entry["versions"]) + 1)
        entry["versions"][version] = {
            "id": f"{WS_PATH}/models/{name}/versions/{version}",
            "name": version,
            "type": "Microsoft.MachineLearningServices/workspaces/models/versions",
            "properties": {
                "flavors": {},
                "tags": {},
                "properties": {},
                "jobName": job_name,
                "isArchived": False,
                "modelType": "mlflow_model",
                "modelUri": f"azureml://jobs/{job_name}/outputs/registered_model",
            },
            "systemData": {"createdAt": _now(), "lastModifiedAt": _now()},
        }

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
            except _NotFoundError as e:
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
            raise _NotFoundError(f"no route for host {host}")
        if path.startswith("/fake-operations/"):
            return self._operation_status(path.rsplit("/", 1)[-1])
        if path == WS_PATH and m == "GET":
            return Reply(200, self._workspace_body())
        if not path.startswith(WS_PATH + "/"):
            raise _NotFoundError(f"no route for {path}")
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
            raise _NotFoundError(f"no route for {path}")
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
        raise _NotFoundError(f"no dataplane route for {r.path}")

    # ---- jobs ----------------------------------------------------------------------------------------------
    def _job_or_404(self, name: str) -> dict[str, Any]:
        if name not in self.jobs:
            raise _NotFoundError(f"Could not find job {name}")
        return self.jobs[name]

    def _jobs(self, r: Recorded, rest: list[str]) -> Reply:
        if not rest:
            return Reply(200, {"value": list(self.jobs.values())})
        name = rest[0]
        if len(rest) == 2 and rest[1] == "cancel" and r.method == "POST":
            job = self._job_or_404(name)
            if job["properties"]["status"] not in ("Completed", "Failed", "Canceled"):
                job["properties"]["status"] = "CancelRequested"
            return Reply(202)
        if r.method == "GET":
            return Reply(200, self._job_or_404(name))
        if r.method == "PUT":
            if name in self.jobs:
                return Reply(409, error_body("UserError", f"Job {name} already exists", "Conflict"))
            self.jobs[name] = self._new_job(name, r.body["properties"])
            return Reply(201, self.jobs[name], {"Location": r.url})
        raise _NotFoundError(f"no route for {r.method} {r.path}")

    def _new_job(self, name: str, props: dict[str, Any]) -> dict[str, Any]:
        details = json.loads(json.dumps(props["fineTuningDetails"]))
        model_uri = details["model"]["uri"]
        base_name = model_uri.split("/models/")[1].split("/")[0] if "/models/" in model_uri else model_uri
        task = details.get("taskType", "")
        details["taskType"] = task[:1].upper() + task[1:]
        for key in ("trainingData", "validationData", "model"):
            if details.get(key):
                details[key].update({"description": None, "mode": "ReadOnlyMount"})
        out = props["outputs"]["registered_model"]["assetName"]
        service_props = dict(props.get("properties") or {})
        service_props.update(
            {
                "PipelineType": "FineTuning",
                "original_model_id": model_uri,
                "azureml.ModelName": base_name,
                "azureml.PipelineType": "FineTuning",
                "_fineTuningJobType": "MaaS",
                "_outputModelName": out,
                "StartTimeUtc": _now(),
            }
        )
        return {
            "id": f"{WS_PATH}/jobs/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {
                "description": props.get("description"),
                "tags": dict(props.get("tags") or {}),
                "properties": service_props,
                "displayName": props.get("displayName"),
                "status": "NotStarted",
                "experimentName": props.get("experimentName"),
                "services": None,
                "computeId": None,
                "isArchived": False,
                "jobType": "FineTuning",
                "fineTuningDetails": details,
                "queueSettings": None,
                "outputs": {
                    "registered_model": {
                        "description": None,
                        "uri": None,
                        "assetName": out,
                        "mode": "ReadWriteMount",
                        "jobOutputType": "mlflow_model",
                    }
                },
            },
            "systemData": {"createdAt": _now(), "createdBy": "ftbot", "createdByType": "User"},
        }

    # ---- workspace models ----------------------------------------------------------------------------------
    def _models(self, r: Recorded, rest: list[str]) -> Reply:
        if not rest:
            raise _NotFoundError("model list is not faked")
        name = rest[0]
        entry = self.models.get(name)
        if len(rest) == 1:  # container
            if entry is None:
                raise _NotFoundError(f"Model container {name} not found")
            if r.method == "PUT":
                entry["archived"] = bool(r.body["properties"].get("isArchived"))
            return Reply(
                200,
                {
                    "id": f"{WS_PATH}/models/{name}",
                    "name": name,
                    "properties": {
                        "isArchived": entry["archived"],
                        "latestVersion": str(len(entry["versions"])),
                        "tags": {},
                        "properties": {},
                    },
                    "systemData": {"createdAt": _now()},
                },
            )
        if len(rest) == 2 and rest[1] == "versions":
            if entry is None or entry["archived"]:
                return Reply(200, {"value": []})
            versions = sorted(entry["versions"].values(), key=lambda v: int(v["name"]), reverse=True)
            top = int(r.query.get("$top", len(versions)))
            return Reply(200, {"value": versions[:top]})
        if len(rest) == 3 and rest[1] == "versions":
            if entry is None or rest[2] not in entry["versions"]:
                raise _NotFoundError(f"Model {name}:{rest[2]} not found")
            return Reply(200, entry["versions"][rest[2]])
        raise _NotFoundError(f"no route for {r.path}")

    # ---- datastore + data + blob ---------------------------------------------------------------------------
    def _datastores(self, r: Recorded, rest: list[str]) -> Reply:
        if rest[0] != "workspaceblobstore":
            raise _NotFoundError(f"Datastore {rest[0]} not found")
        if len(rest) == 2 and rest[1] == "listSecrets":
            return Reply(200, {"secretsType": "Sas", "sasToken": "?sv=2024&sig=FAKE-SAS-SIGNATURE&sp=rcuwdl"})
        return Reply(
            200,
            {
                "id": f"{WS_PATH}/datastores/workspaceblobstore",
                "name": "workspaceblobstore",
                "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                "properties": {
                    "description": None,
                    "tags": None,
                    "properties": None,
                    "isDefault": True,
                    "credentials": {"credentialsType": "AccountKey"},
                    "subscriptionId": SUBSCRIPTION,
                    "resourceGroup": RESOURCE_GROUP,
                    "datastoreType": "AzureBlob",
                    "accountName": STORAGE_ACCOUNT,
                    "containerName": CONTAINER,
                    "endpoint": "core.windows.net",
                    "protocol": "https",
                    "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
                },
                "systemData": {"createdAt": _now(), "lastModifiedAt": _now()},
            },
        )

    def _data(self, r: Recorded, rest: list[str]) -> Reply:
        if len(rest) == 3 and rest[1] == "versions":
            key = (rest[0], rest[2])
            if r.method == "PUT":
                body = json.loads(json.dumps(r.body))
                body.update(
                    {
                        "id": f"{WS_PATH}/data/{rest[0]}/versions/{rest[2]}",
                        "name": rest[2],
                        "systemData": {"createdAt": _now(), "lastModifiedAt": _now()},
                    }
                )
                self.data[key] = body
                return Reply(201, body)
            if key not in self.data:
                raise _NotFoundError(f"Data {rest[0]}:{rest[2]} not found")
            return Reply(200, self.data[key])
        raise _NotFoundError(f"no route for {r.path}")

    def _blob(self, r: Recorded) -> Reply:
        key = r.path
        if r.method == "HEAD":
            if key not in self.blobs:
                return Reply(404, None, {"x-ms-error-code": "BlobNotFound"})
            meta = {f"x-ms-meta-{k}": v for k, v in self.blob_metadata.get(key, {}).items()}
            return Reply(
                200,
                None,
                {
                    "Content-Length": str(len(self.blobs[key])),
                    "x-ms-blob-type": "BlockBlob",
                    "ETag": '"0x1"',
                    "Last-Modified": "Mon, 25 Nov 2024 07:34:33 GMT",
                    **meta,
                },
            )
        if r.method == "PUT" and r.query.get("comp") == "metadata":
            self.blob_metadata[key] = {
                k[len("x-ms-meta-") :]: v for k, v in r.headers.items() if k.lower().startswith("x-ms-meta-")
            }
            return Reply(200, None, {"ETag": '"0x2"', "Last-Modified": "Mon, 25 Nov 2024 07:34:34 GMT"})
        if r.method == "PUT":
            self.blobs[key] = r.body if isinstance(r.body, bytes) else json.dumps(r.body).encode()
            return Reply(
                201,
                None,
                {
                    "ETag": '"0x1"',
                    "Last-Modified": "Mon, 25 Nov 2024 07:34:33 GMT",
                    "Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA==",
                },
            )
        raise _NotFoundError(f"no blob route for {r.method}")

    # ---- serverless endpoints ------------------------------------------------------------------------------
    def _endpoints(self, r: Recorded, rest: list[str]) -> Reply:
        if not rest:
            return Reply(200, {"value": list(self.endpoints.values())})
        name = rest[0]
        if len(rest) == 2 and rest[1] == "listKeys":
            if name not in self.endpoints:
                raise _NotFoundError(f"Serverless endpoint {name} not found")
            return Reply(200, self.endpoint_keys[name])
        if r.method == "GET":
            if name not in self.endpoints:
                raise _NotFoundError(f"Serverless endpoint {name} not found")
            return Reply(200, self.endpoints[name])
        if r.method == "PUT":
            model_id = r.body["properties"]["modelSettings"]["modelId"]
            body = {
                "id": f"{WS_PATH}/serverlessEndpoints/{name}",
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints",
                "location": r.body.get("location", self.location),
                "tags": r.body.get("tags") or {},
                "sku": r.body.get("sku"),
                "properties": {
                    "authMode": "Key",
                    "modelSettings": {"modelId": model_id},
                    "provisioningState": "Creating",
                    "endpointState": "Creating",
                    "inferenceEndpoint": {
                        "uri": f"https://{name}.{self.location}.models.ai.azure.com",
                        "headers": {},
                    },
                },
                "systemData": {"createdAt": _now()},
            }
            self.endpoints[name] = body
            self.endpoint_keys[name] = {
                "primaryKey": f"pk-{uuid.uuid4().hex}",
                "secondaryKey": f"sk-{uuid.uuid4().hex}",
            }
            op = self._new_operation(lambda: self._finish_endpoint(name))
            return Reply(201, body, {"Azure-AsyncOperation": op})
        if r.method == "DELETE":
            if name not in self.endpoints:
                return Reply(204)
            self.endpoints[name]["properties"]["provisioningState"] = "Deleting"
            op = self._new_operation(lambda: self.endpoints.pop(name, None))
            return Reply(202, None, {"Location": op})
        raise _NotFoundError(f"no route for {r.method} {r.path}")

    def _finish_endpoint(self, name: str) -> None:
        ep = self.endpoints.get(name)
        if ep:
            ep["properties"]["provisioningState"] = "Succeeded"
            ep["properties"]["endpointState"] = "Online"

    def _new_operation(self, on_done: Callable[[], object]) -> str:
        op_id = f"op-{next(self._ids)}"
        self._operations[op_id] = {"left": self.lro_polls, "on_done": on_done}
        return f"https://{ARM}/fake-operations/{op_id}?api-version=2024-01-01-preview"

    def _operation_status(self, op_id: str) -> Reply:
        op = self._operations.get(op_id)
        if op is None:
            raise _NotFoundError(f"operation {op_id}")
        if op["left"] > 0:
            op["left"] -= 1
            return Reply(202, {"status": "InProgress"}, {"Retry-After": "0"})
        if op["on_done"] is not None:
            op["on_done"]()
            op["on_done"] = None
        return Reply(200, {"status": "Succeeded"})

    # ---- marketplace subscriptions -------------------------------------------------------------------------
    def _subscription_body(self, name: str, model_id: str) -> dict[str, Any]:
        return {
            "id": f"{WS_PATH}/marketplaceSubscriptions/{name}",
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/marketplaceSubscriptions",
            "properties": {
                "modelId": model_id,
                "marketplacePlan": {"publisherId": "metagenai", "offerId": "meta-llama", "planId": "ft"},
                "marketplaceSubscriptionStatus": "Subscribed",
                "provisioningState": "Succeeded",
            },
            "systemData": {"createdAt": _now()},
        }

    def _subscriptions(self, r: Recorded, rest: list[str]) -> Reply:
        name = rest[0] if rest else ""
        if r.method == "GET":
            if not name:
                return Reply(200, {"value": list(self.subscriptions.values())})
            if name not in self.subscriptions:
                raise _NotFoundError(f"Marketplace subscription {name} not found")
            return Reply(200, self.subscriptions[name])
        if r.method == "PUT":
            body = self._subscription_body(name, r.body["properties"]["modelId"])
            self.subscriptions[name] = body
            return Reply(200, body)
        raise _NotFoundError(f"no route for {r.method} {r.path}")

    # ---- registries ----------------------------------------------------------------------------------------
    def _registry(self, r: Recorded) -> Reply:
        mt = re.fullmatch(
            MGMT_PREFIX + r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
            r"Microsoft\.MachineLearningServices/registries/([^/]+)/models"
            r"(?:/([^/]+))?(?:/versions(?:/([^/]+))?)?",
            r.path,
        )
        if not mt:
            raise _NotFoundError(f"no registry route for {r.path}")
        registry, name, version = mt.groups()
        models = self.registries.get(registry, {})
        if name is None:
            return Reply(
                200,
                {
                    "value": [
                        {
                            "id": f"azureml://registries/{registry}/models/{n}",
                            "name": n,
                            "properties": {"latestVersion": vs[-1]["name"], "tags": {}},
                        }
                        for n, vs in models.items()
                    ]
                },
            )
        if name not in models:
            raise _NotFoundError(f"Model {name} not found in registry {registry}")
        if version is None:
            versions = list(reversed(models[name]))
            top = int(r.query.get("$top", len(versions)))
            return Reply(200, {"value": versions[:top]})
        for v in models[name]:
            if v["name"] == version:
                return Reply(200, v)
        raise _NotFoundError(f"Model {name}:{version} not found in registry {registry}")


class _NotFoundError(Exception):
    pass


class _FakeAdapter(HTTPAdapter):
    def __init__(self, service: FakeAzureML) -> None:
        super().__init__()
        self.service = service

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        elif body is not None and not isinstance(body, bytes):
            body = b"".join(_chunks(body))
        reply = self.service.handle(
            request.method or "GET",
            request.url or "",
            {str(k): str(v) for k, v in request.headers.items()},
            body,
        )
        if isinstance(reply.body, bytes):
            data, ctype = reply.body, "application/octet-stream"
        elif reply.body is None:
            data, ctype = b"", None
        else:
            data, ctype = json.dumps(reply.body).encode(), "application/json; charset=utf-8"
        headers = {"Content-Length": str(len(data)), "x-ms-request-id": str(uuid.uuid4()), **reply.headers}
        if ctype and request.method != "HEAD":
            headers.setdefault("Content-Type", ctype)
        raw = HTTPResponse(
            body=io.BytesIO(data),
            headers=headers,
            status=reply.status,
            preload_content=False,
            decode_content=False,
        )
        return self.build_response(request, raw)


def _chunks(body: Any) -> Iterator[bytes]:
    if hasattr(body, "read"):
        data = body.read()
        yield data.encode() if isinstance(data, str) else data
        return
    for chunk in body:
        yield chunk.encode() if isinstance(chunk, str) else chunk


class FakeAzureTransport(RequestsTransport):
    """azure-core ``HttpTransport`` whose requests never leave the process."""

    def __init__(self, service: FakeAzureML) -> None:
        session = requests.Session()
        adapter = _FakeAdapter(service)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        super().__init__(session=session, session_owner=False)
        self.service = service


# ---- the scoring endpoint (chat) ---------------------------------------------------------------------------
class FakeScoring:
    """``POST {scoring_uri}/v1/chat/completions`` of the fake's serverless endpoints, as an
    ``httpx.MockTransport`` handler. It checks the key against the one ``listKeys`` handed out. ``queue``
    replaces the next answers."""

    def __init__(self, service: FakeAzureML) -> None:
        self.service = service
        self.requests: list[httpx.Request] = []
        self.queue: list[httpx.Response] = []

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.queue:
            return self.queue.pop(0)
        name = (request.url.host or "").split(".")[0]
        ep = self.service.endpoints.get(name)
        if ep is None or request.url.path != "/v1/chat/completions":
            return httpx.Response(404, json={"error": {"code": "NotFound", "message": "no such route"}})
        if request.headers.get("authorization") != self.service.endpoint_keys[name]["primaryKey"]:
            return httpx.Response(401, json={"error": {"code": "Unauthorized", "message": "bad key"}})
        body = json.loads(request.content)
        prompt = " ".join(m["content"] for m in body["messages"])
        words = ("echo: " + prompt).split()[: body.get("max_tokens", 16)]
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": ep["properties"]["modelSettings"]["modelId"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": " ".join(words)},
                    }
                ],
                "usage": {
                    "prompt_tokens": len(prompt.split()),
                    "completion_tokens": len(words),
                    "total_tokens": len(prompt.split()) + len(words),
                },
            },
        )


# ---- wiring a real MLClient + AzureBackend to the fake -----------------------------------------------------
META = "Meta-Llama-3.1-8B-Instruct"
PHI = "Phi-4-mini-instruct"


@dataclass
class AzureWorld:
    fake: FakeAzureML
    scoring: FakeScoring
    credential: FakeCredential
    workspace: MLClient
    backend: AzureBackend

    def registry_client(self, name: str) -> MLClient:
        return MLClient(
            self.credential,
            registry_name=name,
            **client_options(retry_total=0, polling_interval=0, transport=self.fake.transport()),
        )


def patch_sdk(monkeypatch: pytest.MonkeyPatch, transport: FakeAzureTransport) -> None:
    """The two process-level patches the reference names: deterministic job bodies (no git metadata, §0.8) and
    the blob client azure-ai-ml builds without forwarding ``transport`` (§0.2)."""
    import azure.ai.ml._artifacts._blob_storage_helper as blob_helper
    import azure.ai.ml.operations._job_operations as job_operations
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setattr(job_operations, "get_git_properties", lambda: {})
    monkeypatch.setattr(
        blob_helper, "BlobServiceClient", functools.partial(BlobServiceClient, transport=transport)
    )


def make_world(
    monkeypatch: pytest.MonkeyPatch,
    *,
    location: str = LOCATION,
    regions: str = "eastus2, westus3, northcentralus",
    lro_polls: int = 1,
    **backend_kwargs: Any,
) -> AzureWorld:
    fake = FakeAzureML(location=location, lro_polls=lro_polls)
    fake.add_registry_model(
        "azureml", PHI, "3", tags={DEPLOY_REGIONS_TAG: regions, "task": "chat-completion"}
    )
    fake.add_registry_model(
        "azureml-meta", META, "4", tags={DEPLOY_REGIONS_TAG: regions, "task": "chat-completion"}
    )
    transport = fake.transport()
    patch_sdk(monkeypatch, transport)
    credential = FakeCredential()
    options = client_options(retry_total=0, polling_interval=0, transport=transport)
    workspace = MLClient(credential, SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, **options)
    scoring = FakeScoring(fake)
    backend_kwargs.setdefault("models", [f"azureml/{PHI}", f"azureml-meta/{META}"])
    backend_kwargs.setdefault("metrics_reader", lambda name: [])
    backend = AzureBackend(
        workspace,
        registry_factory=lambda name: MLClient(credential, registry_name=name, **options),
        http_client=scoring.client(),
        **backend_kwargs,
    )
    return AzureWorld(fake, scoring, credential, workspace, backend)


def make_spec(name: str = "ftbot-job-1", *, model: str = META, **kw: Any) -> JobSpec:
    """A JobSpec as the Slack layer would build it (an uploaded asset, Slack channel and user tags)."""
    kw.setdefault("training", DatasetRef(kind="asset", value="azureml:slack-train:1", name="train.jsonl"))
    kw.setdefault("output_model_name", "Llama 3.1 8B ft (sales)")
    kw.setdefault("tags", {"slack_channel": "C0123", "slack_user": "U0456"})
    return JobSpec(name=name, base_model=model, **kw)
