"""Uploads: purpose fine-tune, processed before use, a rejected file named with the service's reason,
one upload per content."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.backends.foundry.backend import FoundryBackend
from commands.errors import InvalidInput, NotFound
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


# ---- files uploaded before: offered as training data ------------------------------------------------


def test_processed_fine_tune_jsonl_files_are_listed_newest_first(world: World) -> None:
    backend, fake = world
    older = fake.add_file("support.jsonl", b"{}\n" * 4)
    fake.clock += 10
    newer = fake.add_file("sales.jsonl", b"{}\n")
    fake.add_file("batch.jsonl", b"{}\n", purpose="batch")
    fake.add_file("notes.csv", b"a,b\n")

    listed = backend.list_datasets()

    assert [(d.ref, d.name, d.kind, d.size) for d in listed] == [
        (newer, "sales.jsonl", "file", 3),
        (older, "support.jsonl", "file", 12),
    ]
    assert all(c.query.get("purpose") == "fine-tune" for c in fake.requests_to("GET", r"^/files$"))


def test_a_file_has_its_size_and_downloads_its_bytes(world: World, tmp_path: Path) -> None:
    backend, fake = world
    file_id = fake.add_file("support.jsonl", b'{"messages": []}\n')

    info = backend.get_dataset(file_id)
    backend.download_dataset(file_id, tmp_path / "copy.jsonl")

    assert info.size == 17 and info.name == "support.jsonl"
    assert (tmp_path / "copy.jsonl").read_bytes() == b'{"messages": []}\n'


def test_an_unknown_file_is_not_found_and_another_purpose_is_refused(world: World) -> None:
    backend, fake = world
    with pytest.raises(NotFound) as missing:
        backend.get_dataset("file-doesnotexist")
    assert "file-doesnotexist" in missing.value.message
    batch = fake.add_file("batch.jsonl", b"{}\n", purpose="batch")
    with pytest.raises(InvalidInput) as refused:
        backend.get_dataset(batch)
    assert "purpose batch" in refused.value.message
