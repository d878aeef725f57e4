"""End to end over signed HTTP: the Bolt app on uvicorn, the fake Slack Web API, the store, the
scheduler's work (ticked by the test), and a Protocol fake backend."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo.payloads import block_suggestion, payload_body, view_submission, wizard_values
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.models import EndpointState, JobState
from tests.support.world import APPROVER, CHANNEL, MEMBER, World, buttons, open_world, submit


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path) as w:
        yield w


def test_one_line_submit_card_edited_in_place_through_every_state(world: World) -> None:
    job_id = submit(world)
    world.tick()
    card = world.card()
    assert job_id in json.dumps(card.blocks)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.settle()
    card = world.card()  # still exactly one parent message: edited, never re-posted
    assert card.edits >= 1 and world.fake.calls_to("chat.update")
    assert "succeeded" in card.text.lower() or "succeeded" in json.dumps(card.blocks).lower()
    assert "Deploy" in buttons(card) and "Cancel" not in buttons(card)
    texts = " ".join(m.text for m in world.thread())
    assert "queued" in texts.lower() and ("running" in texts.lower() or "started" in texts.lower())
    assert f"<@{MEMBER}>" in json.dumps([m.blocks for m in world.thread()])  # the submitter is mentioned
    uploads = [m for m in world.thread() if m.files]
    assert len(uploads) == 1  # the loss chart, uploaded with files_upload_v2 into the thread
    assert world.fake.uploads[uploads[0].files[0]]["content"].startswith(b"\x89PNG")


def test_dataset_with_errors_is_never_submitted(world: World) -> None:
    world.slash(f"submit --model ftbot-tiny --data {world.files.url('bad.jsonl')}")
    text = world.wait_response("nothing was submitted")
    assert "line 12" in text
    assert world.backend.calls["submit_job"] == 0
    world.tick()
    assert world.fake.channel_messages(CHANNEL) == []


def test_deploy_by_non_approver_asks_approvers_and_approve_deploys(world: World) -> None:
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    assert world.click(Action.DEPLOY, job_id, user=MEMBER) == 200
    world.wait_response("approval request")
    world.settle()
    request = next(m for m in world.thread() if "Approve" in buttons(m, B.APPROVAL_ACTIONS))
    assert f"<@{APPROVER}>" in json.dumps(request.blocks)
    approval_id = buttons(request, B.APPROVAL_ACTIONS)["Approve"]["value"]
    assert "confirm" in buttons(request, B.APPROVAL_ACTIONS)["Reject"]

    assert world.click(Action.APPROVE, approval_id, user=MEMBER) == 200  # not an approver: refused
    world.wait_response("Only approvers")
    assert world.backend.calls["deploy_model"] == 0

    assert world.click(Action.APPROVE, approval_id, user=APPROVER) == 200
    world.wait_response("approved")
    world.until(
        lambda: (
            world.services.lifecycle.queries.card(job_id).endpoint is not None
            and world.services.lifecycle.queries.card(job_id).endpoint.state is EndpointState.READY
        )
    )  # type: ignore[union-attr]
    world.settle()
    assert {"Test chat", "Tear down"} <= set(buttons(world.card()))
    assert "confirm" in buttons(world.card())["Tear down"]


def test_reject_records_the_decision_and_deploys_nothing(world: World) -> None:
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.click(Action.DEPLOY, job_id, user=MEMBER)
    world.wait_response("approval request")
    approval = world.services.lifecycle.queries.card(job_id).pending_approval
    assert approval is not None
    world.click(Action.REJECT, str(approval.id), user=APPROVER)
    world.wait_response("rejected")
    world.settle()
    assert world.backend.calls["deploy_model"] == 0
    assert "rejected" in " ".join(m.text for m in world.thread()).lower()


def test_approver_deploys_test_chats_and_tears_down(world: World) -> None:
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.click(Action.DEPLOY, job_id, user=APPROVER)
    world.wait_response("Deploying")
    world.until(lambda: "Test chat" in buttons(world.card()))
    endpoint = buttons(world.card())["Test chat"]["value"]

    world.click(Action.TEST_CHAT, endpoint, user=MEMBER, trigger="trig-chat-1")
    opened = world.fake.wait_for("views.open")[-1]
    assert opened.body["view"]["callback_id"] == Callback.TEST_CHAT
    values = {
        B.CHAT_PROMPT: {
            Action.CHAT_PROMPT: {"type": "plain_text_input", "value": "Where is order 7? <!channel>"}
        },
        B.CHAT_TEMPERATURE: {Action.CHAT_TEMPERATURE: {"type": "number_input", "value": "0"}},
        B.CHAT_MAX_TOKENS: {Action.CHAT_MAX_TOKENS: {"type": "number_input", "value": "32"}},
    }
    r = world.bot.post(
        payload_body(
            view_submission(
                Callback.TEST_CHAT,
                values,
                user=MEMBER,
                private_metadata=opened.body["view"]["private_metadata"],
            )
        )
    )
    assert r.status == 200
    world.until(lambda: "echo: Where is order 7?" in json.dumps([m.blocks for m in world.thread()]))
    thread_json = json.dumps([m.blocks for m in world.thread()])
    assert "<!channel>" not in thread_json and "&lt;!channel&gt;" in thread_json

    world.click(Action.TEAR_DOWN, endpoint, user=MEMBER)
    world.wait_response("Only approvers")
    world.click(Action.TEAR_DOWN, endpoint, user=APPROVER)
    world.wait_response("torn down")
    world.settle()
    assert "Deploy" in buttons(world.card())
    assert "remains" in " ".join(m.text for m in world.thread())


def test_cancel_button_cancels_a_running_job(world: World) -> None:
    world.backend.epochs = 50
    job_id = submit(world)
    world.tick(2)
    assert "Cancel" in buttons(world.card())
    assert "confirm" in buttons(world.card())["Cancel"]
    world.click(Action.CANCEL, job_id, user=MEMBER)
    world.wait_response("Cancel of")
    world.tick(2)
    assert world.services.lifecycle.queries.card(job_id).job.state is JobState.CANCELLED
    assert "Cancel" not in buttons(world.card())


def test_text_subcommands_status_list_models_endpoints(world: World) -> None:
    job_id = submit(world)
    world.tick()
    world.slash(f"status {job_id}")
    world.wait_response(job_id)
    world.slash("list")
    world.slash("models")
    world.wait_response("ftbot-tiny")
    world.slash("endpoints")
    world.slash(f"deploy {job_id}", user=APPROVER)
    world.wait_response("only a succeeded job")


def test_wizard_opens_at_once_loads_options_reports_field_errors_reviews_and_starts(world: World) -> None:
    ack = world.slash("")
    assert ack == {} or not ack.get("text")
    opened = world.fake.wait_for("views.open")[-1]
    assert opened.body["view"]["callback_id"] == Callback.LOADING
    updated = world.fake.wait_for("views.update")[-1]
    assert updated.body["view"]["callback_id"] == Callback.WIZARD

    r = world.bot.post(payload_body(block_suggestion(Action.BASE_MODEL, "tiny", block_id=B.BASE_MODEL)))
    assert r.status == 200 and [o["value"] for o in r.json()["options"]] == ["ftbot-tiny"]

    r = world.bot.post(payload_body(view_submission(Callback.WIZARD, {}, private_metadata=CHANNEL)))
    errors = r.json()
    assert errors["response_action"] == "errors" and B.BASE_MODEL in errors["errors"]

    file = world.fake.add_file((world.files.root / "train.jsonl").read_bytes(), "train.jsonl")
    values = wizard_values("ftbot-tiny", file, split_percent=20)
    r = world.bot.post(
        payload_body(
            view_submission(Callback.WIZARD, values, user=MEMBER, private_metadata=CHANNEL, view_id="VWIZ")
        )
    )
    assert r.status == 200 and r.json()["response_action"] == "update"
    deadline = time.monotonic() + 10
    review = None
    while time.monotonic() < deadline and review is None:
        for call in world.fake.calls_to("views.update"):
            if call.body.get("view_id") == "VWIZ" and call.body["view"]["callback_id"] == Callback.REVIEW:
                review = call.body["view"]
        time.sleep(0.02)
    assert review is not None and review["submit"]["text"] == "Start training"
    r = world.bot.post(
        payload_body(
            view_submission(Callback.REVIEW, {}, user=MEMBER, private_metadata=review["private_metadata"])
        )
    )
    assert r.status == 200
    world.until(lambda: len(world.fake.channel_messages(CHANNEL)) == 1)
    job = world.services.lifecycle.queries.jobs(channel_id=CHANNEL)[0]
    assert job.spec.validation is not None and job.summary is not None and job.summary.split_fraction == 0.2


def test_slack_429s_on_card_updates_still_deliver_the_final_state(world: World) -> None:
    job_id = submit(world)
    world.tick()
    world.fake.fail_next("chat.update", 429, retry_after=1, times=2)
    world.fake.fail_next("chat.postMessage", 503, retry_after=None, times=1)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.until(lambda: "Deploy" in buttons(world.card()))
    rejected = [c for c in world.fake.calls if c.status in (429, 503)]
    assert len(rejected) == 3
    with world.services.store.transaction() as tx:
        assert tx.undelivered_cards() == 0


def test_idle_endpoint_reminder_has_a_tear_down_button(world: World, tmp_path: Path) -> None:
    world.services.lifecycle.endpoints.idle_hours = 0.0001  # 0.36 s
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.click(Action.DEPLOY, job_id, user=APPROVER)
    world.until(lambda: "Test chat" in buttons(world.card()))
    time.sleep(0.5)
    world.services.lifecycle.endpoints.sweep()
    world.settle()
    reminder = next(m for m in world.thread() if "Tear down" in buttons(m, B.THREAD_ACTIONS))
    assert "hour" in reminder.text.lower() or "idle" in reminder.text.lower()


def test_app_home_lists_the_users_jobs(world: World) -> None:
    job_id = submit(world)
    event = {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event_id": "Ev1",
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": MEMBER, "channel": "D1", "tab": "home"},
    }
    r = world.bot.post(json.dumps(event), content_type="application/json")
    assert r.status == 200
    world.fake.wait_for("views.publish")
    assert job_id in json.dumps(world.fake.views[f"home:{MEMBER}"])
