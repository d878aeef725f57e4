"""Uploads: purpose fine-tune, processed before use, a rejected file named with the service's reason,
one upload per content."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.backends.foundry.backend import FoundryBackend
from commands.errors import InvalidInput
from commands.models import Task
from tests.fakes.foundry import FakeFoundry

World = tuple[FoundryBackend, FakeFoundry]


def test_upload_waits_until_processed(world: World, train_file: Path) -> None:
    backend, fake = world
    ref = backend.upload_dataset(train_file, name="ftbot-job-1-training", task=Task.CHAT_COMPLETION)
    assert ref.kind == "asset" and ref.name == "train.jsonl"
    assert fake.files[ref.value]["status"] == "processed"


def test_same_content_is_uploaded_once(world: World, train_file: Path) -> None:
    backend, fake = world
    first = backend.upload_dataset(train_file, name="ftbot-job-1-training", task=Task.CHAT_COMPLETION)
    second = backend.upload_dataset(train_file, name="ftbot-job-1-training", task=Task.CHAT_COMPLETION)
    assert first == second and len(fake.requests_to("POST", r"^/files$")) == 1


def test_rejected_file_names_the_file_and_the_reason(world: World, train_file: Path) -> None:
    backend, fake = world
    fake.reject_file("ftbot-job-1-training", "Line 3: invalid JSON (jsonlValidationFailed).")
    with pytest.raises(InvalidInput) as rejected:
        backend.upload_dataset(train_file, name="ftbot-job-1-training", task=Task.CHAT_COMPLETION)
    assert (
        rejected.value.message
        == "Azure OpenAI rejected train.jsonl: Line 3: invalid JSON (jsonlValidationFailed)."
    )


def test_not_utf8_or_missing_or_text_task(world: World, tmp_path: Path) -> None:
    backend, fake = world
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes('{"x": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        backend.upload_dataset(bad, name="x", task=Task.CHAT_COMPLETION)
    with pytest.raises(InvalidInput, match="no such file"):
        backend.upload_dataset(tmp_path / "none.jsonl", name="x", task=Task.CHAT_COMPLETION)
    with pytest.raises(InvalidInput, match="chat models only"):
        backend.upload_dataset(bad, name="x", task=Task.TEXT_COMPLETION)
    assert not fake.requests_to("POST", r"^/files$")
