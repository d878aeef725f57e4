"""The typed boundary over signed HTTP: a shape ftbot does not handle is answered 200 with an empty body
and one INFO line; a handled shape with bad values gets a specific answer where the user is; replies
reach the user when ``response_url`` cannot be used; nothing ends as a 500, the generic reply or an
ERROR traceback. (The examples of issue #18, and what the fuzzer found since: a handled request with a
bad user or channel is refused where the user is, a mistyped optional field reads as absent, and a
slash command that mentions "payload" is still a slash command.)"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.payloads import (
    block_action,
    block_suggestion,
    payload_body,
    slash_body,
    view_submission,
    wizard_values,
)
from bot.listeners.errors import _PENDING, handle_error
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from commands.errors import InvalidInput
from commands.models import EndpointState, JobState
from tests.support.harness import SIGNING_SECRET, RunningBot
from tests.support.world import APPROVER, CHANNEL, MEMBER, World, buttons, open_world, submit

GENERIC = "Something went wrong"


@pytest.fixture
def world(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[World]:
    caplog.set_level(logging.INFO)
    with open_world(tmp_path) as w:
        yield w
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def _ephemerals(world: World) -> list[str]:
    return [str(c.body.get("text", "")) for c in world.fake.calls_to("chat.postEphemeral")]


def _wait(texts: Any, fragment: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for text in texts():
            if fragment in text:
                return str(text)
        time.sleep(0.02)
    raise AssertionError(f"nothing said {fragment!r}: {texts()}")


# --- shapes ftbot does not handle: 200, empty, INFO ------------------------------------------------

_no_action_id = block_action(Action.CANCEL, "ft-1", user=MEMBER, channel=CHANNEL)
del _no_action_id["actions"][0]["action_id"]
_workflow_view = view_submission("x", {}, user=MEMBER)
_workflow_view["view"]["type"] = "workflow_step"
UNHANDLED: list[dict[str, Any]] = [
    {"type": "workflow_step_edit", "callback_id": "x", "user": {"id": MEMBER}, "team": {"id": "T1"}},
    {"type": "interactive_message", "callback_id": "c", "user": {"id": MEMBER}, "team": {"id": "T1"}},
    {"type": "dialog_submission", "callback_id": "c", "user": {"id": MEMBER}, "submission": {}},
    {"type": "shortcut", "callback_id": "c", "user": {"id": MEMBER}, "trigger_id": "t"},
    {"type": "message_action", "callback_id": "c", "user": {"id": MEMBER}},
    _workflow_view,
    _no_action_id,
    view_submission("a_view_ftbot_never_opened", {}, user=MEMBER),
    {**view_submission(Callback.WIZARD, {}, user=MEMBER), "type": "view_closed"},
    {**block_action(Action.CANCEL, "ft-1", user=MEMBER, channel=CHANNEL), "actions": []},
    {"type": "block_suggestion", "action_id": "nope", "user": {"id": MEMBER}, "value": "x"},
]


@pytest.mark.parametrize("payload", UNHANDLED, ids=[f"unhandled-{i}" for i in range(len(UNHANDLED))])
def test_a_shape_ftbot_does_not_handle_is_200_empty_and_one_info_line(
    world: World, payload: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    r = world.bot.post(payload_body(payload))
    assert (r.status, r.body) == (200, b"")
    ignored = [rec for rec in caplog.records if rec.name == "ftbot.inbound"]
    assert len(ignored) == 1 and ignored[0].levelno == logging.INFO and ignored[0].exc_info is None


def test_an_event_ftbot_does_not_subscribe_to_is_200_empty(world: World) -> None:
    body = json.dumps({"type": "event_callback", "team_id": "T1", "event": {"type": "app_uninstalled"}})
    r = world.bot.post(body, content_type="application/json")
    assert (r.status, r.body) == (200, b"")


def test_a_signed_body_that_is_not_utf8_is_400_not_401(world: World) -> None:
    bot = world.bot
    assert isinstance(bot, RunningBot)
    raw = b"payload=" + bytes([0xFF, 0xFE, 0x80])
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }
    request = urllib.request.Request(f"{bot.url}/slack/events", raw, headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 400
    headers["X-Slack-Signature"] = "v0=" + "0" * 64  # the same body, forged: still 401
    forged = urllib.request.Request(f"{bot.url}/slack/events", raw, headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(forged, timeout=10)
    assert err.value.code == 401


# --- handled shapes with bad values: a specific answer where the user is ----------------------------


@pytest.mark.parametrize("state", ["x", [1], {"values": "x"}, {"values": [1]}, {"values": {"base_model": 7}}])
def test_a_wizard_whose_state_is_not_an_object_gets_field_errors(world: World, state: Any) -> None:
    body = view_submission(Callback.WIZARD, {}, user=MEMBER, private_metadata=CHANNEL)
    body["view"]["state"] = state
    answer = world.bot.post(payload_body(body)).json()
    assert answer["response_action"] == "errors" and B.BASE_MODEL in answer["errors"]


@pytest.mark.parametrize(
    "url", ["http://[::1/train.jsonl", "https://host:port/x.jsonl", "file:///etc/passwd"]
)
def test_a_wizard_url_urlsplit_rejects_is_refused_on_its_field(world: World, url: str) -> None:
    values: dict[str, Any] = {
        B.BASE_MODEL: {Action.BASE_MODEL: {"type": "external_select", "selected_option": {"value": "m"}}},
        B.TRAINING_URL: {Action.TRAINING_URL: {"type": "url_text_input", "value": url}},
    }
    body = view_submission(Callback.WIZARD, values, user=MEMBER, private_metadata=CHANNEL)
    answer = world.bot.post(payload_body(body)).json()
    assert answer["response_action"] == "errors"
    assert "https URL" in answer["errors"][B.TRAINING_URL]


@pytest.mark.parametrize("value", ["١٢", "１２", "12a", "-1", "9" * 13, ""])
def test_a_damaged_approval_button_is_answered_ephemerally(world: World, value: str) -> None:
    body = block_action(
        Action.APPROVE, value, user=APPROVER, channel=CHANNEL, response_url=world.fake.response_url()
    )
    r = world.bot.post(payload_body(body))
    assert r.status == 200
    assert "approval button is damaged" in world.wait_response("damaged")
    assert GENERIC not in json.dumps(world.fake.responses)


@pytest.mark.parametrize("value", ["../../x", "ft x", "ｆｔ-1", "x" * 200])
def test_a_damaged_job_button_is_answered_ephemerally(world: World, value: str) -> None:
    body = block_action(
        Action.DEPLOY, value, user=APPROVER, channel=CHANNEL, response_url=world.fake.response_url()
    )
    assert world.bot.post(payload_body(body)).status == 200
    world.wait_response("button is damaged")


@pytest.mark.parametrize(
    "value", ["job-1", "job-1:", "job-1:two", "job-1:١", ":2", "job 1:2", "job-1:" + "9" * 10]
)
def test_a_damaged_deploy_checkpoint_button_is_answered_ephemerally(world: World, value: str) -> None:
    body = block_action(
        Action.DEPLOY_CHOSEN, value, user=APPROVER, channel=CHANNEL, response_url=world.fake.response_url()
    )
    assert world.bot.post(payload_body(body)).status == 200
    world.wait_response("button is damaged")
    assert world.fake.calls_to("views.open") == []


# --- replies that cannot fail -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", [None, "", "ftp://example.com/x", "not a url", "http://[::1/x", "http://127.0.0.1:9/x"]
)
def test_a_click_without_a_usable_response_url_is_answered_by_post_ephemeral(
    world: World, url: str | None
) -> None:
    body = block_action(Action.APPROVE, "١٢", user=APPROVER, channel=CHANNEL)
    if url is None:
        del body["response_url"]
    else:
        body["response_url"] = url
    assert world.bot.post(payload_body(body)).status == 200
    _wait(lambda: _ephemerals(world), "approval button is damaged")


@pytest.mark.parametrize("url", [None, "", "javascript:alert(1)"])
def test_a_slash_command_without_a_usable_response_url_is_answered_by_post_ephemeral(
    world: World, url: str | None
) -> None:
    form = slash_body("status ft-no-such-job", user=MEMBER, channel=CHANNEL)
    form = "&".join(p for p in form.split("&") if not p.startswith("response_url="))
    if url is not None:
        form += "&response_url=" + urllib.parse.quote(url, safe="")
    r = world.bot.post(form)
    assert r.status == 200 and "Checking" not in r.body.decode()
    said = _wait(lambda: _ephemerals(world), ":warning:")
    assert GENERIC not in said


def test_when_even_post_ephemeral_fails_one_warning_line_says_so(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.fake.fail_next("chat.postEphemeral", 500, retry_after=None, times=5)
    body = block_action(Action.APPROVE, "١٢", user=APPROVER, channel=CHANNEL)
    body["response_url"] = ""
    assert world.bot.post(payload_body(body)).status == 200

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]

    _wait(warnings, "could not be delivered")
    time.sleep(0.2)
    assert len([w for w in warnings() if "could not be delivered" in w]) == 1


# --- the Test chat race, and a review too big for private_metadata -------------------------------------


def _ready_endpoint(world: World) -> str:
    job_id = submit(world)
    world.until(lambda: world.services.lifecycle.queries.card(job_id).job.state is JobState.SUCCEEDED)
    world.click(Action.DEPLOY, job_id, user=APPROVER)
    world.until(lambda: "Test chat" in buttons(world.card()))
    return str(buttons(world.card())["Test chat"]["value"])


def test_a_test_chat_submitted_after_the_endpoint_was_torn_down_says_so_in_the_modal(world: World) -> None:
    endpoint = _ready_endpoint(world)
    world.click(Action.TEST_CHAT, endpoint, user=MEMBER, trigger="trig-race")
    opened = world.fake.wait_for("views.open")[-1].body["view"]
    world.click(Action.TEAR_DOWN, endpoint, user=APPROVER)  # meanwhile, someone tears it down
    world.until(lambda: world.services.lifecycle.queries.endpoint(endpoint).state is EndpointState.DELETED)
    values: dict[str, Any] = {
        B.CHAT_PROMPT: {Action.CHAT_PROMPT: {"type": "plain_text_input", "value": "hello?"}}
    }
    body = view_submission(
        Callback.TEST_CHAT, values, user=MEMBER, private_metadata=opened["private_metadata"]
    )
    answer = world.bot.post(payload_body(body)).json()
    assert answer["response_action"] == "update"
    text = json.dumps(answer["view"])
    assert "This endpoint was torn down at " in text and "deploy again from the card" in text
    assert f"by <@{APPROVER}>" in text  # who tore it down
    assert GENERIC not in text


def test_a_review_whose_state_outgrows_private_metadata_keeps_it_server_side(world: World) -> None:
    long_url = world.files.url("train.jsonl") + "?sig=" + "s" * 3500  # a signed query string
    values: dict[str, Any] = {
        B.BASE_MODEL: {
            Action.BASE_MODEL: {"type": "external_select", "selected_option": {"value": "ftbot-tiny"}}
        },
        B.TRAINING_URL: {Action.TRAINING_URL: {"type": "url_text_input", "value": long_url}},
    }
    body = view_submission(Callback.WIZARD, values, user=MEMBER, private_metadata=CHANNEL, view_id="VLONG")
    assert world.bot.post(payload_body(body)).json()["response_action"] == "update"
    deadline, review = time.monotonic() + 10, None
    while time.monotonic() < deadline and review is None:
        for call in world.fake.calls_to("views.update"):
            if (
                call.body.get("view_id") == "VLONG"
                and call.body["view"].get("callback_id") == Callback.REVIEW
            ):
                review = call.body["view"]
        time.sleep(0.02)
    assert review is not None and len(review["private_metadata"]) <= 3000
    assert "s" * 100 not in review["private_metadata"]
    body = view_submission(Callback.REVIEW, {}, user=MEMBER, private_metadata=review["private_metadata"])
    assert world.bot.post(payload_body(body)).status == 200
    world.until(lambda: len(world.fake.channel_messages(CHANNEL)) == 1)


@pytest.mark.parametrize("metadata", ["review-nosuchkey", "", "x" * 3000])
def test_an_expired_or_unknown_review_says_run_finetune_again(world: World, metadata: str) -> None:
    body = view_submission(Callback.REVIEW, {}, user=MEMBER, private_metadata=metadata)
    answer = world.bot.post(payload_body(body)).json()
    assert "This review has expired; run /finetune again." in json.dumps(answer)


def test_a_well_formed_wizard_still_goes_to_review(world: World) -> None:
    file = world.fake.add_file((world.files.root / "train.jsonl").read_bytes(), "train.jsonl")
    body = view_submission(
        Callback.WIZARD, wizard_values("ftbot-tiny", file), user=MEMBER, private_metadata=CHANNEL
    )
    assert world.bot.post(payload_body(body)).json()["response_action"] == "update"


# --- a handled route with bad envelope values is answered, never silent (fuzz finding F1) ---------------

NO_USER = "does not say who sent it"
BAD_CHANNEL = "names a channel ftbot does not recognise"


def _slash_form(text: str, **fields: str | None) -> str:
    """The real slash form with ``fields`` replaced (``None`` drops the field)."""
    form = dict(urllib.parse.parse_qsl(slash_body(text, user=MEMBER, channel=CHANNEL)))
    for key, value in fields.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    return urllib.parse.urlencode(form)


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("user_id", None, NO_USER),
        ("user_id", "", NO_USER),
        ("user_id", "<!here>", NO_USER),
        ("user_id", "x" * 300, NO_USER),
        ("channel_id", "", BAD_CHANNEL),
        ("channel_id", "<!here>", BAD_CHANNEL),
    ],
)
def test_a_slash_command_from_no_user_or_channel_is_refused_in_its_ack(
    world: World, field: str, value: str | None, said: str
) -> None:
    r = world.bot.post(_slash_form("help", **{field: value}))
    assert r.status == 200
    ack = r.json()
    assert ack["response_type"] == "ephemeral" and said in ack["text"] and GENERIC not in ack["text"]


_DROP = object()  # a field's value in _click: drop the field


def _click(**fields: Any) -> dict[str, Any]:
    """A damaged Approve click (its answer proves the listener ran) with envelope ``fields`` replaced."""
    body = block_action(Action.APPROVE, "١٢", user=APPROVER, channel=CHANNEL)
    for key, value in fields.items():
        path = key.split(".")
        target = body
        for part in path[:-1]:
            target = target[part]
        if value is _DROP:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("team", {}),
        ("team", []),
        ("team", ""),
        ("team.id", _DROP),
        ("team.id", 7),
        ("trigger_id", None),
        ("trigger_id", 7),
        ("trigger_id", []),
        ("enterprise", 7),
        ("container", "x"),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_a_click_with_a_mistyped_optional_field_reads_it_as_absent(
    world: World, field: str, value: Any
) -> None:
    body = _click(**{field: value})
    body["response_url"] = world.fake.response_url()
    assert world.bot.post(payload_body(body)).status == 200
    world.wait_response("approval button is damaged")


@pytest.mark.parametrize("url", [None, 7, [], {"u": 1}])
def test_a_click_whose_response_url_is_mistyped_is_answered_by_post_ephemeral(world: World, url: Any) -> None:
    assert world.bot.post(payload_body(_click(response_url=url))).status == 200
    _wait(lambda: _ephemerals(world), "approval button is damaged")


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("user", _DROP, NO_USER),
        ("user", None, NO_USER),
        ("user", {}, NO_USER),
        ("user", [], NO_USER),
        ("user", 7, NO_USER),  # Bolt itself cannot read this body ("id" in 7)
        ("user", "", NO_USER),
        ("user.id", "", NO_USER),
        ("user.id", "<!here>", NO_USER),
        ("user.id", 7, NO_USER),
        ("channel.id", "", BAD_CHANNEL),
        ("channel.id", "<!here>", BAD_CHANNEL),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_a_click_from_no_user_or_channel_is_refused_through_its_response_url(
    world: World, field: str, value: Any, said: str
) -> None:
    body = _click(**{field: value})
    body["response_url"] = world.fake.response_url()
    assert world.bot.post(payload_body(body)).status == 200
    world.wait_response(said)
    assert GENERIC not in json.dumps(world.fake.responses)


def test_a_click_with_a_bad_channel_and_no_response_url_is_refused_by_post_ephemeral(world: World) -> None:
    body = _click(**{"channel.id": "<!here>", "container.channel_id": CHANNEL, "response_url": ""})
    assert world.bot.post(payload_body(body)).status == 200
    _wait(lambda: _ephemerals(world), BAD_CHANNEL)
    calls = world.fake.calls_to("chat.postEphemeral")
    assert all(c.body.get("channel") != "<!here>" for c in calls)


@pytest.mark.parametrize("callback", [Callback.WIZARD, Callback.REVIEW, Callback.TEST_CHAT])
@pytest.mark.parametrize(
    ("field", "value"), [("user", {}), ("user", 7), ("user.id", "<!here>")], ids=lambda v: repr(v)[:20]
)
def test_a_view_submission_from_no_user_is_refused_in_the_modal(
    world: World, callback: str, field: str, value: Any
) -> None:
    body = view_submission(callback, {}, user=MEMBER, private_metadata=CHANNEL)
    if field == "user.id":
        body["user"]["id"] = value
    else:
        body[field] = value
    answer = world.bot.post(payload_body(body)).json()
    assert answer["response_action"] == "update" and NO_USER in json.dumps(answer["view"])


@pytest.mark.parametrize(
    ("field", "value"),
    [("team", {}), ("team", []), ("team", 7), ("team.id", None), ("trigger_id", None), ("trigger_id", 7)],
    ids=lambda v: repr(v)[:20],
)
def test_a_review_with_a_mistyped_optional_field_is_read(world: World, field: str, value: Any) -> None:
    body = view_submission(Callback.REVIEW, {}, user=MEMBER, private_metadata="review-nosuchkey")
    if field == "team.id":
        body["team"]["id"] = value
    else:
        body[field] = value
    answer = world.bot.post(payload_body(body)).json()
    assert "This review has expired; run /finetune again." in json.dumps(answer)


@pytest.mark.parametrize("value", [None, 7, [], {"x": 1}])
def test_a_suggestion_whose_query_is_mistyped_lists_options(world: World, value: Any) -> None:
    body = block_suggestion(Action.BASE_MODEL, "", block_id=B.BASE_MODEL, user=MEMBER)
    body["value"] = value
    answer = world.bot.post(payload_body(body)).json()
    assert answer["options"], answer


@pytest.mark.parametrize("user", [{}, 7, {"id": "<!here>"}])
def test_a_suggestion_from_no_user_gets_no_options_not_an_empty_body(world: World, user: Any) -> None:
    body = block_suggestion(Action.BASE_MODEL, "tiny", block_id=B.BASE_MODEL, user=MEMBER)
    body["user"] = user
    assert world.bot.post(payload_body(body)).json() == {"options": []}


# --- the body is parsed by the server: "payload" is a field, not a substring (fuzz finding F2) --------


@pytest.mark.parametrize(
    "text", ["help payload", "status payload", "help https://acct.blob.core.windows.net/payloads/x.jsonl"]
)
def test_a_slash_command_that_mentions_payload_is_still_a_slash_command(world: World, text: str) -> None:
    ack = world.bot.post(_slash_form(text)).json()
    assert ack["response_type"] == "ephemeral" and ack["text"] and GENERIC not in ack["text"]


def test_a_submit_whose_data_url_contains_payloads_is_acked_and_answered(world: World) -> None:
    url = "https://acct.blob.core.windows.net/payloads/train.jsonl"
    r = world.bot.post(
        _slash_form(f"submit --model ftbot-tiny --data {url}", response_url=world.fake.response_url())
    )
    assert r.status == 200 and r.json()["text"]
    world.until(lambda: len(world.fake.responses) >= 1)


@pytest.mark.parametrize(
    ("field", "value"),
    [("channel_name", "payloads"), ("user_name", "payload"), ("team_domain", "payload-team")],
)
def test_a_slash_form_with_payload_in_another_field_is_a_slash_command(
    world: World, field: str, value: str
) -> None:
    ack = world.bot.post(_slash_form("help", **{field: value})).json()
    assert "/finetune" in ack["text"]


def test_of_repeated_form_fields_the_last_counts_as_in_bolt(world: World) -> None:
    form = _slash_form("help") + "&channel_id=" + urllib.parse.quote("<!here>")
    assert BAD_CHANNEL in world.bot.post(form).json()["text"]
    real = block_action(
        Action.APPROVE, "١٢", user=APPROVER, channel=CHANNEL, response_url=world.fake.response_url()
    )
    form = urllib.parse.urlencode([("payload", "{}"), ("payload", json.dumps(real))])
    assert world.bot.post(form).status == 200
    world.wait_response("approval button is damaged")


@pytest.mark.parametrize(
    "body", ["payload=" + "[" * 5000, "payload=%5B1%5D", "payload=not json", "a=1&payload="]
)
def test_a_form_whose_payload_is_not_an_object_is_400(world: World, body: str) -> None:
    assert world.bot.post(body).status == 400
    assert world.bot.post("[1]", content_type="application/json").status == 400


@pytest.mark.parametrize("view_id", [_DROP, "", 7, None])
def test_a_wizard_without_a_view_id_is_refused_in_the_modal_not_after_its_ack(
    world: World, view_id: Any
) -> None:
    file = world.fake.add_file((world.files.root / "train.jsonl").read_bytes(), "train.jsonl")
    body = view_submission(
        Callback.WIZARD, wizard_values("ftbot-tiny", file), user=MEMBER, private_metadata=CHANNEL
    )
    if view_id is _DROP:
        del body["view"]["id"]
    else:
        body["view"]["id"] = view_id
    answer = world.bot.post(payload_body(body)).json()  # its review could not replace it
    assert answer["response_action"] == "update"
    assert "This form is damaged; run /finetune again." in json.dumps(answer["view"])


@pytest.mark.parametrize("kind", ["view_submission", "block_suggestion", "block_actions", None])
async def test_an_error_after_the_ack_is_told_ephemerally_never_a_second_answer(kind: str | None) -> None:
    told: list[dict[str, Any]] = []

    async def respond(**message: Any) -> bool:
        told.append(message)
        return True

    body = {"type": kind} if kind else {"command": "/finetune"}
    error = InvalidInput("The modal is gone.", field="x")
    assert await handle_error(error, body, None, respond) is None  # Bolt asserts on a second answer
    while _PENDING:
        await next(iter(_PENDING))
    assert [m["text"] for m in told] == [":warning: The modal is gone."]
