"""`ftbot serve` as a real process: bad settings exit 2 naming each variable; SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.demo.slack import FakeSlack


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FTBOT_", "AZURE_"))}
    env.update({"FTBOT_DATA_DIR": str(tmp_path / "data")}, **extra)
    return env


def _ftbot(*args: str) -> list[str]:
    return [sys.executable, "-c", "from bot.cli.app import main; main()", *args]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_missing_settings_exit_2_with_one_line_per_variable(tmp_path: Path) -> None:
    r = subprocess.run(
        _ftbot("serve"), env=_env(tmp_path), capture_output=True, text=True, timeout=60, cwd=tmp_path
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
    r = subprocess.run(_ftbot("serve"), env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2
    for name in ("FTBOT_POLL_SECONDS", "FTBOT_APPROVERS", "FTBOT_BACKEND"):
        assert name in r.stderr
    assert "Traceback" not in r.stderr
    assert "xoxb-secret-value" not in r.stderr + r.stdout and "s3cr3t-value" not in r.stderr + r.stdout


def test_serve_answers_healthz_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    with FakeSlack() as fake:
        env = _env(
            tmp_path,
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_SIGNING_SECRET="s3cr3t",
            SLACK_API_URL=fake.api_url,
        )
        proc = subprocess.Popen(
            _ftbot("serve", "--port", str(port)),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            status = None
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                        status = r.status
                        break
                except OSError:
                    time.sleep(0.2)
            assert status == 200
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert "ftbot stopped" in err
    assert fake.bot_token not in err
