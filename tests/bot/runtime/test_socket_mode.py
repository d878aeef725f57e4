"""`ftbot serve` with SLACK_APP_TOKEN runs Socket Mode: it opens a websocket from apps.connections.open,
answers a slash command envelope with its ack, and still serves /healthz. The Socket Mode server is a
loopback aiohttp websocket."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from bot.demo.payloads import block_action, slash_body
from bot.demo.slack import FakeSlack
from bot.ui.ids import Action
from tests.support.serve import ServeProcess
from tests.support.wait import until

APP_TOKEN = "xapp-1-A1-test-socket-token"


class SocketModeServer:
    """Accepts one client at /link, says hello, sends envelopes the test queues, records the replies."""

    def __init__(self) -> None:
        self.outgoing: queue.Queue[dict[str, Any]] = queue.Queue()
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/link", self._link)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        )
        self.connected.set()

        async def pump() -> None:
            while not ws.closed:
                try:
                    envelope = self.outgoing.get_nowait()
                except queue.Empty:
                    await asyncio.sleep(0.02)
                    continue
                await ws.send_str(json.dumps(envelope))

        task = asyncio.ensure_future(pump())
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.replies.put(json.loads(msg.data))
        task.cancel()
        return ws

    def __enter__(self) -> SocketModeServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FakeSlack, SocketModeServer, ServeProcess]]:
    with FakeSlack() as fake, SocketModeServer() as sm:
        fake.app_token = APP_TOKEN
        fake.socket_url = f"ws://127.0.0.1:{sm.port}/link"
        env = {
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": fake.api_url,
            "FTBOT_DATA_DIR": str(tmp_path / "data"),
        }
        serve = ServeProcess(env, tmp_path)
        serve.launch()
        try:
            yield fake, sm, serve
        finally:
            serve.stop(timeout=20)


@pytest.mark.slow
def test_socket_mode_answers_a_slash_command_and_serves_healthz(
    served: tuple[FakeSlack, SocketModeServer, ServeProcess],
) -> None:
    fake, sm, serve = served
    report = serve.wait_healthy(60, ready=lambda r: bool(r.get("socket_mode_connected")))
    assert report["ok"] is True and report["mode"] == "socket"
    assert sm.connected.wait(10)
    payload = dict(urllib.parse.parse_qsl(slash_body("help", response_url=fake.response_url())))
    sm.outgoing.put(
        {
            "envelope_id": "env-1",
            "type": "slash_commands",
            "payload": payload,
            "accepts_response_payload": True,
        }
    )
    reply = sm.replies.get(timeout=20)
    assert reply["envelope_id"] == "env-1"
    assert "/finetune submit" in json.dumps(reply.get("payload", {}))
    # a click whose user Bolt cannot read ("id" in 7) is screened as over HTTP: acked, the refusal goes
    # to the response_url, and no ERROR line (Bolt's own adapter failed on it before it reached ftbot)
    click = block_action(Action.CANCEL, "ft-x", response_url=fake.response_url()) | {"user": 7}
    sm.outgoing.put({"envelope_id": "env-2", "type": "interactive", "payload": click})
    assert sm.replies.get(timeout=20)["envelope_id"] == "env-2"
    until(lambda: "does not say who sent it" in json.dumps(fake.responses), 20, "the refusal")
    # nothing is accepted over HTTP in Socket Mode
    req = urllib.request.Request(f"{serve.url}/slack/events", b"x=1", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=5)
    assert refused.value.code == 404
    code = serve.stop()  # SIGTERM
    err = serve.log.read_text()
    assert code == 0, err
    assert "ERROR" not in err and "Traceback" not in err, err
    assert APP_TOKEN not in err and fake.bot_token not in err
