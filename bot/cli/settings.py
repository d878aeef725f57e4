"""Settings for a command: read from the environment, or exit 2 with one line per bad variable."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from bot.runtime.settings import Settings, describe_validation_error


def load_settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValidationError as e:
        for line in describe_validation_error(e):
            typer.echo(f"ftbot: {line}", err=True)
        raise typer.Exit(2) from None
