"""The wire side of the fake: what a request and a reply are, the azure-core transport that hands
requests to the fake service instead of a socket, and a credential that needs no tenant."""

from __future__ import annotations

import base64
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import requests
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse

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


def now() -> str:
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
class Injected:
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


class FakeNotFound(Exception):
    """Raised by a route: the fake answers 404 with the message."""


class Service(Protocol):
    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply: ...


class _FakeAdapter(HTTPAdapter):
    def __init__(self, service: Service) -> None:
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
            request_method=request.method,  # a HEAD's Content-Length describes a body it does not carry
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

    def __init__(self, service: Service) -> None:
        session = requests.Session()
        adapter = _FakeAdapter(service)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        super().__init__(session=session, session_owner=False)
        self.service = service
