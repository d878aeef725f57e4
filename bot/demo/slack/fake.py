"""``FakeSlack``: the fake Web API behind its loopback server, started and stopped by the test."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

from bot.demo.slack.api import WebApi
from bot.demo.slack.server import handler_for


class FakeSlack(WebApi):
    """``with FakeSlack() as fake:`` serves the fake Web API at ``fake.api_url`` until the block ends."""

    def __init__(
        self,
        bot_token: str = "xoxb-test-token",  # noqa: S107 - a stand-in's token, not a secret
        usergroups: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(bot_token, usergroups)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(self))
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
