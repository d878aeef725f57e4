"""Requests as Slack sends them, built from what ftbot itself sent to the Slack stand-in: a click on one of
its buttons (on a message, or on an ephemeral answer), a submission of one of its views with the values
the view shows, the view closed, and the inputs inside a modal. The fuzzer's seeds are made of these."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.demo.payloads import block_action, view_submission
from bot.demo.slack import Message
from tests.support.world import CHANNEL, MEMBER, World


@dataclass(frozen=True)
class Seed:
    """One real request: ``kind`` is ``form`` (a slash command's fields), ``payload`` (interactivity)
    or ``event`` (an Events API envelope)."""

    surface: str
    kind: str
    body: dict[str, Any]


def encode(payload: dict[str, Any]) -> str:
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def buttons(blocks: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``(actions block, button)`` for every button with an action id in ``blocks``."""
    for blk in blocks:
        for el in blk.get("elements", []) if blk.get("type") == "actions" else []:
            if el.get("type") == "button" and "action_id" in el:
                yield blk, el


def click(
    world: World, blk: dict[str, Any], button: dict[str, Any], user: str, msg: Message, ephemeral: bool
) -> dict[str, Any]:
    """A click on ``button`` of ``msg`` as Slack sends it: with the message and its blocks, or, for an
    ``ephemeral`` message (an answer only its user sees), without them."""
    body = block_action(
        button["action_id"],
        str(button.get("value", "")),
        user=user,
        channel=msg.channel,
        message_ts=msg.ts,
        block_id=blk["block_id"],
        response_url=world.fake.response_url(),
    )
    body["actions"][0]["text"] = button.get("text")
    if ephemeral:
        del body["message"]
        body["container"]["is_ephemeral"] = True
    else:
        body["message"] = {"type": "message", "ts": msg.ts, "text": msg.text, "blocks": msg.blocks}
    if msg.thread_ts:
        body["container"]["thread_ts"] = msg.thread_ts
    return body


def latest_view(world: World, callback_id: str, seen: set[str] | None = None) -> tuple[str, dict[str, Any]]:
    """The newest view with ``callback_id`` (one whose id is not in ``seen``, when given): its id and
    the view as Slack holds it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with world.fake._lock:
            found = [
                (vid, v)
                for vid, v in world.fake.views.items()
                if v.get("callback_id") == callback_id and vid not in (seen or set())
            ]
        if found:
            return found[-1]
        time.sleep(0.02)
    raise AssertionError(f"ftbot never showed a {callback_id} view")


def in_view(submission: dict[str, Any], view_id: str, view: dict[str, Any]) -> dict[str, Any]:
    """A view_submission carries the whole view as Slack holds it: its id, blocks and metadata."""
    submission["view"].update(
        id=view_id,
        blocks=view.get("blocks", []),
        title=view.get("title"),
        private_metadata=view.get("private_metadata", ""),
        hash=f"h{view_id}",
    )
    return submission


#: what an input element holds in ``view.state.values``, by its type: the state key and where the view
#: sets its initial value (Slack sends every input, ``null`` or empty where nothing is chosen)
_STATE = {
    "static_select": ("selected_option", "initial_option"),
    "external_select": ("selected_option", "initial_option"),
    "radio_buttons": ("selected_option", "initial_option"),
    "checkboxes": ("selected_options", "initial_options"),
    "multi_static_select": ("selected_options", "initial_options"),
    "plain_text_input": ("value", "initial_value"),
    "number_input": ("value", "initial_value"),
    "url_text_input": ("value", "initial_value"),
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "file_input": ("files", "initial_files"),
}
_MANY = {"checkboxes", "multi_static_select", "multi_users_select", "multi_conversations_select"} | {
    "file_input"
}


def shown_values(view: dict[str, Any], choose: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``view.state.values`` of ``view`` submitted as it was shown (its initial values), except for the
    selects named in ``choose`` (block id -> an option value the view lists)."""
    values: dict[str, Any] = {}
    for blk in view.get("blocks", []):
        el = blk.get("element") or {}
        if blk.get("type") != "input" or "action_id" not in el:
            continue
        key, initial = _STATE.get(el["type"], ("value", "initial_value"))
        empty: list[Any] | None = [] if el["type"] in _MANY else None
        state: dict[str, Any] = {"type": el["type"], key: el.get(initial, empty)}
        wanted = (choose or {}).get(blk["block_id"])
        if wanted is not None:
            state[key] = next(o for o in el.get("options", []) if o["value"] == wanted)
        values[blk["block_id"]] = {el["action_id"]: state}
    return values


def submitted(world: World, view_id: str, view: dict[str, Any], user: str, **choose: str) -> dict[str, Any]:
    """The submission of ``view`` by ``user`` as Slack sends it (``choose``: see ``shown_values``)."""
    body = view_submission(str(view["callback_id"]), shown_values(view, choose), user=user)
    return in_view(body, view_id, view)


def element_action(blk: dict[str, Any]) -> dict[str, Any] | None:
    el = blk.get("element") or {}
    if "action_id" not in el:
        return None
    action: dict[str, Any] = {
        "type": el["type"],
        "action_id": el["action_id"],
        "block_id": blk["block_id"],
        "action_ts": f"{time.time():.6f}",
    }
    options = el.get("options") or []
    if el.get("initial_option") or options:
        action["selected_option"] = el.get("initial_option") or options[0]
    elif el["type"] in ("plain_text_input", "number_input", "url_text_input"):
        action["value"] = str(el.get("initial_value") or "1")
    return action


def modal_seeds(view_id: str, view: dict[str, Any], user: str = MEMBER) -> Iterator[Seed]:
    """``view`` closed by ``user``, and a change to each input inside it (Slack sends these as
    block_actions with the view, and no channel or response_url)."""
    callback = str(view["callback_id"])
    closed = in_view(view_submission(callback, {}, user=user), view_id, view)
    closed["type"], closed["is_cleared"] = "view_closed", False
    yield Seed("view_closed", "payload", closed)
    for blk in view.get("blocks", []):
        action = element_action(blk)
        if action is not None:
            body = block_action(action["action_id"], "", user=user, channel=CHANNEL)
            del body["channel"], body["response_url"], body["message"]
            body["actions"] = [action]
            body["container"] = {"type": "view", "view_id": view_id}
            body["view"] = in_view(view_submission(callback, {}), view_id, view)["view"]
            yield Seed(f"block_actions:{action['action_id']}", "payload", body)
