"""`ftbot serve`: HTTP mode (Bolt AsyncApp behind Starlette on uvicorn) or Socket Mode, plus /healthz.

Signatures are checked before the body is even parsed, so a forged, missing or stale request gets
401 with no side effect; Bolt's own check stays on behind it. A validly signed body that cannot be
parsed gets 400, never a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import uvicorn
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

log = logging.getLogger("ftbot.server")

HealthCheck = Callable[[], Awaitable[dict[str, Any]]]
MAX_BODY = 1_000_000  # Slack payloads are far smaller; refuse anything bigger before parsing


def build_asgi(
    app: AsyncApp,
    health: HealthCheck,
    signing_secret: str | None,
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
) -> Starlette:
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def slack_events(request: Request) -> Response:
        if verifier is None:  # Socket Mode: nothing is accepted over HTTP
            return JSONResponse({"error": "this ftbot runs in Socket Mode"}, status_code=404)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            return JSONResponse({"error": "request too large"}, status_code=413)
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return JSONResponse({"error": "request too large"}, status_code=413)
        if not _signed(verifier, raw, request):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            body = raw.decode("utf-8")
            bolt_request = AsyncBoltRequest(
                body=body,
                query=request.url.query,
                headers={k: [v] for k, v in request.headers.items()},
            )
            if not isinstance(bolt_request.body, dict) or not well_formed(bolt_request.body):
                raise ValueError("body is not a Slack request")
        except Exception:
            log.warning("malformed Slack request refused (400)")
            return JSONResponse({"error": "malformed request"}, status_code=400)
        bolt_response = await app.async_dispatch(bolt_request)
        return Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers={k: v[0] for k, v in bolt_response.headers.items() if v},
        )

    async def healthz(_: Request) -> Response:
        report = await health()
        return JSONResponse(report, status_code=200 if report.get("ok") else 503)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        for close in on_shutdown:  # on the server's own loop, where their sessions live
            await close()

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
    )


_OBJECTS = ("team", "channel", "container", "enterprise", "message")  # Slack sends some of these as null
_REQUIRED_OBJECTS = ("user", "view", "event", "state")
_STRINGS = ("type", "action_id", "block_id", "callback_id", "trigger_id", "response_url", "command")


def well_formed(body: dict[str, Any]) -> bool:
    """The shapes Bolt indexes without checking (it raises on ``"actions": []`` or ``"event": "x"``, even
    inside its own error handling, which ends as a 500): anything else is refused with 400."""
    if any(k in body and body[k] is not None and not isinstance(body[k], dict) for k in _OBJECTS):
        return False
    if any(k in body and not isinstance(body[k], dict) for k in _REQUIRED_OBJECTS):
        return False
    if any(k in body and body[k] is not None and not isinstance(body[k], str) for k in _STRINGS):
        return False
    for key in ("view", "event"):
        inner = body.get(key) or {}
        if any(k in inner and not isinstance(inner[k], str) for k in ("type", "callback_id", "id", "user")):
            return False
        if key in body and not isinstance(inner.get("type"), str):  # Slack always names the type
            return False
    if "actions" in body:
        actions = body["actions"]
        if not isinstance(actions, list) or not actions or not all(isinstance(a, dict) for a in actions):
            return False
        if any(
            not isinstance(a.get("action_id", ""), str) or not isinstance(a.get("block_id", ""), str)
            for a in actions
        ):
            return False
    return True


def _signed(verifier: SignatureVerifier, raw: bytes, request: Request) -> bool:
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not timestamp.isdigit() or not signature:
        return False
    try:
        return verifier.is_valid(body=raw, timestamp=timestamp, signature=signature)
    except (ValueError, TypeError):
        return False


class HealthState:
    """What /healthz reports: the store answers and the scheduler runs."""

    def __init__(
        self, ping_store: Callable[[], bool], scheduler_running: Callable[[], bool], mode: str
    ) -> None:
        self._ping_store = ping_store
        self._scheduler_running = scheduler_running
        self.mode = mode
        self.started = time.time()
        self.socket_connected: Callable[[], bool] | None = None

    async def __call__(self) -> dict[str, Any]:
        store = await asyncio.to_thread(self._ping_store)
        scheduler = self._scheduler_running()
        report: dict[str, Any] = {
            "ok": store and scheduler,
            "store": store,
            "scheduler": scheduler,
            "mode": self.mode,
        }
        if self.socket_connected is not None:
            report["socket_mode_connected"] = self.socket_connected()
        report["uptime_s"] = round(time.time() - self.started, 1)
        return report


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the caller decides what SIGTERM does (uvicorn would
    re-raise the signal after shutdown and kill the process before our cleanup runs)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def uvicorn_server(asgi: Any, host: str, port: int, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(
        asgi,
        host=host,
        port=port,
        lifespan="on",
        log_level=log_level.lower(),
        access_log=False,
        server_header=False,
    )
    return _Server(config)
