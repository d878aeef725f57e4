"""Check 8: the database answers and its schema is at the latest migration (Alembic's head)."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from bot.doctor.probe import Probe
from bot.store.db import alembic_config, make_engine
from commands.doctor import Check, failed, passed

MIGRATE_FIX = "Run `ftbot migrate` (ftbot serve also migrates when it starts)."


def check_store(probe: Probe) -> Check:
    assert probe.settings is not None
    url = probe.settings.resolved_database_url
    parsed = make_url(url)
    where = parsed.get_backend_name()
    if where == "sqlite" and parsed.database not in (None, "", ":memory:"):
        from pathlib import Path

        if not Path(str(parsed.database)).is_file():
            return failed(
                "store", "no SQLite database in FTBOT_DATA_DIR (or FTBOT_DATABASE_URL) yet", MIGRATE_FIX
            )
    engine = make_engine(url)
    try:
        heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
        try:
            with engine.connect() as conn:
                current = set(MigrationContext.configure(conn).get_current_heads())
        except Exception as e:  # the driver's own errors: a refused connection, bad credentials, ...
            return failed(
                "store",
                f"the {where} database does not answer ({type(e).__name__})",
                "Check FTBOT_DATABASE_URL and that the database server is up and reachable.",
            )
    finally:
        engine.dispose()
    if current != heads:
        at = ", ".join(sorted(current)) or "no migration"
        return failed(
            "store", f"the {where} schema is at {at}; the latest is {', '.join(sorted(heads))}", MIGRATE_FIX
        )
    return passed(
        "store", f"{where} database answers; schema at the latest migration ({', '.join(sorted(heads))})"
    )
