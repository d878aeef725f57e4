"""``WorkspaceSettings.apply``, the use case ``/finetune config`` and App Home's Edit settings share: one
transaction, one audit row per change, nothing written on a refusal or a bad value; single-workspace
mode keeps its settings under team ``""``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.store import scope
from bot.store.db import Database
from bot.store.repo import SqlStore
from bot.store.workspace_settings import SINGLE, Change, Refused, WorkspaceConfig, WorkspaceSettings
from commands.errors import InvalidInput, PermissionDenied
from commands.records import Actor, Surface

AT = datetime(2026, 3, 1, tzinfo=UTC)
ALICE = Actor(user_id="UALICE01", team_id="TA", surface=Surface.MODAL)
REFUSED = Refused("config_edit", "", "settings")


@pytest.fixture
def settings(database: Database) -> WorkspaceSettings:
    return WorkspaceSettings(database, ["UENV01"], [])


def audit(database: Database, team: str) -> list[tuple[str, str, str, str]]:
    with scope.within(scope.Workspace(team)), SqlStore(database).transaction() as tx:
        return [(e.actor, e.action, e.target, e.result) for e in tx.audit_entries()]


def test_several_changes_are_saved_together_with_one_audit_row_each(
    settings: WorkspaceSettings, database: Database
) -> None:
    plan = [
        Change("approvers", False, "UENV01"),
        Change("approvers", True, "UBOB01"),
        Change("channels", True, "C1"),
    ]
    with scope.within(scope.Workspace("TA")):
        config = settings.apply(ALICE, lambda _: plan, REFUSED, is_approver=True, at=AT)
    assert config.approvers == ("UBOB01",) and config.allowed_channels == ("C1",)
    assert config.own_approvers and config.own_channels
    assert audit(database, "TA") == [
        ("UALICE01", "config_approvers_remove", "UENV01", "ok"),
        ("UALICE01", "config_approvers_add", "UBOB01", "ok"),
        ("UALICE01", "config_channels_add", "C1", "ok"),
    ]
    assert settings.get("TB").approvers == ("UENV01",)  # another workspace keeps the defaults


def test_a_change_to_one_list_leaves_the_other_on_its_default(settings: WorkspaceSettings) -> None:
    with scope.within(scope.Workspace("TA")):
        config = settings.apply(
            ALICE, lambda _: [Change("channels", True, "C1")], REFUSED, is_approver=True, at=AT
        )
    assert config.own_channels and not config.own_approvers and config.approvers == ("UENV01",)


def test_a_refusal_is_audited_and_the_plan_never_runs(
    settings: WorkspaceSettings, database: Database
) -> None:
    def plan(_: WorkspaceConfig) -> list[Change]:
        raise AssertionError("planned for someone who may not change the settings")

    with scope.within(scope.Workspace("TA")), pytest.raises(PermissionDenied):
        settings.apply(ALICE, plan, REFUSED, is_approver=False, at=AT)
    assert audit(database, "TA") == [("UALICE01", "config_edit", "", "denied")]
    assert not settings.get("TA").own_approvers


@pytest.mark.parametrize(
    "plan",
    [
        [Change("approvers", True, "UBOB01"), Change("channels", False, "CNOTTHERE")],  # the last is bad
        [Change("approvers", True, f"U{n:04d}X") for n in range(60)],  # over MAX_IDS
    ],
)
def test_a_bad_change_writes_nothing(
    settings: WorkspaceSettings, database: Database, plan: list[Change]
) -> None:
    with scope.within(scope.Workspace("TA")), pytest.raises(InvalidInput):
        settings.apply(ALICE, lambda _: plan, REFUSED, is_approver=True, at=AT)
    assert settings.get("TA").approvers == ("UENV01",) and audit(database, "TA") == []


def test_nothing_asked_writes_nothing(settings: WorkspaceSettings, database: Database) -> None:
    with scope.within(scope.Workspace("TA")):
        config = settings.apply(ALICE, lambda _: [], REFUSED, is_approver=True, at=AT)
    assert not config.own_approvers and audit(database, "TA") == []


def test_single_workspace_mode_reads_what_it_writes(settings: WorkspaceSettings, database: Database) -> None:
    assert scope.current() is None  # no scope: single-workspace mode (and the scheduler)
    settings.change(ALICE, "approvers", True, "UBOB01", is_approver=True, at=AT)
    assert settings.current().approvers == ("UENV01", "UBOB01")
    assert settings.get(SINGLE).own_approvers and not settings.get("TA").own_approvers
    assert ("UALICE01", "config_approvers_add", "UBOB01", "ok") in audit(database, SINGLE)
