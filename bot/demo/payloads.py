"""Requests exactly as Slack sends them: slash-command bodies, interactivity payloads, signatures.

Used by `ftbot demo` and the tests."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from slack_sdk.signature import SignatureVerifier

from bot.ui.ids import Action
from bot.ui.ids import Block as B


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body) or "",
    }


def slash_body(
    text: str,
    *,
    user: str = "U111",
    channel: str = "C111",
    trigger: str | None = None,
    response_url: str = "http://127.0.0.1:9/none",
    team: str = "T1",
) -> str:
    return urllib.parse.urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": team,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "ml",
            "user_id": user,
            "user_name": "someone",
            "command": "/finetune",
            "text": text,
            "api_app_id": "A1",
            "response_url": response_url,
            "trigger_id": trigger or f"trig-{time.monotonic_ns()}",
        }
    )


def payload_body(payload: dict[str, Any]) -> str:
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def block_action(
    action_id: str,
    value: str,
    *,
    user: str = "U111",
    channel: str = "C111",
    message_ts: str = "1700000001.000100",
    block_id: str = "actions",
    response_url: str = "http://127.0.0.1:9/none",
    trigger: str | None = None,
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "test"},
        "user": {"id": user, "username": "someone", "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger or f"trig-{time.monotonic_ns()}",
        "channel": {"id": channel, "name": "ml"},
        "message": {"type": "message", "ts": message_ts, "text": ""},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission(
    callback_id: str,
    values: Mapping[str, Any],
    *,
    user: str = "U111",
    private_metadata: str = "",
    view_id: str = "V1",
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T1", "domain": "test"},
        "user": {"id": user, "username": "someone", "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": f"trig-{time.monotonic_ns()}",
        "view": {
            "id": view_id,
            "team_id": "T1",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": values},
            "hash": "h1",
            "blocks": [],
        },
        "response_urls": [],
    }


def block_suggestion(action_id: str, value: str, *, block_id: str, user: str = "U111") -> dict[str, Any]:
    return {
        "type": "block_suggestion",
        "user": {"id": user, "username": "someone", "team_id": "T1"},
        "team": {"id": "T1", "domain": "test"},
        "api_app_id": "A1",
        "token": "legacy",
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "container": {"type": "view", "view_id": "V1"},
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "x",
            "private_metadata": "",
            "state": {"values": {}},
        },
    }


def wizard_values(
    model: str,
    file: Mapping[str, Any],
    *,
    split_percent: float | None = None,
    epochs: int | None = None,
    suffix: str | None = None,
) -> dict[str, Any]:
    """``view.state.values`` of a filled-in wizard, as Slack sends it on submit."""

    def selected(action: str, value: str, text: str, kind: str) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": text}, "value": value}
        return {action: {"type": kind, "selected_option": option}}

    def typed(action: str, kind: str, value: str) -> dict[str, Any]:
        return {action: {"type": kind, "value": value}}

    values: dict[str, Any] = {
        B.BASE_MODEL: selected(Action.BASE_MODEL, model, model, "external_select"),
        B.TRAINING_FILE: {Action.TRAINING_FILE: {"type": "file_input", "files": [dict(file)]}},
    }
    if split_percent is not None:
        values[B.VALIDATION_MODE] = selected(Action.VALIDATION_MODE, "split", "split", "radio_buttons")
        values[B.VALIDATION_SPLIT] = typed(Action.VALIDATION_SPLIT, "number_input", f"{split_percent:g}")
    if epochs is not None:
        values[B.PARAMS_MODE] = selected(Action.PARAMS_MODE, "custom", "Custom", "radio_buttons")
        values[B.EPOCHS] = typed(Action.EPOCHS, "number_input", str(epochs))
    if suffix is not None:
        values[B.SUFFIX] = typed(Action.SUFFIX, "plain_text_input", suffix)
    return values
