"""Run ftbot's real HTTP stack (Starlette + Bolt AsyncApp on uvicorn) on 127.0.0.1 for tests."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bot.demo.payloads import sign
from bot.demo.slack import FakeSlack
from bot.listeners.app import create_app
from bot.runtime.server import HealthState, build_asgi, uvicorn_server
from bot.runtime.services import Services
from bot.runtime.settings import Settings

SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-test-token"


def make_settings(tmp_path: Path, fake: FakeSlack, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "FTBOT_DATA_DIR": str(tmp_path / "data"),
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Reply:
    status: int
    body: bytes
    elapsed: float

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class RunningBot:
    url: str
    services: Services
    loop: asyncio.AbstractEventLoop | None = None

    def quiesce(self, timeout: float = 15) -> bool:
        """Wait until the work Bolt runs after each ack (its listener tasks) is done; False on timeout."""
        if self.loop is None:
            return True

        async def idle() -> bool:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not [t for t in asyncio.all_tasks() if not t.done() and _after_ack(t)]:
                    return True
                await asyncio.sleep(0.005)
            return False

        return asyncio.run_coroutine_threadsafe(idle(), self.loop).result(timeout + 5)

    def post(
        self,
        body: str,
        headers: dict[str, str] | None = None,
        *,
        signed: bool = True,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
    ) -> Reply:
        hdrs = {"Content-Type": content_type}
        if signed:
            hdrs.update(sign(SIGNING_SECRET, body, timestamp))
        hdrs.update(headers or {})
        req = urllib.request.Request(f"{self.url}/slack/events", body.encode(), hdrs, method="POST")
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return Reply(r.status, r.read(), time.perf_counter() - start)
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.read(), time.perf_counter() - start)

    def get(self, path: str) -> Reply:
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as r:
                return Reply(r.status, r.read(), time.perf_counter() - start)
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.read(), time.perf_counter() - start)


def _after_ack(task: asyncio.Task[object]) -> bool:
    """Bolt's listener work that goes on after the ack (slack_bolt.listener.asyncio_runner)."""
    return "run_ack_function_asynchronously" in getattr(task.get_coro(), "__qualname__", "")


@contextmanager
def running_bot(services: Services, *, scheduler_running: bool = True) -> Iterator[RunningBot]:
    services.database.migrate()
    app = create_app(services)
    health = HealthState(services.database.ping, lambda: scheduler_running, "http")
    secret = services.settings.slack_signing_secret
    server = uvicorn_server(
        build_asgi(app, health, secret.get_secret_value() if secret else None, [services.responder.close]),
        "127.0.0.1",
        0,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningBot(f"http://127.0.0.1:{port}", services, server.servers[0].get_loop())
    finally:
        server.should_exit = True
        thread.join(timeout=10)
