"""`ftbot serve` as a real process: bad settings exit 2 naming each variable; SIGTERM stops it cleanly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.demo.slack import FakeSlack
from tests.support.serve import ServeProcess, clean_env, ftbot_argv


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_env({"FTBOT_DATA_DIR": str(tmp_path / "data"), **extra})


def test_missing_settings_exit_2_with_one_line_per_variable(tmp_path: Path) -> None:
    r = subprocess.run(
        ftbot_argv("serve"), env=_env(tmp_path), capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert r.returncode == 2
    assert "SLACK_BOT_TOKEN" in r.stderr and "SLACK_SIGNING_SECRET" in r.stderr
    assert "Traceback" not in r.stderr


def test_malformed_settings_exit_2_naming_the_variable_without_echoing_secrets(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-secret-value",
        SLACK_SIGNING_SECRET="s3cr3t-value",
        FTBOT_POLL_SECONDS="often",
        FTBOT_APPROVERS="alice",
        FTBOT_BACKEND="gcp",
    )
    r = subprocess.run(ftbot_argv("serve"), env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2
    for name in ("FTBOT_POLL_SECONDS", "FTBOT_APPROVERS", "FTBOT_BACKEND"):
        assert name in r.stderr
    assert "Traceback" not in r.stderr
    assert "xoxb-secret-value" not in r.stderr + r.stdout and "s3cr3t-value" not in r.stderr + r.stdout


@pytest.mark.slow
def test_serve_answers_healthz_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with FakeSlack() as fake:
        env = {
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": "s3cr3t",
            "SLACK_API_URL": fake.api_url,
            "FTBOT_DATA_DIR": str(tmp_path / "data"),
        }
        serve = ServeProcess(env, tmp_path)
        try:
            serve.start(timeout=60)  # /healthz answered 200
        finally:
            code = serve.stop()  # SIGTERM
    err = serve.log.read_text()
    assert code == 0, err
    assert "ftbot stopped" in err
    assert fake.bot_token not in err
