"""Worker processes: cancelling a running worker, a worker killed with SIGKILL, re-attaching after a bot
restart, bad data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.backends.local import LocalBackend
from commands.models import Hyperparameters, JobSpec, JobState, Task
from tests.bot.backends.local.conftest import LocalHarness
from tests.bot.backends.local.fixtures import write_jsonl

pytestmark = pytest.mark.slow


def _running(harness: LocalHarness, name: str) -> int:
    """Wait until the worker has really started training; its pid."""
    harness.wait_job(
        name, lambda j: any(e.kind == "started" for e in j.events) or j.state.terminal, timeout=120
    )
    job = harness.backend.get_job(name)
    assert job.state is JobState.RUNNING, job.error
    return int((harness.backend.data.job(name).pid).read_text())


def test_a_killed_worker_fails_the_job_with_a_reason_and_the_backend_goes_on(harness: LocalHarness) -> None:
    b = harness.backend
    b.submit_job(harness.spec("job-crash", long_running=True))
    pid = _running(harness, "job-crash")
    os.kill(pid, signal.SIGKILL)
    job = harness.wait_job("job-crash", lambda j: j.state.terminal, timeout=30)
    assert job.state is JobState.FAILED
    assert job.error and "stopped unexpectedly" in job.error and "signal 9" in job.error
    assert job.events[-1].kind == "failed"
    # the backend still works: a new job trains to the end
    b.submit_job(harness.spec("job-after-crash"))
    assert harness.wait_job("job-after-crash", lambda j: j.state.terminal).state is JobState.SUCCEEDED
    assert b.get_job("job-crash").state is JobState.FAILED  # and stays failed


def test_a_restarted_bot_reattaches_to_a_running_worker(
    make_backend: Callable[..., LocalBackend], harness: LocalHarness
) -> None:
    harness.backend.submit_job(harness.spec("job-reattach", long_running=True))
    pid = _running(harness, "job-reattach")
    restarted = make_backend()  # a new instance on the same data dir, as after a bot restart
    job = restarted.get_job("job-reattach")
    assert job.state is JobState.RUNNING
    assert any(e.kind == "started" for e in job.events)
    assert Path(f"/proc/{pid}").exists()
    cancelled = restarted.cancel_job("job-reattach")  # it can act on the re-attached worker
    assert cancelled.state is JobState.CANCELLED
    assert cancelled.events[-1].kind == "cancelled"
    assert cancelled.output_model is None
    stat = Path(f"/proc/{pid}/stat")
    assert (
        not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    )  # stopped (maybe unreaped)


def test_a_dead_worker_without_a_result_is_marked_failed_after_a_restart(
    make_backend: Callable[..., LocalBackend], tmp_path: Path
) -> None:
    backend = make_backend()
    job_dir = backend.data.job("job-orphan").path
    job_dir.mkdir(parents=True)
    (job_dir / "spec.json").write_text(json.dumps({"name": "job-orphan", "base_model": "ftbot-tiny"}))
    (job_dir / "status.json").write_text(
        json.dumps(
            {"state": "running", "service_status": "Running", "created_at": "2024-01-01T00:00:00+00:00"}
        )
    )
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    (job_dir / "pid").write_text(dead.stdout.decode())  # a pid that has exited (and was never a trainer)

    restarted = make_backend()  # reconciles at start
    status = json.loads((job_dir / "status.json").read_text())
    assert status["state"] == "failed"
    job = restarted.get_job("job-orphan")
    assert job.state is JobState.FAILED
    assert job.error and "stopped unexpectedly" in job.error
    assert job.metrics_note


def test_bad_training_data_fails_the_job_naming_the_line(harness: LocalHarness, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [{"messages": [{"role": "user", "content": "hi"}]}])
    ref = harness.backend.upload_dataset(path, name="bad.jsonl", task=Task.CHAT_COMPLETION)
    spec = JobSpec(
        name="job-bad-data",
        base_model="ftbot-tiny",
        training=ref,
        hyperparameters=Hyperparameters(n_epochs=1),
        output_model_name="bad-model",
    )
    harness.backend.submit_job(spec)
    job = harness.wait_job(spec.name, lambda j: j.state.terminal)
    assert job.state is JobState.FAILED
    assert job.error == "training data: line 1: no assistant message to learn from"
