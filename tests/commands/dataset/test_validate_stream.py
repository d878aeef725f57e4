"""``commands.dataset.validate``: reading in blocks (lines and BOMs across block ends, over-long lines), the
exact sentences of line-level errors, the sources it reads and the arguments it refuses."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

import commands.dataset.validate as vmod
from commands.dataset import UnreadableDataset, validate_dataset
from commands.errors import InvalidInput
from commands.models import Method, Task
from tests.commands.dataset.helpers import chat, codes_at, good, jsonl, run, warnings_at
from tests.support.data import preference_lines

BOM = b"\xef\xbb\xbf"
TOO_LONG = (
    "This line is {mb} MB, far beyond any model's context (at most {cap} MB a line); it was not read. "
    "Is the file one JSON object per line?"
)


def sized(n: int, i: int = 0) -> bytes:
    """A valid chat example of exactly ``n`` bytes (padding its answer)."""
    raw = orjson.dumps(chat(i, answer=""))
    pad = n - len(raw)
    assert pad >= 1
    return orjson.dumps(chat(i, answer="x" * pad))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"messages": [}', "Not valid JSON: unexpected character, expected a JSON value (column 15)."),
        (b"{'a': 1}", "Not valid JSON: unexpected character, expected a string key (column 2)."),
        (b'{"a": 1', "Not valid JSON: unexpected end of data (column 8)."),
        (b'{"a": "caf\xe9"}', "Bytes that are not UTF-8 at byte 11 of the line; save the file as UTF-8."),
        (b"\xff", "Bytes that are not UTF-8 at byte 1 of the line; save the file as UTF-8."),
        (b"[1]", "Each line must be a JSON object; this one is a list."),
        (b"null", "Each line must be a JSON object; this one is null."),
        (b"3", "Each line must be a JSON object; this one is a number."),
    ],
)
def test_line_errors_say_what_and_where(raw: bytes, message: str) -> None:
    report = run([*good(10), raw])
    assert [(i.line, i.message) for i in report.errors] == [(11, message)]
    assert report.examples == 11 and report.stats.valid_examples == 10


def test_blank_lines_warn_and_are_not_examples() -> None:
    report = run(jsonl(good(3)) + b"\n  \n\t\r\n" + jsonl(good(7, start=3)))
    assert [(w.line, w.code, w.message) for w in report.warnings] == [
        (line, "blank_line", "Blank line; it is skipped (and dropped when ftbot uploads).")
        for line in (4, 5, 6)
    ]
    assert report.ok and report.examples == 10 and report.stats.valid_examples == 10


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_lines_across_block_ends_keep_their_numbers(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(vmod, "_BLOCK", block)
    objs: list[Any] = good(12)
    objs[0], objs[6] = b"nope", b"[]"
    data = BOM + jsonl(objs) + b"{"  # the last line has no newline
    seen: list[int] = []
    report = validate_dataset(io.BytesIO(data), progress=seen.append)
    assert codes_at(report) == {(1, "invalid_json"), (7, "data_type"), (13, "invalid_json")}
    assert report.examples == 13 and report.stats.valid_examples == 10
    assert report.stats.bytes == len(data) and report.stats.has_bom
    assert seen == sorted(seen) and seen[-1] == len(data)
    assert len(seen) == -(-len(data) // block)


def test_a_final_line_without_newline_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    report = run(jsonl(good(10)) + b"[]")
    assert codes_at(report) == {(11, "data_type")} and report.examples == 11


@pytest.mark.parametrize("data", [BOM, b"\n", BOM + b"\n"])
def test_a_file_of_a_bom_or_a_newline_has_no_example(data: bytes) -> None:
    report = run(data)
    assert report.examples == 0 and report.stats.bytes == len(data)
    assert report.stats.has_bom is data.startswith(BOM)
    assert codes_at(report) == {(None, "empty_file")}


def test_half_a_bom_is_a_line_of_bad_bytes() -> None:
    report = run(BOM[:2])
    assert report.examples == 1 and not report.stats.has_bom
    assert codes_at(report) == {(1, "encoding"), (None, "too_few_examples")}


def test_a_bom_in_the_middle_is_no_bom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vmod, "_BLOCK", 5)
    for tail in (BOM + b"{}\n", BOM + b"{}"):
        report = run(jsonl(good(10)) + tail)
        assert not report.stats.has_bom and codes_at(report) == {(11, "invalid_json")}


@pytest.mark.parametrize("block", [50, 100, 333])
def test_over_long_lines_are_skipped_with_their_line(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(vmod, "_BLOCK", block)
    monkeypatch.setattr(vmod, "MAX_LINE_BYTES", 400)
    objs: list[Any] = good(12)
    objs[2] = b'{"messages": "' + b"y" * 900 + b'"}'
    objs[3] = b"x" * 1200
    data = jsonl(objs) + b"z" * 1500  # and a last one without newline
    report = validate_dataset(io.BytesIO(data))
    assert codes_at(report) == {(3, "line_too_long"), (4, "line_too_long"), (13, "line_too_long")}
    assert report.examples == 13 and report.stats.valid_examples == 10
    assert report.stats.bytes == len(data)
    assert all(i.message == TOO_LONG.format(mb=0, cap=0) for i in report.errors)


@pytest.mark.parametrize("size", [299, 300])
def test_a_line_at_the_cap_is_read(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """A line still unfinished at a block's end is over-long only beyond ``MAX_LINE_BYTES``."""
    monkeypatch.setattr(vmod, "MAX_LINE_BYTES", 300)
    monkeypatch.setattr(vmod, "_BLOCK", size)
    report = run(sized(size) + b"\n" + jsonl(good(9, start=1)))
    assert report.ok, report.errors
    monkeypatch.setattr(vmod, "MAX_LINE_BYTES", size - 1)
    assert codes_at(run(sized(size) + b"\n" + jsonl(good(9, start=1)))) == {(1, "line_too_long")}


def test_an_over_long_line_that_ends_at_a_block_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vmod, "MAX_LINE_BYTES", 250)
    monkeypatch.setattr(vmod, "_BLOCK", 300)
    data = b"x" * 600 + b"\n" + jsonl(good(10))  # the newline is the first byte of the third block
    report = run(data)
    assert codes_at(report) == {(1, "line_too_long")} and report.stats.valid_examples == 10


def test_the_size_of_an_over_long_line_in_megabytes() -> None:
    data = b"[" + b"1," * 2_936_013 + b"1]\n" + jsonl(good(10))  # 5.6 MB; a line is 4 MB at most
    report = run(data, count_tokens=False)
    assert [(i.line, i.code, i.message) for i in report.errors] == [
        (1, "line_too_long", TOO_LONG.format(mb=6, cap=4))
    ]
    long_last = run(jsonl(good(10)) + b"x" * (13 << 19), count_tokens=False)  # 6.5 MB, no newline
    assert [(i.line, i.message) for i in long_last.errors] == [(11, TOO_LONG.format(mb=6, cap=4))]


# -- sources ----------------------------------------------------------------------------------------
def test_a_missing_file_a_folder_and_an_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDataset) as missing:
        validate_dataset(tmp_path / "gone.jsonl")
    assert (str(missing.value), missing.value.names) == ("No such file: gone.jsonl", {"file": "gone.jsonl"})
    with pytest.raises(UnreadableDataset) as folder:
        validate_dataset(tmp_path)
    assert str(folder.value) == f"{tmp_path.name} is a directory, not a JSONL file."
    assert folder.value.names == {"file": tmp_path.name}
    (tmp_path / "f").write_text("x")
    with pytest.raises(UnreadableDataset) as other:
        validate_dataset(tmp_path / "f" / "d.jsonl")
    assert str(other.value) == "Cannot read d.jsonl: Not a directory"
    assert other.value.code == "unreadable" and isinstance(other.value, InvalidInput)


def test_a_read_error_midway(tmp_path: Path) -> None:
    class Broken(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            raise OSError(5, "Input/output error")

    with pytest.raises(UnreadableDataset, match=r"^Reading the dataset failed: Input/output error$"):
        validate_dataset(Broken())

    class Bare(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            raise OSError("disk gone")

    with pytest.raises(UnreadableDataset, match=r"^Reading the dataset failed: disk gone$"):
        validate_dataset(Bare())


def test_a_stream_is_left_open_and_a_path_is_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.BytesIO(jsonl(good(10)))
    assert validate_dataset(stream).ok and not stream.closed
    opened: list[Any] = []

    def tracking_open(path: Path, mode: str) -> Any:
        opened.append(open(path, mode))  # noqa: SIM115 - closed by validate_dataset, checked below
        return opened[-1]

    monkeypatch.setattr(vmod, "open", tracking_open, raising=False)
    (tmp_path / "d.jsonl").write_bytes(jsonl(good(10)))
    assert validate_dataset(tmp_path / "d.jsonl").ok
    assert [f.closed for f in opened] == [True]
    assert [f.name for f in opened] == [str(tmp_path / "d.jsonl")]
    assert validate_dataset(str(tmp_path / "d.jsonl")).ok  # type: ignore[arg-type]


def test_an_error_without_strerror_is_shown_as_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_open(path: Path, mode: str) -> Any:
        raise OSError("the disk said no")

    monkeypatch.setattr(vmod, "open", failing_open, raising=False)
    with pytest.raises(UnreadableDataset) as e:
        validate_dataset(tmp_path / "d.jsonl")
    assert str(e.value) == "Cannot read d.jsonl: the disk said no"


# -- arguments --------------------------------------------------------------------------------------
def test_the_context_length_is_at_least_one_token() -> None:
    with pytest.raises(InvalidInput) as e:
        run(good(10), context_length=0)
    assert (str(e.value), e.value.field) == ("The context length must be at least 1 token.", "context_length")
    one = run(good(10), context_length=1)
    assert one.ok and one.stats.examples_over_context == 10 and one.stats.context_length == 1


def test_dpo_needs_the_chat_task() -> None:
    with pytest.raises(InvalidInput) as e:
        run(preference_lines(10).encode(), method="dpo", task="text_completion")
    assert str(e.value) == "DPO trains chat models: use the chat_completion task with --method dpo."
    assert e.value.field == "method"
    report = run(preference_lines(10).encode(), method="dpo", task="chat_completion")
    assert report.ok and report.stats.format == "preference"


def test_an_unknown_encoding_is_refused_before_reading() -> None:
    class Unread(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            raise AssertionError("read before the encoding was checked")

    with pytest.raises(InvalidInput, match="p50k_base"):
        validate_dataset(Unread(), encoding="p50k_base")


def test_the_task_and_method_pick_the_rules() -> None:
    text = [{"prompt": f"p{i}", "completion": "c"} for i in range(10)]
    assert run(text, task=Task.TEXT_COMPLETION).stats.format == "prompt_completion"
    assert run(text, task="chat_completion").error_counts == {"format_mismatch": 10}
    assert run(good(10), method=Method.SUPERVISED).stats.format == "chat"
    dpo = run(preference_lines(10).encode(), method=Method.DPO, count_tokens=False)
    assert dpo.ok and dpo.stats.format == "preference" and dpo.stats.messages_per_example is not None


@pytest.mark.parametrize(("cpus", "workers"), [(0, 1), (1, 1), (2, 2), (8, 8), (9, 8), (64, 8)])
def test_token_workers_follow_the_cpus_up_to_eight(
    monkeypatch: pytest.MonkeyPatch, cpus: int, workers: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    assert vmod._workers() == workers


@pytest.mark.parametrize(("cpus", "workers"), [(None, 1), (3, 3), (12, 8)])
def test_token_workers_without_affinity(
    monkeypatch: pytest.MonkeyPatch, cpus: int | None, workers: int
) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    assert vmod._workers() == workers


@pytest.mark.parametrize("workers", [None, -3, 0, 1, 3])
def test_any_worker_count_gives_the_same_figures(workers: int | None) -> None:
    objs = [chat(i, answer="word " * i) for i in range(30)]
    report = run(objs, workers=workers)
    assert report.stats.tokens_per_example == run(objs, workers=1).stats.tokens_per_example


@pytest.mark.parametrize(("asked", "used"), [(None, 5), (-3, 1), (0, 1), (1, 1), (3, 3)])
def test_the_token_workers_asked_for(monkeypatch: pytest.MonkeyPatch, asked: int | None, used: int) -> None:
    started: list[int] = []

    class Pool(vmod.TokenPool):
        def __init__(self, encoding: str, workers: int, *args: Any, **kw: Any) -> None:
            started.append(workers)
            super().__init__(encoding, workers, *args, **kw)

    monkeypatch.setattr(vmod, "TokenPool", Pool)
    monkeypatch.setattr(vmod, "_workers", lambda: 5)
    assert run(good(10), workers=asked).ok
    run(good(10), workers=asked, validation=io.BytesIO(jsonl(good(1))))
    assert started == [used] * 3


def test_a_validation_file_of_one_example_is_enough(tmp_path: Path) -> None:
    report = run(good(10), validation=io.BytesIO(jsonl(good(1, start=50))))
    assert report.ok and report.validation is not None and report.validation.ok
    assert report.validation.examples == 1 and report.validation.validation is None
    assert warnings_at(report) == set()
    bad = run(good(10), validation=io.BytesIO(b""))
    assert not bad.ok and bad.validation is not None and codes_at(bad.validation) == {(None, "empty_file")}


def test_a_json_error_without_a_position_is_shown_as_is() -> None:
    positioned = orjson.JSONDecodeError("unexpected end of data", '{"a": 1', 7)
    assert vmod._json_reason(positioned) == "unexpected end of data (column 8)"
    assert vmod._json_reason(ValueError("odd input")) == "odd input"  # type: ignore[arg-type]
