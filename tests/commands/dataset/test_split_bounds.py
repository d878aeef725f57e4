"""split_dataset at its edges: the fraction's bounds, the error's fields, the bytes written on each side."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands.dataset import split_dataset
from commands.dataset.split import MIN_TRAINING_EXAMPLES
from commands.errors import InvalidInput
from tests.commands.dataset.helpers import good, jsonl

BOM = b"\xef\xbb\xbf"


def _data(tmp_path: Path, n: int, name: str = "d.jsonl") -> Path:
    p = tmp_path / name
    p.write_bytes(jsonl(good(n)))
    return p


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.0, 2.0])
def test_fraction_outside_the_open_interval_is_refused(tmp_path: Path, fraction: float) -> None:
    with pytest.raises(InvalidInput) as e:
        split_dataset(_data(tmp_path, 50), fraction, 0, tmp_path / "out")
    assert e.value.field == "split"
    assert str(e.value) == (
        f"The validation fraction must be between 0 and 1 (exclusive), e.g. 0.1; got {fraction}."
    )
    assert not (tmp_path / "out").exists()  # nothing written


@pytest.mark.parametrize(("fraction", "valid"), [(1e-9, 1), (0.5, 25), (0.8, 40)])
def test_fraction_just_inside_the_bounds_is_accepted(tmp_path: Path, fraction: float, valid: int) -> None:
    train, validation = split_dataset(_data(tmp_path, 50), fraction, 3, tmp_path / "out")
    assert len(validation.read_bytes().splitlines()) == valid
    assert len(train.read_bytes().splitlines()) == 50 - valid


def test_exactly_the_minimum_left_for_training_is_enough(tmp_path: Path) -> None:
    n = MIN_TRAINING_EXAMPLES + 1
    train, validation = split_dataset(_data(tmp_path, n), 0.05, 0, tmp_path / "out")
    assert len(train.read_bytes().splitlines()) == MIN_TRAINING_EXAMPLES == 10
    assert len(validation.read_bytes().splitlines()) == 1


def test_too_small_names_the_file_counts_and_field(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as e:
        split_dataset(_data(tmp_path, 12), 0.25, 0, tmp_path / "out")
    assert e.value.field == "split"
    assert e.value.names == {"file": "d.jsonl"}
    assert str(e.value) == (
        "d.jsonl has 12 example(s): too few to split with fraction 0.25 (9 would be left for training; "
        "fine-tuning needs at least 10). Add examples or provide a separate validation file."
    )


def test_missing_file_names_the_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as e:
        split_dataset(tmp_path / "nope.jsonl", 0.1, 0, tmp_path / "out")
    assert (e.value.field, e.value.names, str(e.value)) == (
        "split",
        {"file": "nope.jsonl"},
        "No such file: nope.jsonl",
    )


def test_unreadable_path_is_a_user_error_with_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    with pytest.raises(InvalidInput) as e:
        split_dataset(folder, 0.1, 0, tmp_path / "out")
    assert (e.value.field, e.value.names) == ("split", {"file": "folder.jsonl"})
    assert str(e.value) == "Cannot read folder.jsonl: Is a directory"


def test_nested_output_folder_is_created(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "c"
    train, validation = split_dataset(_data(tmp_path, 20), 0.5, 0, out)
    assert (train.parent, validation.parent) == (out, out)
    assert train.name == "d.train.jsonl" and validation.name == "d.validation.jsonl"


def test_only_the_leading_bom_is_removed_and_every_line_ends_in_newline(tmp_path: Path) -> None:
    rows = jsonl(good(20)).splitlines()
    # a BOM at the start of the file goes; the same bytes at the start of a later line are data and stay;
    # the last line has no newline in the source but gets one on its side of the split
    source = tmp_path / "d.jsonl"
    source.write_bytes(BOM + rows[0] + b"\n" + BOM + rows[1] + b"\n" + b"\n".join(rows[2:]))
    train, validation = split_dataset(source, 0.5, 1, tmp_path / "out")
    written = train.read_bytes() + validation.read_bytes()
    assert sorted(written.splitlines(keepends=True)) == sorted(
        [rows[0] + b"\n", BOM + rows[1] + b"\n", *(r + b"\n" for r in rows[2:])]
    )
    assert train.read_bytes().endswith(b"\n") and validation.read_bytes().endswith(b"\n")
