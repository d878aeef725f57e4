"""The end-to-end world of the listener and reliability tests: ftbot's real HTTP stack (Starlette + Bolt)
with the Slack stand-in, a loopback file server, the store, the scheduler's work ticked by the test, and
a backend (the Protocol fake unless a test brings its own)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.demo.payloads import block_action, payload_body, slash_body
from bot.demo.slack import FakeSlack, Message
from bot.runtime.services import Services
from bot.ui.ids import Action
from bot.ui.ids import Block as B
from commands.ports import FineTuningBackend
from tests.fakes.backend import FakeBackend
from tests.fakes.files import FileServer
from tests.support.data import chat_lines
from tests.support.doubles import APPROVER
from tests.support.harness import Reply, make_settings, running_bot

MEMBER = "UMEMBER01"
CHANNEL = "CJOBS1"


class Bot(Protocol):
    """What a world posts signed requests to: ``RunningBot`` (uvicorn) or an in-process driver."""

    def post(
        self,
        body: str,
        headers: dict[str, str] | None = None,
        *,
        signed: bool = True,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
    ) -> Reply: ...


@dataclass
class World:
    bot: Bot
    fake: FakeSlack
    files: FileServer
    backend: FakeBackend
    services: Services

    def tick(self, times: int = 1) -> None:
        """What the scheduler does every tick: poll jobs and endpoints, deliver."""
        for _ in range(times):
            self.services.poller.poll_jobs()
            self.services.poller.poll_endpoints()
            self.services.delivery.tick()

    def until(self, check: Callable[[], bool], ticks: int = 30) -> None:
        for _ in range(ticks):
            self.tick()
            if check():
                return
            time.sleep(0.02)
        raise AssertionError("condition not reached")

    def quiesce(self) -> None:
        """Wait for the work the last requests go on with after their ack (Bolt's listener tasks)."""
        quiesce = getattr(self.bot, "quiesce", None)
        assert quiesce is None or quiesce(), "work after the ack still running after 15 s"

    def delivered(self) -> bool:
        with self.services.store.transaction() as tx:
            return tx.unsent_count() == 0 and tx.undelivered_cards() == 0

    def settle(self) -> None:
        """Let the last requests' work after their ack finish, then tick until every card and thread post
        owed to Slack is delivered (posts are paced per channel)."""
        self.quiesce()
        self.until(self.delivered, ticks=200)

    def slash(self, text: str, user: str = MEMBER) -> dict[str, Any]:
        r = self.bot.post(slash_body(text, user=user, channel=CHANNEL, response_url=self.fake.response_url()))
        assert r.status == 200, r.body
        return r.json() if r.body else {}

    def click(self, action: Action, value: str, user: str = MEMBER, trigger: str | None = None) -> int:
        body = block_action(
            action, value, user=user, channel=CHANNEL, response_url=self.fake.response_url(), trigger=trigger
        )
        return self.bot.post(payload_body(body)).status

    def card(self) -> Message:
        cards = self.fake.channel_messages(CHANNEL)
        assert len(cards) == 1, f"expected one job card, found {len(cards)}"
        return cards[0]

    def thread(self) -> list[Message]:
        return self.fake.thread(CHANNEL, self.card().ts)

    def response_texts(self) -> list[str]:
        return [r.get("text", "") for r in self.fake.responses]

    def wait_response(self, fragment: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for text in self.response_texts():
                if fragment in text:
                    return text
            time.sleep(0.02)
        raise AssertionError(f"no response containing {fragment!r}; got {self.response_texts()}")


def selected(action: str, value: str, kind: str = "radio_buttons") -> dict[str, Any]:
    """A view_submission's state value of ``action`` with ``value`` chosen, as Slack sends it."""
    return {
        action: {
            "type": kind,
            "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
        }
    }


def view_update(world: World, callback: str, view_id: str | None = None, after: int = 0) -> dict[str, Any]:
    """The latest ``views.update`` (past the first ``after`` ones) that shows ``callback`` (in
    ``view_id``), waiting for it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for call in reversed(world.fake.calls_to("views.update")[after:]):
            view = call.body["view"]
            if view.get("callback_id") == callback and (
                view_id is None or call.body.get("view_id") == view_id
            ):
                return dict(view)
        time.sleep(0.02)
    raise AssertionError(f"no views.update with {callback}")


def evaluation_posts(world: World) -> list[Any]:
    """The thread's evaluation results, once the click's evaluation (started after the ack) has run."""
    deadline = time.monotonic() + 30
    while True:
        world.services.evaluations.wait()
        world.settle()
        posts = [m for m in world.thread() if any(b.get("block_id") == B.EVAL_SUMMARY for b in m.blocks)]
        if posts or time.monotonic() > deadline:
            return posts
        time.sleep(0.05)


def block(message_blocks: list[dict[str, Any]], block_id: str) -> dict[str, Any]:
    return next(b for b in message_blocks if b.get("block_id") == block_id)


def buttons(msg: Message, block_id: str = B.CARD_ACTIONS) -> dict[str, dict[str, Any]]:
    found = [b for b in msg.blocks if b.get("block_id") == block_id]
    return {e["text"]["text"]: e for e in found[0]["elements"]} if found else {}


def submit(world: World) -> str:
    ack = world.slash(f"submit --model ftbot-tiny --data {world.files.url('train.jsonl')} --split 0.2")
    assert ack["response_type"] == "ephemeral" and "Checking" in ack["text"]
    text = world.wait_response("Started")
    return text.split("`")[1]


@contextmanager
def open_world(
    tmp_path: Path,
    backend: FineTuningBackend | None = None,
    serve: Callable[[Services], AbstractContextManager[Bot]] = running_bot,
    **settings: str,
) -> Iterator[World]:
    """One running bot on the real HTTP stack. ``tmp_path/www`` is served (train.jsonl: 30 good examples,
    bad.jsonl: an error on line 12); the store lives in ``tmp_path/data``, so a second world opened on
    the same ``tmp_path`` is a restart. ``serve`` runs the app (uvicorn on loopback unless a test drives
    it in process); ``settings`` are FTBOT_* overrides."""
    www = tmp_path / "www"
    www.mkdir(exist_ok=True)
    (www / "train.jsonl").write_text(chat_lines(30))
    (www / "bad.jsonl").write_text(chat_lines(11) + '{"messages": "oops"}\n')
    with FakeSlack() as fake, FileServer(www) as files:
        values = {
            "FTBOT_APPROVERS": APPROVER,
            "FTBOT_DATA_URL_HOSTS": files.host,
            "FTBOT_POLL_SECONDS": "0.01",
            "FTBOT_SLACK_UPDATES_PER_MINUTE": "600",
            **settings,
        }
        services = Services.from_settings(make_settings(tmp_path, fake, **values))
        services._backend = backend or FakeBackend()
        try:
            with serve(services) as bot:
                yield World(bot, fake, files, services._backend, services)  # type: ignore[arg-type]
        finally:
            services.poller.close()
