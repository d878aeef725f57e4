"""Check 8: the database answers and its schema is at Alembic's head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from bot.doctor.probe import Probe
from bot.doctor.store_check import check_store
from bot.store.db import Database, alembic_config
from commands.doctor import Status
from tests.bot.doctor.conftest import settings_for


def test_a_migrated_store_passes(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    Database(settings.resolved_database_url).migrate()
    check = check_store(Probe.from_settings(settings))
    assert check.status is Status.PASS and "schema at the latest migration" in check.detail


def test_an_old_schema_fails_with_the_migrate_fix(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    db = Database(settings.resolved_database_url)
    cfg = alembic_config(db.engine)
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    assert head is not None
    revision = script.get_revision(head)
    assert revision is not None
    previous = revision.down_revision
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, str(previous))
    db.dispose()
    check = check_store(Probe.from_settings(settings))
    assert check.status is Status.FAIL
    assert f"schema is at {previous}; the latest is {head}" in check.detail
    assert check.fix is not None and "ftbot migrate" in check.fix


def test_no_database_yet_fails_and_creates_none(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    check = check_store(Probe.from_settings(settings))
    assert check.status is Status.FAIL and "no SQLite database" in check.detail
    assert not (tmp_path / "data" / "ftbot.db").exists()


def test_a_database_that_does_not_answer_fails_without_its_url(tmp_path: Path) -> None:
    url = "postgresql://ftbot:s3cret-pw@127.0.0.1:9/ftbot"
    check = check_store(Probe.from_settings(settings_for(tmp_path, FTBOT_DATABASE_URL=url)))
    assert check.status is Status.FAIL and "does not answer" in check.detail
    assert "s3cret" not in check.detail + (check.fix or "")
