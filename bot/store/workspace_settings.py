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
from typing import Literal

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
        """The settings of the request's workspace; outside a request, the environment's."""
        workspace = scope.current()
        return self.get(workspace.team_id) if workspace is not None else self._config("", None)

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
        workspace = scope.current() or scope.Workspace(actor.team_id)
        with scope.within(workspace):
            config = self.get(workspace.team_id)
            allowed = self.may_change(config, actor.user_id, is_approver)
            verb = "add" if add else "remove"
            entry = AuditEntry(
                at=at, actor=actor.user_id, action=f"config_{field}_{verb}", target=value,
                surface=actor.surface, result="ok" if allowed else "denied", channel_id=actor.channel_id,
            )  # fmt: skip
            if not allowed:
                self._audit(entry)
                raise PermissionDenied(
                    "Only this workspace's approvers can change its {what}.", what=f"{field} setting"
                )
            current = list(config.approvers if field == "approvers" else config.allowed_channels)
            updated = _changed(current, value, add)
            self._save(workspace, actor, field, updated, entry, config)
        return self.get(workspace.team_id)

    def _save(
        self,
        workspace: scope.Workspace,
        actor: Actor,
        field: Field,
        values: list[str],
        entry: AuditEntry,
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
            if field == "approvers":
                row.approvers = values
            else:
                row.allowed_channels = values
            row.installer_id = row.installer_id or installer
            row.updated_at, row.updated_by = entry.at, actor.user_id
            s.add(_stamped(entry, workspace))
        with self._lock:
            self._cache.pop(workspace.team_id, None)

    def _audit(self, entry: AuditEntry) -> None:
        workspace = scope.current()
        with self.database.session_scope() as s:
            s.add(_stamped(entry, workspace))


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
