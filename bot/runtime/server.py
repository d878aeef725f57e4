"""`ftbot serve`: HTTP mode (Bolt AsyncApp behind Starlette on uvicorn) or Socket Mode, plus /healthz.

Signatures are checked before the body is even parsed, so a forged, missing or stale request gets
401 with no side effect; Bolt's own check stays on behind it. A validly signed body that cannot be
parsed (not UTF-8, not a form or JSON object) gets 400, never a 500. The body is parsed here, not by
Bolt, whose ``parse_body`` takes any form that merely contains the text "payload" (a command typed with
``.../payloads/train.jsonl``) for an interactivity payload and reads it as empty. What it holds is then
screened by the app's typed boundary (``bot.listeners.inbound``): a shape ftbot does not handle is answered
200 with an empty body.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.runtime import metrics
from bot.runtime.logs import log_context

log = logging.getLogger("ftbot.server")

HealthCheck = Callable[[], Awaitable[dict[str, Any]]]
MAX_BODY = 1_000_000  # Slack payloads are far smaller; refuse anything bigger before parsing


def build_asgi(
    app: AsyncApp,
    health: HealthCheck,
    signing_secret: str | None,
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
) -> Starlette:
    verifier = _Verifier(signing_secret) if signing_secret else None
    _spy_on_screen(app)

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        seen: dict[str, Any] = {}
        token = _SEEN.set(seen)
        try:
            response = await _slack_events(request, seen)
        finally:
            _SEEN.reset(token)
        recorder = metrics.active()
        if recorder is not None:
            recorder.request(
                seen.get("surface", "other"),
                _outcome(response.status_code, seen),
                time.perf_counter() - started,
            )
        return response

    async def _slack_events(request: Request, seen: dict[str, Any]) -> Response:
        if verifier is None:  # Socket Mode, or a scheduler-only serve: nothing is accepted over HTTP
            return JSONResponse({"error": "this ftbot process takes no Slack requests"}, status_code=404)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            return JSONResponse({"error": "request too large"}, status_code=413)
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return JSONResponse({"error": "request too large"}, status_code=413)
        if not verifier.signed(raw, request):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            text = raw.decode("utf-8")
            body = parse_body(text, request.headers.get("content-type"))
        except (ValueError, RecursionError):  # not UTF-8, not JSON, not an object; nested too deep
            log.warning("malformed Slack request refused (400)")
            return JSONResponse({"error": "malformed request"}, status_code=400)
        seen["surface"] = surface(body)
        headers = {k: [v] for k, v in request.headers.items()}
        with log_context(team_id=_id(body, "team"), user=_id(body, "user")):
            bolt_response = await app.async_dispatch(ParsedRequest(text, body, request.url.query, headers))
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

    routes = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(lifespan=lifespan, routes=routes + oauth_routes(app, verifier is not None))


def oauth_routes(app: AsyncApp, takes_slack: bool) -> list[Route]:
    """OAuth mode's install page and redirect (Bolt's ``AsyncOAuthFlow``): the install page sets the state
    cookie and links to Slack's authorize URL; the redirect checks cookie and state, exchanges the code
    (``oauth.v2.access``) and saves the installation. None in single-workspace mode."""
    flow = app.oauth_flow
    if flow is None or not takes_slack:
        return []
    handler = AsyncSlackRequestHandler(app)

    async def oauth(request: Request) -> Response:
        return await handler.handle(request)

    return [
        Route(flow.install_path, oauth, methods=["GET"]),
        Route(flow.redirect_uri_path, oauth, methods=["GET"]),
    ]


#: what one request's handling learned (its surface, whether the typed boundary ignored it)
_SEEN: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("ftbot_request_seen")
_PAYLOAD_SURFACES = {
    "block_actions": "action",
    "interactive_message": "action",
    "shortcut": "action",
    "message_action": "action",
    "view_submission": "view",
    "view_closed": "view",
    "block_suggestion": "options",
    "dialog_suggestion": "options",
    "event_callback": "event",
}


def surface(body: dict[str, Any]) -> str:
    """The metrics label for a request: command, action, view, options, event (or other)."""
    if isinstance(body.get("command"), str):
        return "command"
    kind = body.get("type")
    return _PAYLOAD_SURFACES.get(kind, "other") if isinstance(kind, str) else "other"


def _outcome(status: int, seen: dict[str, Any]) -> str:
    if status >= 500:
        return "error"
    if status >= 400 or seen.get("ignored"):
        return "refused"
    return "ok"


def _id(body: dict[str, Any], key: str) -> str | None:
    """``team_id``/``user_id`` (commands) or ``team.id``/``user.id`` (payloads), when it looks like one."""
    value = body.get(f"{key}_id")
    if value is None and isinstance(body.get(key), dict):
        value = body[key].get("id")
    return value if isinstance(value, str) and value.isalnum() and len(value) <= 32 else None


def _spy_on_screen(app: AsyncApp) -> None:
    """Note when the typed boundary ignores a request (answered 200, counted ``refused``)."""
    screen = getattr(app, "screen", None)
    if screen is None or getattr(screen, "spied", False):
        return

    def spied(body: Any) -> Any:
        outcome = screen(body)
        if type(outcome).__name__ == "Ignored":
            seen = _SEEN.get(None)
            if seen is not None:
                seen["ignored"] = True
        return outcome

    spied.spied = True  # type: ignore[attr-defined]
    app.screen = spied  # type: ignore[attr-defined]


def parse_body(text: str, content_type: str | None) -> dict[str, Any]:
    """A Slack request's body: a JSON object (Events API), a form with a ``payload`` field holding one
    (interactivity), or a plain form (a slash command). Of repeated form fields the last counts, as in
    Bolt. ``ValueError`` when it is none of these."""
    if not text:
        return {}
    if (content_type or "").split(";")[0].strip() == "application/json" or text.startswith("{"):
        body = json.loads(text)
    else:
        fields = dict(parse_qsl(text, keep_blank_values=True))
        body = json.loads(fields["payload"]) if "payload" in fields else fields
    if not isinstance(body, dict):
        raise ValueError("body is not a Slack request")
    return body


class ParsedRequest(AsyncBoltRequest):
    """A Bolt request whose body the server parsed (``parse_body``); ``raw_body`` stays the signed text.

    Bolt reads user, channel and team ids out of the body without checking their types (``"id" in 7``);
    when it cannot, the context starts empty and the typed boundary fills it from the checked envelope."""

    def __init__(self, raw: str, body: dict[str, Any], query: Any, headers: dict[str, Any]) -> None:
        super().__init__(body="", query=query, headers=headers)
        self.raw_body, self.body = raw, body
        with contextlib.suppress(Exception):  # a mistyped id: the boundary answers it
            self.context = build_async_context(AsyncBoltContext({}), body)

    def to_copyable(self) -> ParsedRequest:
        copy = ParsedRequest(self.raw_body, self.body, self.query, dict(self.headers))
        copy.context = self.context.to_copyable()
        return copy


class _Verifier:
    """Slack's request signature (``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``), checked on the raw
    bytes: a signed body that is not UTF-8 is then refused as malformed (400), not as forged (401)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def signed(self, raw: bytes, request: Request) -> bool:
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        if not timestamp.isascii() or not timestamp.isdigit() or not signature.isascii():
            return False
        if abs(time.time() - int(timestamp)) > 60 * 5:  # stale: a replay
            return False
        digest = hmac.new(self._secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
        return hmac.compare_digest(f"v0={digest.hexdigest()}", signature)


class HealthState:
    """What /healthz reports: the store answers and the scheduler runs. ``doctor``, when set, adds the
    start-up checks' failures under ``"doctor"``; they never change the status (it answers for the process,
    not for Azure)."""

    def __init__(
        self, ping_store: Callable[[], bool], scheduler_running: Callable[[], bool], mode: str
    ) -> None:
        self._ping_store = ping_store
        self._scheduler_running = scheduler_running
        self.mode = mode
        self.started = time.time()
        self.socket_connected: Callable[[], bool] | None = None
        self.doctor: Callable[[], dict[str, Any]] | None = None

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
        if self.doctor is not None:
            report["doctor"] = self.doctor()
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
        log_config=None,  # uvicorn's lines go through ftbot's handler: same format, secrets scrubbed
        log_level=log_level.lower(),
        access_log=False,
        server_header=False,
    )
    return _Server(config)
