"""Data the service already keeps, picked in Slack over signed HTTP: on ``azure`` a project data asset in the
wizard's "A dataset uploaded before" and as ``--data azureml:NAME:VERSION``, referenced by the job as its
asset id (never uploaded again); one over the download limit is not validated here and the review says so
with its size; on ``foundry`` a ``file-…`` uploaded with purpose fine-tune; an unknown id and an id of the
other backend's form are refused in words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.payloads import payload_body, view_submission
from bot.ui.ids import Action, Callback
from bot.ui.ids import Block as B
from tests.bot.backends.fake_azure import PHI, AzureWorld, make_world
from tests.fakes.foundry import GPT41, FakeFoundry, make_foundry
from tests.support.data import chat_lines
from tests.support.wait import until
from tests.support.world import CHANNEL, MEMBER, World, block, open_world, selected, view_update

CHATS = chat_lines(30).encode()
ASSET_ID = "/data/support-chats/versions/2"


@pytest.fixture
def azure(monkeypatch: pytest.MonkeyPatch) -> AzureWorld:
    return make_world(monkeypatch)


@pytest.fixture
def world(tmp_path: Path, azure: AzureWorld) -> Iterator[World]:
    with open_world(tmp_path, backend=azure.backend) as w:
        yield w


def _training_uri(azure: AzureWorld) -> str:
    """The training data of the job ftbot created (the create runs after the card is posted: waited for)."""
    until(lambda: bool(azure.fake.calls("PUT", r"/jobs/[^/]+$")), 30, "the job to be created")
    (put,) = azure.fake.calls("PUT", r"/jobs/[^/]+$")
    return str(put.body["properties"]["fineTuningDetails"]["trainingData"]["uri"])


def _wizard(world: World, data: str) -> dict[str, Any]:
    """Open the wizard, pick ``data`` under "uploaded before", and return the review it leads to."""
    world.slash("")
    form = view_update(world, Callback.WIZARD)
    values: dict[str, Any] = {
        B.BASE_MODEL: selected(Action.BASE_MODEL, PHI, "external_select"),
        B.TRAINING_EXISTING: selected(Action.TRAINING_EXISTING, data, "static_select"),
    }
    body = view_submission(Callback.WIZARD, values, user=MEMBER, private_metadata=CHANNEL, view_id="VW")
    assert world.bot.post(payload_body(body)).json()["response_action"] == "update"
    return {"form": form, "review": view_update(world, Callback.REVIEW, view_id="VW")}


def _start(world: World, review: dict[str, Any]) -> None:
    body = view_submission(Callback.REVIEW, {}, user=MEMBER, private_metadata=review["private_metadata"])
    assert world.bot.post(payload_body(body)).status == 200
    world.until(lambda: len(world.fake.channel_messages(CHANNEL)) == 1)


def test_a_data_asset_picked_in_the_wizard_is_validated_and_referenced(
    world: World, azure: AzureWorld
) -> None:
    azure.fake.add_data_asset("support-chats", "1", CHATS)
    ref = azure.fake.add_data_asset("support-chats", "2", CHATS)

    screens = _wizard(world, ref)

    menu = block(screens["form"]["blocks"], B.TRAINING_EXISTING)["element"]["option_groups"]
    assert [(g["label"]["text"], [o["value"] for o in g["options"]]) for g in menu] == [
        ("Project data assets", [ref])
    ]
    review = screens["review"]
    assert "Ready to train: 30 examples" in block(review["blocks"], B.VALIDATION_SUMMARY)["text"]["text"]
    assert ref in block(review["blocks"], B.REVIEW)["fields"][1]["text"]
    assert all(b.get("block_id") != B.REVIEW_NOT_CHECKED for b in review["blocks"])
    _start(world, review)
    assert _training_uri(azure).endswith(ASSET_ID)
    assert azure.fake.calls("PUT", r"/data/") == []  # referenced, never uploaded again


def test_a_data_asset_on_the_command_line_is_validated_and_referenced(
    world: World, azure: AzureWorld
) -> None:
    azure.fake.add_data_asset("support-chats", "2", CHATS)
    world.slash(f"submit --model {PHI} --data azureml:support-chats:2")
    assert "30 examples" in world.wait_response("Started")
    assert _training_uri(azure).endswith(ASSET_ID)
    assert azure.fake.calls("PUT", r"/data/") == []
    assert azure.fake.calls("GET", r"\.blob\.core\.windows\.net|/train\.jsonl$")  # read to be checked


def test_an_asset_over_the_download_limit_is_not_validated_and_the_review_says_why(
    world: World, azure: AzureWorld
) -> None:
    ref = azure.fake.add_data_asset("support-chats", "2", CHATS)
    world.services.intake.downloader.max_bytes = 1024

    review = _wizard(world, ref)["review"]

    note = block(review["blocks"], B.REVIEW_NOT_CHECKED)["text"]["text"]
    size = f"{len(CHATS) / 1024:.3g} KB"
    assert "Not validated locally" in note
    assert f"support-chats:2 was not validated locally: it is {size}, over the 1 KB download limit" in note
    assert all(
        b.get("block_id") != B.VALIDATION_SUMMARY for b in review["blocks"]
    )  # no report of unread data
    assert review["submit"]["text"] == "Start training"
    _start(world, review)
    assert _training_uri(azure).endswith(ASSET_ID)
    blobs = [c for c in azure.fake.requests if c.host.endswith(".blob.core.windows.net")]
    assert blobs and all(c.method == "HEAD" for c in blobs)  # its size was read, its bytes never

    world.slash(f"submit --model {PHI} --data {ref}")
    assert "not validated locally" in world.wait_response("Started")


def test_an_unknown_asset_and_a_foundry_file_id_are_refused_in_words(world: World, azure: AzureWorld) -> None:
    world.slash(f"submit --model {PHI} --data azureml:no-such-data:1")
    assert "no-such-data:1 was not found" in world.wait_response("was not found")
    world.slash(f"submit --model {PHI} --data file-181a1cbdcdcf4677")
    refused = world.wait_response("only the foundry backend reads")
    assert "azure backend" in refused and "azureml:NAME:VERSION" in refused
    assert azure.fake.calls("PUT", r"/jobs/") == []


def test_a_foundry_file_uploaded_before_is_referenced_without_an_upload(tmp_path: Path) -> None:
    foundry = FakeFoundry(auto_advance=True)
    backend, _, _ = make_foundry(foundry)
    file_id = foundry.add_file("support.jsonl", CHATS)
    with open_world(tmp_path, backend=backend) as world:
        world.slash(f"submit --model {GPT41} --data {file_id}")
        assert "30 examples" in world.wait_response("Started")
        until(lambda: bool(foundry.jobs), 30, "the job to be created")
        (job,) = foundry.jobs.values()
        assert job["training_file"] == file_id
        assert foundry.requests_to("POST", r"^/files$") == []

        world.slash(f"submit --model {GPT41} --data file-doesnotexist")
        assert "There is no file" in world.wait_response("file-doesnotexist")
        world.slash(f"submit --model {GPT41} --data azureml:support-chats:2")
        assert "only the azure backend reads" in world.wait_response("azure backend")
