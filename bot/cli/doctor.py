"""``ftbot doctor [--json]``: every prerequisite of a first fine-tuning job, checked in order.

Exit codes: 0 every applicable check passes (warnings allowed), 1 a check fails, 2 the checks could not
run at all. ``--json`` prints ``{"ok": bool, "checks": [{"name", "status", "detail", "fix"}]}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from bot.doctor.probe import Probe
from bot.doctor.runner import run_doctor
from bot.runtime.settings import Settings, describe_validation_error
from commands.doctor import MARKS, Report, Status

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_COULD_NOT_RUN = 2
COLOURS = {Status.PASS: "green", Status.FAIL: "red", Status.SKIP: "dim", Status.WARN: "yellow"}

ProbeFactory = Callable[[Settings], Probe]


def load_probe(factory: ProbeFactory) -> Probe:
    """The probe for the environment's settings; settings that do not load are the first failed check."""
    try:
        settings = Settings()
    except ValidationError as e:
        return Probe.unreadable(describe_validation_error(e))
    return factory(settings)


def print_report(console: Console, report: Report) -> None:
    for check in report.checks:
        colour = COLOURS[check.status]
        console.print(
            f"[{colour}]{MARKS[check.status]}[/{colour}] [bold]{check.name}[/bold]  {escape(check.detail)}"
        )
        if check.fix and check.status in (Status.FAIL, Status.WARN):
            console.print(f"    [dim]fix:[/dim] {escape(check.fix)}")
    failed = report.failed
    if failed:
        console.print(f"[red]{len(failed)} check(s) failed:[/red] {', '.join(c.name for c in failed)}")
    else:
        console.print("[green]Every applicable check passes.[/green]")


def make_command(factory: ProbeFactory) -> Callable[..., None]:
    def doctor(
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON object instead of lines.")
        ] = False,
    ) -> None:
        """Check every prerequisite of a first fine-tuning job: settings, Azure credential, subscription,
        resource providers, project, role, base models, Slack and the store; each with its fix."""
        try:
            report = run_doctor(load_probe(factory))
        except Exception as e:
            typer.echo(f"ftbot: doctor could not run ({type(e).__name__})", err=True)
            raise typer.Exit(EXIT_COULD_NOT_RUN) from None
        if as_json:
            typer.echo(json.dumps(report.to_json(), ensure_ascii=False))
        else:
            print_report(Console(highlight=False), report)
        raise typer.Exit(EXIT_OK if report.ok else EXIT_FAILED)

    return doctor


def register(app: typer.Typer, factory: ProbeFactory = Probe.from_settings) -> None:
    """Add the ``doctor`` command; tests hand a ``factory`` whose probe has fake Azure clients."""
    app.command("doctor")(make_command(factory))
