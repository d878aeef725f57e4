"""FTBOT_APPROVERS: user ids (U…/W…) and user-group ids (S…), groups resolved through Slack."""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("ftbot.approvers")


class SlackApprovers:
    """``commands.ports.ApproverDirectory``. Group members are cached for ``ttl`` seconds; when Slack
    cannot be asked, group membership counts as *not* approved (fail closed)."""

    def __init__(self, ids: list[str], web: WebClient, ttl: float = 300) -> None:
        self._ids = list(ids)
        self._users = {i for i in ids if i[:1] in ("U", "W")}
        self._groups = [i for i in ids if i.startswith("S")]
        self._web = web
        self._ttl = ttl
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def approvers(self) -> list[str]:
        return list(self._ids)

    def is_approver(self, user_id: str) -> bool:
        if user_id in self._users:
            return True
        return any(user_id in self._group(g) for g in self._groups)

    def _group(self, group: str) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            cached = self._members.get(group)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        try:
            users = frozenset(self._web.usergroups_users_list(usergroup=group).get("users") or [])
        except SlackApiError as e:
            log.warning("could not list members of approver group %s (%s)", group, e.response.get("error"))
            return cached[1] if cached else frozenset()
        with self._lock:
            self._members[group] = (now, users)
        return users
