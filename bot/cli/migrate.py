"""``ftbot migrate``: bring the store's schema to the latest revision and exit, for a pre-rollout Job.

``ftbot serve`` migrates on start too (serialised by an advisory lock on PostgreSQL), so running this
first is optional; it moves the wait and any failure out of the replicas' start (RUNBOOK.md)."""

from __future__ import annotations

import logging

import typer

from bot.cli.settings import load_settings_or_exit
from bot.runtime.logs import configure_logging

log = logging.getLogger("ftbot")


def migrate() -> None:
    """Migrate the store (FTBOT_DATABASE_URL) to the latest schema, then exit: 0 done, 2 it could not."""
    settings = load_settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    from sqlalchemy import text

    from bot.store.db import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url)
    try:
        database.migrate()
        with database.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as e:
        log.debug("migration failed", exc_info=True)
        typer.echo(
            f"ftbot: FTBOT_DATABASE_URL: cannot open or migrate the store ({type(e).__name__})", err=True
        )
        raise typer.Exit(2) from None
    finally:
        database.dispose()
    typer.echo(f"ftbot: the store is at schema revision {version}")


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
