"""The Dockerfile, checked by reading it (no Docker engine runs here) and by running its entry command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINES = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip()]


def _index(prefix: str) -> int:
    return next(i for i, line in enumerate(LINES) if line.startswith(prefix))


def test_slim_base_non_root_user_and_healthcheck_on_healthz() -> None:
    assert LINES[_index("FROM")].startswith("FROM python:3.11-slim")
    user = LINES[_index("USER")].split()[1]
    assert user not in ("root", "0")
    health = " ".join(LINES[_index("HEALTHCHECK") : _index("HEALTHCHECK") + 2])
    assert "/healthz" in health


def test_dependencies_are_installed_in_a_layer_before_the_code_is_copied() -> None:
    deps = _index("COPY pyproject.toml")
    code = min(_index("COPY commands"), _index("COPY bot"))
    first_install = next(i for i, line in enumerate(LINES) if "pip install" in line)
    assert deps < first_install < code


def test_dependencies_are_installed_at_the_locked_versions() -> None:
    lock = _index("COPY requirements/lock.txt")
    install = next(i for i, line in enumerate(LINES) if "pip install" in line)
    assert lock < install
    assert "-c requirements/lock.txt" in LINES[install]


def test_entry_command_exists_and_serves() -> None:
    assert LINES[_index("ENTRYPOINT")] == 'ENTRYPOINT ["ftbot"]'
    cmd = [line for line in LINES if line.startswith("CMD [")]
    assert len(cmd) == 1 and '"serve"' in cmd[0]
    r = subprocess.run(
        [sys.executable, "-c", "from bot.cli.app import main; main()", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "port" in r.stdout
