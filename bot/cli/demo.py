"""``ftbot demo``: the whole lifecycle offline, printed as the Slack thread would read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.runtime.logs import configure_logging


def demo(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where to keep the demo's data (default: a new temporary folder).")
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            help="Base model to fine-tune: ftbot-tiny (fast) or smollm2-135m-instruct (a real chat model, "
            "with the smollm2 extra)."
        ),
    ] = "ftbot-tiny",
) -> None:
    """The whole lifecycle offline, printed as the Slack thread would read: wizard, validation, LoRA
    training on this machine, approval, deploy, test chat, tear down."""
    configure_logging("WARNING")
    from bot.demo.run import run_demo

    raise typer.Exit(run_demo(data_dir, model=model))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
