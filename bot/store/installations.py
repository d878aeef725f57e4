"""Slack OAuth installations and OAuth states in ftbot's own database (OAuth mode).

The tables are slack_sdk's SQLAlchemy stores' (``slack_installations``, ``slack_bots``,
``slack_oauth_states``; created by migration 0006, see ``bot/store/tables.py``), read and written the
way ``SQLAlchemyInstallationStore`` and ``SQLAlchemyOAuthStateStore`` do. They are reimplemented here on
ftbot's synchronous engine because slack_sdk's module imports ``sqlalchemy.ext.asyncio``, which needs
``greenlet`` (not a dependency of ftbot); the rows stay readable by slack_sdk's own classes.

Both stores offer the sync interface (the scheduler process) and the async one (Bolt), the latter run in
a worker thread. ``find_bot`` answers from an in-process cache for ``CACHE_SECONDS``: after a
workspace's first request, Bolt's per-request authorize costs no database round trip on the ack path.
Saving or deleting in this process drops the entries it changes; another process's change is seen
within ``CACHE_SECONDS`` (a rotated token's predecessor stays valid until it expires)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.installation_store import InstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.state_store import OAuthStateStore
from sqlalchemy import ColumnElement, Engine, Table, and_, delete, desc, insert, select

from bot.store.tables import slack_bots, slack_installations, slack_oauth_states

log = logging.getLogger("ftbot.installations")

CACHE_SECONDS = 300.0
BOT_FIELDS = tuple(c.name for c in slack_bots.columns if c.name not in ("id", "client_id"))
INSTALLATION_FIELDS = tuple(c.name for c in slack_installations.columns if c.name not in ("id", "client_id"))
Key = tuple[str | None, str | None]


def _naive(value: Any) -> Any:
    """A datetime as slack_sdk's tables hold it: naive UTC."""
    return (
        value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) and value.tzinfo else value
    )


def _aware(row: Mapping[Any, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """A row's values, its naive UTC datetimes made aware (slack_sdk's models read naive ones as local)."""
    return {f: row[f].replace(tzinfo=UTC) if isinstance(row[f], datetime) else row[f] for f in fields}


def workspace_key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> Key:
    """Where an install is found: an org-wide install by its enterprise alone (``team_id`` NULL)."""
    return enterprise_id, None if is_enterprise_install or team_id is None else team_id


class SqlInstallationStore(InstallationStore, AsyncInstallationStore):
    """Bolt's installation store on ftbot's engine, with an in-process cache in front of ``find_bot``."""

    def __init__(self, client_id: str, engine: Engine, cache_seconds: float = CACHE_SECONDS) -> None:
        self.client_id, self.engine, self.cache_seconds = client_id, engine, cache_seconds
        self._cache: dict[Key, tuple[float, Bot | None]] = {}
        self._lock = threading.Lock()
        self.lookups = 0  # database reads by find_bot (what the cache saves; the benchmark reports it)

    @property
    def logger(self) -> logging.Logger:
        return log

    def _mine(self, table: Table, key: Key) -> ColumnElement[bool]:
        c = table.c
        return and_(c.client_id == self.client_id, c.enterprise_id == key[0], c.team_id == key[1])

    def forget(self, enterprise_id: str | None, team_id: str | None) -> None:
        """Drop the cached answer for a workspace (for an org, ``team_id`` None: its workspaces' too)."""
        with self._lock:
            for key in list(self._cache):
                same_org = team_id is None and enterprise_id is not None and key[0] == enterprise_id
                if key == (enterprise_id, team_id) or same_org:
                    del self._cache[key]

    # --- saving ---

    def save(self, installation: Installation) -> None:
        values = {k: _naive(v) for k, v in installation.to_dict().items() if k in INSTALLATION_FIELDS}
        with self.engine.begin() as conn:
            conn.execute(insert(slack_installations).values(client_id=self.client_id, **values))
        self.save_bot(installation.to_bot())

    def save_bot(self, bot: Bot) -> None:
        values = {k: _naive(v) for k, v in bot.to_dict().items() if k in BOT_FIELDS}
        with self.engine.begin() as conn:
            conn.execute(insert(slack_bots).values(client_id=self.client_id, **values))
        self.forget(bot.enterprise_id, bot.team_id)

    # --- finding ---

    def find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        key = workspace_key(enterprise_id, team_id, is_enterprise_install)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        bot = self._read_bot(key)
        with self._lock:
            self._cache[key] = (now + self.cache_seconds, bot)
        return bot

    def _read_bot(self, key: Key) -> Bot | None:
        self.lookups += 1
        c = slack_bots.c
        stmt = (
            select(slack_bots)
            .where(self._mine(slack_bots, key), c.bot_token.is_not(None))
            .order_by(desc(c.installed_at), desc(c.id))
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return Bot(**_aware(row, BOT_FIELDS)) if row else None

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        key = workspace_key(enterprise_id, team_id, is_enterprise_install)
        where = self._mine(slack_installations, key)
        if user_id is not None:
            where = and_(where, slack_installations.c.user_id == user_id)
        c = slack_installations.c
        stmt = select(slack_installations).where(where).order_by(desc(c.installed_at), desc(c.id)).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            return None
        installation = Installation(**_aware(row, INSTALLATION_FIELDS))
        bot = self.find_bot(enterprise_id=key[0], team_id=key[1])
        if bot is not None:  # the latest (maybe rotated) bot token, as slack_sdk's store does
            installation.bot_token, installation.bot_refresh_token = bot.bot_token, bot.bot_refresh_token
            installation.bot_token_expires_at = bot.bot_token_expires_at
        return installation

    def installed_teams(self) -> list[Key]:
        """Every (enterprise, team) with a bot token: what the scheduler may rotate."""
        c = slack_bots.c
        stmt = select(c.enterprise_id, c.team_id).where(c.client_id == self.client_id).distinct()
        with self.engine.connect() as conn:
            return [(e, t) for e, t in conn.execute(stmt)]

    # --- deleting ---

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(slack_bots).where(self._mine(slack_bots, (enterprise_id, team_id))))
        self.forget(enterprise_id, team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        where = self._mine(slack_installations, (enterprise_id, team_id))
        if user_id is not None:
            where = and_(where, slack_installations.c.user_id == user_id)
        with self.engine.begin() as conn:
            conn.execute(delete(slack_installations).where(where))
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
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
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


class SqlOAuthStateStore(OAuthStateStore, AsyncOAuthStateStore):
    """OAuth ``state`` values, each usable once before it expires. With a ``secret`` (SLACK_STATE_SECRET)
    a state also carries an HMAC of itself, so a forged one is refused before the database is asked."""

    def __init__(self, engine: Engine, expiration_seconds: int = 600, secret: str | None = None) -> None:
        self.engine, self.expiration_seconds = engine, expiration_seconds
        self._secret = secret.encode() if secret else None

    @property
    def logger(self) -> logging.Logger:
        return log

    def _sign(self, nonce: str) -> str:
        if self._secret is None:
            return nonce
        return f"{nonce}.{hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()[:32]}"

    def issue(self, *args: Any, **kwargs: Any) -> str:
        state = self._sign(secrets.token_urlsafe(24))
        expire_at = datetime.now(UTC) + timedelta(seconds=self.expiration_seconds)
        with self.engine.begin() as conn:
            conn.execute(insert(slack_oauth_states).values(state=state, expire_at=_naive(expire_at)))
        return state

    def consume(self, state: str) -> bool:
        if self._secret is not None and not hmac.compare_digest(self._sign(state.split(".")[0]), state):
            return False
        c = slack_oauth_states.c
        now = _naive(datetime.now(UTC))
        with self.engine.begin() as conn:
            found = conn.execute(delete(slack_oauth_states).where(c.state == state, c.expire_at > now))
            return bool(found.rowcount)

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.issue)

    async def async_consume(self, state: str) -> bool:
        return await asyncio.to_thread(self.consume, state)
