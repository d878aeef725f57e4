"""The project's own data assets through a real ``MLClient`` on the wire fake: the latest version of each
``uri_file`` JSONL asset listed, one asset's size from its blob, its bytes downloaded, and refusals for an
unknown asset or one that is not a single file. Nothing is uploaded or written to the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.errors import InvalidInput, NotFound
from tests.bot.backends.fake_azure import AzureWorld, make_world

CHATS = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 3


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> AzureWorld:
    return make_world(monkeypatch)


def test_lists_the_latest_uri_file_jsonl_version_of_each_asset(world: AzureWorld) -> None:
    world.fake.add_data_asset("support-chats", "1", CHATS)
    world.fake.add_data_asset("support-chats", "2", CHATS)
    world.fake.add_data_asset("images", "1", b"x", data_type="uri_folder", file="images")
    world.fake.add_data_asset("notes", "1", b"x", file="notes.csv")

    listed = world.backend.list_datasets()

    assert [(d.ref, d.name, d.kind) for d in listed] == [
        ("azureml:support-chats:2", "support-chats:2", "data_asset")
    ]
    assert world.fake.calls("PUT") == [] and world.fake.calls("POST") == []  # listing writes nothing


def test_an_asset_has_its_blobs_size_and_downloads_its_bytes(world: AzureWorld, tmp_path: Path) -> None:
    ref = world.fake.add_data_asset("support-chats", "3", CHATS)

    info = world.backend.get_dataset(ref)
    world.backend.download_dataset(ref, tmp_path / "copy.jsonl")

    assert info.ref == "azureml:support-chats:3" and info.size == len(CHATS)
    assert (tmp_path / "copy.jsonl").read_bytes() == CHATS
    assert world.fake.calls("HEAD", r"/UI/2025-01-01/support-chats/3/train\.jsonl$")
    assert not list(tmp_path.glob(".*part"))  # written whole, then renamed


def test_an_unknown_asset_is_not_found_naming_it(world: AzureWorld) -> None:
    with pytest.raises(NotFound) as missing:
        world.backend.get_dataset("azureml:no-such-data:1")
    assert "no-such-data:1" in missing.value.message


def test_a_folder_asset_is_refused_as_not_one_jsonl_file(world: AzureWorld) -> None:
    ref = world.fake.add_data_asset("images", "1", b"x", data_type="uri_folder", file="images")
    with pytest.raises(InvalidInput) as refused:
        world.backend.get_dataset(ref)
    assert "uri_folder" in refused.value.message and "uri_file" in refused.value.message


def test_a_malformed_reference_is_refused_before_any_call(world: AzureWorld) -> None:
    with pytest.raises(InvalidInput):
        world.backend.get_dataset("azureml:support-chats")
    assert world.fake.requests == []
