"""Slack OAuth installations and OAuth states in ftbot's own database (OAuth mode).

slack_sdk's own ``SQLAlchemyInstallationStore`` and ``SQLAlchemyOAuthStateStore`` do the reading and
writing, on ftbot's synchronous engine and its tables (``slack_installations``, ``slack_bots``,
``slack_oauth_states``), which migration 0006 creates exactly as those classes define them (their
``create_tables`` is never called; ``tests/bot/store/test_installations.py`` checks the migrated tables
against theirs on SQLite and PostgreSQL). What ftbot adds around them:

- Bolt's async interface: the sync store, run in a worker thread (slack_sdk's async classes need an async
  engine and driver, which ftbot does not have).
- An in-process cache in front of ``find_bot`` for ``CACHE_SECONDS``: after a workspace's first request,
  Bolt's per-request authorize costs no database round trip on the ack path. Saving or deleting in this
  process drops the entries it changes; another process's change is seen within ``CACHE_SECONDS`` (a
  rotated token's predecessor stays valid until it expires).
- ``installed_teams`` (what the scheduler refreshes) and ``delete_all`` that also forgets an org's
  workspaces.
- With SLACK_STATE_SECRET, an OAuth state carries an HMAC of itself, so a forged one is refused before
  the database is asked."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.sqlalchemy_utils import normalize_datetime_for_db
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine, and_, select
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("ftbot.installations")

CACHE_SECONDS = 300.0
Key = tuple[str | None, str | None]


def workspace_key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> Key:
    """Where an install is found: an org-wide install by its enterprise alone (``team_id`` NULL)."""
    return enterprise_id, None if is_enterprise_install or team_id is None else team_id


class SqlInstallationStore(SQLAlchemyInstallationStore, AsyncInstallationStore):
    """slack_sdk's installation store on ftbot's engine, with an in-process cache in front of
    ``find_bot`` and Bolt's async interface."""

    def __init__(self, client_id: str, engine: Engine, cache_seconds: float = CACHE_SECONDS) -> None:
        super().__init__(client_id, engine, logger=log)
        self.cache_seconds = cache_seconds
        self._cache: dict[Key, tuple[float, Bot | None]] = {}
        self._lock = threading.Lock()
        self._forgotten = 0  # how many times forget ran: a read that overlapped one is not cached
        self.lookups = 0  # database reads by find_bot (what the cache saves; the benchmark reports it)

    def _cached(self, key: Key) -> tuple[float, Bot | None] | None:
        with self._lock:
            cached = self._cache.get(key)
        return cached if cached is not None and cached[0] > time.monotonic() else None

    def forget(self, enterprise_id: str | None, team_id: str | None) -> None:
        """Drop the cached answer for a workspace (for an org, ``team_id`` None: its workspaces' too)."""
        with self._lock:
            self._forgotten += 1
            for key in list(self._cache):
                same_org = team_id is None and enterprise_id is not None and key[0] == enterprise_id
                if key == (enterprise_id, team_id) or same_org:
                    del self._cache[key]

    def save_bot(self, bot: Bot) -> None:  # save() saves its bot through here too
        super().save_bot(bot)
        self.forget(bot.enterprise_id, None if bot.is_enterprise_install else bot.team_id)

    def find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        key = workspace_key(enterprise_id, team_id, is_enterprise_install)
        cached = self._cached(key)
        if cached is not None:
            return cached[1]
        with self._lock:
            expires, forgotten = time.monotonic() + self.cache_seconds, self._forgotten
        self.lookups += 1
        bot = super().find_bot(enterprise_id=key[0], team_id=key[1])
        with self._lock:
            if forgotten == self._forgotten:  # else a save or delete ran meanwhile: the read may be stale
                self._cache[key] = (expires, bot)
        return bot

    def installed_teams(self) -> list[Key]:
        """Every (enterprise, team) with a bot: what the scheduler may rotate."""
        c = self.bots.c
        stmt = select(c.enterprise_id, c.team_id).where(c.client_id == self.client_id).distinct()
        with self.engine.connect() as conn:
            return [(e, t) for e, t in conn.execute(stmt)]

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        super().delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        self.forget(enterprise_id, team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        super().delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)
        self.forget(enterprise_id, team_id)

    def delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        self.delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    # --- Bolt's async interface: the same, in a worker thread (cache hits stay on the loop) ---

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self.save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self.save_bot, bot)

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        key = workspace_key(enterprise_id, team_id, is_enterprise_install)
        cached = self._cached(key)
        if cached is not None:
            return cached[1]
        return await asyncio.to_thread(self.find_bot, enterprise_id=key[0], team_id=key[1])

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await asyncio.to_thread(
            self.find_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.delete_bot, enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await asyncio.to_thread(
            self.delete_installation, enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.delete_all, enterprise_id=enterprise_id, team_id=team_id)


class SqlOAuthStateStore(SQLAlchemyOAuthStateStore, AsyncOAuthStateStore):
    """slack_sdk's OAuth state store on ftbot's engine: each state usable once before it expires, even by
    two callbacks at the same moment (one ``DELETE``: slack_sdk's ``consume`` reads the row, then deletes
    it, so two overlapping reads both succeed). With a ``secret`` (SLACK_STATE_SECRET) the state handed out
    is ``<stored state>.<HMAC of it>``, and one whose HMAC does not match is refused without a database
    read."""

    def __init__(self, engine: Engine, expiration_seconds: int = 600, secret: str | None = None) -> None:
        super().__init__(expiration_seconds=expiration_seconds, engine=engine, logger=log)
        self._secret = secret.encode() if secret else None

    def _mac(self, stored: str) -> str:
        assert self._secret is not None
        return hmac.new(self._secret, stored.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, *args: Any, **kwargs: Any) -> str:
        stored = super().issue()
        return stored if self._secret is None else f"{stored}.{self._mac(stored)}"

    def consume(self, state: str) -> bool:
        if self._secret is not None:
            stored, _, mac = state.rpartition(".")
            if not stored or not hmac.compare_digest(self._mac(stored), mac):
                return False
            state = stored
        now = normalize_datetime_for_db(datetime.now(tz=UTC))
        c = self.oauth_states.c
        try:
            with self.engine.begin() as conn:
                done = conn.execute(
                    self.oauth_states.delete().where(and_(c.state == state, c.expire_at > now))
                )
        except SQLAlchemyError as e:
            log.warning("an OAuth state could not be consumed (%s)", type(e).__name__)
            return False
        return done.rowcount > 0

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.issue)

    async def async_consume(self, state: str) -> bool:
        return await asyncio.to_thread(self.consume, state)
