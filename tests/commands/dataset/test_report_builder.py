"""``commands.dataset.report_builder``: the counts, statistics, file-level errors and warnings of a report,
built directly (no file, no tokenizer) so each figure a user reads is checked at its boundaries."""

from __future__ import annotations

from array import array
from types import SimpleNamespace
from typing import Any

import pytest

from commands.dataset import report_builder
from commands.dataset.report_builder import (
    LISTED_PER_CODE,
    IssueLog,
    ReportBuilder,
    billed_tokens,
    default_epochs,
)
from commands.models import Task

TG = '{"text", "ground_truth"}'
PC = '{"prompt", "completion"}'


def builder(**kw: Any) -> ReportBuilder:
    args: dict[str, Any] = {
        "task": Task.CHAT_COMPLETION,
        "context_length": 10,
        "encoding": "o200k_base",
        "exact_tokenizer": True,
        "count_tokens": True,
        "backend_text_format": None,
        "min_examples": 2,
        "max_file_bytes": 10_000,
    }
    return ReportBuilder(**(args | kw))


def example(line: int, fmt: str | None = "chat", messages: int = 3) -> Any:
    return SimpleNamespace(line=line, format=fmt, messages=messages)


def fill(
    b: ReportBuilder, raws: list[bytes], fmt: str | None = "chat", messages: list[int] | None = None
) -> None:
    """``raws`` as valid examples on lines 1, 2, …"""
    for i, raw in enumerate(raws):
        b.examples += 1
        b.bytes += len(raw) + 1
        b.valid_example(raw, example(i + 1, fmt, messages[i] if messages else 3))


@pytest.mark.parametrize(
    ("n", "epochs"), [(-1, 1), (2, 25), (4, 25), (6, 16), (7, 14), (30, 3), (9000, 2), (12_501, 1)]
)
def test_default_epochs_are_whole_numbers(n: int, epochs: int) -> None:
    got = default_epochs(n)
    assert got == epochs and type(got) is int


def test_billed_tokens_cap_each_example_at_the_context() -> None:
    assert billed_tokens([9, 10, 11, 2**33], 10, 2) == 2 * (9 + 10 + 10 + 10)
    assert type(billed_tokens(array("I", [1]), 10, 1)) is int


def test_the_issue_log_lists_the_first_of_each_code_and_counts_all() -> None:
    log = IssueLog()
    for i in range(LISTED_PER_CODE + 2):
        log.error(i, "a", f"a{i}")
        log.warn(i, "w", f"w{i}")
    log.error(None, "b", "b")
    assert [i.message for i in log.errors] == [f"a{i}" for i in range(LISTED_PER_CODE)] + ["b"]
    assert [i.line for i in log.warnings] == list(range(LISTED_PER_CODE))
    assert (log.error_counts, log.warning_counts) == ({"a": 102, "b": 1}, {"w": 102})
    assert LISTED_PER_CODE == 100


def test_message_counts_and_their_mean() -> None:
    b = builder()
    fill(b, [b"a", b"b", b"c", b"d", b"e"], messages=[4, 2, 7, 3, 7])
    s = b.build(None).stats
    assert s.messages_per_example is not None
    assert (s.messages_per_example.min, s.messages_per_example.mean, s.messages_per_example.max) == (
        2,
        4.6,
        7,
    )
    b = builder()
    fill(b, [b"a", b"b", b"c"], fmt="preference", messages=[2, 3, 3])
    s = b.build(None).stats
    assert s.messages_per_example is not None
    assert (s.messages_per_example.min, s.messages_per_example.mean, s.messages_per_example.max) == (
        2,
        2.67,
        3,
    )


def test_a_report_of_no_valid_example_has_no_message_statistics() -> None:
    b = builder()
    b.examples, b.bytes = 3, 30
    report = b.build(None)
    assert report.stats.messages_per_example is None and report.stats.format is None
    assert report.stats.tokens_per_example is None and report.stats.billed_tokens_estimate == 0


def test_text_formats_are_counted_and_the_most_used_wins() -> None:
    b = builder(task=Task.TEXT_COMPLETION)
    fill(b, [b"1", b"2", b"3"], fmt="prompt_completion")
    b.valid_example(b"4", example(4, "text_ground_truth"))
    b.valid_example(b"5", example(5, "text_ground_truth"))
    b.examples += 2
    report = b.build(None)
    assert report.stats.format == "prompt_completion" and report.stats.messages_per_example is None
    message = f"The file mixes {PC} lines (3) with {TG} lines (2, the first here); use one format."
    assert [(i.line, i.code, i.message) for i in report.errors] == [(4, "mixed_formats", message)]
    assert report.error_counts == {"mixed_formats": 1} and not report.ok


@pytest.mark.parametrize(
    ("needed", "errors"), [("text_ground_truth", 0), ("prompt_completion", 1), (None, 0)]
)
def test_the_backend_text_format(needed: str | None, errors: int) -> None:
    b = builder(task=Task.TEXT_COMPLETION, backend_text_format=needed)
    fill(b, [b"1", b"2"], fmt="text_ground_truth")
    report = b.build(None)
    message = f"The chosen backend needs {PC} lines; this file has {TG}."
    assert [(i.line, i.code, i.message) for i in report.errors] == [
        (None, "format_mismatch", message)
    ] * errors
    assert report.stats.format == "text_ground_truth" and report.stats.needed_text_format == needed
    chat = builder(backend_text_format=needed)
    fill(chat, [b"1", b"2"])
    assert chat.build(None).stats.needed_text_format is None


def test_tokens_over_the_context_warn_with_their_size() -> None:
    b = builder(context_length=4096)
    fill(b, [b"1", b"2", b"3"])
    b.tokens_counted([4096, 12_345, 4097], [1, 2, 3])
    report = b.build(None)
    over = (
        "Example has {n} tokens, over the model's context length of 4,096; "
        "it will be truncated during training."
    )
    assert [(w.line, w.code, w.message) for w in report.warnings] == [
        (2, "over_context_length", over.format(n="12,345")),
        (3, "over_context_length", over.format(n="4,097")),
    ]
    assert report.stats.examples_over_context == 2
    assert (
        report.stats.tokens_per_example is not None
        and report.stats.tokens_per_example.total == 4096 + 12_345 + 4097
    )


def test_without_token_counts_there_are_no_token_figures() -> None:
    b = builder(count_tokens=False)
    fill(b, [b"1", b"2"])
    b.tokens_counted([50, 3], [1, 2])
    s = b.build(None).stats
    assert (s.tokens_per_example, s.billed_tokens_estimate, s.examples_over_context) == (None, None, None)
    assert b.over_context == 1 and len(b.token_counts) == 0


@pytest.mark.parametrize(
    ("counts", "p50", "p95"),
    [
        ([7], 7, 7),
        ([5, 1], 1, 5),
        ([3, 1, 2], 2, 3),
        (list(range(1, 18)), 9, 17),
        (list(range(1, 21)), 10, 19),
        (list(range(1, 22)), 11, 20),
        (list(range(1, 102)), 51, 96),
    ],
)
def test_token_percentiles_are_nearest_rank(counts: list[int], p50: int, p95: int) -> None:
    b = builder(context_length=15)
    fill(b, [bytes([i]) for i in range(len(counts))])
    b.tokens_counted(counts, list(range(1, len(counts) + 1)))
    s = b.build(None).stats
    assert s.tokens_per_example is not None
    t = s.tokens_per_example
    assert (t.min, t.p50, t.p95, t.max, t.total) == (min(counts), p50, p95, max(counts), sum(counts))
    assert s.billed_tokens_estimate == s.default_epochs * sum(min(c, 15) for c in counts)


@pytest.mark.parametrize(
    ("examples", "bytes_", "codes"),
    [
        (0, 0, ["empty_file"]),
        (0, 5, ["empty_file"]),
        (3, 0, ["empty_file"]),
        (1, 5, ["too_few_examples"]),
        (2, 5, []),
        (2, 9_999, []),
        (2, 10_000, ["too_large"]),
        (0, 10_000, ["empty_file", "too_large"]),
    ],
)
def test_file_level_errors(examples: int, bytes_: int, codes: list[str]) -> None:
    b = builder()
    b.examples, b.bytes = examples, bytes_
    report = b.build(None)
    assert [(i.line, i.code) for i in report.errors] == [(None, c) for c in codes]
    assert report.error_counts == dict.fromkeys(codes, 1) and report.ok is not codes


def test_the_sentences_of_file_level_errors() -> None:
    b = builder(min_examples=10, max_file_bytes=100)
    b.examples, b.bytes = 9, 1500 * 2**20
    assert [i.message for i in b.build(None).errors] == [
        "The file has 9 example(s); fine-tuning needs at least 10.",
        "The file is 1,500 MB; Azure takes files under 512 MB. Split it or import it from Blob storage.",
    ]
    assert [i.message for i in builder().build(None).errors] == [
        "The file is empty; it needs one JSON example per line."
    ]


def test_duplicates_name_the_first_of_their_kind() -> None:
    b = builder()
    fill(b, [b"a", b"b", b"a", b"c", b"b", b"a"])
    report = b.build(None)
    assert [(w.line, w.message) for w in report.warnings] == [
        (3, "Exact duplicate of line 1."),
        (5, "Exact duplicate of line 2."),
        (6, "Exact duplicate of line 1."),
    ]
    assert {w.code for w in report.warnings} == {"duplicate_example"} and report.stats.duplicates == 3


@pytest.mark.parametrize(("raws", "dups"), [([b"a"], 0), ([b"a", b"a"], 1), ([b"a", b"b"], 0)])
def test_two_examples_are_enough_for_a_duplicate(raws: list[bytes], dups: int) -> None:
    b = builder()
    fill(b, raws)
    assert b.build(None).stats.duplicates == dups


def test_overlap_with_the_validation_file() -> None:
    v = builder()
    fill(v, [b"x", b"b", b"y"])
    b = builder()
    fill(b, [b"a", b"b", b"c", b"y"])
    report = b.build((v.hashes, v.hash_lines))
    assert [(w.line, w.code, w.message) for w in report.warnings] == [
        (
            2,
            "train_validation_overlap",
            "The same example is line 2 of the validation file; validation loss will flatter the model.",
        ),
        (
            4,
            "train_validation_overlap",
            "The same example is line 3 of the validation file; validation loss will flatter the model.",
        ),
    ]
    assert report.ok
    none = builder()
    fill(none, [b"a", b"c"])
    assert none.build((v.hashes, v.hash_lines)).warnings == []
    empty = builder()
    assert empty.build((v.hashes, v.hash_lines)).warnings == []
    no_validation = builder()
    fill(no_validation, [b"b"])
    assert no_validation.build((array("q"), array("I"))).warnings == []


def test_warnings_are_in_line_order_and_errors_list_file_errors_first() -> None:
    b = builder(min_examples=5)
    fill(b, [b"a", b"b", b"a"])
    b.issues.warn(1, "missing_user_message", "w")
    b.issues.warn(None, "blank_line", "x")
    b.issues.warn(2, "missing_system_message", "y")
    b.issues.error(1, "invalid_json", "z")
    report = b.build(None)
    assert [w.line for w in report.warnings] == [None, 1, 2, 3]
    assert [(i.line, i.code) for i in report.errors] == [(None, "too_few_examples"), (1, "invalid_json")]
    assert report.error_counts == {"invalid_json": 1, "too_few_examples": 1}
    assert report.warning_counts == {
        "missing_user_message": 1,
        "blank_line": 1,
        "missing_system_message": 1,
        "duplicate_example": 1,
    }
    assert (
        report.stats.error_counts == report.error_counts
        and report.stats.warning_counts == report.warning_counts
    )


def test_the_stats_carry_what_the_builder_was_given() -> None:
    b = builder(encoding="Qwen tokenizer", exact_tokenizer=False, context_length=77)
    fill(b, [b"a", b"b"])
    b.has_bom = True
    s = b.build(None).stats
    assert (s.examples, s.valid_examples, s.bytes, s.has_bom) == (2, 2, 4, True)
    assert (s.encoding, s.approximate_tokens, s.context_length, s.format) == (
        "Qwen tokenizer",
        True,
        77,
        "chat",
    )
    assert s.default_epochs == 25 and s.duplicates == 0 and s.examples_over_context == 0
    assert builder(chat_format="preference").chat_format == "preference"


def test_a_file_level_error_adds_to_the_lines_of_the_same_code() -> None:
    b = builder(task=Task.TEXT_COMPLETION, backend_text_format="text_ground_truth")
    fill(b, [b"1", b"2", b"3"], fmt="prompt_completion")
    b.issues.error(4, "format_mismatch", "chat data")
    b.issues.error(5, "mixed_formats", "both")
    b.valid_example(b"6", example(6, "text_ground_truth"))
    report = b.build(None)
    assert report.error_counts == {"format_mismatch": 2, "mixed_formats": 2}
    assert [(i.line, i.code) for i in report.errors] == [
        (6, "mixed_formats"),
        (None, "format_mismatch"),
        (4, "format_mismatch"),
        (5, "mixed_formats"),
    ]


def test_counts_are_stored_unsigned_32_bit() -> None:
    b = builder(context_length=2**32 - 1)
    b.examples, b.bytes = 2, 10
    b.valid_example(b"a", example(2**31))
    b.valid_example(b"a", example(2**32 - 1))
    b.tokens_counted([2**31, 2**32 - 1], [2**31, 2**32 - 1])
    t = b.build(None).stats.tokens_per_example
    assert t is not None and (t.min, t.max) == (2**31, 2**32 - 1)
    assert [(w.line, w.message) for w in b.issues.warnings] == [
        (2**32 - 1, f"Exact duplicate of line {2**31}.")
    ]


@pytest.mark.parametrize(("x", "y"), [(-1, 1), (0x7FF0000000000001, 5), (0, -(2**63)), (2**63 - 1, 0)])
def test_duplicates_and_overlap_are_found_whatever_the_hash(
    monkeypatch: pytest.MonkeyPatch, x: int, y: int
) -> None:
    """Hashes are compared as 64-bit integers (as floats some bit patterns are NaN, and -0.0 == 0.0)."""
    monkeypatch.setattr(report_builder, "hash", lambda raw: x if raw == b"x" else y, raising=False)
    v = builder()
    fill(v, [b"x"])
    b = builder()
    fill(b, [b"x", b"y", b"x"])
    report = b.build((v.hashes, v.hash_lines))
    assert [(w.line, w.code) for w in report.warnings] == [
        (1, "train_validation_overlap"),
        (3, "duplicate_example"),
        (3, "train_validation_overlap"),
    ]
