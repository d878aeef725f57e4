"""OAuth installations and states (``bot.store.installations``) on SQLite and PostgreSQL: slack_sdk's own
SQLAlchemy stores on the tables migration 0006 creates, the in-process ``find_bot`` cache in front of
them (no query once a workspace is known), and the signed OAuth state."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import Engine, MetaData, create_engine, event, inspect, text

from bot.store.db import Database, alembic_config
from bot.store.installations import SqlInstallationStore, SqlOAuthStateStore

CLIENT = "111.222"
INSTALLED = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
EXPIRES = int(datetime(2026, 3, 1, 21, 30, tzinfo=UTC).timestamp())


def installation(
    team: str | None, enterprise: str | None = None, token: str = "xoxb-1", **kw: Any
) -> Installation:
    return Installation(
        app_id="A1", enterprise_id=enterprise, team_id=team, user_id="UINSTALLER1", bot_token=token,
        bot_id="B1", bot_user_id="UBOT", bot_scopes="commands,chat:write", bot_refresh_token="xoxe-1",
        bot_token_expires_at=EXPIRES, is_enterprise_install=team is None, installed_at=INSTALLED, **kw,
    )  # fmt: skip


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine runs inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def store(database: Database) -> SqlInstallationStore:
    return SqlInstallationStore(CLIENT, database.engine)


def unmigrated(database: Database, metadata: MetaData) -> list[Any]:
    """What the migrated database lacks or has otherwise than ``metadata``'s tables (the others ignored)."""
    names = set(metadata.tables)
    only = {"include_name": lambda name, kind, _: kind != "table" or name in names}
    with database.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts=only), metadata))


def test_the_migrated_tables_are_exactly_slack_sdks(database: Database) -> None:
    """Columns, types, nullability and indexes, as slack_sdk's classes build their own tables."""
    installations = SqlInstallationStore(CLIENT, database.engine).metadata
    states = SqlOAuthStateStore(database.engine).metadata
    assert set(installations.tables) == {"slack_bots", "slack_installations"}
    assert set(states.tables) == {"slack_oauth_states"}
    assert unmigrated(database, installations) == []
    assert unmigrated(database, states) == []


def test_the_upgrade_keeps_only_the_newest_bot_row_of_each_install(db_url: str) -> None:
    """Rows ftbot wrote before (a rotation added a row with the same installed_at): slack_sdk's store
    then finds the rotated token, never the one it replaced."""
    database = Database(db_url)
    cfg = alembic_config(database.engine)
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0010_evaluation_checkpoints")
    at, later = INSTALLED.replace(tzinfo=None), INSTALLED.replace(tzinfo=None, second=59)
    rows = [  # (client, enterprise, team, installed_at, token), in the order they were written
        (CLIENT, None, "TA", at, "xoxb-a1"), (CLIENT, None, "TA", at, "xoxb-a2"),
        (CLIENT, "E1", None, at, "xoxb-org1"), (CLIENT, "E1", None, at, "xoxb-org2"),
        (CLIENT, None, "TA", later, "xoxb-reinstalled"), ("999.888", None, "TA", at, "xoxb-other-app"),
    ]  # fmt: skip
    with database.engine.begin() as conn:
        for client, enterprise, team, installed, token in rows:
            conn.execute(
                text(
                    "INSERT INTO slack_bots (client_id, app_id, enterprise_id, team_id, bot_token, bot_id,"
                    " bot_user_id, is_enterprise_install, installed_at) VALUES (:c, 'A1', :e, :t, :token,"
                    " 'B1', 'UBOT', :org, :at)"
                ),
                {
                    "c": client,
                    "e": enterprise,
                    "t": team,
                    "token": token,
                    "org": team is None,
                    "at": installed,
                },
            )
    database.migrate()
    with database.engine.connect() as conn:
        left = conn.execute(text("SELECT bot_token FROM slack_bots ORDER BY id")).scalars().all()
    assert left == ["xoxb-a2", "xoxb-org2", "xoxb-reinstalled", "xoxb-other-app"]
    store = SqlInstallationStore(CLIENT, database.engine)
    org = store.find_bot(enterprise_id="E1", team_id=None, is_enterprise_install=True)
    assert org is not None and org.bot_token == "xoxb-org2"
    database.dispose()


def test_constructing_the_stores_creates_no_table(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    SqlInstallationStore(CLIENT, engine).find_bot  # noqa: B018
    SqlOAuthStateStore(engine, secret="s")
    assert inspect(engine).get_table_names() == []
    engine.dispose()


def test_a_workspace_install_is_saved_and_found_with_its_times_intact(store: SqlInstallationStore) -> None:
    store.save(installation("TA", "E1", enterprise_name="Org"))
    bot = store.find_bot(enterprise_id="E1", team_id="TA")
    assert bot is not None and (bot.bot_token, bot.team_id, bot.enterprise_id) == ("xoxb-1", "TA", "E1")
    assert bot.bot_token_expires_at == EXPIRES and bot.installed_at == INSTALLED.timestamp()
    assert bot.bot_scopes == ["commands", "chat:write"] and not bot.is_enterprise_install
    found = store.find_installation(enterprise_id="E1", team_id="TA")
    assert found is not None and found.user_id == "UINSTALLER1" and found.enterprise_name == "Org"
    assert store.find_bot(enterprise_id="E1", team_id="TB") is None
    assert store.find_bot(enterprise_id=None, team_id="TA") is None  # another workspace's key
    assert store.installed_teams() == [("E1", "TA")]


def test_an_org_install_is_found_by_its_enterprise_and_deleted_with_its_workspaces_forgotten(
    store: SqlInstallationStore,
) -> None:
    store.save(installation(None, "E1", token="xoxb-org"))
    for team in ("TA", "TB"):  # each workspace of the org falls back to the org's install
        assert store.find_bot(enterprise_id="E1", team_id=team) is None
        org = store.find_bot(enterprise_id="E1", team_id=team, is_enterprise_install=True)
        assert org is not None and org.bot_token == "xoxb-org" and org.is_enterprise_install
    store.delete_all(enterprise_id="E1", team_id=None)
    assert store.find_bot(enterprise_id="E1", team_id="TA", is_enterprise_install=True) is None
    assert store.find_installation(enterprise_id="E1", team_id=None, is_enterprise_install=True) is None
    assert store.installed_teams() == []


def test_a_rotated_token_replaces_the_old_one_at_once(store: SqlInstallationStore) -> None:
    store.save(installation("TA"))
    bot = store.find_bot(enterprise_id=None, team_id="TA")
    assert bot is not None
    rotated = type(bot)(**bot.to_dict_for_copying())
    rotated.bot_token, rotated.bot_token_expires_at = "xoxb-2", EXPIRES + 43200
    store.save_bot(rotated)  # what the scheduler and Bolt do after a refresh
    again = store.find_bot(enterprise_id=None, team_id="TA")
    assert again is not None and (again.bot_token, again.bot_token_expires_at) == ("xoxb-2", EXPIRES + 43200)
    with store.engine.connect() as conn:  # the same install's row, updated: no second bot
        assert conn.execute(text("SELECT count(*) FROM slack_bots")).scalar() == 1


async def test_a_known_workspace_costs_no_query_sync_or_async(store: SqlInstallationStore) -> None:
    store.save(installation("TA"))
    assert (await store.async_find_bot(enterprise_id=None, team_id="TA")) is not None
    assert store.find_bot(enterprise_id=None, team_id="TZ") is None  # not installed: remembered too
    lookups = store.lookups
    with statements(store.engine) as seen:
        for _ in range(3):
            bot = await store.async_find_bot(enterprise_id=None, team_id="TA")
            assert bot is not None and bot.bot_token == "xoxb-1"
            assert store.find_bot(enterprise_id=None, team_id="TZ") is None
    assert seen == [] and store.lookups == lookups


def test_another_processs_change_is_seen_once_the_cache_expires(database: Database) -> None:
    store = SqlInstallationStore(CLIENT, database.engine, cache_seconds=0.2)
    other = SqlInstallationStore(CLIENT, database.engine)  # the scheduler process
    store.save(installation("TA"))
    assert store.find_bot(enterprise_id=None, team_id="TA") is not None
    other.delete_all(enterprise_id=None, team_id="TA")
    assert store.find_bot(enterprise_id=None, team_id="TA") is not None  # cached, no query
    time.sleep(0.25)
    assert store.find_bot(enterprise_id=None, team_id="TA") is None


def test_a_read_that_overlaps_a_save_is_not_cached(store: SqlInstallationStore) -> None:
    """A save or delete that lands while find_bot reads must not leave the read's answer cached."""
    store.save(installation("TA"))

    landed: list[bool] = []

    def rotate_meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not landed and statement.lstrip().upper().startswith("SELECT") and "slack_bots" in statement:
            landed.append(True)
            store.forget(None, "TA")

    event.listen(store.engine, "before_cursor_execute", rotate_meanwhile)
    assert store.find_bot(enterprise_id=None, team_id="TA") is not None
    lookups = store.lookups
    store.find_bot(enterprise_id=None, team_id="TA")
    assert store.lookups == lookups + 1


async def test_uninstall_deletes_the_install_and_its_cached_token(store: SqlInstallationStore) -> None:
    store.save(installation("TA"))
    store.save(installation("TB", token="xoxb-b"))
    assert await store.async_find_bot(enterprise_id=None, team_id="TA") is not None
    await store.async_delete_all(enterprise_id=None, team_id="TA")
    assert await store.async_find_bot(enterprise_id=None, team_id="TA") is None
    assert await store.async_find_installation(enterprise_id=None, team_id="TA") is None
    kept = await store.async_find_bot(enterprise_id=None, team_id="TB")
    assert kept is not None and kept.bot_token == "xoxb-b"


async def test_a_signed_state_works_once_and_a_forged_one_costs_no_query(database: Database) -> None:
    states = SqlOAuthStateStore(database.engine, secret="state-secret")
    state = await states.async_issue()
    stored, _, mac = state.rpartition(".")
    assert stored and len(mac) == 32
    with statements(database.engine) as seen:
        assert not await states.async_consume(f"{stored}.{'0' * 32}")
        assert not await states.async_consume(stored)  # unsigned
        assert not SqlOAuthStateStore(database.engine, secret="other").consume(state)
    assert seen == []
    assert await states.async_consume(state)
    assert not await states.async_consume(state)  # once


def test_an_unsigned_state_and_an_expired_one(database: Database) -> None:
    plain = SqlOAuthStateStore(database.engine)
    state = plain.issue()
    assert "." not in state and plain.consume(state) and not plain.consume(state)
    expired = SqlOAuthStateStore(database.engine, expiration_seconds=-1, secret="s")
    assert not expired.consume(expired.issue())


def test_two_callbacks_with_the_same_state_at_once_only_one_installs(database: Database) -> None:
    """The second consume runs while the first is between its statements (its transaction open): with
    slack_sdk's read-then-delete both returned True on PostgreSQL; one DELETE leaves one winner."""
    states = SqlOAuthStateStore(database.engine, secret="s")
    state = states.issue()
    results: list[bool] = []
    other = threading.Thread(target=lambda: results.append(states.consume(state)))
    started = False

    def meanwhile(*_: object) -> None:
        nonlocal started
        if not started and threading.current_thread() is not other:
            started = True
            other.start()
            other.join(timeout=1.0)  # it may wait on our row lock: let it, then go on

    event.listen(database.engine, "after_cursor_execute", meanwhile)
    try:
        first = states.consume(state)
    finally:
        event.remove(database.engine, "after_cursor_execute", meanwhile)
    other.join(timeout=10)
    assert started and not other.is_alive()
    assert sorted([first, *results]) == [False, True]
