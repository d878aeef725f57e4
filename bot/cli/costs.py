"""``ftbot costs``: a month's spend for finance (``--csv``), and the price file check ``ftbot serve`` runs
before it starts (a malformed FTBOT_PRICES exits 2 naming the line)."""

from __future__ import annotations

import csv
import sys
from typing import Annotated, TextIO

import typer

from bot.cli.settings import load_settings_or_exit
from bot.runtime.settings import Settings
from commands.costs.prices import PriceFileError, load_prices
from commands.costs.report import CostReport
from commands.errors import UsageError

CSV_COLUMNS = ("month", "scope", "key", "training", "hosting", "inference", "total", "currency")


def prices_or_exit(settings: Settings) -> None:
    """Exit 2 with ``FTBOT_PRICES: FILE, line N: problem`` when the price file cannot be used."""
    if settings.prices is None:
        return
    try:
        load_prices(settings.prices)
    except PriceFileError as e:
        typer.echo(f"ftbot: FTBOT_PRICES: {e.message}", err=True)
        raise typer.Exit(2) from None


def write_csv(report: CostReport, out: TextIO) -> None:
    """One row per channel, per user and per job (every job, not only the top five), and one per live
    endpoint's hourly burn; amounts with two decimals."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    month, cur = report.window.label, report.currency
    for scope, rows in (("channel", report.channels), ("user", report.users), ("job", report.all_jobs)):
        for s in rows:
            amounts = (s.training, s.hosting, s.inference, s.total)
            writer.writerow((month, scope, s.key, *(f"{a:.2f}" for a in amounts), cur))
    for e in report.live:
        per_hour = f"{e.per_hour.amount:.2f}" if e.per_hour else ""
        writer.writerow((month, "live_endpoint_per_hour", e.endpoint, "", per_hour, "", per_hour, cur))


def costs(
    csv_out: Annotated[
        bool, typer.Option("--csv", help="Print CSV (for finance) instead of a summary.")
    ] = False,
    month: Annotated[str | None, typer.Option(help="The month, YYYY-MM (default: this month, UTC).")] = None,
    channel: Annotated[str | None, typer.Option(help="One channel's id (C…).")] = None,
    team: Annotated[
        str | None, typer.Option(help="One workspace's team id (default: every workspace).")
    ] = None,
) -> None:
    """What was spent in a month: by channel, by user and by job; live endpoints' hourly burn."""
    settings = load_settings_or_exit()
    prices_or_exit(settings)
    from bot.runtime.services import Services

    services = Services.from_settings(settings)
    try:
        services.database.migrate()
        report = services.costs.report(team_id=team, month_text=month, channel_id=channel)
    except UsageError as e:
        typer.echo(f"ftbot: {e.message}", err=True)
        raise typer.Exit(2) from None
    if csv_out:
        write_csv(report, sys.stdout)
        return
    typer.echo(f"Costs for {report.window.label}: {report.money(report.total)}")
    for s in report.channels:
        typer.echo(f"  channel {s.key}: {report.money(s.total)}")
    typer.echo(f"  live endpoints: {len(report.live)}, {report.money(report.burn_per_hour)} per hour")


def register(app: typer.Typer) -> None:
    app.command("costs")(costs)
