"""A submission's data as the job names it, and what the check says of data it could not read here: the
reference of each kind of data, the sentences of the review and of the cost hold, the refusal of a service
dataset the backend cannot read or of a split of data that is not here, and the empty report."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.errors import InvalidInput
from commands.lifecycle.service_data import (
    check_sources,
    cost_unknown,
    dataset_ref,
    not_checked,
    unchecked_report,
)
from commands.lifecycle.values import LocalData, ServiceData, SubmitRequest
from commands.models import DatasetRef

ASSET = "azureml:support-chats:2"
FILE_ID = "file-abc123"
WHY = "it is 2.5 MB, over the 1 MB download limit"


def _request(
    training: LocalData | ServiceData, validation: LocalData | ServiceData | None = None
) -> SubmitRequest:
    return SubmitRequest(model="m", training=training, validation=validation)


def test_service_data_is_named_by_its_id_and_local_data_by_its_path(tmp_path: Path) -> None:
    assert dataset_ref(ServiceData(ref=ASSET, name="chats:2", path=tmp_path / "copy.jsonl")) == DatasetRef(
        kind="asset", value=ASSET, name="chats:2"
    )
    assert dataset_ref(LocalData(path=tmp_path / "t.jsonl", name="t.jsonl")) == DatasetRef(
        kind="file", value=str(tmp_path / "t.jsonl"), name="t.jsonl"
    )


def test_not_checked_says_why_for_each_service_dataset_without_a_local_copy(tmp_path: Path) -> None:
    training = ServiceData(ref=ASSET, name="chats:2", not_checked=WHY)
    validation = ServiceData(ref="azureml:held-out:1", name="held-out:1")
    assert not_checked(_request(training, validation)) == (
        f"chats:2 was not validated locally: {WHY}.",
        "held-out:1 was not validated locally: not downloaded.",
    )
    # the validation data alone
    local = LocalData(path=tmp_path / "t.jsonl", name="t.jsonl")
    assert not_checked(_request(local, validation)) == (
        "held-out:1 was not validated locally: not downloaded.",
    )


def test_not_checked_is_empty_for_data_that_was_read(tmp_path: Path) -> None:
    copy = tmp_path / "copy.jsonl"
    here = ServiceData(ref=ASSET, name="chats:2", path=copy, not_checked=WHY)
    assert not_checked(_request(here, here)) == ()
    assert not_checked(_request(LocalData(path=copy, name="c"))) == ()


def test_the_cost_is_unknown_only_when_the_training_data_was_not_read(tmp_path: Path) -> None:
    copy = tmp_path / "copy.jsonl"
    unread = ServiceData(ref=ASSET, name="chats:2", not_checked=WHY)
    assert cost_unknown(_request(unread)) == (
        f"The cost of this job could not be estimated: its data was not read here ({WHY})."
    )
    assert cost_unknown(_request(ServiceData(ref=ASSET, name="chats:2"))) == (
        "The cost of this job could not be estimated: its data was not read here (not downloaded)."
    )
    assert cost_unknown(_request(ServiceData(ref=ASSET, name="c", path=copy, not_checked=WHY))) is None
    assert cost_unknown(_request(LocalData(path=copy, name="c"))) is None
    # only the training data counts
    assert cost_unknown(_request(LocalData(path=copy, name="c"), unread)) is None


def test_a_service_dataset_of_another_backend_is_refused_naming_its_field(tmp_path: Path) -> None:
    local = LocalData(path=tmp_path / "t.jsonl", name="t.jsonl")
    with pytest.raises(InvalidInput) as e:
        check_sources(_request(ServiceData(ref=FILE_ID, name="f")), "azure")
    assert e.value.field == "training"
    assert e.value.names["data"] == FILE_ID
    assert "only the foundry backend reads" in e.value.message
    assert "this ftbot runs the azure backend" in e.value.message
    with pytest.raises(InvalidInput) as e:
        check_sources(_request(local, ServiceData(ref=ASSET, name="a")), "foundry")
    assert e.value.field == "validation"
    assert e.value.names["data"] == ASSET
    assert "this ftbot runs the foundry backend" in e.value.message


def test_service_datasets_the_backend_reads_pass(tmp_path: Path) -> None:
    copy = tmp_path / "t.jsonl"
    check_sources(_request(ServiceData(ref=ASSET, name="a"), ServiceData(ref=ASSET, name="b")), "azure")
    check_sources(_request(ServiceData(ref=FILE_ID, name="f", path=copy)), "foundry")
    check_sources(_request(LocalData(path=copy, name="t")), "local")


def test_a_split_needs_the_training_data_here(tmp_path: Path) -> None:
    unread = ServiceData(ref=ASSET, name="chats:2")
    with pytest.raises(InvalidInput) as e:
        check_sources(SubmitRequest(model="m", training=unread, split=0.2), "azure")
    assert e.value.field == "split"
    assert e.value.names == {"data": "chats:2"}
    assert e.value.message == (
        "An automatic split needs the training data on this machine, and chats:2 was not downloaded. "
        "Give validation data, or none."
    )
    copy = tmp_path / "t.jsonl"
    check_sources(SubmitRequest(model="m", training=unread, split=None), "azure")  # no split: fine
    here = ServiceData(ref=ASSET, name="chats:2", path=copy)
    check_sources(SubmitRequest(model="m", training=here, split=0.2), "azure")
    check_sources(SubmitRequest(model="m", training=LocalData(path=copy, name="t"), split=0.2), "local")


def test_the_report_of_unread_data_is_empty_and_clean() -> None:
    report = unchecked_report(8192)
    assert report.model_dump() == {
        "ok": True,
        "examples": 0,
        "errors": [],
        "error_counts": {},
        "warnings": [],
        "warning_counts": {},
        "stats": {
            "examples": 0,
            "valid_examples": 0,
            "format": None,
            "bytes": 0,
            "has_bom": False,
            "messages_per_example": None,
            "tokens_per_example": None,
            "encoding": "",
            "approximate_tokens": True,
            "context_length": 8192,
            "examples_over_context": None,
            "duplicates": 0,
            "default_epochs": 1,
            "billed_tokens_estimate": None,
            "needed_text_format": None,
            "error_counts": {},
            "warning_counts": {},
        },
        "validation": None,
    }
