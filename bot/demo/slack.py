"""A loopback stand-in for the Slack Web API (used by `ftbot demo` and the tests) that records every call.

- Answers the Web API methods ftbot uses (auth.test, chat.*, views.*, files.* for files_upload_v2,
  usergroups.users.list, users.info, conversations.history and .replies with message metadata) and keeps
  the resulting messages so tests can read a channel's job card and its thread.
- Serves uploaded/registered files at ``/files/<id>`` only to the bot token (anyone else gets Slack's
  200 HTML login page, as the real file host does).
- ``fail_next(method, status, retry_after=..., times=n)`` makes the next calls answer 429/5xx.
- Streams a message (``chat.startStream``/``appendStream``/``stopStream``) the way Slack shows it: the
  markdown so far as one ``markdown`` block, the stop's blocks under it. ``refuse_next(method, error)``
  makes the next calls answer ``ok: false`` with that error (``message_not_in_streaming_state`` for an
  expired stream); ``live_streams_peak`` is the most streams that were open at once.
- ``response_url(...)`` gives loopback response URLs whose posts are recorded too.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 200
    at: float = field(default_factory=time.monotonic)


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    user: str | None = None  # for ephemeral messages
    edits: int = 0
    files: list[str] = field(default_factory=list)
    metadata: dict[str, Any] | None = None  # chat.postMessage's message metadata, as Slack keeps it
    streaming: bool = False  # between chat.startStream and chat.stopStream


class FakeSlack:
    def __init__(
        self,
        bot_token: str = "xoxb-test-token",  # noqa: S107 - a stand-in's token, not a secret
        usergroups: dict[str, list[str]] | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token: str | None = None  # Socket Mode: apps.connections.open answers this token
        self.socket_url: str | None = None  # ... with this wss URL
        self.usergroups = usergroups or {}
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], Message] = {}
        self.ephemeral: list[Message] = []
        self.responses: list[dict[str, Any]] = []  # posts to response_url
        self.views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self._failures: dict[str, list[tuple[int, float | None]]] = defaultdict(list)
        self._lock = threading.RLock()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self.expired_triggers: set[str] = set()
        #: the granted scopes every Web API answer names in its ``x-oauth-scopes`` header (None: no header)
        self.oauth_scopes: str | None = None
        #: channels the bot is not a member of: conversations.history answers ``not_in_channel``
        self.outside_channels: set[str] = set()
        self._limits: dict[str, list[float]] = {}  # method -> [per_second, burst, tokens, last]
        #: OAuth installs: bot token -> its workspace (auth.test answers it); code -> the grant it gives
        self.installed: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self._refusals: dict[str, list[str]] = defaultdict(list)
        #: the most messages that were streaming at the same time
        self.live_streams_peak = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # --- lifecycle ---
    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, key: str = "r") -> str:
        return f"{self.base_url}/response/{key}"

    # --- test controls ---
    def fail_next(
        self, method: str, status: int = 429, *, retry_after: float | None = 1, times: int = 1
    ) -> None:
        with self._lock:
            self._failures[method].extend([(status, retry_after)] * times)

    def refuse_next(self, method: str, error: str, *, times: int = 1) -> None:
        """The next ``times`` calls to ``method`` answer ``{"ok": false, "error": error}`` (HTTP 200)."""
        with self._lock:
            self._refusals[method].extend([error] * times)

    def rate_limit(self, method: str, per_minute: float, burst: int = 5) -> None:
        """Answer ``method`` with 429 and Retry-After once more than ``per_minute`` calls a minute (a
        token bucket of ``burst``) arrive, as Slack's per-method, per-workspace tiers do."""
        with self._lock:
            self._limits[method] = [per_minute / 60.0, float(burst), float(burst), time.monotonic()]

    def _over_limit(self, method: str) -> tuple[int, float | None] | None:
        limit = self._limits.get(method)
        if limit is None:
            return None
        rate, burst, tokens, last = limit
        now = time.monotonic()
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens >= 1:
            limit[2:] = [tokens - 1, now]
            return None
        limit[2:] = [tokens, now]
        return 429, max(1.0, (1 - tokens) / rate)

    def add_file(self, content: bytes, name: str = "train.jsonl") -> dict[str, Any]:
        """Register a file as Slack would hold it after a `file_input` upload; returns its file object."""
        with self._lock:
            fid = f"F{next(self._ids):08d}"
            self.files[fid] = content
        return {
            "id": fid,
            "name": name,
            "title": name,
            "filetype": "text",
            "size": len(content),
            "url_private": f"{self.base_url}/files/{fid}/{urllib.parse.quote(name)}",
            "url_private_download": f"{self.base_url}/files/{fid}/download/{urllib.parse.quote(name)}",
        }

    # --- queries ---
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and c.status == 200]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.calls_to(method)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"expected {count} call(s) to {method}, got {len(self.calls_to(method))}")

    def channel_messages(self, channel: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages.values() if m.channel == channel and m.thread_ts is None]

    def thread(self, channel: str, ts: str) -> list[Message]:
        with self._lock:
            return sorted(
                (m for m in self.messages.values() if m.channel == channel and m.thread_ts == ts),
                key=lambda m: float(m.ts),
            )

    def all_text(self) -> str:
        """Everything the bot ever sent to Slack, for leak scans."""
        with self._lock:
            return "\n".join(json.dumps(c.body, default=str) for c in self.calls) + "\n".join(
                json.dumps(r) for r in self.responses
            )

    # --- the server ---
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

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
                body = fake._parse(raw, self.headers.get("Content-Type", ""))
                query = self.path.partition("?")[2]  # the async client sends some arguments here
                if query:
                    body = {**fake._parse(query.encode(), "application/x-www-form-urlencoded"), **body}
                self._api(path[len("/api/") :], body)

            def _api(self, method: str, body: dict[str, Any]) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    failure = fake._failures[method].pop(0) if fake._failures.get(method) else None
                    failure = failure or fake._over_limit(method)
                if failure is not None:
                    status, retry_after = failure
                    with fake._lock:
                        fake.calls.append(Call(method, body, headers, status))
                    extra = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
                    err = "ratelimited" if status == 429 else "fatal_error"
                    return self._send(status, json.dumps({"ok": False, "error": err}).encode(), headers=extra)
                auth = headers.get("authorization", "")
                if method == "apps.connections.open":
                    ok = fake.app_token is not None and auth == f"Bearer {fake.app_token}" and fake.socket_url
                    reply = (
                        {"ok": True, "url": fake.socket_url} if ok else {"ok": False, "error": "invalid_auth"}
                    )
                    with fake._lock:
                        fake.calls.append(Call(method, body, headers))
                    return self._send(200, json.dumps(reply).encode())
                if method == "oauth.v2.access":
                    with fake._lock:
                        fake.calls.append(Call(method, body, headers))
                        reply = fake._oauth_access(auth, body)
                    return self._send(200, json.dumps(reply).encode())
                given = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else body.get("token")
                if given in fake.installed:  # a workspace's OAuth token (auth.test names its workspace)
                    with fake._lock:
                        fake.calls.append(Call(method, body, headers))
                        result = fake._answer(method, body)
                        if method == "auth.test":
                            result |= fake.installed[given]["auth"]
                    return self._send(200, json.dumps(result).encode())
                if auth != f"Bearer {fake.bot_token}" and body.get("token") != fake.bot_token:
                    with fake._lock:
                        fake.calls.append(Call(method, body, headers, 200))
                    return self._send(200, json.dumps({"ok": False, "error": "invalid_auth"}).encode())
                with fake._lock:
                    fake.calls.append(Call(method, body, headers))
                    result = fake._answer(method, body)
                scopes = {"x-oauth-scopes": fake.oauth_scopes} if fake.oauth_scopes is not None else None
                self._send(200, json.dumps(result).encode(), headers=scopes)

        return Handler

    def grant(
        self, code: str, team: str | None, enterprise: str | None = None, rotating: bool = False
    ) -> str:
        """Make ``code`` exchangeable (``oauth.v2.access``) for an install in ``team`` (None with an
        ``enterprise``: an org-wide install); returns the bot token it will give."""
        self.codes[code] = {"team": team, "enterprise": enterprise, "rotating": rotating}
        return f"xoxb-{team or enterprise}-1"

    def _issue(self, team: str | None, enterprise: str | None, rotating: bool, n: int) -> dict[str, Any]:
        token = f"xoxb-{team or enterprise}-{n}"
        auth = {"team_id": team, "enterprise_id": enterprise, "user_id": "UBOT", "bot_id": "BBOT"}
        self.installed[token] = {"auth": auth, "team": team, "enterprise": enterprise, "n": n}
        reply: dict[str, Any] = {
            "ok": True,
            "app_id": "A1",
            "access_token": token,
            "token_type": "bot",
            "scope": "commands,chat:write",
            "bot_user_id": "UBOT",
            "authed_user": {"id": "UINSTALLER"},
            "team": {"id": team, "name": f"Team {team}"} if team else None,
            "enterprise": {"id": enterprise, "name": f"Org {enterprise}"} if enterprise else None,
            "is_enterprise_install": team is None,
        }
        if rotating:
            reply |= {"refresh_token": f"xoxe-1-{team or enterprise}-{n}", "expires_in": 43200}
            self.installed[token]["refresh"] = reply["refresh_token"]
        return reply

    def _oauth_access(self, auth: str, body: dict[str, Any]) -> dict[str, Any]:
        """``oauth.v2.access``: a code from ``grant`` (once), or a refresh token (token rotation)."""
        if not auth.startswith("Basic ") and not body.get("client_secret"):
            return {"ok": False, "error": "invalid_client_id"}
        if body.get("grant_type") == "refresh_token":
            old = [t for t, w in self.installed.items() if w.get("refresh") == body.get("refresh_token")]
            if not old:
                return {"ok": False, "error": "invalid_refresh_token"}
            was = self.installed[old[0]]
            del self.installed[old[0]]["refresh"]  # each refresh token works once
            return self._issue(was["team"], was["enterprise"], True, was["n"] + 1)
        code = self.codes.pop(str(body.get("code")), None)
        if code is None:
            return {"ok": False, "error": "invalid_code"}
        return self._issue(code["team"], code["enterprise"], code["rotating"], 1)

    @staticmethod
    def _parse(raw: bytes, ctype: str) -> dict[str, Any]:
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

    def _next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    @staticmethod
    def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
        blocks = body.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else blocks

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        if self._refusals.get(method):
            return {"ok": False, "error": self._refusals[method].pop(0)}
        match method:
            case "chat.startStream" | "chat.appendStream" | "chat.stopStream":
                return self._answer_stream(method, body)
            case "auth.test":
                return ok | {
                    "user_id": "UBOT",
                    "bot_id": "BBOT",
                    "team_id": "T1",
                    "team": "Test",
                    "user": "ftbot",
                }
            case "chat.postMessage":
                channel = body["channel"]
                ts = self._next_ts()
                msg = Message(channel, ts, body.get("text", ""), self._blocks(body), body.get("thread_ts"))
                meta = body.get("metadata")
                msg.metadata = json.loads(meta) if isinstance(meta, str) else meta
                self.messages[(channel, ts)] = msg
                return ok | {"channel": channel, "ts": ts, "message": {"text": msg.text, "ts": ts}}
            case "chat.update":
                key = (body["channel"], body["ts"])
                if key not in self.messages:
                    return {"ok": False, "error": "message_not_found"}
                msg = self.messages[key]
                if msg.streaming:
                    return {"ok": False, "error": "streaming_state_conflict"}
                msg.text = body.get("text", msg.text)
                msg.blocks = self._blocks(body) or msg.blocks
                msg.edits += 1
                return ok | {"channel": body["channel"], "ts": body["ts"]}
            case "chat.postEphemeral":
                self.ephemeral.append(
                    Message(
                        body["channel"],
                        self._next_ts(),
                        body.get("text", ""),
                        self._blocks(body),
                        body.get("thread_ts"),
                        user=body.get("user"),
                    )
                )
                return ok | {"message_ts": self._next_ts()}
            case "views.open" | "views.push" | "views.update" | "views.publish":
                return self._answer_views(method, body)
            case "files.getUploadURLExternal" | "files.completeUploadExternal":
                return self._answer_files(method, body)
            case "usergroups.users.list":
                users = self.usergroups.get(body.get("usergroup", ""))
                if users is None:
                    return {"ok": False, "error": "no_such_subteam"}
                return ok | {"users": users}
            case "conversations.history" if body.get("channel") in self.outside_channels:
                return {"ok": False, "error": "not_in_channel"}
            case "conversations.history" | "conversations.replies":
                return ok | {"messages": self._history(body), "has_more": False}
            case "users.info":
                return ok | {"user": {"id": body.get("user"), "name": "someone", "tz": "UTC"}}
            case _:
                return ok

    def _history(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """A channel's top-level messages newest first, or a thread (its parent first) oldest first;
        metadata only with ``include_all_metadata``, files with their names, as Slack answers."""
        channel, ts = body["channel"], body.get("ts")
        if ts is None:
            found = sorted(self.channel_messages(channel), key=lambda m: float(m.ts), reverse=True)
        else:
            found = [m for m in [self.messages.get((channel, ts))] if m] + self.thread(channel, ts)
        with_metadata = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        return [
            {"ts": m.ts, "text": m.text, "thread_ts": m.thread_ts}
            | ({"metadata": m.metadata} if with_metadata and m.metadata else {})
            | (
                {"files": [{"id": f, "name": self.uploads.get(f, {}).get("filename")} for f in m.files]}
                if m.files
                else {}
            )
            for m in found[: int(body.get("limit") or 100)]
        ]

    def _answer_stream(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        channel, added = body["channel"], self._stream_text(body)
        if method == "chat.startStream":
            if not body.get("thread_ts"):
                return {"ok": False, "error": "invalid_arguments"}
            ts = self._next_ts()
            msg = Message(channel, ts, added, [], body["thread_ts"], streaming=True)
            self.messages[(channel, ts)] = msg
        else:
            ts = body.get("ts", "")
            msg = self.messages.get((channel, ts))  # type: ignore[assignment]
            if msg is None:
                return {"ok": False, "error": "message_not_found"}
            if not msg.streaming:
                return {"ok": False, "error": "message_not_in_streaming_state"}
            msg.text += added
            msg.edits += 1
        extra = self._blocks(body) if method == "chat.stopStream" else []
        msg.blocks = [{"type": "markdown", "block_id": "stream", "text": msg.text}, *extra]
        msg.streaming = method != "chat.stopStream"
        live = sum(1 for m in self.messages.values() if m.streaming)
        self.live_streams_peak = max(self.live_streams_peak, live)
        return {"ok": True, "channel": channel, "ts": ts}

    @staticmethod
    def _stream_text(body: dict[str, Any]) -> str:
        text = str(body.get("markdown_text") or "")
        chunks = body.get("chunks") or []
        chunks = json.loads(chunks) if isinstance(chunks, str) else chunks
        return text + "".join(str(c.get("text") or "") for c in chunks if c.get("type") == "markdown_text")

    def _answer_views(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        match method:
            case "views.open" | "views.push":
                trigger = body.get("trigger_id", "")
                if trigger in self.expired_triggers:
                    return {"ok": False, "error": "expired_trigger_id"}
                self.expired_triggers.add(trigger)  # a trigger_id works once
                vid = f"V{next(self._ids):08d}"
                view = body["view"] if isinstance(body["view"], dict) else json.loads(body["view"])
                self.views[vid] = view
                return ok | {"view": view | {"id": vid, "hash": f"h{vid}"}}
            case "views.update":
                vid = body.get("view_id", "")
                if vid not in self.views:
                    return {"ok": False, "error": "not_found"}
                view = body["view"] if isinstance(body["view"], dict) else json.loads(body["view"])
                self.views[vid] = view
                return ok | {"view": view | {"id": vid, "hash": f"h{vid}x"}}
            case "views.publish":
                view = body["view"] if isinstance(body["view"], dict) else json.loads(body["view"])
                self.views[f"home:{body.get('user_id')}"] = view
                return ok | {"view": view}
        raise AssertionError(method)

    def _answer_files(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        match method:
            case "files.getUploadURLExternal":
                fid = f"F{next(self._ids):08d}"
                self.uploads[fid] = {"filename": body.get("filename"), "length": body.get("length")}
                return ok | {"upload_url": f"{self.base_url}/upload/{fid}", "file_id": fid}
            case "files.completeUploadExternal":
                files = body.get("files")
                files = json.loads(files) if isinstance(files, str) else files or []
                channel, thread_ts = body.get("channel_id"), body.get("thread_ts")
                for f in files:
                    self.uploads.setdefault(f["id"], {})["title"] = f.get("title")
                    if channel:
                        ts = self._next_ts()
                        msg = Message(
                            channel, ts, body.get("initial_comment", ""), [], thread_ts, files=[f["id"]]
                        )
                        self.messages[(channel, ts)] = msg
                return ok | {"files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        raise AssertionError(method)
