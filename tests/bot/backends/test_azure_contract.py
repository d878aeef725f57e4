"""The shared Protocol suite, run against ``AzureBackend`` on a real ``MLClient`` on the fake transport."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from commands.models import DatasetRef, Endpoint, Job, JobSpec, Task
from tests.bot.backends.fake_azure import META, AzureWorld, make_world
from tests.contract.backend_suite import BackendContract

TRAIN = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 12


class AzureHarness:
    def __init__(self, world: AzureWorld, tmp: Path) -> None:
        self.world = world
        self.backend = world.backend
        self.base_model = META
        self._tmp = tmp

    def training_data(self) -> DatasetRef:
        path = self._tmp / "train.jsonl"
        path.write_text(TRAIN, encoding="utf-8")
        return self.backend.upload_dataset(path, name="contract-train", task=Task.CHAT_COMPLETION)

    def spec(self, name: str, *, long_running: bool = False) -> JobSpec:
        if long_running:
            self.world.fake.slow_jobs.add(name)
        return JobSpec(
            name=name,
            base_model=self.base_model,
            training=self.training_data(),
            output_model_name=f"{name}-model",
            tags={"slack_channel": "C0CONTRACT", "slack_user": "U0CONTRACT"},
        )

    def wait_job(self, job_id: str, until: Callable[[Job], bool], timeout: float = 120) -> Job:
        for _ in range(20):
            job = self.backend.get_job(job_id)
            if until(job):
                return job
            self.world.fake.advance()
        raise AssertionError(f"job {job_id} never reached the state: last {job.service_status}")

    def wait_endpoint(self, name: str, until: Callable[[Endpoint], bool], timeout: float = 60) -> Endpoint:
        for _ in range(20):
            endpoint = self.backend.get_endpoint(name)
            if until(endpoint):
                return endpoint
            self.world.fake.advance()
        raise AssertionError(f"endpoint {name} never reached the state: last {endpoint.state}")


class TestAzureContract(BackendContract):
    @pytest.fixture
    def harness(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AzureHarness:
        return AzureHarness(make_world(monkeypatch), tmp_path)
