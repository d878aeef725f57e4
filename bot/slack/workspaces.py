"""Whose token the scheduler uses: the Web API client for a job's workspace, off any Slack request.

Single-workspace mode has one client for everything (``OneWorkspace``). OAuth mode finds the workspace's
installation and refreshes a rotating token before it expires (``bot.runtime.oauth.InstalledWorkspaces``);
a workspace that uninstalled ftbot has no client, and nothing is delivered to it."""

from __future__ import annotations

from typing import Protocol

from slack_sdk import WebClient


class Workspaces(Protocol):
    def client(self, team_id: str, enterprise_id: str | None) -> WebClient | None:
        """The client that speaks for this workspace; None when ftbot is not installed there."""
        ...


class OneWorkspace:
    """Single-workspace mode: the one bot token's client, whatever the workspace."""

    def __init__(self, web: WebClient) -> None:
        self.web = web

    def client(self, team_id: str, enterprise_id: str | None) -> WebClient | None:
        return self.web
