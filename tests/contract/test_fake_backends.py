"""The shared Protocol suite, run against the test backends too (``tests/fakes``), so the fakes the other
tests rely on cannot drift from ``FineTuningBackend``. Time passes as each fake makes it pass: one step
per ``get_job`` for ``FakeBackend``, a test-moved clock for ``SharedBackend``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from commands.models import DatasetRef, Endpoint, Hyperparameters, Job, JobSpec, Task
from commands.ports import FineTuningBackend
from tests.contract.backend_suite import BackendContract
from tests.fakes.backend import FakeBackend
from tests.fakes.shared_backend import SharedBackend
from tests.support.data import chat_lines

ROUNDS = 50


class FakeHarness:
    """A harness for a fake whose time passes as it is polled, or when ``advance`` is called.
    ``FakeBackend``: every ``get_job`` moves a job one step, every ``get_endpoint`` one poll."""

    base_model = "ftbot-tiny"

    def __init__(
        self, backend: FineTuningBackend, workdir: Path, advance: Callable[[], None] = lambda: None
    ) -> None:
        self.backend = backend
        self.workdir = workdir
        self.advance = advance

    def training_data(self) -> DatasetRef:
        path = self.workdir / "train.jsonl"
        path.write_text(chat_lines(12))
        return self.backend.upload_dataset(path, name="train.jsonl", task=Task.CHAT_COMPLETION)

    def spec(self, name: str, *, long_running: bool = False) -> JobSpec:
        return JobSpec(
            name=name,
            base_model=self.base_model,
            training=self.training_data(),
            hyperparameters=Hyperparameters(n_epochs=25 if long_running else 1),
            output_model_name=f"{name}-model",
        )

    def wait_job(self, job_id: str, until: Callable[[Job], bool], timeout: float = 120) -> Job:
        for _ in range(ROUNDS):
            job = self.backend.get_job(job_id)
            if until(job):
                return job
            self.advance()
        raise AssertionError(f"job {job_id} still {job.state} after {ROUNDS} polls")

    def wait_endpoint(self, name: str, until: Callable[[Endpoint], bool], timeout: float = 60) -> Endpoint:
        for _ in range(ROUNDS):
            endpoint = self.backend.get_endpoint(name)
            if until(endpoint):
                return endpoint
            self.advance()
        raise AssertionError(f"endpoint {name} still {endpoint.state} after {ROUNDS} polls")


class TestFakeBackendContract(BackendContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> FakeHarness:
        return FakeHarness(FakeBackend(), tmp_path)


class SharedHarness(FakeHarness):
    """``SharedBackend`` on a clock the harness moves half a second per poll (no real waiting)."""

    def __init__(self, workdir: Path) -> None:
        self.t = 1_700_000_000.0
        backend = SharedBackend(workdir / "shared-backend.json", 1, 3, 1, now=lambda: self.t)
        super().__init__(backend, workdir, self._tick)

    def _tick(self) -> None:
        self.t += 0.5


class TestSharedBackendContract(BackendContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> SharedHarness:
        return SharedHarness(tmp_path)
