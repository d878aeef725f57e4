"""Who the fake Slack answers and as whom: ``auth.test``, OAuth installs (``grant`` a code, exchange it with
``oauth.v2.access`` for a workspace's bot token, rotate that token with its refresh token) and Socket
Mode's app-level token (``apps.connections.open``)."""

from __future__ import annotations

from typing import Any

from bot.demo.slack.state import SlackState

#: what ``auth.test`` answers for the bot token (an installed workspace's token adds its own ids)
AUTH_TEST = {"user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "team": "Test", "user": "ftbot"}


class Auth(SlackState):
    def _connections_open(self, auth: str) -> dict[str, Any]:
        """``apps.connections.open``: the Socket Mode URL, for the app-level token only."""
        ok = self.app_token is not None and auth == f"Bearer {self.app_token}" and self.socket_url
        return {"ok": True, "url": self.socket_url} if ok else {"ok": False, "error": "invalid_auth"}

    def grant(
        self, code: str, team: str | None, enterprise: str | None = None, rotating: bool = False
    ) -> str:
        """Make ``code`` exchangeable (``oauth.v2.access``) for an install in ``team`` (None with an
        ``enterprise``: an org-wide install); returns the bot token it will give."""
        self.codes[code] = {"team": team, "enterprise": enterprise, "rotating": rotating}
        return f"xoxb-{team or enterprise}-1"

    def _issue(self, team: str | None, enterprise: str | None, rotating: bool, n: int) -> dict[str, Any]:
        token = f"xoxb-{team or enterprise}-{n}"
        auth = {"team_id": team, "enterprise_id": enterprise, "user_id": "UBOT", "bot_id": "BBOT"}
        self.installed[token] = {"auth": auth, "team": team, "enterprise": enterprise, "n": n}
        reply: dict[str, Any] = {
            "ok": True,
            "app_id": "A1",
            "access_token": token,
            "token_type": "bot",
            "scope": "commands,chat:write",
            "bot_user_id": "UBOT",
            "authed_user": {"id": "UINSTALLER"},
            "team": {"id": team, "name": f"Team {team}"} if team else None,
            "enterprise": {"id": enterprise, "name": f"Org {enterprise}"} if enterprise else None,
            "is_enterprise_install": team is None,
        }
        if rotating:
            reply |= {"refresh_token": f"xoxe-1-{team or enterprise}-{n}", "expires_in": 43200}
            self.installed[token]["refresh"] = reply["refresh_token"]
        return reply

    def _oauth_access(self, auth: str, body: dict[str, Any]) -> dict[str, Any]:
        """``oauth.v2.access``: a code from ``grant`` (once), or a refresh token (token rotation)."""
        if not auth.startswith("Basic ") and not body.get("client_secret"):
            return {"ok": False, "error": "invalid_client_id"}
        if body.get("grant_type") == "refresh_token":
            old = [t for t, w in self.installed.items() if w.get("refresh") == body.get("refresh_token")]
            if not old:
                return {"ok": False, "error": "invalid_refresh_token"}
            was = self.installed[old[0]]
            del self.installed[old[0]]["refresh"]  # each refresh token works once
            return self._issue(was["team"], was["enterprise"], True, was["n"] + 1)
        code = self.codes.pop(str(body.get("code")), None)
        if code is None:
            return {"ok": False, "error": "invalid_code"}
        return self._issue(code["team"], code["enterprise"], code["rotating"], 1)
