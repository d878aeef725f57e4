"""`ftbot demo` runs the whole lifecycle offline (real LoRA training of ftbot-tiny) and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_the_whole_lifecycle_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FTBOT_", "AZURE_"))}
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bot.cli.app import main; main()",
            "demo",
            "--data-dir",
            str(tmp_path / "demo"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    for step in (
        "/finetune help",
        "Start training",
        "the job card",
        "[Deploy]",
        "clicks [Approve]",
        "Test chat",
        "torn down",
        "Reply:*\n    Standard shipping takes",  # the trained answer, greedy, from the deployed endpoint
        "Demo complete",
    ):
        assert step in out, step
    assert "Traceback" not in r.stderr
