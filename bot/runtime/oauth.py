"""OAuth mode: one ftbot serving many workspaces and Enterprise Grid orgs through Slack's OAuth install.

- **Install**: Bolt's ``AsyncOAuthFlow`` serves ``/slack/install`` (state cookie) and
  ``/slack/oauth_redirect`` (``oauth.v2.access``, then the installation is saved), with the
  installations and states in ftbot's own database (``bot.store.installations``).
- **Each request**: Bolt's ``AsyncInstallationStoreAuthorize`` with its cache on, bot-only, in front of the
  store's in-process cache: after a workspace's first request, no store read and no ``auth.test`` on the
  ack path. An org-wide install (``is_enterprise_install``) is found by its enterprise id alone.
- **The scheduler** (no incoming request): ``InstalledWorkspaces`` finds a job's workspace token and
  refreshes a rotating one (``TokenRotator``) before it expires, earlier than Bolt would on a request, so
  the two processes do not both spend the same refresh token."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.token_rotation import TokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.settings import Settings
from bot.store.installations import SqlInstallationStore, SqlOAuthStateStore

log = logging.getLogger("ftbot.oauth")

#: Bolt refreshes a token on a request when it expires within this; the scheduler starts earlier
REQUEST_ROTATION_MINUTES = 120
SCHEDULER_ROTATION_MINUTES = 180


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def bolt_oauth(
    settings: Settings, installations: SqlInstallationStore, scopes: Sequence[str]
) -> tuple[AsyncOAuthSettings, AsyncInstallationStoreAuthorize]:
    """Bolt's OAuth settings (install and redirect routes, ftbot's stores) and per-request authorize."""
    assert settings.slack_client_id and settings.slack_client_secret, "OAuth mode needs both"
    client_secret = settings.slack_client_secret.get_secret_value()
    states = SqlOAuthStateStore(installations.engine, secret=_secret(settings.slack_state_secret))
    oauth = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=client_secret,
        scopes=list(scopes),
        installation_store=installations,
        installation_store_bot_only=True,
        state_store=states,
        token_rotation_expiration_minutes=REQUEST_ROTATION_MINUTES,
    )
    authorize = AsyncInstallationStoreAuthorize(
        logger=logging.getLogger("ftbot.authorize"),
        installation_store=installations,
        client_id=settings.slack_client_id,
        client_secret=client_secret,
        token_rotation_expiration_minutes=REQUEST_ROTATION_MINUTES,
        bot_only=True,
        cache_enabled=True,  # auth.test once per token, not once per request
        client=AsyncWebClient(base_url=settings.slack_api_url, timeout=10),
    )
    return oauth, authorize


class InstalledWorkspaces:
    """``bot.slack.workspaces.Workspaces`` in OAuth mode: each workspace's client, its token refreshed
    before it expires. A workspace that is not installed (any more) has no client."""

    def __init__(
        self,
        installations: SqlInstallationStore,
        rotator: TokenRotator,
        make_client: Callable[[str], WebClient],
        minutes_before_expiration: int = SCHEDULER_ROTATION_MINUTES,
    ) -> None:
        self.installations, self.rotator, self.make_client = installations, rotator, make_client
        self.minutes = minutes_before_expiration
        self._clients: dict[str, WebClient] = {}
        self._lock = threading.Lock()
        self.rotations = 0

    def client(self, team_id: str, enterprise_id: str | None) -> WebClient | None:
        bot = self._bot(team_id, enterprise_id)
        if bot is None:
            return None
        bot = self._fresh(bot)
        if bot is None:
            return None
        with self._lock:
            client = self._clients.get(bot.bot_token)
            if client is None:  # a new token: the old token's client goes
                self._clients = {k: v for k, v in self._clients.items() if k != bot.bot_token}
                client = self._clients[bot.bot_token] = self.make_client(bot.bot_token)
        return client

    def _bot(self, team_id: str, enterprise_id: str | None) -> Bot | None:
        """The workspace's own install, else its org's org-wide install."""
        bot = self.installations.find_bot(enterprise_id=enterprise_id, team_id=team_id or None)
        if bot is None and enterprise_id:
            bot = self.installations.find_bot(
                enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True
            )
        return bot

    def _fresh(self, bot: Bot) -> Bot | None:
        """``bot`` with a token that does not expire within ``minutes`` (refreshed and saved if needed)."""
        if bot.bot_refresh_token is None:
            return bot
        try:
            rotated = self.rotator.perform_bot_token_rotation(bot=bot, minutes_before_expiration=self.minutes)
        except (SlackTokenRotationError, SlackApiError) as e:
            log.warning("token of workspace %s not refreshed (%s)", bot.team_id or bot.enterprise_id, _why(e))
            return bot  # still valid until it expires; the next tick tries again
        if rotated is None:
            return bot
        self.installations.save_bot(rotated)
        self.rotations += 1
        log.info("token of workspace %s refreshed", bot.team_id or bot.enterprise_id)
        return rotated

    def refresh_all(self) -> int:
        """Refresh every installed workspace's token that expires soon (a scheduled job); how many."""
        before = self.rotations
        for enterprise_id, team_id in self.installations.installed_teams():
            bot = self.installations.find_bot(enterprise_id=enterprise_id, team_id=team_id)
            if bot is not None:
                self._fresh(bot)
        return self.rotations - before


def _why(e: Exception) -> str:
    """The error's name, never its text (which could echo a token)."""
    if isinstance(e, SlackApiError):
        return str(e.response.get("error") or "error")
    return type(e).__name__
