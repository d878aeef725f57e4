"""The data a job was launched with, remembered in its folder and read back: the exact file written, each
kind of data read back while it is still here (and why not when it is gone), and anything malformed read
as no data rather than an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from commands.lifecycle.sources import FILE, Sources, read_sources, remember_sources
from commands.lifecycle.values import LocalData, ServiceData, SubmitRequest

ASSET = "azureml:support-chats:2"


def _file(path: Path, text: str = "{}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _write(job_dir: Path, body: object) -> Path:
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / FILE).write_text(json.dumps(body), encoding="utf-8")
    return job_dir


def _written(job_dir: Path) -> object:
    return json.loads((job_dir / FILE).read_text(encoding="utf-8"))


def test_local_data_is_written_by_its_resolved_path(tmp_path: Path) -> None:
    train = _file(tmp_path / "in" / "train.jsonl")
    valid = _file(tmp_path / "in" / "valid.jsonl")
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    request = SubmitRequest(
        model="m",
        training=LocalData(path=tmp_path / "in" / ".." / "in" / "train.jsonl", name="train"),
        validation=LocalData(path=valid, name="valid"),
        split=0.25,
    )

    remember_sources(job_dir, request)

    assert FILE == "sources.json"
    assert _written(job_dir) == {
        "training": {"path": str(train.resolve()), "name": "train"},
        "validation": {"path": str(valid.resolve()), "name": "valid"},
        "split": 0.25,
    }
    assert sorted(p.name for p in job_dir.iterdir()) == [FILE]
    assert read_sources(job_dir) == Sources(
        training=LocalData(path=train.resolve(), name="train"),
        validation=LocalData(path=valid.resolve(), name="valid"),
        split=0.25,
    )


def test_service_data_is_written_by_its_id_with_its_copy_and_reason(tmp_path: Path) -> None:
    copy = _file(tmp_path / "dl" / "copy.jsonl")
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    training = ServiceData(ref=ASSET, name="chats:2", path=tmp_path / "dl" / ".." / "dl" / "copy.jsonl")
    validation = ServiceData(ref="azureml:held-out:1", name="held-out:1", not_checked="too large")
    remember_sources(job_dir, SubmitRequest(model="m", training=training, validation=validation))

    assert _written(job_dir) == {
        "training": {"ref": ASSET, "name": "chats:2", "path": str(copy.resolve()), "not_checked": None},
        "validation": {
            "ref": "azureml:held-out:1",
            "name": "held-out:1",
            "path": None,
            "not_checked": "too large",
        },
        "split": None,
    }
    sources = read_sources(job_dir)
    assert isinstance(sources.training, ServiceData) and sources.split is None
    assert (sources.training.ref, sources.training.name, sources.training.path) == (
        ASSET,
        "chats:2",
        copy.resolve(),
    )
    assert sources.validation == ServiceData(
        ref="azureml:held-out:1", name="held-out:1", not_checked="too large"
    )


def test_a_write_replaces_the_last_one_and_any_half_written_file(tmp_path: Path) -> None:
    train = _file(tmp_path / "train.jsonl")
    job_dir = tmp_path / "job"
    _write(job_dir, {"training": None})
    (job_dir / f".{FILE}.tmp").write_text("half a file")  # left by a process that died while writing

    remember_sources(job_dir, SubmitRequest(model="m", training=LocalData(path=train, name="t")))

    assert sorted(p.name for p in job_dir.iterdir()) == [FILE]
    assert read_sources(job_dir).training == LocalData(path=train.resolve(), name="t")


def test_service_data_reads_back_without_its_copy_saying_why(tmp_path: Path) -> None:
    job_dir = _write(
        tmp_path / "job",
        {
            "training": {
                "ref": ASSET,
                "name": "chats:2",
                "path": str(tmp_path / "gone.jsonl"),
                "not_checked": None,
            },
            "validation": {"ref": ASSET, "path": str(tmp_path / "gone.jsonl"), "not_checked": "too large"},
        },
    )
    assert read_sources(job_dir) == Sources(
        training=ServiceData(ref=ASSET, name="chats:2", path=None, not_checked="its local copy is gone"),
        validation=ServiceData(ref=ASSET, name=ASSET, path=None, not_checked="too large"),
    )


def test_service_data_with_its_copy_here_has_no_reason(tmp_path: Path) -> None:
    copy = _file(tmp_path / "copy.jsonl")
    job_dir = _write(
        tmp_path / "job",
        {
            "training": {"ref": ASSET, "name": "", "path": str(copy), "not_checked": "stale reason"},
            "validation": {"ref": ASSET, "name": "v", "path": 7, "not_checked": ""},
        },
    )
    sources = read_sources(job_dir)
    assert isinstance(sources.training, ServiceData)
    assert (sources.training.ref, sources.training.name, sources.training.path) == (ASSET, ASSET, copy)
    assert sources.training.not_checked != "stale reason"  # the copy is here: nothing to say why not
    assert sources.validation == ServiceData(ref=ASSET, name="v", path=None, not_checked=None)


def test_service_data_without_a_copy_reads_its_reason_as_text(tmp_path: Path) -> None:
    job_dir = _write(tmp_path / "job", {"training": {"ref": ASSET, "not_checked": 42}})
    assert read_sources(job_dir).training == ServiceData(ref=ASSET, name=ASSET, path=None, not_checked="42")


def test_local_data_reads_back_only_while_it_is_a_file(tmp_path: Path) -> None:
    train = _file(tmp_path / "train.jsonl")
    (tmp_path / "folder").mkdir()
    job_dir = _write(
        tmp_path / "job",
        {"training": {"path": str(train)}, "validation": {"path": str(tmp_path / "folder"), "name": "v"}},
    )
    assert read_sources(job_dir) == Sources(training=LocalData(path=train, name="train.jsonl"))
    train.unlink()
    assert read_sources(job_dir).training is None


@pytest.mark.parametrize(
    "raw",
    [None, "train.jsonl", ["path"], {}, {"path": 3}, {"name": "t"}, {"ref": 5, "name": "t"}],
)
def test_malformed_data_reads_as_none(tmp_path: Path, raw: object) -> None:
    job_dir = _write(tmp_path / "job", {"training": raw, "validation": raw, "split": 0.5})
    assert read_sources(job_dir) == Sources(training=None, validation=None, split=0.5)


def test_a_ref_with_a_path_that_is_no_text_is_service_data_without_a_copy(tmp_path: Path) -> None:
    job_dir = _write(tmp_path / "job", {"training": {"ref": ASSET, "path": 3}})
    assert read_sources(job_dir).training == ServiceData(ref=ASSET, name=ASSET)


@pytest.mark.parametrize(
    ("split", "read"),
    [
        (0.2, 0.2),
        (0.999, 0.999),
        (0.001, 0.001),
        (0, None),
        (1, None),
        (-0.2, None),
        (1.5, None),
        ("0.2", None),
        (None, None),
    ],
)
def test_only_a_split_between_0_and_1_is_read(tmp_path: Path, split: object, read: float | None) -> None:
    job_dir = _write(tmp_path / "job", {"training": None, "split": split})
    sources = read_sources(job_dir)
    assert sources.split == read
    assert sources.split is None or type(sources.split) is float


@pytest.mark.parametrize("text", [None, "{not json", "[1, 2]", '"text"', "null"])
def test_a_missing_or_malformed_file_reads_as_no_data(tmp_path: Path, text: str | None) -> None:
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    if text is not None:
        (job_dir / FILE).write_text(text, encoding="utf-8")
    assert read_sources(job_dir) == Sources(training=None, validation=None, split=None)


def test_a_file_that_is_not_utf8_reads_as_no_data(tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / FILE).write_bytes(b'{"split": 0.5, "x": "\xff"}')
    assert read_sources(job_dir) == Sources(training=None)


def test_non_ascii_names_round_trip(tmp_path: Path) -> None:
    train = _file(tmp_path / "données.jsonl")
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    remember_sources(job_dir, SubmitRequest(model="m", training=LocalData(path=train, name="données")))
    assert read_sources(job_dir).training == LocalData(path=train.resolve(), name="données")


def test_service_data_with_its_copy_here_reads_back_as_checked(tmp_path: Path) -> None:
    copy = _file(tmp_path / "copy.jsonl")
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    remember_sources(job_dir, SubmitRequest(model="m", training=ServiceData(ref=ASSET, name="c", path=copy)))
    assert read_sources(job_dir).training == ServiceData(ref=ASSET, name="c", path=copy.resolve())
