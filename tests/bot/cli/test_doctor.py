"""``ftbot doctor [--json]``: exit 0 when every applicable check passes, 1 when one fails, 2 when the checks
cannot run; the JSON object's shape; Azure checks through the fake ARM handed in as the probe factory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import doctor as cli_doctor
from bot.cli.app import cli as ftbot_cli
from bot.demo.slack import FakeSlack
from bot.doctor.probe import Probe
from bot.doctor.runner import NAMES
from bot.doctor.slack_check import BOT_SCOPES
from bot.runtime.settings import Settings
from bot.store.db import Database
from tests.bot.backends.fake_azure.wire import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE
from tests.bot.doctor.conftest import probe_for
from tests.bot.doctor.fake_arm import FakeArm
from tests.support.harness import BOT_TOKEN, SIGNING_SECRET


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        f.oauth_scopes = ",".join(BOT_SCOPES)
        yield f


@pytest.fixture
def env(tmp_path: Path, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A good local setup in the environment: Slack at the stand-in, a migrated store."""
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for name, value in {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "FTBOT_DATA_DIR": str(tmp_path / "data"),
        "FTBOT_APPROVERS": "UAPPROVER1",
    }.items():
        monkeypatch.setenv(name, value)
    Database(f"sqlite:///{tmp_path / 'data' / 'ftbot.db'}").migrate()
    return tmp_path


def doctor_app(factory: cli_doctor.ProbeFactory = Probe.from_settings) -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    cli_doctor.register(app, factory)
    return app


def run(*args: str, factory: cli_doctor.ProbeFactory = Probe.from_settings) -> tuple[int, str]:
    result = CliRunner().invoke(doctor_app(factory), ["doctor", *args])
    return result.exit_code, result.output


def test_every_applicable_check_passes_exit_0(env: Path) -> None:
    code, out = run()
    assert code == 0, out
    assert "✓ settings" in out and "✓ slack" in out and "✓ store" in out
    assert "— credential  not used by the local backend" in out
    assert "Every applicable check passes." in out


def test_json_prints_one_object_in_the_documented_shape(env: Path) -> None:
    code, out = run("--json")
    body = json.loads(out)
    assert code == 0 and body["ok"] is True
    assert [c["name"] for c in body["checks"]] == list(NAMES)
    assert all(set(c) == {"name", "status", "detail", "fix"} for c in body["checks"])
    assert {c["status"] for c in body["checks"]} <= {"pass", "fail", "skip", "warn"}


def test_a_bad_slack_token_exits_1_with_the_fix_and_no_token(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-the-right-one")
    code, out = run("--json")
    body = json.loads(out)
    assert code == 1 and body["ok"] is False
    slack = next(c for c in body["checks"] if c["name"] == "slack")
    assert (
        slack["status"] == "fail" and "invalid_auth" in slack["detail"] and "SLACK_BOT_TOKEN" in slack["fix"]
    )
    assert "xoxb-not-the-right-one" not in out
    code, text = run()
    assert code == 1 and "✗ slack" in text and "fix:" in text and "1 check(s) failed: slack" in text


def test_an_old_schema_exits_1(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTBOT_DATA_DIR", str(env / "elsewhere"))
    code, out = run()
    assert code == 1 and "✗ store" in out and "ftbot migrate" in out


def test_settings_that_do_not_load_are_the_first_failed_check(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FTBOT_BACKEND", "azure")  # without AZURE_SUBSCRIPTION_ID and the rest
    code, out = run("--json")
    checks = json.loads(out)["checks"]
    assert code == 1
    assert checks[0]["name"] == "settings" and checks[0]["status"] == "fail"
    assert "AZURE_SUBSCRIPTION_ID" in checks[0]["detail"]
    assert all(c["status"] == "skip" for c in checks[1:])


def test_exit_2_when_the_checks_cannot_run(env: Path) -> None:
    def broken(settings: Settings) -> Probe:
        raise OSError("no such thing")

    code, out = run(factory=broken)
    assert code == 2 and "doctor could not run (OSError)" in out


def test_azure_provider_unregistered_exits_1_with_the_register_line(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "FTBOT_BACKEND": "azure",
        "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
        "AZURE_RESOURCE_GROUP": RESOURCE_GROUP,
        "AZURE_AI_PROJECT": WORKSPACE,
        "FTBOT_AZURE_MODELS": "azureml/Phi-4-mini-instruct",
    }.items():
        monkeypatch.setenv(name, value)
    arm = FakeArm()
    arm.azure_ml.add_registry_model(
        "azureml", "Phi-4-mini-instruct", "3", tags={"maas-finetuning-deploy-regions": "eastus2"}
    )
    code, out = run("--json", factory=lambda settings: probe_for(settings, arm))
    statuses = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 0, out
    assert statuses["models"]["status"] == "pass" and statuses["local_models"]["status"] == "skip"
    arm.providers["Microsoft.MachineLearningServices"] = "NotRegistered"
    code, out = run("--json", factory=lambda settings: probe_for(settings, arm))
    providers = next(c for c in json.loads(out)["checks"] if c["name"] == "providers")
    assert code == 1 and providers["status"] == "fail"
    assert providers["fix"] == (
        f"az provider register --namespace Microsoft.MachineLearningServices --subscription {SUBSCRIPTION}"
    )


def test_ftbot_registers_doctor() -> None:
    result = CliRunner().invoke(ftbot_cli, ["doctor", "--help"])
    assert result.exit_code == 0 and "--json" in result.output
