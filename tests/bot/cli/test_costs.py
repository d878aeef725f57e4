"""``ftbot serve`` refuses a malformed price file naming its line; ``ftbot costs --csv`` prints the month."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from bot.cli.app import cli
from bot.runtime.services import Services
from bot.runtime.settings import Settings
from commands.costs.ledger import CostFact, CostKind
from commands.costs.prices import Rate
from tests.support.serve import clean_env, ftbot_argv


def test_serve_exits_2_naming_the_line_of_a_malformed_price_file(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("currency: USD\nmodels:\n  ftbot-tiny:\n    hosting_per_hour: cheap\n")
    env = clean_env(
        {
            "FTBOT_DATA_DIR": str(tmp_path / "data"),
            "SLACK_BOT_TOKEN": "xoxb-secret-value",
            "SLACK_SIGNING_SECRET": "s3cr3t-value",
            "FTBOT_PRICES": str(prices),
        }
    )
    r = subprocess.run(ftbot_argv("serve"), env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2
    assert f"FTBOT_PRICES: {prices}, line 4: models.ftbot-tiny.hosting_per_hour" in r.stderr
    assert "Traceback" not in r.stderr and "secret" not in r.stderr


def test_costs_csv_exports_the_month_for_finance(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(FTBOT_DATA_DIR=data)
    services = Services.from_settings(settings)
    services.database.migrate()
    rate = Rate(currency="USD", training_per_million_tokens=Decimal(4))
    services.costs.book.record(
        CostFact(
            key="training:j1",
            kind=CostKind.TRAINING,
            team_id="T1",
            channel_id="C1",
            user_id="U1",
            job_id="j1",
            model="ftbot-tiny",
            at=datetime(2026, 3, 3, tzinfo=UTC),
            tokens=2_500_000,
            rate=rate,
        )
    )
    r = CliRunner().invoke(cli, ["costs", "--csv", "--month", "2026-03"], env={"FTBOT_DATA_DIR": str(data)})
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {(row["scope"], row["key"], row["training"], row["total"]) for row in rows} == {
        ("channel", "C1", "10.00", "10.00"),  # 2.5M × USD 4 per 1M
        ("user", "U1", "10.00", "10.00"),
        ("job", "j1", "10.00", "10.00"),
    }
    bad = CliRunner().invoke(cli, ["costs", "--month", "2026-3"], env={"FTBOT_DATA_DIR": str(data)})
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
