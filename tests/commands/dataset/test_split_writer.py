from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from commands.dataset import sample_dataset_path, split_dataset, validate_dataset, write_for_azure
from commands.errors import InvalidInput
from tests.commands.dataset.helpers import good, jsonl

BOM = b"\xef\xbb\xbf"


def lines_of(p: Path) -> list[bytes]:
    return p.read_bytes().removeprefix(BOM).splitlines(keepends=True)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    p = tmp_path / "data.jsonl"
    p.write_bytes(jsonl(good(50)))
    return p


def test_split_is_deterministic_and_complete(data: Path, tmp_path: Path) -> None:
    a = split_dataset(data, 0.2, 7, tmp_path / "a")
    b = split_dataset(data, 0.2, 7, tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].name == "data.train.jsonl" and a[1].name == "data.validation.jsonl"
    train, valid = lines_of(a[0]), lines_of(a[1])
    assert (len(train), len(valid)) == (40, 10)
    assert Counter(train + valid) == Counter(lines_of(data))
    # file order is kept on both sides
    order = {line: i for i, line in enumerate(lines_of(data))}
    assert [order[x] for x in train] == sorted(order[x] for x in train)
    c = split_dataset(data, 0.2, 8, tmp_path / "c")
    assert lines_of(c[1]) != valid
    assert validate_dataset(a[0]).ok


def test_split_never_leaves_a_side_empty(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_bytes(BOM + jsonl(good(11)) + b"\n\n")
    train, valid = split_dataset(p, 0.01, 0, tmp_path)
    assert (len(lines_of(train)), len(lines_of(valid))) == (10, 1)
    assert not train.read_bytes().startswith(BOM)


@pytest.mark.parametrize(("n", "fraction"), [(10, 0.1), (0, 0.5), (20, 0.6), (11, 0.5)])
def test_split_refuses_data_too_small(tmp_path: Path, n: int, fraction: float) -> None:
    p = tmp_path / "d.jsonl"
    p.write_bytes(jsonl(good(n)))
    with pytest.raises(InvalidInput, match="too few to split"):
        split_dataset(p, fraction, 0, tmp_path)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_split_refuses_fraction_out_of_range(data: Path, tmp_path: Path, fraction: float) -> None:
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        split_dataset(data, fraction, 0, tmp_path)


def test_split_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="No such file"):
        split_dataset(tmp_path / "nope.jsonl", 0.1, 0, tmp_path)


@pytest.mark.parametrize("bom", [b"", BOM])
def test_write_for_azure_writes_one_bom(tmp_path: Path, bom: bytes) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(bom + jsonl(good(10)).replace(b"\n", b"\r\n", 1) + b"\n")
    out = write_for_azure(src, tmp_path / "out.jsonl")
    data = out.read_bytes()
    assert data.startswith(BOM) and not data[3:].startswith(BOM)
    assert data[3:] == jsonl(good(10))
    report = validate_dataset(out)
    assert report.ok and report.stats.has_bom and report.warning_counts == {}


def test_write_for_azure_in_place(data: Path) -> None:
    before = data.read_bytes()
    write_for_azure(data, data)
    assert data.read_bytes() == BOM + before
    write_for_azure(data, data)
    assert data.read_bytes() == BOM + before
    assert [p.name for p in data.parent.iterdir()] == ["data.jsonl"]


def test_sample_dataset_is_valid_and_small() -> None:
    path = sample_dataset_path()
    report = validate_dataset(path)
    assert report.ok and report.warning_counts == {}
    assert 30 <= report.examples <= 40
    s = report.stats
    assert s.messages_per_example is not None and s.messages_per_example.min == 3
    assert s.tokens_per_example is not None and s.tokens_per_example.max < 128
