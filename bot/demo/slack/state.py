"""What a fake workspace holds, and the test's reads of it: the base every group of Web API methods
(``chat``, ``conversations``, ``views``, ``files``, ``oauth``, the test ``controls``) works on."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from http.server import ThreadingHTTPServer
from typing import Any

from bot.demo.slack.records import Call, Message


class SlackState:
    """The recorded calls, messages, views and files, the installs, and the loopback server's address
    (``FakeSlack`` starts the server)."""

    _server: ThreadingHTTPServer

    def __init__(self, bot_token: str, usergroups: dict[str, list[str]] | None) -> None:
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

    # --- where it answers ---
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

    # --- what the method groups share ---
    def _next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    @staticmethod
    def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
        blocks = body.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else blocks
