"""The shared Protocol suite, run against ``FoundryBackend`` on real ``openai`` and azure-mgmt clients whose
transports are the wire fake of an Azure OpenAI resource (tests/fakes/foundry.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.backends.foundry.backend import FoundryBackend
from commands.models import DatasetRef, Endpoint, Job, JobSpec, Task
from commands.ports import CheckpointedBackend, PausableBackend, TieredBackend
from tests.contract.backend_suite import BackendContract
from tests.fakes.foundry import GPT41, FakeFoundry, make_foundry

TRAIN = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 12


class FoundryHarness:
    def __init__(self, backend: FoundryBackend, fake: FakeFoundry, tmp: Path) -> None:
        self.backend = backend
        self.fake = fake
        self.base_model = GPT41
        self._tmp = tmp

    def training_data(self) -> DatasetRef:
        path = self._tmp / "train.jsonl"
        path.write_text(TRAIN, encoding="utf-8")
        return self.backend.upload_dataset(path, name="contract-train", task=Task.CHAT_COMPLETION)

    def spec(self, name: str, *, long_running: bool = False) -> JobSpec:
        if long_running:
            self.fake.slow_jobs.add(name)
        return JobSpec(
            name=name,
            base_model=self.base_model,
            training=self.training_data(),
            output_model_name=f"{name}-m",
        )

    def wait_job(self, job_id: str, until: Callable[[Job], bool], timeout: float = 120) -> Job:
        for _ in range(20):
            job = self.backend.get_job(job_id)
            if until(job):
                return job
            self.fake.advance()
        raise AssertionError(f"job {job_id} never reached the state: last {job.service_status}")

    def wait_endpoint(self, name: str, until: Callable[[Endpoint], bool], timeout: float = 60) -> Endpoint:
        for _ in range(20):
            endpoint = self.backend.get_endpoint(name)
            if until(endpoint):
                return endpoint
            self.fake.advance()
        raise AssertionError(f"endpoint {name} never reached the state: last {endpoint.state}")


class TestFoundryContract(BackendContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Iterator[FoundryHarness]:
        backend, fake, _ = make_foundry()
        yield FoundryHarness(backend, fake, tmp_path)
        fake.settle()

    def test_offers_the_optional_protocols(self, harness: FoundryHarness) -> None:
        for protocol in (PausableBackend, CheckpointedBackend, TieredBackend):
            assert isinstance(harness.backend, protocol)
