"""App Home's settings over signed HTTP against the Slack stand-in: approvers (and, in a workspace without
approvers, the installer) see Edit settings; its modal saves through the same use case as
``/finetune config`` (permission, validation, audit), and the Home tab is published again. Forged clicks
and submissions by anyone else are refused; a damaged submission gets a clear answer, never a 500."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.payloads import block_action, payload_body, slash_body, view_submission
from bot.store import scope
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from tests.bot.runtime.test_oauth import OAUTH, install
from tests.support.harness import Reply
from tests.support.world import APPROVER, CHANNEL, MEMBER, World, open_world

INSTALLER = "UINSTALLER"  # the stand-in's oauth.v2.access names this user as the installer


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path) as w:  # single workspace, FTBOT_APPROVERS = APPROVER
        yield w


def open_home(world: World, user: str, team: str = "T1") -> dict[str, Any]:
    """``user`` opens the Home tab; the view ftbot publishes for them."""
    before = len(world.fake.calls_to("views.publish"))
    event = {
        "type": "event_callback", "team_id": team, "api_app_id": "A1", "event_id": f"Ev{time.monotonic_ns()}",
        "event_time": 1, "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"},
        "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
    }  # fmt: skip
    assert world.bot.post(json.dumps(event), content_type="application/json").status == 200
    return published(world, user, before)


def published(world: World, user: str, before: int) -> dict[str, Any]:
    calls = world.fake.wait_for("views.publish", before + 1)
    mine = [c for c in calls[before:] if c.body.get("user_id") == user]
    assert mine, f"no Home tab published for {user}"
    view = mine[-1].body["view"]
    return view if isinstance(view, dict) else dict(json.loads(view))


def block_ids(view: dict[str, Any]) -> set[str]:
    return {b.get("block_id", "") for b in view["blocks"]}


def click_edit(world: World, user: str, team: str = "T1") -> dict[str, Any]:
    """``user`` clicks Edit settings on the Home tab (no channel, no response_url); the modal opened."""
    body = block_action(Action.SETTINGS_EDIT, "settings", user=user, block_id=B.HOME_SETTINGS_ACTIONS)
    del body["channel"], body["response_url"], body["message"]
    body["team"]["id"] = body["user"]["team_id"] = team
    body["container"] = {"type": "view", "view_id": "VHOME1"}
    body["view"] = {"id": "VHOME1", "type": "home", "blocks": [], "private_metadata": "", "callback_id": ""}
    before = len(world.fake.calls_to("views.open"))
    assert world.bot.post(payload_body(body)).status == 200
    view = world.fake.wait_for("views.open", before + 1)[-1].body["view"]
    return view if isinstance(view, dict) else dict(json.loads(view))


def values(users: list[str] | Any, channels: list[str] | Any) -> dict[str, Any]:
    """The modal's ``state.values`` as Slack sends them."""
    chosen_users = {"type": "multi_users_select", "selected_users": users}
    chosen_channels = {"type": "multi_conversations_select", "selected_conversations": channels}
    return {
        B.SETTINGS_APPROVERS: {Action.SETTINGS_APPROVERS: chosen_users},
        B.SETTINGS_CHANNELS: {Action.SETTINGS_CHANNELS: chosen_channels},
    }


def submit(world: World, user: str, state: dict[str, Any], metadata: str, team: str = "T1") -> Reply:
    body = view_submission(Callback.SETTINGS, state, user=user, private_metadata=metadata)
    body["team"]["id"] = body["user"]["team_id"] = body["view"]["team_id"] = team
    reply = world.bot.post(payload_body(body))
    assert reply.status == 200, reply.body
    return reply


def shown_text(reply: Reply) -> str:
    ack = reply.json()
    assert ack["response_action"] == "update", ack
    return json.dumps(ack["view"]["blocks"])


def audit(world: World, team: str = "") -> list[tuple[str, str, str, str]]:
    """The audit log of ``team`` (single-workspace mode keeps its rows under ``""``)."""
    with scope.within(scope.Workspace(team)), world.services.store.transaction() as tx:
        return [(e.actor, e.action, e.target, e.result) for e in tx.audit_entries()]


def test_approvers_see_edit_settings_on_the_home_tab_and_others_do_not(world: World) -> None:
    home = open_home(world, APPROVER)
    assert {B.HOME_SETTINGS, B.HOME_SETTINGS_ACTIONS} <= block_ids(home)
    button = next(b for b in home["blocks"] if b.get("block_id") == B.HOME_SETTINGS_ACTIONS)["elements"][0]
    assert button["action_id"] == Action.SETTINGS_EDIT and button["text"]["text"] == "Edit settings"
    assert not {B.HOME_SETTINGS, B.HOME_SETTINGS_ACTIONS} & block_ids(open_home(world, MEMBER))


def test_an_approver_edits_both_lists_in_the_modal_and_the_home_tab_is_published_again(world: World) -> None:
    modal = click_edit(world, APPROVER)
    assert modal["callback_id"] == Callback.SETTINGS
    inputs = {b["block_id"]: b["element"] for b in modal["blocks"] if b["type"] == "input"}
    assert inputs[B.SETTINGS_APPROVERS]["initial_users"] == [APPROVER]  # FTBOT_APPROVERS, pre-filled
    assert "initial_conversations" not in inputs[B.SETTINGS_CHANNELS]  # no list: every channel
    before = len(world.fake.calls_to("views.publish"))
    reply = submit(world, APPROVER, values([APPROVER, "UALICE01"], [CHANNEL]), modal["private_metadata"])
    saved = shown_text(reply)
    assert "Saved (audited)" in saved and "<@UALICE01>" in saved and f"<#{CHANNEL}>" in saved
    config = world.services.workspace_settings.current()
    assert config.approvers == (APPROVER, "UALICE01") and config.allowed_channels == (CHANNEL,)
    assert config.own_approvers and config.own_channels
    log = audit(world)
    assert (APPROVER, "config_approvers_add", "UALICE01", "ok") in log
    assert (APPROVER, "config_channels_add", CHANNEL, "ok") in log
    home = published(world, APPROVER, before)  # republished with the new settings
    settings = next(b for b in home["blocks"] if b.get("block_id") == B.HOME_SETTINGS)
    assert "<@UALICE01>" in settings["text"]["text"]
    # in effect at once: only CHANNEL is allowed now, and the new approver sees the button
    elsewhere = world.bot.post(slash_body("list", user=MEMBER, channel="COTHER1")).json()
    assert "not enabled in this channel" in json.dumps(elsewhere)
    assert "not enabled" not in json.dumps(world.slash("list"))
    assert B.HOME_SETTINGS_ACTIONS in block_ids(open_home(world, "UALICE01"))
    modal = click_edit(world, "UALICE01")  # removing an entry is the command's removal, audited
    reply = submit(world, "UALICE01", values(["UALICE01"], [CHANNEL]), modal["private_metadata"])
    assert "Saved" in shown_text(reply)
    assert world.services.workspace_settings.current().approvers == ("UALICE01",)
    assert ("UALICE01", "config_approvers_remove", APPROVER, "ok") in audit(world)


def test_an_unchanged_submission_writes_nothing(world: World) -> None:
    modal = click_edit(world, APPROVER)
    reply = submit(world, APPROVER, values([APPROVER], []), modal["private_metadata"])
    assert "Nothing changed" in shown_text(reply)
    assert not world.services.workspace_settings.current().own_approvers  # still FTBOT_APPROVERS
    assert not [a for a in audit(world) if a[1].startswith("config_")]


def test_a_forged_click_and_a_forged_submission_by_a_member_are_refused_and_audited(world: World) -> None:
    refused = click_edit(world, MEMBER)
    assert refused.get("callback_id") != Callback.SETTINGS
    assert "approvers can change" in json.dumps(refused["blocks"])
    version = click_edit(world, APPROVER)["private_metadata"]
    reply = submit(world, MEMBER, values([APPROVER, MEMBER], []), version)
    assert "Only this workspace's approvers can change" in shown_text(reply)
    config = world.services.workspace_settings.current()
    assert config.approvers == (APPROVER,) and not config.own_approvers
    assert (MEMBER, "config_edit", "", "denied") in audit(world)
    assert not [a for a in audit(world) if a[3] == "ok"]


def test_a_submission_after_someone_else_changed_the_settings_is_refused(world: World) -> None:
    stale = click_edit(world, APPROVER)["private_metadata"]
    fresh = click_edit(world, APPROVER)["private_metadata"]
    assert "Saved" in shown_text(submit(world, APPROVER, values([APPROVER, "UALICE01"], []), fresh))
    reply = submit(world, APPROVER, values([APPROVER], [CHANNEL]), stale)  # would undo UALICE01
    assert "changed while the form was open" in shown_text(reply)
    config = world.services.workspace_settings.current()
    assert config.approvers == (APPROVER, "UALICE01") and config.allowed_channels == ()


@pytest.mark.parametrize(
    ("state", "field"),
    [
        (values("UALICE01", []), B.SETTINGS_APPROVERS),  # not a list
        (values(["alice"], []), B.SETTINGS_APPROVERS),  # not a user id
        (values([], [7]), B.SETTINGS_CHANNELS),  # not a string
        (values([], ["CX"] * 51), B.SETTINGS_CHANNELS),  # more than a list holds
        ({B.SETTINGS_CHANNELS: values([], [])[B.SETTINGS_CHANNELS]}, B.SETTINGS_APPROVERS),  # block missing
    ],
)
def test_a_damaged_state_is_answered_on_its_block(world: World, state: dict[str, Any], field: str) -> None:
    version = click_edit(world, APPROVER)["private_metadata"]
    ack = submit(world, APPROVER, state, version).json()
    assert ack["response_action"] == "errors" and set(ack["errors"]) == {field}
    assert not world.services.workspace_settings.current().own_approvers


@pytest.mark.parametrize("metadata", ["", "not-a-version", "x" * 3000])
def test_damaged_metadata_is_answered_in_the_modal(world: World, metadata: str) -> None:
    reply = submit(world, APPROVER, values([APPROVER, "UALICE01"], []), metadata)
    assert "This settings form is damaged" in shown_text(reply)
    assert world.services.workspace_settings.current().approvers == (APPROVER,)


def test_user_groups_stay_approvers_when_the_modal_saves(tmp_path: Path) -> None:
    with open_world(tmp_path, FTBOT_APPROVERS=f"{APPROVER},SOPS01") as world:
        modal = click_edit(world, APPROVER)
        assert B.SETTINGS_GROUPS in block_ids(modal)
        inputs = {b["block_id"]: b["element"] for b in modal["blocks"] if b["type"] == "input"}
        assert inputs[B.SETTINGS_APPROVERS]["initial_users"] == [APPROVER]  # a group cannot be picked
        reply = submit(world, APPROVER, values([APPROVER, "UALICE01"], []), modal["private_metadata"])
        assert "Saved" in shown_text(reply)
        assert world.services.workspace_settings.current().approvers == (APPROVER, "SOPS01", "UALICE01")


def test_in_a_workspace_without_approvers_the_installer_edits_and_no_one_else(tmp_path: Path) -> None:
    with open_world(tmp_path, FTBOT_APPROVERS="", **OAUTH) as world:  # type: ignore[arg-type]
        install(world, "TA")
        assert B.HOME_SETTINGS_ACTIONS not in block_ids(open_home(world, "UBOB01", "TA"))
        assert B.HOME_SETTINGS_ACTIONS in block_ids(open_home(world, INSTALLER, "TA"))
        version = click_edit(world, INSTALLER, "TA")["private_metadata"]
        refused = submit(world, "UBOB01", values(["UBOB01"], []), version, "TA")
        assert "Only this workspace's approvers" in shown_text(refused)
        assert "Saved" in shown_text(submit(world, INSTALLER, values(["UALICE01"], []), version, "TA"))
        assert world.services.workspace_settings.get("TA").approvers == ("UALICE01",)
        # now TA has an approver: the installer is no longer enough (the command's rule)
        version = click_edit(world, "UALICE01", "TA")["private_metadata"]
        reply = submit(world, INSTALLER, values(["UALICE01", INSTALLER], []), version, "TA")
        assert "Only this workspace's approvers" in shown_text(reply)
        log = audit(world, "TA")
        assert ("UBOB01", "config_edit", "", "denied") in log
        assert (INSTALLER, "config_approvers_add", "UALICE01", "ok") in log
