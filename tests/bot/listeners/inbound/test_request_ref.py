"""Each Slack request gets one ``ref`` (``BoundaryApp.async_dispatch``): every JSON log line it causes,
before the ack and after, on the event loop and in worker threads, carries it, and the "Something went
wrong (ref …)" its user sees names the same one. A concurrent request has its own."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.errors import handle_error, reported
from bot.listeners.inbound import Kind, screen
from bot.listeners.inbound.boundary import BoundaryApp
from bot.runtime.logs import configure_logging

log = logging.getLogger("ftbot.test_request_ref")
_SHOWN_REF = re.compile(r"Something went wrong \(ref ([0-9a-f]+)\)")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("INFO", "json")
    out = io.StringIO()
    root.handlers[0].setStream(out)  # type: ignore[attr-defined]
    yield out
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


async def _authorize(**_: Any) -> AuthorizeResult:
    return AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-test", bot_user_id="UBOT")


def _app(shown: list[str], delivered: asyncio.Event) -> BoundaryApp:
    """A Bolt app behind the boundary with ftbot's error handler and two commands that log and then fail:
    ``/after`` once it has acked, ``/before`` before (its ack is the error message)."""
    app = BoundaryApp(
        signing_secret="unused", client=AsyncWebClient(token=None), authorize=_authorize,
        request_verification_enabled=False, process_before_response=False,
    )  # fmt: skip
    app.error(handle_error)
    app.screen = lambda body: screen(body, lambda route: route.kind == Kind.COMMAND)
    both_started = asyncio.Barrier(2)

    async def capture_respond(context: AsyncBoltContext, next: Any) -> Any:
        async def respond(**message: Any) -> None:
            shown.append(str(message["text"]))
            delivered.set()

        context["respond"] = respond
        return await next()

    app.middleware(capture_respond)

    async def after(ack: AsyncAck, command: dict[str, Any], respond: Any) -> None:
        log.info("after: acking %s", command["text"])
        await ack()
        async with reported(respond):  # as every listener's work after its ack
            await both_started.wait()  # the other request is in flight too
            await asyncio.to_thread(log.info, "after: working in a thread")
            log.warning("after: about to fail")
            raise RuntimeError("after the ack")

    async def before(ack: AsyncAck, command: dict[str, Any]) -> None:
        log.info("before: parsing %s", command["text"])
        await both_started.wait()
        await asyncio.to_thread(log.info, "before: working in a thread")
        raise RuntimeError("before the ack")

    app.command("/after")(after)
    app.command("/before")(before)
    return app


def _command(name: str, user: str) -> AsyncBoltRequest:
    body = {"command": name, "text": "x", "team_id": "T1", "user_id": user, "channel_id": "C0123456",
            "response_url": "", "trigger_id": "t"}  # fmt: skip
    return AsyncBoltRequest(
        body=urlencode(body), headers={"content-type": ["application/x-www-form-urlencoded"]}
    )


def _lines(out: io.StringIO, prefix: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    return [r for r in records if str(r["message"]).startswith(prefix) or prefix in str(r.get("exc", ""))]


async def _dispatch_both(shown: list[str]) -> tuple[Any, Any]:
    delivered = asyncio.Event()
    app = _app(shown, delivered)
    after, before = await asyncio.gather(
        app.async_dispatch(_command("/after", "UAFTER01")),
        app.async_dispatch(_command("/before", "UBEFORE01")),
    )
    await delivered.wait()  # the work after the ack, then its error reply
    return after, before


def test_every_line_of_a_failing_request_carries_the_ref_its_user_sees(json_log: io.StringIO) -> None:
    shown: list[str] = []
    after, before = asyncio.run(asyncio.wait_for(_dispatch_both(shown), 10))
    assert after.status == 200 and before.status == 200
    (after_text,) = shown  # the error after the ack: an ephemeral through respond
    after_ref = _SHOWN_REF.search(after_text)
    before_ref = _SHOWN_REF.search(json.loads(before.body)["text"])  # before the ack: the ack says it
    assert after_ref and before_ref and after_ref.group(1) != before_ref.group(1)
    for prefix, ref, user in (
        ("after", after_ref.group(1), "UAFTER01"),
        ("before", before_ref.group(1), "UBEFORE01"),
    ):
        lines = _lines(json_log, prefix)
        assert len(lines) >= 3, lines
        assert {(r.get("ref"), r.get("user"), r.get("team_id")) for r in lines} == {(ref, user, "T1")}, lines
    errors = [
        r for r in json.loads(f"[{','.join(json_log.getvalue().splitlines())}]") if r["level"] == "ERROR"
    ]
    assert sorted(r["ref"] for r in errors) == sorted([after_ref.group(1), before_ref.group(1)])


def test_a_request_the_boundary_ignores_is_logged_with_a_ref_of_its_own(json_log: io.StringIO) -> None:
    app = _app([], asyncio.Event())
    unhandled = AsyncBoltRequest(
        body=json.dumps({"type": "workflow_step_edit", "callback_id": "x"}), headers={}
    )
    for _ in range(2):
        assert asyncio.run(app.async_dispatch(unhandled)).status == 200
    lines = _lines(json_log, "ignored a request")
    assert len(lines) == 2 and all(r.get("ref") for r in lines) and lines[0]["ref"] != lines[1]["ref"]
