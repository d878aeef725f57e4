"""A ``FoundryBackend`` on the wire fake, a valid chat file and a DPO file, and a submitted spec."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.backends.foundry.backend import FoundryBackend
from commands.models import DatasetRef, Hyperparameters, JobSpec, Method
from tests.fakes.foundry import GPT41, FakeFoundry, make_foundry
from tests.fakes.foundry_v1 import TERMINAL

CHAT = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'
DPO = (
    json.dumps(
        {
            "input": {"messages": [{"role": "user", "content": "Question?"}]},
            "preferred_output": [{"role": "assistant", "content": "A"}],
            "non_preferred_output": [{"role": "assistant", "content": "D"}],
        }
    )
    + "\n"
)


@pytest.fixture
def world() -> Iterator[tuple[FoundryBackend, FakeFoundry]]:
    backend, fake, _ = make_foundry()
    yield backend, fake
    fake.settle()


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text(CHAT * 12, encoding="utf-8")
    return path


@pytest.fixture
def make_spec(train_file: Path) -> Callable[..., JobSpec]:
    def make(name: str = "ftbot-job-1", **changes: Any) -> JobSpec:
        base: dict[str, Any] = {
            "name": name,
            "base_model": GPT41,
            "training": DatasetRef(kind="file", value=str(train_file), name="train.jsonl"),
            "output_model_name": "out",
        }
        if changes.get("method") is Method.DPO:
            changes.setdefault("hyperparameters", Hyperparameters(beta=0.1))
        return JobSpec(**{**base, **changes})

    return make


def run_to_end(backend: FoundryBackend, fake: FakeFoundry, name: str) -> Any:
    for _ in range(10):
        job = backend.get_job(name)
        if job.service_status in TERMINAL:
            return job
        fake.advance()
    raise AssertionError(f"{name} never ended")
