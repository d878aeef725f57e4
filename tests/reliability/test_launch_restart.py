"""A ``/finetune submit`` whose process is killed while it downloads and checks the dataset: after the
restart the user is told in the channel what to run again, once, and nothing is ever submitted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.demo.payloads import slash_body
from bot.demo.slack import FakeSlack
from bot.store.db import Database
from bot.store.repo import SqlStore
from tests.support.data import chat_lines
from tests.support.serve import ServeProcess
from tests.support.wait import until

pytestmark = pytest.mark.slow

CHANNEL, USER = "CLAUNCH1", "USUBMIT01"
SECRET = "launch-signing-secret-3b7d"


class StallingDataset:
    """An http dataset host that sends the headers and one line, then stalls until the test ends: the
    bot is caught in the middle of bringing the dataset in."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/jsonl")
                self.send_header("Content-Length", str(10_000_000))
                self.end_headers()
                self.wfile.write(chat_lines(1).encode())
                self.wfile.flush()
                outer.asked.set()
                outer.release.wait(60)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[ServeProcess, FakeSlack, StallingDataset, SqlStore]]:
    data = StallingDataset()
    db_url = f"sqlite:///{tmp_path / 'ftbot.db'}"
    with FakeSlack() as fake:
        env = {
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "FTBOT_DATA_DIR": str(tmp_path / "data"),
            "FTBOT_DATABASE_URL": db_url,
            "FTBOT_DATA_URL_HOSTS": data.host,
            "FTBOT_BACKEND_FACTORY": "tests.fakes.shared_backend:build",
        }
        serve = ServeProcess(env, tmp_path)
        database = Database(db_url)
        try:
            yield serve, fake, data, SqlStore(database)
        finally:
            serve.stop()
            data.close()
            database.dispose()


def test_a_kill_during_the_dataset_check_is_answered_after_the_restart(world) -> None:  # type: ignore[no-untyped-def]
    serve, fake, data, store = world
    serve.start()
    url = f"http://{data.host}/train.jsonl?sv=2024&sig=SECRETSIG"
    text = f"submit --model ftbot-tiny --data {url}"
    assert serve.post(slash_body(text, user=USER, channel=CHANNEL, response_url=fake.response_url())) == 200
    assert data.asked.wait(30), "the bot never asked for the dataset"
    serve.kill9()  # mid-download: the user was told "Checking your dataset…" and nothing more

    serve.start()

    def answered() -> list[str]:
        return [
            c.body.get("text", "")
            for c in fake.calls_to("chat.postMessage")
            if c.body.get("channel") == CHANNEL and "restarted" in c.body.get("text", "")
        ]

    until(answered, timeout=30, what="the user to hear that the check was cut short")
    (message,) = answered()
    assert f"<@{USER}>" in message and "nothing was submitted" in message
    assert f"--data http://{data.host}/train.jsonl" in message and "SECRETSIG" not in message
    with store.transaction() as tx:
        assert tx.find_jobs() == []  # nothing submitted, nothing to submit twice
        assert tx.checking_launches() == []  # answered: no replica answers it again
