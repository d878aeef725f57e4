"""ftbot's ASGI app (``build_asgi`` over the Bolt app) driven in this process: no socket between the
fuzzer and the app, one event loop on a thread of its own (where Bolt's work after ``ack()`` goes on),
and a way to wait until that work is done, so each request is judged on everything it caused."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bot.demo.payloads import sign
from bot.listeners.app import create_app
from bot.runtime.server import HealthState, build_asgi
from bot.runtime.services import Services
from tests.support.harness import SIGNING_SECRET, Reply


class InProcessBot:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-loop", daemon=True)
        self._thread.start()
        services.database.migrate()
        health = HealthState(services.database.ping, lambda: True, "http")
        secret = services.settings.slack_signing_secret
        self.asgi = build_asgi(
            create_app(services), health, secret.get_secret_value() if secret else None, []
        )

    def post(
        self,
        body: str | bytes,
        headers: dict[str, str] | None = None,
        *,
        signed: bool = True,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
    ) -> Reply:
        raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        hdrs = {"content-type": content_type, "content-length": str(len(raw))}
        if signed:
            hdrs.update({k.lower(): v for k, v in _sign(raw, timestamp).items()})
        hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
        start = time.perf_counter()
        future = asyncio.run_coroutine_threadsafe(self._call(raw, hdrs), self.loop)
        status, reply = future.result(timeout=30)
        return Reply(status, reply, time.perf_counter() - start)

    async def _call(self, raw: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/slack/events",
            "raw_path": b"/slack/events",
            "query_string": b"",
            "root_path": "",
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        sent = False
        status, chunks = 0, []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)  # the client never disconnects while the app answers
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        try:
            await self.asgi(scope, receive, send)
        except Exception:  # what uvicorn does with an exception out of the app: log it, answer 500
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
            return (status or 500), b"".join(chunks) or b"Internal Server Error"
        return status, b"".join(chunks)

    def quiesce(self, timeout: float = 15) -> bool:
        """Wait until every task the last requests left on the loop (Bolt's work after ack) is done, and
        the evaluations they started in worker threads have run."""
        deadline = time.monotonic() + timeout
        idle = asyncio.run_coroutine_threadsafe(self._idle(deadline), self.loop).result(timeout + 5)
        self.services.evaluations.wait(max(0.0, deadline - time.monotonic()))
        return idle

    async def _idle(self, deadline: float) -> bool:
        me = asyncio.current_task()
        while time.monotonic() < deadline:
            if not [t for t in asyncio.all_tasks() if t is not me and not t.done()]:
                return True
            await asyncio.sleep(0.002)
        return False

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.services.responder.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def _sign(raw: bytes, timestamp: int | None) -> dict[str, str]:
    try:
        return sign(SIGNING_SECRET, raw.decode("utf-8"), timestamp)
    except UnicodeDecodeError:  # a body that is not UTF-8: sign its bytes as Slack's HMAC would
        import hashlib
        import hmac

        ts = str(int(time.time()) if timestamp is None else timestamp)
        mac = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={mac.hexdigest()}"}


@contextmanager
def in_process(services: Services) -> Iterator[InProcessBot]:
    bot = InProcessBot(services)
    try:
        yield bot
    finally:
        bot.close()
