"""FTBOT_ONCALL: one id for every workspace, or one per workspace (``TEAM_ID=ID,…,default=ID``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.runtime.settings import Settings
from bot.scheduling.oncall_ids import OncallIds, parse_oncall


def test_one_id_pages_every_workspace() -> None:
    ids = parse_oncall(" SONCALL01 ")
    assert ids == OncallIds(default="SONCALL01")
    assert ids.for_team("T1") == ids.for_team("") == "SONCALL01" and ids


def test_unset_pages_nobody() -> None:
    for text in (None, "", "  "):
        ids = parse_oncall(text)
        assert ids == OncallIds() and not ids and ids.for_team("T1") is None


def test_one_per_workspace_with_a_default_in_any_case() -> None:
    ids = parse_oncall("T0AAA=S0AAA, T0BBB=U0BBB ,,DEFAULT=W0ALL")
    assert ids.teams == {"T0AAA": "S0AAA", "T0BBB": "U0BBB"} and ids.default == "W0ALL"
    assert (ids.for_team("T0AAA"), ids.for_team("T0BBB"), ids.for_team("T0CCC")) == (
        "S0AAA",
        "U0BBB",
        "W0ALL",
    )
    alone = parse_oncall("T0AAA=S0AAA")
    assert alone and alone.default is None and alone.for_team("T0BBB") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("oncall-team", "expected one Slack user-group id (S…) or user id (U…), or TEAM_ID=ID,…,default=ID"),
        ("s0lower", "expected one Slack user-group id"),
        ("T0AAA=", "expected TEAM_ID=ID (a user-group id S… or user id U…), got 'T0AAA='"),
        ("T0AAA=C0CHANNEL", "got 'T0AAA=C0CHANNEL'"),
        ("T0AAA=S0AAA,S0BBB", "got 'S0BBB'"),
        ("C0AAA=S0AAA", "'C0AAA' is not a Slack workspace id (T…) or 'default'"),
    ],
)
def test_anything_else_is_refused_naming_the_item(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_oncall(text)


def test_the_setting_reads_both_forms_and_names_itself_when_wrong(tmp_path: Path) -> None:
    base = {"FTBOT_DATA_DIR": str(tmp_path)}
    assert Settings(_env_file=None, **base, FTBOT_ONCALL="S0ALL").oncall == OncallIds(default="S0ALL")  # type: ignore[arg-type]
    per = Settings(_env_file=None, **base, FTBOT_ONCALL="T0AAA=S0AAA").oncall  # type: ignore[arg-type]
    assert per.teams == {"T0AAA": "S0AAA"}
    assert not Settings(_env_file=None, **base).oncall  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="FTBOT_ONCALL"):
        Settings(_env_file=None, **base, FTBOT_ONCALL="T0AAA=nobody")  # type: ignore[arg-type]
