"""The `ftbot` command line: serve, validate, submit, demo."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from bot import cli_submit, cli_validate
from bot.logs import SECRETS, configure_logging
from bot.settings import Settings, describe_validation_error

cli = typer.Typer(
    no_args_is_help=True, add_completion=False, help="ftbot: Azure AI Foundry fine-tuning from Slack."
)
log = logging.getLogger("ftbot")


@cli.callback()
def _root() -> None:
    """ftbot: Azure AI Foundry fine-tuning from Slack."""


def load_settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValidationError as e:
        for line in describe_validation_error(e):
            typer.echo(f"ftbot: {line}", err=True)
        raise typer.Exit(2) from None


@cli.command()
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
    configure_logging(settings.log_level)
    for secret in (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token):
        if secret is not None:
            SECRETS.add(secret.get_secret_value())

    from bot.runtime import run_serve
    from bot.services import Services

    services = Services.from_settings(settings)
    try:
        services.database.migrate()
    except Exception as e:
        log.debug("migration failed", exc_info=True)
        typer.echo(
            f"ftbot: FTBOT_DATABASE_URL: cannot open or migrate the store ({type(e).__name__})", err=True
        )
        raise typer.Exit(2) from None
    asyncio.run(run_serve(services, host, port))


@cli.command()
def demo(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where to keep the demo's data (default: a new temporary folder).")
    ] = None,
) -> None:
    """The whole lifecycle offline, printed as the Slack thread would read: wizard, validation, LoRA
    training on this machine, approval, deploy, test chat, tear down."""
    configure_logging("WARNING")
    from bot.demo import run_demo

    raise typer.Exit(run_demo(data_dir))


cli_validate.register(cli)
cli_submit.register(cli)


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
