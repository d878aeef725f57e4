"""Who may do what, over signed HTTP: stale replays, approver-only actions on every surface (refused
ephemerally and audited), the channel allow-list, dataset URLs (SSRF), and mrkdwn injection."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.demo.payloads import block_action, payload_body, slash_body, view_submission
from bot.store.tables import AuditRow, EndpointRow, JobRow, OutboxRow
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.models import EndpointState, JobState
from tests.fakes.backend import FakeBackend
from tests.reliability.conftest import APPROVERS, CHANNEL, MEMBER, MakeWorld, ready_endpoint
from tests.reliability.recording import recording_server
from tests.support.world import World, buttons, submit

OUTSIDER = "UOUTSIDER1"
EVIL = ("<!channel>", "<!here>", "<@UEVIL0001>", "<http://evil.example|click>", "<#CEVIL0001>")


def _rows(world: World) -> dict[str, int]:
    with world.services.database.session_scope() as s:
        return {
            t.__tablename__: int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (JobRow, EndpointRow, OutboxRow, AuditRow)
        }


def _audit(world: World) -> list[tuple[str, str, str, str]]:
    with world.services.store.transaction() as tx:
        return [(e.actor, e.action, e.target, e.result) for e in tx.audit_entries()]


# --- signatures -------------------------------------------------------------------------------------


def test_a_valid_request_replayed_after_five_minutes_is_401_with_no_side_effect(world: World) -> None:
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    before, calls = _rows(world), len(world.fake.calls)
    click = payload_body(block_action(Action.DEPLOY, job_id, user=APPROVERS[0], channel=CHANNEL,
                                      response_url=world.fake.response_url()))  # fmt: skip
    captured_at = int(time.time()) - 301  # signed by Slack 5 minutes and a second ago, replayed now
    for replay in range(3):
        assert world.bot.post(click, timestamp=captured_at - replay * 60).status == 401
    command = slash_body(f"deploy {job_id}", user=APPROVERS[0], channel=CHANNEL)
    assert world.bot.post(command, timestamp=captured_at).status == 401
    time.sleep(0.3)
    world.tick()
    assert _rows(world) == before and len(world.fake.calls) == calls
    assert isinstance(world.backend, FakeBackend) and world.backend.calls["deploy_model"] == 0
    # the same click, freshly signed, works: the refusal was the age, nothing else
    assert world.bot.post(click).status == 200
    world.wait_response("Deploying")


# --- approver-only actions ------------------------------------------------------------------------


def test_every_approver_only_click_and_command_is_refused_ephemerally_and_audited(world: World) -> None:
    job_id, endpoint = ready_endpoint(world)
    world.click(Action.DEPLOY, job_id, user=APPROVERS[0])  # nothing new: deployed already
    world.fake.responses.clear()
    assert isinstance(world.backend, FakeBackend)
    backend_calls = dict(world.backend.calls)

    # a second job with a pending approval request, for Approve/Reject
    job2 = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job2).job.state is JobState.SUCCEEDED)
    world.click(Action.DEPLOY, job2, user=MEMBER)
    world.wait_response("approval request")
    approval = world.services.lifecycle.queries.card(job2).pending_approval
    assert approval is not None
    world.fake.responses.clear()
    backend_calls = dict(world.backend.calls)

    attempts = [
        ("click", Action.TEAR_DOWN, endpoint, "tear_down"),
        ("click", Action.APPROVE, str(approval.id), "approve"),
        ("click", Action.REJECT, str(approval.id), "reject"),
        ("click", Action.CANCEL, job2, "cancel"),
        ("slash", f"teardown {endpoint}", None, "tear_down"),
        ("slash", f"cancel {job2}", None, "cancel"),
    ]
    for i, (surface, what, value, action) in enumerate(attempts):
        world.fake.responses.clear()
        if surface == "click":
            body = block_action(what, value or "", user=OUTSIDER, channel=CHANNEL,
                                response_url=world.fake.response_url(f"x{i}"))  # fmt: skip
            assert world.bot.post(payload_body(body)).status == 200
        else:
            command = slash_body(
                str(what), user=OUTSIDER, channel=CHANNEL, response_url=world.fake.response_url()
            )
            assert world.bot.post(command).status == 200
        text = world.wait_response("Only")
        assert "approver" in text
        assert all(r.get("response_type") == "ephemeral" for r in world.fake.responses)
        assert (OUTSIDER, action, endpoint if action == "tear_down" else job2, "denied") in _audit(world)
    # nothing reached the backend, nothing changed, nothing was posted in a thread for the outsider
    world.tick(2)
    assert dict(world.backend.calls) == backend_calls
    assert world.services.lifecycle.queries.endpoint(endpoint).state is EndpointState.READY
    assert world.services.lifecycle.queries.card(job2).pending_approval is not None
    assert world.services.lifecycle.queries.card(job2).job.state is JobState.SUCCEEDED
    posted = json.dumps([(m.text, m.blocks) for m in world.fake.messages.values()])
    assert OUTSIDER not in posted  # refusals are ephemeral: nothing in the channel or threads


def test_a_non_approvers_deploy_only_asks_and_is_audited_as_a_request(world: World) -> None:
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.slash(f"deploy {job_id}", user=OUTSIDER)
    world.wait_response("Approval requested")
    world.click(Action.DEPLOY, job_id, user=MEMBER)
    world.wait_response("already waiting")
    assert isinstance(world.backend, FakeBackend) and world.backend.calls["deploy_model"] == 0
    audit = _audit(world)
    assert (OUTSIDER, "deploy.request", job_id, "ok") in audit
    assert (MEMBER, "deploy.request", job_id, "duplicate") in audit


# --- channel allow-list ---------------------------------------------------------------------------


def test_outside_the_allowed_channels_the_bot_says_it_is_not_enabled(make_world: MakeWorld) -> None:
    world = make_world(FTBOT_ALLOWED_CHANNELS=CHANNEL)
    other = "COTHER001"
    before = _rows(world)
    for text in ("", "help", "list", f"submit --model ftbot-tiny --data {world.files.url('train.jsonl')}"):
        r = world.bot.post(slash_body(text, user=APPROVERS[0], channel=other))
        assert r.status == 200 and "not enabled in this channel" in r.json()["text"], (text, r.body)
    r = world.bot.post(payload_body(block_action(Action.DEPLOY, "ft-x-1", user=APPROVERS[0], channel=other)))
    assert r.status == 200 and "not enabled in this channel" in r.json()["text"]
    data = world.services.settings.data_dir / "datasets" / "0123456789ab" / "train.jsonl"
    data.parent.mkdir(parents=True)
    data.write_bytes((world.files.root / "train.jsonl").read_bytes())
    training = {"path": str(data), "name": "train.jsonl"}
    review = json.dumps({"channel": other, "model": "ftbot-tiny", "training": training})
    r = world.bot.post(payload_body(view_submission(Callback.REVIEW, {}, private_metadata=review)))
    assert r.status == 200 and "not enabled" in json.dumps(r.json())
    r = world.bot.post(payload_body(view_submission(Callback.WIZARD, {}, private_metadata=other)))
    assert r.status == 200 and "not enabled" in json.dumps(r.json())
    time.sleep(0.2)
    assert _rows(world) == before
    assert not world.fake.calls_to("views.open") and not world.fake.channel_messages(other)
    # inside it, the same commands work
    r = world.bot.post(slash_body("help", channel=CHANNEL))
    assert r.status == 200 and "/finetune submit" in json.dumps(r.json())


# --- SSRF through /finetune submit ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/", "not allowed"),
        ("file:///etc/passwd", "https"),
        ("ftp://files.example.com/train.jsonl", "https"),
        ("gopher://127.0.0.1:70/x", "https"),
        ("http://[::1]/train.jsonl", "not allowed"),
        ("https://user:pw@files.slack.com/x.jsonl", ""),
    ],
)
def test_submit_with_a_forbidden_data_url_is_refused_end_to_end(world: World, url: str, says: str) -> None:
    before = _rows(world)
    world.slash(f"submit --model ftbot-tiny --data {url}")
    text = world.wait_response(":warning:")
    assert says.lower() in text.lower()
    assert _rows(world) == before


def test_submit_never_reaches_a_host_off_the_list_not_even_through_a_redirect(make_world: MakeWorld) -> None:
    with recording_server() as allowed, recording_server() as internal:
        internal.routes["/train.jsonl"] = (200, {}, b'{"messages": []}\n')
        allowed.routes["/moved.jsonl"] = (302, {"Location": internal.url("train.jsonl")}, b"")
        world = make_world(FTBOT_DATA_URL_HOSTS=allowed.host)
        before = _rows(world)
        world.slash(f"submit --model ftbot-tiny --data {internal.url('train.jsonl')}")
        assert "not allowed" in world.wait_response(":warning:").lower()
        world.fake.responses.clear()
        world.slash(f"submit --model ftbot-tiny --data {allowed.url('moved.jsonl')}")
        assert "not allowed" in world.wait_response(":warning:").lower()
        assert allowed.seen == ["/moved.jsonl"] and internal.seen == []
        assert _rows(world) == before


# --- mrkdwn injection -----------------------------------------------------------------------------


def _unescaped(world: World) -> list[str]:
    sent = world.fake.all_text()
    return [e for e in EVIL if e in sent or json.dumps(e)[1:-1] in sent]


def test_injected_mentions_and_links_are_shown_as_text_everywhere(world: World) -> None:
    _, endpoint = ready_endpoint(world)
    evil = " ".join(EVIL)
    # a prompt (echoed back by the model) in the text command and in the test-chat modal
    world.slash(f"chat {endpoint} hello {evil}")
    world.wait_response("echo")
    values: dict[str, Any] = {
        B.CHAT_PROMPT: {Action.CHAT_PROMPT: {"type": "plain_text_input", "value": f"hi {evil}"}},
        B.CHAT_SYSTEM: {Action.CHAT_SYSTEM: {"type": "plain_text_input", "value": evil}},
        B.CHAT_TEMPERATURE: {Action.CHAT_TEMPERATURE: {"type": "number_input", "value": "0"}},
        B.CHAT_MAX_TOKENS: {Action.CHAT_MAX_TOKENS: {"type": "number_input", "value": "32"}},
    }
    world.bot.post(payload_body(view_submission(Callback.TEST_CHAT, values, private_metadata=endpoint)))
    world.until(lambda: sum("echo" in json.dumps(m.blocks) for m in world.thread()) >= 2)
    # a suffix, job, endpoint and dataset name that try the same
    for text in (f"submit --model ftbot-tiny --data {world.files.url('train.jsonl')} --suffix <!channel>",
                 f"status {EVIL[0]}", f"deploy {EVIL[2]}", f"teardown {EVIL[3]}", f"cancel {EVIL[1]}",
                 f"validate {world.files.url('%3C!channel%3E.jsonl')}", f"models {evil}"):  # fmt: skip
        world.slash(text)
    time.sleep(0.5)
    world.tick(2)
    assert _unescaped(world) == [], "raw mrkdwn control sequences reached Slack"
    thread = json.dumps([m.blocks for m in world.thread()])
    assert "&lt;!channel&gt;" in thread and "&lt;@UEVIL0001&gt;" in thread


def test_a_slack_file_named_with_mentions_shows_as_text_in_the_review_and_card(world: World) -> None:
    name = "<!channel> <@UEVIL0001> <http://evil.example|click>.jsonl"
    file = world.fake.add_file((world.files.root / "train.jsonl").read_bytes(), name)
    values: dict[str, Any] = {
        B.BASE_MODEL: {Action.BASE_MODEL: {"type": "external_select", "selected_option": {
            "text": {"type": "plain_text", "text": "ftbot-tiny"}, "value": "ftbot-tiny"}}},
        B.TRAINING_FILE: {Action.TRAINING_FILE: {"type": "file_input", "files": [file]}},
        B.VALIDATION_MODE: {Action.VALIDATION_MODE: {"type": "radio_buttons", "selected_option": {
            "text": {"type": "plain_text", "text": "none"}, "value": "none"}}},
    }  # fmt: skip
    r = world.bot.post(payload_body(view_submission(Callback.WIZARD, values, private_metadata=CHANNEL,
                                                    view_id="VWIZ")))  # fmt: skip
    assert r.status == 200
    deadline, review = time.monotonic() + 10, None
    while review is None and time.monotonic() < deadline:
        review = next((c.body["view"] for c in world.fake.calls_to("views.update")
                       if c.body["view"].get("callback_id") == Callback.REVIEW), None)  # fmt: skip
        time.sleep(0.05)
    assert review is not None
    world.bot.post(
        payload_body(view_submission(Callback.REVIEW, {}, private_metadata=review["private_metadata"]))
    )
    world.until(lambda: len(world.fake.channel_messages(CHANNEL)) == 1)
    world.tick(3)
    assert _unescaped(world) == []
    assert "Deploy" in buttons(world.card()) or world.card().blocks
