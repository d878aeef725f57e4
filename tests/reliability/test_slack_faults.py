"""Slack answering 429 (with Retry-After) and 5xx on chat.postMessage, chat.update and the file upload
calls: retried off the ack path, and the final state of every card and every thread post delivered
once. Expired trigger_ids and closed modals end quietly, with nothing shown to the user as an error."""

from __future__ import annotations

import json
import random
import time
from typing import Any

from sqlalchemy import func, select

from bot.demo.payloads import block_action, payload_body, slash_body, view_submission
from bot.store.tables import OutboxRow
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.models import JobState
from tests.reliability.conftest import CHANNEL, MEMBER, Captured, ready_endpoint
from tests.support.wait import until
from tests.support.world import World, buttons, submit

METHODS = ("chat.postMessage", "chat.update", "files.getUploadURLExternal", "files.completeUploadExternal")
JOBS = 3


def _outbox(world: World, job_id: str) -> int:
    with world.services.database.session_scope() as s:
        return int(s.scalar(select(func.count()).where(OutboxRow.job_id == job_id)) or 0)


def test_rate_limits_and_server_errors_on_every_delivery_call_still_deliver_everything_once(
    world: World,
) -> None:
    rng = random.Random(7)
    injected = 0
    jobs = []
    for _ in range(JOBS):
        for method in METHODS:  # 1-3 failures per method per job: some outlast the client's own retries
            for _ in range(rng.randint(1, 3)):
                status = rng.choice((429, 500, 502, 503))
                world.fake.fail_next(method, status, retry_after=1 if status == 429 else None)
                injected += 1
        started = time.perf_counter()
        jobs.append(submit(world))
        assert time.perf_counter() - started < 3  # acks and replies never wait for the card's delivery
        world.fake.responses.clear()

    def settled() -> bool:
        with world.services.store.transaction() as tx:
            delivered = tx.undelivered_cards() == 0 and tx.unsent_count() == 0
        done = (world.services.lifecycle.queries.card(j).job.state is JobState.SUCCEEDED for j in jobs)
        return delivered and all(done)

    until(
        settled, 90, "every job to succeed and everything to be delivered", interval=0.2, between=world.tick
    )
    rejected = [c for c in world.fake.calls if c.status in (429, 500, 502, 503)]
    assert len(rejected) == injected  # every injected fault was met, and retried past
    cards = world.fake.channel_messages(CHANNEL)
    lost = doubled = 0
    for job_id in jobs:
        mine = [c for c in cards if job_id in json.dumps(c.blocks)]
        doubled += max(0, len(mine) - 1)
        lost += 0 if mine else 1
        if mine:
            final = mine[0]
            lost += 0 if "Deploy" in buttons(final) and "Succeeded" in json.dumps(final.blocks) else 1
            thread = world.fake.thread(CHANNEL, final.ts)
            doubled += max(0, len(thread) - _outbox(world, job_id))
            lost += max(0, _outbox(world, job_id) - len(thread))
            lost += 0 if sum(1 for m in thread if m.files) == 1 else 1  # the loss chart, uploaded once
    print("slack faults", {"injected": injected, "jobs": len(jobs), "lost": lost, "doubled": doubled})
    assert (lost, doubled) == (0, 0)


def _no_user_facing_error(world: World, logs: Captured) -> None:
    assert world.fake.responses == [] and world.fake.ephemeral == []
    assert not [line for line in logs.lines if line.startswith(("ERROR", "CRITICAL"))]


def test_an_expired_trigger_id_ends_quietly_for_the_wizard_and_test_chat(
    world: World, logs: Captured
) -> None:
    _, endpoint = ready_endpoint(world)
    world.fake.responses.clear()
    world.fake.expired_triggers.update({"trig-used-1", "trig-used-2"})
    body = slash_body(
        "", user=MEMBER, channel=CHANNEL, trigger="trig-used-1", response_url=world.fake.response_url()
    )
    r = world.bot.post(body)
    assert r.status == 200 and not (r.body and json.loads(r.body).get("text"))
    click = block_action(
        Action.TEST_CHAT,
        endpoint,
        user=MEMBER,
        channel=CHANNEL,
        trigger="trig-used-2",
        response_url=world.fake.response_url(),
    )
    assert world.bot.post(payload_body(click)).status == 200
    until(lambda: len([c for c in world.fake.calls if c.method == "views.open"]) >= 2, 10, "both views.open")
    time.sleep(0.3)  # proving an absence (no error shown after the refusals) takes waiting a moment
    refused = [c for c in world.fake.calls if c.method == "views.open"]
    assert len(refused) == 2 and not world.fake.views
    _no_user_facing_error(world, logs)


def test_a_modal_closed_while_the_bot_works_ends_quietly(world: World, logs: Captured) -> None:
    file = world.fake.add_file((world.files.root / "train.jsonl").read_bytes(), "train.jsonl")
    values: dict[str, Any] = {
        B.BASE_MODEL: {
            Action.BASE_MODEL: {
                "type": "external_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "ftbot-tiny"},
                    "value": "ftbot-tiny",
                },
            }
        },
        B.TRAINING_FILE: {Action.TRAINING_FILE: {"type": "file_input", "files": [file]}},
    }
    # the user closed the wizard: views.update on its id answers not_found
    body = view_submission(Callback.WIZARD, values, user=MEMBER, private_metadata=CHANNEL, view_id="VCLOSED")
    r = world.bot.post(payload_body(body))
    assert r.status == 200 and r.json()["response_action"] == "update"
    until(lambda: [c for c in world.fake.calls if c.method == "views.update"], 10, "views.update")
    time.sleep(0.2)  # no second views.update follows: an absence takes waiting a moment
    assert [c.body["view_id"] for c in world.fake.calls if c.method == "views.update"] == ["VCLOSED"]
    # /finetune with no text whose loading modal is closed before it is filled in
    world.fake.views.clear()
    original = world.fake._answer

    def closing(method: str, body: dict[str, Any]) -> dict[str, Any]:
        result = original(method, body)
        if method == "views.open":
            world.fake.views.clear()  # closed at once
        return result

    world.fake._answer = closing  # type: ignore[method-assign]
    world.slash("")
    world.fake.wait_for("views.open")
    time.sleep(0.5)  # nothing shown as an error after the modal closed: an absence takes waiting a moment
    _no_user_facing_error(world, logs)
