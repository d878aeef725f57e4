"""The `ftbot` command line: serve, validate, submit, demo, migrate (one module each)."""

from __future__ import annotations

import sys

import typer

from bot.cli import costs, demo, doctor, migrate, serve, submit, validate

cli = typer.Typer(
    no_args_is_help=True, add_completion=False, help="ftbot: Azure AI Foundry fine-tuning from Slack."
)


@cli.callback()
def _root() -> None:
    """ftbot: Azure AI Foundry fine-tuning from Slack."""


serve.register(cli)
demo.register(cli)
validate.register(cli)
submit.register(cli)
migrate.register(cli)
doctor.register(cli)
costs.register(cli)


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
