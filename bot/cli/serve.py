"""``ftbot serve``: the bot and its scheduler (HTTP mode, or Socket Mode when SLACK_APP_TOKEN is set)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from bot.cli.costs import prices_or_exit
from bot.cli.settings import load_settings_or_exit
from bot.runtime.logs import SECRETS, configure_logging

log = logging.getLogger("ftbot")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port for /slack/events and /healthz.")] = 3000,
) -> None:
    """Run the bot and its scheduler (HTTP mode, or Socket Mode when SLACK_APP_TOKEN is set)."""
    settings = load_settings_or_exit()
    problems = settings.serve_problems()
    if problems:
        for line in problems:
            typer.echo(f"ftbot: {line}", err=True)
        typer.echo("ftbot: see README.md, 'Slack app setup', for where each value comes from.", err=True)
        raise typer.Exit(2)
    prices_or_exit(settings)  # a malformed FTBOT_PRICES: exit 2 naming the line
    configure_logging(settings.log_level)
    for secret in settings.secret_values():
        SECRETS.add(secret)

    from bot.runtime.serve import run_serve
    from bot.runtime.services import Services

    services = Services.from_settings(settings)
    try:
        services.database.migrate()
    except Exception as e:
        log.debug("migration failed", exc_info=True)
        typer.echo(
            f"ftbot: FTBOT_DATABASE_URL: cannot open or migrate the store ({type(e).__name__})", err=True
        )
        raise typer.Exit(2) from None
    from bot.doctor.probe import Probe
    from bot.doctor.startup import StartupDoctor

    doctor = StartupDoctor(Probe.from_settings(settings, slack_factory=lambda: services.web))
    doctor.start()  # the cheap checks, logged; a failed one does not stop the bot
    asyncio.run(run_serve(services, host, port, doctor.snapshot))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
