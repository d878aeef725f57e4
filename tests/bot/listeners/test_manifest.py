"""manifest.yaml is valid, and declares what the code registers (and no more scopes than it needs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from bot.demo.slack import FakeSlack
from bot.listeners.app import build_registrar
from bot.runtime.services import Services
from bot.ui.ids import Action, Callback
from tests.support.harness import make_settings

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "tests" / "data" / "slack-manifest.schema.json").read_text())


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yaml").read_text())


def test_manifest_validates_against_slacks_schema(manifest: dict) -> None:
    errors = [e.message for e in Draft7Validator(SCHEMA).iter_errors(manifest)]
    assert errors == []


def test_schema_catches_a_broken_manifest(manifest: dict) -> None:
    broken = json.loads(json.dumps(manifest))
    broken["features"]["slash_commands"][0]["command"] = "finetune"
    broken["settings"]["interactivty"] = {}
    assert len(list(Draft7Validator(SCHEMA).iter_errors(broken))) >= 2


def test_cross_field_rules_the_schema_cannot_check(manifest: dict) -> None:
    settings = manifest["settings"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    if not settings.get("socket_mode_enabled"):
        assert settings["interactivity"].get("request_url"), "interactivity needs a request URL in HTTP mode"
        assert all(c.get("url") for c in manifest["features"]["slash_commands"])
    assert "commands" in scopes
    assert {"files:read", "files:write", "chat:write"} <= scopes  # file_input, files_upload_v2, cards
    # channels:history and groups:history: bot/slack/recovery.py reads ftbot's own messages back
    allowed = {"commands", "chat:write", "files:read", "files:write", "usergroups:read"}
    assert scopes <= allowed | {"channels:history", "groups:history"}, "no extra scopes"


def test_manifest_declares_everything_the_app_registers(tmp_path: Path, manifest: dict) -> None:
    with FakeSlack() as fake:
        registrar = build_registrar(Services.from_settings(make_settings(tmp_path, fake)))
    declared_commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert registrar.commands == declared_commands
    assert registrar.events <= set(manifest["settings"]["event_subscriptions"]["bot_events"])
    if "app_home_opened" in registrar.events:
        assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    if registrar.actions or registrar.views or registrar.options:
        assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert registrar.actions <= {a.value for a in Action}
    assert registrar.options <= {a.value for a in Action}
    assert registrar.views <= {c.value for c in Callback}
