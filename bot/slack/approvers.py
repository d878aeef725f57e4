"""Who approves: a workspace's own approvers (``/finetune config approvers``), else FTBOT_APPROVERS;
user ids (U…/W…) and user-group ids (S…), groups resolved through Slack with that workspace's token."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.workspaces import OneWorkspace, Workspaces
from bot.store import scope

log = logging.getLogger("ftbot.approvers")


class SlackApprovers:
    """``commands.ports.ApproverDirectory`` for the request's workspace (``bot.store.scope``; outside a
    request: ``ids``). ``workspace_ids(team)``: that workspace's approvers, or None for the default
    ``ids``. Group members are cached for ``ttl`` seconds per workspace; when Slack cannot be asked (or
    ftbot is not installed there), group membership counts as *not* approved (fail closed)."""

    def __init__(
        self,
        ids: Sequence[str],
        web: WebClient,
        ttl: float = 300,
        *,
        workspaces: Workspaces | None = None,
        workspace_ids: Callable[[str], Sequence[str] | None] | None = None,
    ) -> None:
        self._ids = list(ids)
        self._workspaces: Workspaces = workspaces or OneWorkspace(web)
        self._workspace_ids = workspace_ids
        self._ttl = ttl
        self._members: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def approvers(self) -> list[str]:
        """The request's workspace's; without a scope (single-workspace mode), the one workspace's,
        kept under team ``""`` (``bot.store.workspace_settings.SINGLE``)."""
        workspace = scope.current()
        if self._workspace_ids is not None:
            own = self._workspace_ids(workspace.team_id if workspace is not None else "")
            if own is not None:
                return list(own)
        return list(self._ids)

    def is_approver(self, user_id: str) -> bool:
        ids = self.approvers()
        if user_id in ids and user_id[:1] in ("U", "W"):
            return True
        groups = [i for i in ids if i.startswith("S")]
        return bool(groups) and any(user_id in self._group(g) for g in groups)

    def _group(self, group: str) -> frozenset[str]:
        workspace = scope.current() or scope.Workspace("")
        key, now = (workspace.team_id, group), time.monotonic()
        with self._lock:
            cached = self._members.get(key)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        web = self._workspaces.client(workspace.team_id, workspace.enterprise_id)
        if web is None:
            log.warning("approver group %s not listed: ftbot is not installed in this workspace", group)
            return frozenset()
        try:
            users = frozenset(web.usergroups_users_list(usergroup=group).get("users") or [])
        except SlackApiError as e:
            log.warning("could not list members of approver group %s (%s)", group, e.response.get("error"))
            return cached[1] if cached else frozenset()
        with self._lock:
            self._members[key] = (now, users)
        return users
