"""App Home's Settings section and its Edit settings button, the settings modal, and its parser."""

from __future__ import annotations

from typing import Any

import pytest

from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from bot.ui.workspace_settings import (
    DAMAGED,
    home_settings_blocks,
    parse_settings,
    settings_modal,
    settings_saved_view,
    settings_version,
)
from commands.errors import InvalidInput
from tests.bot.ui.helpers import assert_view_ok, block, buttons, has_block
from tests.support.blockkit import assert_valid_blocks

VERSION = settings_version(["U1A"], ["C1A"])


def state(users: Any = None, channels: Any = None) -> dict[str, Any]:
    users = ["U1A"] if users is None else users
    channels = ["C1A"] if channels is None else channels
    return {
        B.SETTINGS_APPROVERS: {
            Action.SETTINGS_APPROVERS: {"type": "multi_users_select", "selected_users": users}
        },
        B.SETTINGS_CHANNELS: {
            Action.SETTINGS_CHANNELS: {
                "type": "multi_conversations_select",
                "selected_conversations": channels,
            }
        },
    }


def test_the_home_section_carries_the_edit_settings_button() -> None:
    blocks = home_settings_blocks(["U1A", "SOPS1"], ["C1A"], True, False)
    assert_valid_blocks(blocks)
    assert "<!subteam^SOPS1>" in block(blocks, B.HOME_SETTINGS)["text"]["text"]
    edit = buttons(blocks, B.HOME_SETTINGS_ACTIONS)["Edit settings"]
    assert edit["action_id"] == Action.SETTINGS_EDIT


def test_the_modal_is_pre_filled_and_keeps_user_groups_aside() -> None:
    view = assert_view_ok(settings_modal(["U1A", "SOPS1", "W2B"], ["C1A", "G2B"], True, True, most=50))
    assert view["callback_id"] == Callback.SETTINGS and view["private_metadata"] == settings_version(
        ["U1A", "SOPS1", "W2B"], ["C1A", "G2B"]
    )
    users = block(view["blocks"], B.SETTINGS_APPROVERS)["element"]
    assert users["initial_users"] == ["U1A", "W2B"] and users["max_selected_items"] == 50
    assert users["action_id"] == Action.SETTINGS_APPROVERS
    channels = block(view["blocks"], B.SETTINGS_CHANNELS)["element"]
    assert channels["initial_conversations"] == ["C1A", "G2B"]
    assert "<!subteam^SOPS1>" in block(view["blocks"], B.SETTINGS_GROUPS)["elements"][0]["text"]
    assert "default" not in block(view["blocks"], B.SETTINGS_INTRO)["text"]["text"]


def test_the_modal_says_when_it_shows_the_environment_defaults() -> None:
    view = assert_view_ok(settings_modal([], [], False, False, most=50))
    assert "FTBOT_APPROVERS" in block(view["blocks"], B.SETTINGS_INTRO)["text"]["text"]
    assert not has_block(view["blocks"], B.SETTINGS_GROUPS)
    assert "initial_users" not in block(view["blocks"], B.SETTINGS_APPROVERS)["element"]


def test_the_version_changes_with_either_list() -> None:
    assert settings_version(["U1A"], ["C1A"]) != settings_version(["U1A"], [])
    assert settings_version(["U1A"], []) != settings_version([], ["U1A"])
    assert settings_version(["U1A", "U2B"], []) != settings_version(["U2B", "U1A"], [])


@pytest.mark.parametrize("changed", [True, False])
def test_the_saved_view_shows_the_settings_as_they_now_are(changed: bool) -> None:
    view = assert_view_ok(settings_saved_view(["U1A"], [], True, False, changed))
    text = block(view["blocks"], B.SETTINGS_SAVED)["text"]["text"]
    assert "<@U1A>" in text and ("Saved" in text) is changed and ("Nothing changed" in text) is not changed


def test_a_submission_parses_to_the_chosen_ids() -> None:
    edit = parse_settings(state(["U1A", "W2B", "U1A"], ["C1A", "G2B"]), VERSION, most=50)
    assert edit.approvers == ("U1A", "W2B") and edit.channels == ("C1A", "G2B") and edit.version == VERSION
    emptied = state([], [])
    del emptied[B.SETTINGS_APPROVERS][Action.SETTINGS_APPROVERS]["selected_users"]  # none chosen
    cleared = parse_settings(emptied, VERSION, most=50)
    assert cleared.approvers == () and cleared.channels == ()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        (state("U1A"), B.SETTINGS_APPROVERS),
        (state(["U1A\n"]), B.SETTINGS_APPROVERS),
        (state(["SOPS1"]), B.SETTINGS_APPROVERS),  # a group is not a user a users select sends
        (state(["U1A"], ["C1A", {"id": "C2B"}]), B.SETTINGS_CHANNELS),
        (state(["U1A"], ["#general"]), B.SETTINGS_CHANNELS),
        (state(["U1A"], ["C1A"] * 4), B.SETTINGS_CHANNELS),  # more than ``most``
        ({B.SETTINGS_CHANNELS: state()[B.SETTINGS_CHANNELS]}, B.SETTINGS_APPROVERS),
        ({**state(), B.SETTINGS_CHANNELS: {Action.SETTINGS_CHANNELS: "C1A"}}, B.SETTINGS_CHANNELS),
        ({**state(), B.SETTINGS_CHANNELS: []}, B.SETTINGS_CHANNELS),
    ],
)
def test_a_damaged_value_names_its_block(values: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        parse_settings(values, VERSION, most=3)
    assert e.value.field == field


@pytest.mark.parametrize("metadata", ["", "abc", VERSION.upper(), VERSION + "0", "g" * len(VERSION)])
def test_damaged_metadata_is_refused_without_a_field(metadata: str) -> None:
    with pytest.raises(InvalidInput) as e:
        parse_settings(state(), metadata, most=50)
    assert e.value.field is None and e.value.message == DAMAGED


def test_a_state_that_is_not_an_object_is_damaged() -> None:
    with pytest.raises(InvalidInput) as e:
        parse_settings([], VERSION, most=50)  # type: ignore[arg-type]
    assert e.value.field == B.SETTINGS_APPROVERS
