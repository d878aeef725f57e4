"""OAuth mode's per-request plumbing: each request's queries are scoped to its workspace, and an
uninstall (or a revoked bot token) deletes the workspace's installation, which stops all delivery there.

Jobs, endpoints, cards and the audit log of that workspace stay in the store: a job that is still running
keeps being polled, and its card simply stops updating until ftbot is installed again. Each uninstall is
written to the audit log, under the workspace (or org) it concerns."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.listeners.common import off_loop
from bot.listeners.inbound import Envelope
from bot.listeners.inbound.boundary import ENVELOPE
from bot.store import scope
from bot.store.installations import SqlInstallationStore
from commands.ports import Clock, Store
from commands.records import AuditEntry, Surface

log = logging.getLogger("ftbot.workspaces")


def workspace_of(context: AsyncBoltContext) -> scope.Workspace:
    """The request's workspace: the typed envelope's team when it has one, else what Bolt read. A
    request that names none is scoped to the empty team, which owns nothing."""
    envelope = context.get(ENVELOPE)
    team = envelope.team_id if isinstance(envelope, Envelope) and envelope.team_id else context.team_id
    enterprise = envelope.enterprise_id if isinstance(envelope, Envelope) else None
    return scope.Workspace(team or "", enterprise or context.enterprise_id)


def scoped(context: AsyncBoltContext) -> AbstractContextManager[None]:
    """Everything a request's listener does (its worker threads and tasks included) sees only its
    workspace. Entered around Bolt's dispatch (``BoundaryApp.scope``): Bolt's middleware ``next`` only
    marks the chain as continued, so a middleware cannot hold a scope around the listener."""
    return scope.within(workspace_of(context))


class _Audit:
    """An uninstall in the audit log: actor ``slack`` (Slack's event names no user), surface scheduler
    (no person's surface); the detail names the event."""

    def __init__(self, store: Store | None, clock: Clock | None) -> None:
        self.store, self.clock = store, clock

    def __call__(self, event: str, team: str | None, enterprise: str | None, detail: str) -> None:
        if self.store is None or self.clock is None:
            return
        entry = AuditEntry(
            at=self.clock.now(), actor="slack", action="uninstall", target=team or enterprise or "",
            surface=Surface.SCHEDULER, result="ok", detail=f"{event}: {detail}",
        )  # fmt: skip
        with scope.within(scope.Workspace(team or "", enterprise)), self.store.transaction() as tx:
            tx.audit(entry)


def register(
    app: AsyncApp, installations: SqlInstallationStore, store: Store | None = None, clock: Clock | None = None
) -> None:
    audit = _Audit(store, clock)

    async def uninstalled(context: AsyncBoltContext) -> None:
        enterprise, org = context.enterprise_id, bool(context.is_enterprise_install)
        team = None if org else context.team_id
        await installations.async_delete_all(enterprise_id=enterprise, team_id=team)
        await off_loop(audit, "app_uninstalled", team, enterprise, "installation deleted, delivery stopped")
        log.info(
            "ftbot uninstalled from %s: installation deleted, delivery there stopped", team or enterprise
        )

    async def revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
        tokens = event.get("tokens") or {}
        enterprise, org = context.enterprise_id, bool(context.is_enterprise_install)
        team = None if org else context.team_id
        for user in tokens.get("oauth") or ():
            await installations.async_delete_installation(
                enterprise_id=enterprise, team_id=team, user_id=user
            )
        if tokens.get("bot"):  # ftbot works with its bot token only: without it, it is not installed
            await installations.async_delete_all(enterprise_id=enterprise, team_id=team)
            await off_loop(
                audit, "tokens_revoked", team, enterprise, "bot token revoked, installation deleted"
            )
            log.info(
                "bot token of %s revoked: installation deleted, delivery there stopped", team or enterprise
            )

    async def left_workspaces(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        """An org install left workspaces (``app_uninstalled_team``: one; ``team_access_revoked``: its
        ``team_ids``). The org's own install stays (it serves the org's other workspaces); an install made
        in that workspace itself goes, and the workspace's cached token with it."""
        enterprise = context.enterprise_id
        kind = str(event.get("type") or "app_uninstalled_team")
        teams = [str(t) for t in event.get("team_ids") or () if t] or [
            t for t in (event.get("team_id"), body.get("team_id"), context.team_id) if t and t != enterprise
        ][:1]
        for team in teams:
            await installations.async_delete_all(enterprise_id=enterprise, team_id=team)
            await off_loop(audit, kind, team, enterprise, "ftbot left this workspace of the org")
            log.info("ftbot left workspace %s of org %s (%s)", team, enterprise, kind)

    app.event("app_uninstalled")(uninstalled)
    app.event("tokens_revoked")(revoked)
    app.event("app_uninstalled_team")(left_workspaces)
    app.event("team_access_revoked")(left_workspaces)
