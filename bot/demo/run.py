"""`ftbot demo`: the whole lifecycle offline, printed as the Slack thread would read.

The real ftbot runs (Bolt app on uvicorn, the scheduler, the store, the local backend with real LoRA
training) against a loopback Slack stand-in. Two people act through signed requests, exactly as Slack
would send them: Dana (a channel member) and Avery (an approver).
"""

from __future__ import annotations

import json
import secrets
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from bot.backends.local import LocalBackend, catalog, smollm2
from bot.demo.payloads import (
    block_action,
    block_suggestion,
    payload_body,
    sign,
    slash_body,
    view_submission,
    wizard_values,
)
from bot.demo.slack import FakeSlack
from bot.demo.transcript import blocks_text, render
from bot.listeners.app import create_app
from bot.runtime.server import HealthState, build_asgi, uvicorn_server
from bot.runtime.services import Services
from bot.runtime.settings import Settings
from bot.scheduling.jobs import scheduled_jobs
from bot.scheduling.scheduler import Scheduler
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.dataset import sample_dataset_path
from commands.models import ChatMessage, ChatRequest

DANA, AVERY, CHANNEL = "UDANA0001", "UAVERY001", "CSUPPORT1"
NAMES = {DANA: "dana", AVERY: "avery", "UBOT": "ftbot"}
SIGNING_SECRET = secrets.token_hex(16)


class DemoFailed(Exception):
    pass


#: per base model: the epochs @dana picks and how long training may take here (conversion included)
PLANS = {"ftbot-tiny": (8, 150.0), "smollm2-135m-instruct": (3, 900.0)}


class Demo:
    def __init__(self, data_dir: Path, echo: Callable[[str], None], model: str = "ftbot-tiny") -> None:
        self.data_dir = data_dir
        self.echo = echo
        self.model = model
        self.epochs, self.train_timeout = PLANS.get(model, (3, 900.0))
        self.slack = FakeSlack(bot_token="xoxb-demo-" + secrets.token_hex(8))
        self.shown: dict[tuple[str, str], int] = {}  # message key -> edits already printed
        self.url = ""
        self.services: Services | None = None

    # --- plumbing ---

    def post(self, body: str, content_type: str = "application/x-www-form-urlencoded") -> dict[str, Any]:
        headers = {"Content-Type": content_type, **sign(SIGNING_SECRET, body)}
        req = urllib.request.Request(f"{self.url}/slack/events", body.encode(), headers, method="POST")  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback
                raw = r.read()
        except urllib.error.HTTPError as e:
            raise DemoFailed(f"ftbot answered HTTP {e.code}") from e
        return json.loads(raw) if raw.strip() else {}

    def slash(self, user: str, text: str) -> dict[str, Any]:
        self.say(user, f"/finetune {text}".rstrip())
        return self.post(slash_body(text, user=user, channel=CHANNEL, response_url=self.slack.response_url()))

    def click(self, user: str, action: Action, value: str, label: str) -> None:
        self.echo(f"\n@{NAMES[user]} clicks [{label}]")
        trigger = f"trig-{secrets.token_hex(4)}"
        body = block_action(
            action, value, user=user, channel=CHANNEL, response_url=self.slack.response_url(), trigger=trigger
        )
        self.post(payload_body(body))

    def say(self, user: str, text: str) -> None:
        self.echo(f"\n@{NAMES[user]}: {text}")

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 90) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.show_channel()
            result = check()
            if result:
                return result
            time.sleep(0.2)
        raise DemoFailed(f"timed out waiting for {what}")

    def card(self) -> Any:
        cards = self.slack.channel_messages(CHANNEL)
        return cards[0] if cards else None

    def buttons(self, blocks: list[dict[str, Any]], block_id: str) -> dict[str, str]:
        for b in blocks:
            if b.get("block_id") == block_id:
                return {e["text"]["text"]: e.get("value", "") for e in b.get("elements", [])}
        return {}

    def show_channel(self) -> None:
        """Print new thread messages, and the card again whenever it was edited."""
        card = self.card()
        if card is None:
            return
        key = (card.channel, card.ts)
        if self.shown.get(key) != card.edits:
            self.shown[key] = card.edits
            title = (
                "ftbot posted the job card"
                if card.edits == 0
                else f"ftbot edited the job card (edit {card.edits})"
            )
            self.echo(f"\n#{CHANNEL.lower()} — {title}:\n{_indent(render(card, NAMES))}")
        for msg in self.slack.thread(CHANNEL, card.ts):
            mkey = (msg.channel, msg.ts)
            if mkey not in self.shown:
                self.shown[mkey] = msg.edits
                self.echo(f"  └ thread: {_indent(render(msg, NAMES, self.slack), 4).lstrip()}")

    def responses(self, fragment: str) -> Callable[[], str | None]:
        def find() -> str | None:
            for r in self.slack.responses:
                if fragment in r.get("text", ""):
                    return str(r["text"])
            return None

        return find

    def view_update(self, view_id: str | None, callback: str) -> Callable[[], dict[str, Any] | None]:
        def find() -> dict[str, Any] | None:
            for call in reversed(self.slack.calls_to("views.update")):
                view = call.body.get("view") or {}
                if view.get("callback_id") == callback and (
                    view_id is None or call.body.get("view_id") == view_id
                ):
                    return dict(view)
            return None

        return find

    def trained_example(self, job_id: str) -> tuple[str, str, str]:
        """A user prompt and its answer from the training side of the split (not the held-out part)."""
        assert self.services is not None
        folder = self.services.settings.data_dir / "jobs-input" / job_id
        path = next(iter(sorted(folder.glob("*.train.jsonl"))), None) or sample_dataset_path()
        first = json.loads(path.read_text(encoding="utf-8-sig").splitlines()[0])
        by_role = {m["role"]: m["content"] for m in reversed(first["messages"])}
        return by_role.get("system", ""), by_role["user"], by_role["assistant"]

    # --- the story ---

    def run(self) -> None:
        self.echo(
            f"ftbot demo: the whole fine-tuning lifecycle, offline. Base model {self.model}, trained with "
            "LoRA on this machine;\nSlack is a loopback stand-in. @dana is a channel member, @avery an "
            "approver."
        )
        self.start_training()
        job_id = self.wait(
            "training to finish",
            lambda: self.buttons(self.card().blocks, B.CARD_ACTIONS).get("Deploy"),
            timeout=self.train_timeout,
        )
        endpoint = self.deploy_with_approval(job_id)
        self.test_chat(job_id, endpoint)
        self.compare_with_base(job_id, endpoint)
        self.tear_down(endpoint)
        self.echo(
            "\nDemo complete: validated, trained, approved, deployed, test-chatted and torn down, offline."
        )

    def start_training(self) -> None:
        """@dana asks for help, fills the wizard, reads the review and starts training."""
        ack = self.slash(DANA, "help")
        self.echo(_indent("(only you) " + ack.get("text", "").splitlines()[0]))

        self.slash(DANA, "")
        loading = self.wait("the wizard", lambda: self.slack.calls_to("views.open"))
        view_id = loading[-1].body.get("view", {}).get("callback_id")
        wizard = self.wait("the wizard's fields", self.view_update(None, Callback.WIZARD))
        self.echo(
            f"  ftbot opened a modal ({view_id} → {wizard['title']['text']}): base model, training data, "
            "validation data, task parameters, suffix"
        )
        options = self.post(
            payload_body(block_suggestion(Action.BASE_MODEL, "", block_id=B.BASE_MODEL, user=DANA))
        )
        self.echo(f"  base models offered: {', '.join(o['value'] for o in options.get('options', []))}")

        data = sample_dataset_path().read_bytes()
        file = self.slack.add_file(data, "customer_support.jsonl")
        self.echo(
            f"\n@dana picks {self.model}, uploads customer_support.jsonl ({len(data):,} bytes), holds out "
            f"10% for validation, sets {self.epochs} epochs (Custom), and clicks Next"
        )
        values = wizard_values(self.model, file, split_percent=10, epochs=self.epochs, suffix="support")
        self.post(
            payload_body(
                view_submission(
                    Callback.WIZARD, values, user=DANA, private_metadata=CHANNEL, view_id="VDEMOWIZARD"
                )
            )
        )
        review = self.wait("the review", self.view_update("VDEMOWIZARD", Callback.REVIEW))
        self.echo("  ftbot checked the data and shows the review:")
        self.echo(_indent("\n".join(blocks_text(review["blocks"], NAMES)), 4))
        if not review.get("submit"):
            raise DemoFailed("the sample dataset did not pass validation")
        self.echo("\n@dana clicks [Start training]")
        self.post(
            payload_body(
                view_submission(Callback.REVIEW, {}, user=DANA, private_metadata=review["private_metadata"])
            )
        )

        self.wait("the job card", self.card)

    def deploy_with_approval(self, job_id: str) -> str:
        """@dana clicks Deploy, which asks the approvers; @avery approves. Returns the endpoint."""
        self.click(DANA, Action.DEPLOY, job_id, "Deploy")
        self.echo(_indent("(only you) " + self.wait("an answer", self.responses("approval"))))
        approval = self.wait(
            "the approval request",
            lambda: next(
                (
                    b.get("Approve")
                    for m in self.slack.thread(CHANNEL, self.card().ts)
                    if (b := self.buttons(m.blocks, B.APPROVAL_ACTIONS))
                ),
                None,
            ),
        )
        self.click(AVERY, Action.APPROVE, approval, "Approve")
        endpoint: str = self.wait(
            "the endpoint",
            lambda: self.buttons(self.card().blocks, B.CARD_ACTIONS).get("Test chat"),
            timeout=180,
        )
        return endpoint

    def test_chat(self, job_id: str, endpoint: str) -> None:
        """@dana asks the fine-tuned model one of its training prompts; the reply lands in the thread."""
        system, prompt, answer = self.trained_example(job_id)
        self.click(DANA, Action.TEST_CHAT, endpoint, "Test chat")
        modal = self.wait(
            "the test chat modal",
            lambda: [
                c
                for c in self.slack.calls_to("views.open")
                if c.body["view"]["callback_id"] == Callback.TEST_CHAT
            ],
        )
        self.echo(
            f"  @dana keeps the dataset's system message and asks: {prompt}\n  (the trained answer: {answer})"
        )
        chat_values: dict[str, Any] = {
            B.CHAT_PROMPT: {Action.CHAT_PROMPT: {"type": "plain_text_input", "value": prompt}},
            B.CHAT_SYSTEM: {Action.CHAT_SYSTEM: {"type": "plain_text_input", "value": system or None}},
            B.CHAT_TEMPERATURE: {Action.CHAT_TEMPERATURE: {"type": "number_input", "value": "0"}},
            B.CHAT_MAX_TOKENS: {Action.CHAT_MAX_TOKENS: {"type": "number_input", "value": "48"}},
        }
        self.post(
            payload_body(
                view_submission(
                    Callback.TEST_CHAT,
                    chat_values,
                    user=DANA,
                    private_metadata=modal[-1].body["view"]["private_metadata"],
                )
            )
        )
        before = len(self.slack.thread(CHANNEL, self.card().ts))
        self.wait("the model's reply", lambda: len(self.slack.thread(CHANNEL, self.card().ts)) > before)

    def compare_with_base(self, job_id: str, endpoint: str) -> None:
        """The same question to the base model, answered by the same endpoint process without the adapter."""
        assert self.services is not None
        backend = self.services.backend
        if not isinstance(backend, LocalBackend):
            return
        system, prompt, answer = self.trained_example(job_id)
        messages = ([ChatMessage(role="system", content=system)] if system else []) + [
            ChatMessage(role="user", content=prompt)
        ]
        request = ChatRequest(messages=tuple(messages), temperature=0, max_tokens=48)
        tuned = backend.endpoints.chat(endpoint, request)
        base = backend.endpoints.chat(endpoint, request, model=self.model)
        self.echo(
            f"\nSide by side, the same question ({prompt}):\n"
            f"  dataset answer       : {answer}\n"
            f"  fine-tuned {endpoint}: {tuned.content.strip()}\n"
            f"  base {self.model}: {base.content.strip()}"
        )

    def tear_down(self, endpoint: str) -> None:
        """@avery tears the endpoint down; the card offers Deploy again. Then the channel as it reads."""
        self.click(AVERY, Action.TEAR_DOWN, endpoint, "Tear down")
        self.wait(
            "the tear-down",
            lambda: (
                "Deploy" in self.buttons(self.card().blocks, B.CARD_ACTIONS)
                and not self.buttons(self.card().blocks, B.CARD_ACTIONS).get("Tear down")
            ),
        )
        self.wait("the last thread posts", self.all_delivered)
        self.show_channel()

    def all_delivered(self) -> bool:
        assert self.services is not None
        with self.services.store.transaction() as tx:
            return not tx.unsent_count() and not tx.undelivered_cards()


def _indent(text: str, n: int = 2) -> str:
    pad = " " * n
    return "\n".join(pad + line for line in text.splitlines())


def run_demo(
    data_dir: Path | None, echo: Callable[[str], None] = typer.echo, model: str = "ftbot-tiny"
) -> int:
    offered = [m.name for m in catalog.offered_models()]
    if model not in offered:
        hint = catalog.missing_hint() if model == smollm2.NAME else None
        echo(f"The demo cannot use {model}: " + (hint or f"it offers {', '.join(offered)}."))
        return 2
    folder = data_dir or Path(tempfile.mkdtemp(prefix="ftbot-demo-"))
    demo = Demo(folder, echo, model)
    with demo.slack:
        settings = Settings(
            _env_file=None,
            SLACK_BOT_TOKEN=demo.slack.bot_token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=demo.slack.api_url,
            FTBOT_BACKEND="local",
            FTBOT_DATA_DIR=str(folder),
            FTBOT_DATABASE_URL=f"sqlite:///{folder / 'ftbot.db'}",
            FTBOT_APPROVERS=AVERY,
            FTBOT_POLL_SECONDS=1,
            FTBOT_SLACK_UPDATES_PER_MINUTE=120,
        )
        services = Services.from_settings(settings)
        demo.services = services
        services.database.migrate()
        scheduler = Scheduler(scheduled_jobs(services))
        services.wake = lambda: scheduler.wakeup("deliver")
        health = HealthState(services.database.ping, lambda: scheduler.running, "http")
        server = uvicorn_server(
            build_asgi(create_app(services), health, SIGNING_SECRET, [services.responder.close]),
            "127.0.0.1",
            0,
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        demo.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        scheduler.start()
        started = time.monotonic()
        try:
            demo.run()
            echo(f"({time.monotonic() - started:.0f} s; data in {folder})")
            return 0
        except DemoFailed as e:
            echo(f"\nDemo failed: {e}")
            return 1
        finally:
            scheduler.shutdown()
            services.poller.close()
            server.should_exit = True
            thread.join(timeout=10)
            backend = services.backend
            if isinstance(backend, LocalBackend):
                backend.stop_all()  # no worker or endpoint process outlives the demo
            services.database.dispose()
