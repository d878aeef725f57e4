"""Each workspace's own approvers and allowed channels (the ``workspace_settings`` table).

A workspace without its own list uses the environment's (FTBOT_APPROVERS, FTBOT_ALLOWED_CHANNELS): a
single-workspace install keeps working exactly as configured. ``/finetune config`` and App Home change a
workspace's lists; only its approvers may, or, while it has no approvers of its own, the user who installed
ftbot there. Every change (and every refusal) is written to the audit log under that workspace, in the
same transaction as the change.

Reads are cached in process for ``CACHE_SECONDS`` (the approver and channel checks run on every request);
a change made in this process is seen at once, one made by another replica within ``CACHE_SECONDS``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

from bot.store import scope
from bot.store.db import Database
from bot.store.rows import audit_row
from bot.store.tables import AuditRow, WorkspaceSettingsRow
from commands.errors import InvalidInput, PermissionDenied
from commands.records import Actor, AuditEntry

CACHE_SECONDS = 30.0
#: the most ids one list holds (App Home shows them all; a Home tab holds 100 blocks)
MAX_IDS = 50

Field = Literal["approvers", "channels"]
#: the team under which single-workspace mode keeps its settings: its requests carry no scope, and its
#: other rows (jobs, audit) are kept under ``""`` too
SINGLE = ""


class Change(NamedTuple):
    """One value added to (or removed from) one of a workspace's lists."""

    field: Field
    add: bool
    value: str


class Refused(NamedTuple):
    """How a refused change is audited (``action``, ``target``) and named to the user (``what``)."""

    action: str
    target: str
    what: str


@dataclass(frozen=True)
class WorkspaceConfig:
    """One workspace's effective settings. ``own_*``: whether the list is the workspace's own (False:
    the environment's default)."""

    team_id: str
    approvers: tuple[str, ...]
    allowed_channels: tuple[str, ...]
    own_approvers: bool = False
    own_channels: bool = False
    installer_id: str | None = None


class WorkspaceSettings:
    """Read and change workspace settings. ``installer_of(team, enterprise)``: who installed ftbot in that
    workspace (OAuth mode's installation store); None in single-workspace mode."""

    def __init__(
        self,
        database: Database,
        default_approvers: Sequence[str],
        default_channels: Sequence[str],
        installer_of: Callable[[str, str | None], str | None] | None = None,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.database = database
        self.default_approvers, self.default_channels = tuple(default_approvers), tuple(default_channels)
        self.installer_of = installer_of
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, WorkspaceConfig]] = {}
        self._lock = threading.Lock()

    def get(self, team_id: str) -> WorkspaceConfig:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(team_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.database.session_scope() as s:
            row = s.get(WorkspaceSettingsRow, team_id)
            config = self._config(team_id, row)
        with self._lock:
            self._cache[team_id] = (now + self.cache_seconds, config)
        return config

    def current(self) -> WorkspaceConfig:
        """The settings of the request's workspace. Without a scope (single-workspace mode, where
        requests are not scoped, and the scheduler) the one workspace's, kept under team ``""``."""
        workspace = scope.current()
        return self.get(workspace.team_id if workspace is not None else SINGLE)

    def _config(self, team_id: str, row: WorkspaceSettingsRow | None) -> WorkspaceConfig:
        approvers = row.approvers if row is not None else None
        channels = row.allowed_channels if row is not None else None
        return WorkspaceConfig(
            team_id=team_id,
            approvers=tuple(approvers) if approvers is not None else self.default_approvers,
            allowed_channels=tuple(channels) if channels is not None else self.default_channels,
            own_approvers=approvers is not None,
            own_channels=channels is not None,
            installer_id=row.installer_id if row is not None else None,
        )

    def may_change(self, config: WorkspaceConfig, user_id: str, is_approver: bool) -> bool:
        """Approvers may; while the workspace has no approvers, the user who installed ftbot there."""
        if is_approver:
            return True
        if config.approvers:
            return False
        workspace = scope.current()
        installer = config.installer_id
        if installer is None and workspace is not None and self.installer_of is not None:
            installer = self.installer_of(workspace.team_id, workspace.enterprise_id)
        return installer is not None and installer == user_id

    def change(
        self, actor: Actor, field: Field, add: bool, value: str, *, is_approver: bool, at: datetime
    ) -> WorkspaceConfig:
        """Add ``value`` to (or remove it from) the current workspace's list, audited. Raises
        ``PermissionDenied`` (audited too) for anyone who may not."""
        verb = "add" if add else "remove"
        refused = Refused(f"config_{field}_{verb}", value, f"{field} setting")
        one = [Change(field, add, value)]
        return self.apply(actor, lambda _: one, refused, is_approver=is_approver, at=at)

    def apply(
        self,
        actor: Actor,
        plan: Callable[[WorkspaceConfig], Sequence[Change]],
        refused: Refused,
        *,
        is_approver: bool,
        at: datetime,
    ) -> WorkspaceConfig:
        """Make the changes ``plan`` asks for, given the current settings, in one transaction with one
        audit row each (none asked: nothing is written). Only who ``may_change``: anyone else gets
        ``PermissionDenied``, audited as ``refused`` says, before ``plan`` runs. ``plan`` and each change
        may raise ``InvalidInput``; then nothing is written."""
        workspace = scope.current() or scope.Workspace(SINGLE)
        with scope.within(workspace):
            config = self.get(workspace.team_id)
            if not self.may_change(config, actor.user_id, is_approver):
                self._audit(_entry(actor, at, refused.action, refused.target, "denied"))
                raise PermissionDenied(
                    "Only this workspace's approvers can change its {what}.", what=refused.what
                )
            lists: dict[Field, list[str]] = {
                "approvers": list(config.approvers), "channels": list(config.allowed_channels)
            }  # fmt: skip
            changes = list(plan(config))
            for c in changes:
                lists[c.field] = _changed(lists[c.field], c.value, c.add)
            if changes:
                entries = [
                    _entry(actor, at, f"config_{c.field}_{'add' if c.add else 'remove'}", c.value, "ok")
                    for c in changes
                ]
                touched = {c.field: lists[c.field] for c in changes}
                self._save(workspace, actor, touched, entries, config)
        return self.get(workspace.team_id)

    def _save(
        self,
        workspace: scope.Workspace,
        actor: Actor,
        lists: dict[Field, list[str]],
        entries: list[AuditEntry],
        config: WorkspaceConfig,
    ) -> None:
        installer = config.installer_id
        if installer is None and self.installer_of is not None:
            installer = self.installer_of(workspace.team_id, workspace.enterprise_id)
        with self.database.session_scope() as s:
            row = s.get(WorkspaceSettingsRow, workspace.team_id)
            if row is None:
                row = WorkspaceSettingsRow(team_id=workspace.team_id, enterprise_id=workspace.enterprise_id)
                s.add(row)
            if "approvers" in lists:
                row.approvers = lists["approvers"]
            if "channels" in lists:
                row.allowed_channels = lists["channels"]
            row.installer_id = row.installer_id or installer
            row.updated_at, row.updated_by = entries[0].at, actor.user_id
            s.add_all([_stamped(entry, workspace) for entry in entries])
        with self._lock:
            self._cache.pop(workspace.team_id, None)

    def _audit(self, entry: AuditEntry) -> None:  # a refusal, in a transaction of its own
        workspace = scope.current()
        with self.database.session_scope() as s:
            s.add(_stamped(entry, workspace))


def _entry(actor: Actor, at: datetime, action: str, target: str, result: str) -> AuditEntry:
    return AuditEntry(
        at=at, actor=actor.user_id, action=action, target=target, surface=actor.surface, result=result,
        channel_id=actor.channel_id,
    )  # fmt: skip


def _stamped(entry: AuditEntry, workspace: scope.Workspace | None) -> AuditRow:
    row = audit_row(entry)
    if workspace is not None:
        row.team_id, row.enterprise_id = workspace.team_id, workspace.enterprise_id
    return row


def _changed(current: list[str], value: str, add: bool) -> list[str]:
    if add:
        if value in current:
            return current
        if len(current) >= MAX_IDS:
            raise InvalidInput(f"A list holds at most {MAX_IDS} entries; remove one first.")
        return [*current, value]
    if value not in current:
        raise InvalidInput("{value} is not in the list, so there is nothing to remove.", value=value)
    return [v for v in current if v != value]
