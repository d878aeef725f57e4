"""The fake Slack's loopback HTTP server: the Web API under ``/api/`` (GET for the read methods, POST
form or JSON), the file host under ``/files/<id>`` (only for the bot token; anyone else gets Slack's 200
HTML login page, as the real file host does), upload URLs, and response URLs whose posts are recorded."""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from bot.demo.slack.api import WebApi
from bot.demo.slack.records import Call

LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"


def handler_for(slack: WebApi) -> type[BaseHTTPRequestHandler]:
    """The request handler class that answers for ``slack``."""

    class Handler(SlackHandler):
        fake = slack

    return Handler


def parse_body(raw: bytes, ctype: str) -> dict[str, Any]:
    """A Web API call's arguments: JSON, or a form whose JSON-valued fields are decoded."""
    if not raw:
        return {}
    if "json" in ctype:
        return json.loads(raw)
    form = dict(urllib.parse.parse_qsl(raw.decode()))
    for key in ("blocks", "view", "files", "attachments"):
        if isinstance(form.get(key), str):
            with contextlib.suppress(ValueError):
                form[key] = json.loads(form[key])
    return form


class SlackHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: WebApi

    def log_message(self, *args: object) -> None:
        pass

    def _send(
        self, status: int, body: bytes, ctype: str = "application/json", headers: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        fake = self.fake
        path, _, query = self.path.partition("?")
        if path.startswith("/api/"):  # the Web API's read methods (conversations.*) are GETs
            return self._api(path[len("/api/") :], dict(urllib.parse.parse_qsl(query)))
        parts = path.strip("/").split("/")
        if parts[0] == "files" and len(parts) >= 2:
            auth = self.headers.get("Authorization", "")
            content = fake.files.get(parts[1])
            if auth != f"Bearer {fake.bot_token}" or content is None:
                return self._send(200, LOGIN_PAGE, "text/html; charset=utf-8")
            return self._send(200, content, "application/octet-stream")
        self._send(404, b"{}")

    def do_POST(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        path = self.path.split("?")[0]
        if path.startswith("/upload/"):
            fid = path.rsplit("/", 1)[1]
            with fake._lock:
                fake.uploads.setdefault(fid, {})["content"] = raw
                fake.files[fid] = raw
            return self._send(200, b"OK - uploaded", "text/plain")
        if path.startswith("/response/"):
            body = json.loads(raw or b"{}")
            with fake._lock:
                fake.responses.append(body)
            return self._send(200, b"ok", "text/plain")
        if not path.startswith("/api/"):
            return self._send(404, b"{}")
        body = parse_body(raw, self.headers.get("Content-Type", ""))
        query = self.path.partition("?")[2]  # the async client sends some arguments here
        if query:
            body = {**parse_body(query.encode(), "application/x-www-form-urlencoded"), **body}
        self._api(path[len("/api/") :], body)

    def _api(self, method: str, body: dict[str, Any]) -> None:
        fake = self.fake
        headers = {k.lower(): v for k, v in self.headers.items()}
        failure = fake._failure_for(method)
        if failure is not None:
            return self._fail(method, body, headers, *failure)
        auth = headers.get("authorization", "")
        given = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else body.get("token")
        scopes = None
        if method == "apps.connections.open":
            reply = self._record(method, body, headers, lambda: fake._connections_open(auth))
        elif method == "oauth.v2.access":
            reply = self._record(method, body, headers, lambda: fake._oauth_access(auth, body))
        elif given in fake.installed:  # a workspace's OAuth token (auth.test names its workspace)
            reply = self._record(method, body, headers, lambda: fake._answer_installed(given, method, body))
        elif auth != f"Bearer {fake.bot_token}" and body.get("token") != fake.bot_token:
            reply = self._record(method, body, headers, lambda: {"ok": False, "error": "invalid_auth"})
        else:
            reply = self._record(method, body, headers, lambda: fake._answer(method, body))
            scopes = {"x-oauth-scopes": fake.oauth_scopes} if fake.oauth_scopes is not None else None
        self._send(200, json.dumps(reply).encode(), headers=scopes)

    def _record(
        self,
        method: str,
        body: dict[str, Any],
        headers: dict[str, str],
        answer: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        """Record the call and answer it, under the fake's lock."""
        with self.fake._lock:
            self.fake.calls.append(Call(method, body, headers))
            return answer()

    def _fail(
        self,
        method: str,
        body: dict[str, Any],
        headers: dict[str, str],
        status: int,
        retry_after: float | None,
    ) -> None:
        """Answer with the 429 or 5xx a test asked for (``fail_next``, ``rate_limit``)."""
        with self.fake._lock:
            self.fake.calls.append(Call(method, body, headers, status))
        extra = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
        err = "ratelimited" if status == 429 else "fatal_error"
        self._send(status, json.dumps({"ok": False, "error": err}).encode(), headers=extra)
