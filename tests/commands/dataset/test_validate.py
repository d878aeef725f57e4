from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import commands.dataset.validate as vmod
from commands.dataset import (
    ERROR_CODES,
    WARNING_CODES,
    UnreadableDataset,
    billed_tokens,
    default_epochs,
    get_encoding,
    report_builder,
    token_pool,
    validate_dataset,
)
from commands.errors import InvalidInput
from commands.models import Task
from tests.commands.dataset.helpers import chat, codes_at, good, jsonl, run, warnings_at

BOM = b"\xef\xbb\xbf"


def with_bad(bad: Any, at: int = 4, n: int = 10) -> list[Any]:
    """``n`` good examples with ``bad`` inserted so that it is line ``at``."""
    objs = good(n)
    objs.insert(at - 1, bad)
    return objs


# -- every error code, with its exact line -----------------------------------------------------------
def msgs(*m: Any) -> dict[str, Any]:
    return {"messages": list(m)}


U = {"role": "user", "content": "hi"}
A = {"role": "assistant", "content": "hello"}

CHAT_CASES: list[tuple[str, Any]] = [
    ("invalid_json", b'{"messages": [}'),
    ("invalid_json", b"{'messages': []}"),
    ("data_type", b"[1, 2, 3]"),
    ("data_type", b'"just a string"'),
    ("data_type", msgs(U, "not a message", A)),
    ("missing_messages_list", {"conversation": [U, A]}),
    ("missing_messages_list", {"messages": []}),
    ("missing_messages_list", {"messages": "hello"}),
    ("message_missing_key", msgs({"content": "no role"}, A)),
    ("message_missing_key", msgs({"role": "user"}, A)),
    ("message_unrecognized_key", msgs({"role": "user", "content": "x", "mood": "happy"}, A)),
    ("message_unrecognized_key", msgs({"role": "user", "content": "x", "name": 5}, A)),
    ("unrecognized_role", msgs({"role": "robot", "content": "x"}, A)),
    ("unrecognized_role", msgs({"role": ["user"], "content": "x"}, A)),  # unhashable: once a crash
    ("unrecognized_role", msgs({"role": {"r": 1}, "content": "x"}, A)),
    ("missing_content", msgs({"role": "user", "content": ""}, A)),
    ("missing_content", msgs({"role": "user", "content": None}, A)),
    ("missing_content", msgs(U, {"role": "assistant", "content": None})),
    ("missing_content", msgs({"role": "user", "content": 42}, A)),
    ("example_missing_assistant_message", msgs({"role": "system", "content": "s"}, U)),
    ("encoding", b'{"messages": [{"role": "user", "content": "caf\xe9"}]}'),
    ("invalid_weight", msgs(U, {"role": "assistant", "content": "x", "weight": 2})),
    ("invalid_weight", msgs(U, {"role": "assistant", "content": "x", "weight": "1"})),
    ("invalid_weight", msgs({"role": "user", "content": "x", "weight": 1}, A)),
    ("invalid_tool_calls", msgs(U, {"role": "assistant", "content": None, "tool_calls": [{"id": "x"}]})),
    ("invalid_tool_calls", msgs(U, {"role": "assistant", "content": None, "tool_calls": []})),
    ("invalid_tool_calls", msgs(U, {"role": "assistant", "content": None, "function_call": {"args": "{}"}})),
    ("invalid_tools", {"messages": [U, A], "tools": {"name": "f"}}),
    ("format_mismatch", {"prompt": "p", "completion": "c"}),
    ("format_mismatch", {"text": "t", "ground_truth": "g"}),
]


@pytest.mark.parametrize(("code", "bad"), CHAT_CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CHAT_CASES)])
@pytest.mark.parametrize("at", [1, 4, 11])
def test_each_chat_error_code_has_its_exact_line(code: str, bad: Any, at: int) -> None:
    report = run(with_bad(bad, at=at))
    assert not report.ok
    assert codes_at(report) == {(at, code)}, report.errors
    assert report.error_counts == {code: 1}
    assert report.examples == 11
    assert report.stats.valid_examples == 10
    assert all(i.message and len(i.message) < 300 for i in report.errors)


TEXT_CASES: list[tuple[str, Any]] = [
    ("format_mismatch", {"messages": [U, A]}),
    ("missing_key", {"question": "q", "answer": "a"}),
    ("missing_key", {"prompt": "only a prompt"}),
    ("unrecognized_key", {"prompt": "p", "completion": "c", "extra": 1}),
    ("mixed_formats", {"prompt": "p", "completion": "c", "ground_truth": "g"}),
    ("missing_content", {"prompt": 1, "completion": "c"}),
    ("missing_content", {"prompt": "", "completion": "c"}),
    ("data_type", b"[]"),
    ("invalid_json", b"{prompt: 1}"),
]


@pytest.mark.parametrize(("code", "bad"), TEXT_CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(TEXT_CASES)])
def test_each_text_error_code_has_its_exact_line(code: str, bad: Any) -> None:
    objs: list[Any] = [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(10)]
    objs.insert(6, bad)
    report = run(objs, task=Task.TEXT_COMPLETION)
    assert codes_at(report) == {(7, code)}, report.errors
    assert not report.ok


def test_mismatch_messages_name_the_mismatch() -> None:
    chat_as_text = run(good(10), task=Task.TEXT_COMPLETION)
    assert chat_as_text.error_counts == {"format_mismatch": 10}
    assert (
        "chat data" in chat_as_text.errors[0].message and "text_completion" in chat_as_text.errors[0].message
    )
    text_as_chat = run([{"text": "t", "ground_truth": "g"}] * 10)
    assert text_as_chat.error_counts == {"format_mismatch": 10}
    msg = text_as_chat.errors[0].message
    assert "text-completion data" in msg and "chat_completion" in msg and "ground_truth" in msg


def test_file_level_codes() -> None:
    empty = run(b"")
    assert codes_at(empty) == {(None, "empty_file")} and not empty.ok and empty.examples == 0
    assert codes_at(run(b"\n\n  \n")) == {(None, "empty_file")}
    assert codes_at(run(BOM)) == {(None, "empty_file")}
    few = run(good(9))
    assert codes_at(few) == {(None, "too_few_examples")}
    assert "9 example" in few.errors[0].message
    assert run(good(10)).ok


def test_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    data = jsonl(good(10))
    monkeypatch.setattr(vmod, "MAX_FILE_BYTES", len(data))
    report = run(data)
    assert codes_at(report) == {(None, "too_large")}
    monkeypatch.setattr(vmod, "MAX_FILE_BYTES", len(data) + 1)
    assert run(data).ok


def test_text_mixed_formats_across_lines() -> None:
    objs: list[Any] = [{"prompt": f"p{i}", "completion": "c"} for i in range(8)]
    objs += [{"text": "t", "ground_truth": "g"}, {"text": "t2", "ground_truth": "g2"}]
    report = run(objs, task=Task.TEXT_COMPLETION)
    assert codes_at(report) == {(9, "mixed_formats")}
    assert report.stats.format == "prompt_completion"


def test_every_code_is_declared() -> None:
    seen = {c for c, _ in CHAT_CASES} | {c for c, _ in TEXT_CASES}
    seen |= {"too_few_examples", "too_large", "empty_file", "line_too_long"}
    seen |= {"missing_input", "invalid_preference_output"}  # DPO data: test_preference.py
    assert seen == set(ERROR_CODES)


# -- several errors, caps ----------------------------------------------------------------------------
def test_reports_all_errors_not_only_the_first() -> None:
    objs: list[Any] = good(12)
    objs[1] = b"oops"
    objs[4] = msgs({"role": "robot", "content": "x"}, {"role": "user", "content": ""})
    objs[9] = {"messages": [{"role": "user", "content": "no answer"}]}
    report = run(objs)
    assert codes_at(report) == {
        (2, "invalid_json"),
        (5, "unrecognized_role"),
        (5, "missing_content"),
        (5, "example_missing_assistant_message"),
        (10, "example_missing_assistant_message"),
    }
    assert report.error_counts == {
        "invalid_json": 1,
        "unrecognized_role": 1,
        "missing_content": 1,
        "example_missing_assistant_message": 2,
    }
    assert report.stats.valid_examples == 9


def test_listing_is_capped_but_every_error_is_counted() -> None:
    objs: list[Any] = good(10) + [b"nope"] * 250 + [{"messages": []}] * 3
    report = run(objs)
    assert report.error_counts == {"invalid_json": 250, "missing_messages_list": 3}
    assert sum(1 for i in report.errors if i.code == "invalid_json") == report_builder.LISTED_PER_CODE
    assert [i.line for i in report.errors if i.code == "missing_messages_list"] == [261, 262, 263]
    assert report.error_total == 253


# -- BOM, line ends ----------------------------------------------------------------------------------
def test_bom_is_accepted_and_does_not_shift_lines() -> None:
    data = jsonl(good(10))
    plain, bom = run(data), run(BOM + data)
    assert plain.ok and bom.ok
    assert bom.stats.has_bom and not plain.stats.has_bom
    assert bom.stats.tokens_per_example == plain.stats.tokens_per_example
    bad = BOM + b"not json\n" + data
    assert codes_at(run(bad)) == {(1, "invalid_json")}


def test_bom_split_across_reads() -> None:
    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = data

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            out, self.data = self.data[:1], self.data[1:]
            return out

    report = validate_dataset(Trickle(BOM + jsonl(good(10))))  # type: ignore[arg-type]
    assert report.ok and report.stats.has_bom


def test_crlf_and_no_final_newline() -> None:
    data = jsonl(good(10)).replace(b"\n", b"\r\n").rstrip()
    report = run(data)
    assert report.ok and report.examples == 10


def test_blank_lines_warn_with_their_line() -> None:
    data = jsonl(good(5)) + b"\n" + jsonl(good(5, start=5))
    report = run(data)
    assert report.ok
    assert warnings_at(report) == {(6, "blank_line")}
    assert codes_at(run(jsonl(good(10)) + b"\n\n"[:1])) == set()


# -- what must pass ----------------------------------------------------------------------------------
TOOL_EXAMPLE = {
    "messages": [
        {"role": "system", "content": "You can look up orders."},
        {"role": "user", "content": "Where is order 123?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"id": "123"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "shipped"}'},
        {"role": "assistant", "content": "It shipped yesterday.", "weight": 1},
        {"role": "user", "content": "Thanks"},
        {"role": "assistant", "content": "Anytime!", "weight": 0, "name": "bot"},
    ],
    "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
    "parallel_tool_calls": False,
}
FUNCTION_EXAMPLE = {
    "messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "function_call": {"name": "weather", "arguments": "{}"}},
        {"role": "function", "name": "weather", "content": "sunny"},
        {"role": "assistant", "content": "Sunny."},
    ],
    "functions": [{"name": "weather", "parameters": {"type": "object"}}],
}


def test_tool_calling_data_is_valid() -> None:
    report = run([TOOL_EXAMPLE, FUNCTION_EXAMPLE] * 5)
    assert report.ok, report.errors
    assert report.error_counts == {}
    assert report.stats.tokens_per_example is not None
    assert report.stats.tokens_per_example.min > 20
    # the function example has no system message: a warning, not an error
    assert {c for _, c in warnings_at(report)} == {"missing_system_message", "duplicate_example"}


def test_multimodal_content_parts_pass() -> None:
    ex = msgs(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            ],
        },
        {"role": "assistant", "content": "A cat."},
    )
    assert run([ex, *good(9)]).ok


def test_special_token_text_does_not_crash_and_is_counted_as_text() -> None:
    tricky = "Say <|endoftext|> then <|endofprompt|> and <|fim_prefix|> please"
    objs = [chat(i, answer=tricky) for i in range(10)]
    report = run(objs)
    assert report.ok
    enc = get_encoding("o200k_base")
    plain = run([chat(i, answer="x") for i in range(10)])
    assert report.stats.tokens_per_example and plain.stats.tokens_per_example
    delta = report.stats.tokens_per_example.total - plain.stats.tokens_per_example.total
    per = len(enc.encode(tricky, disallowed_special=())) - len(enc.encode("x"))
    assert delta == 10 * per


# -- warnings ----------------------------------------------------------------------------------------
def test_missing_system_and_user_warnings() -> None:
    objs = good(10)
    objs[2] = chat(2, system=False)
    objs[6] = chat(6, user=False)
    report = run(objs)
    assert report.ok
    assert warnings_at(report) == {(3, "missing_system_message"), (7, "missing_user_message")}


def test_empty_assistant_reply_warns() -> None:
    objs = good(10)
    objs[4] = chat(4, answer="")
    report = run(objs)
    assert report.ok and warnings_at(report) == {(5, "empty_assistant_reply")}


def test_over_context_warns() -> None:
    objs = good(10)
    objs[7] = chat(7, answer="word " * 300)
    report = run(objs, context_length=200)
    assert warnings_at(report) == {(8, "over_context_length")}
    assert report.stats.examples_over_context == 1
    assert "200" in report.warnings[0].message
    structure_only = run(objs, context_length=200, count_tokens=False)
    assert structure_only.warning_counts == {} and structure_only.stats.examples_over_context is None


def test_duplicates_name_the_first_line() -> None:
    objs = good(10)
    objs[5] = objs[1]
    objs[8] = objs[1]
    report = run(objs)
    assert report.ok
    assert warnings_at(report) == {(6, "duplicate_example"), (9, "duplicate_example")}
    assert all("line 2" in w.message for w in report.warnings)
    assert report.stats.duplicates == 2


def test_training_validation_overlap(tmp_path: Path) -> None:
    train, valid = good(12), good(3, start=100)
    valid[1] = train[4]
    (tmp_path / "v.jsonl").write_bytes(BOM + jsonl(valid))
    report = validate_dataset(io.BytesIO(jsonl(train)), validation=tmp_path / "v.jsonl")
    assert report.ok  # overlap is a warning, and a validation file has no minimum size
    assert warnings_at(report) == {(5, "train_validation_overlap")}
    assert "line 2 of the validation file" in report.warnings[0].message
    assert report.validation is not None and report.validation.examples == 3
    assert report.to_json_dict()["validation"]["examples"] == 3


def test_invalid_validation_file_makes_the_report_invalid() -> None:
    report = run(good(10), validation=io.BytesIO(b"nope\n"))
    assert not report.ok
    assert report.error_counts == {}
    assert report.validation is not None and codes_at(report.validation) >= {(1, "invalid_json")}


def test_warning_codes_are_declared() -> None:
    assert {"over_context_length", "duplicate_example", "train_validation_overlap"} <= set(WARNING_CODES)


# -- text task ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("keys", "fmt"),
    [(("text", "ground_truth"), "text_ground_truth"), (("prompt", "completion"), "prompt_completion")],
)
def test_text_formats(keys: tuple[str, str], fmt: str) -> None:
    objs = [{keys[0]: f"Input {i} <|endoftext|>", keys[1]: f"Output {i}"} for i in range(10)]
    report = run(objs, task=Task.TEXT_COMPLETION)
    assert report.ok and report.stats.format == fmt
    assert report.stats.messages_per_example is None
    assert report.stats.tokens_per_example is not None and report.stats.tokens_per_example.min > 5
    other = "prompt_completion" if fmt == "text_ground_truth" else "text_ground_truth"
    needs_other = run(objs, task=Task.TEXT_COMPLETION, backend_text_format=other)
    assert codes_at(needs_other) == {(None, "format_mismatch")}
    assert needs_other.stats.needed_text_format == other
    assert run(objs, task=Task.TEXT_COMPLETION, backend_text_format=fmt).ok


def test_text_empty_completion_warns() -> None:
    objs = [{"prompt": f"p{i}", "completion": "" if i == 3 else "c"} for i in range(10)]
    report = run(objs, task="text_completion")
    assert report.ok and warnings_at(report) == {(4, "empty_completion")}


# -- stats, tokens, epochs, cost ---------------------------------------------------------------------
def cookbook_tokens(example: dict[str, Any], enc: Any) -> int:
    """openai-cookbook Chat_finetuning_data_prep.ipynb ``num_tokens_from_messages``."""
    n = 0
    for message in example["messages"]:
        n += 3
        for key, value in message.items():
            n += len(enc.encode(value, disallowed_special=()))
            if key == "name":
                n += 1
    return n + 3


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
@pytest.mark.parametrize("workers", [1, 2])
def test_token_counts_match_the_cookbook(encoding: str, workers: int) -> None:
    objs = [chat(i, answer=f"Réponse {i} 東京 " * (i + 1)) for i in range(40)]
    objs[3]["messages"][1]["name"] = "alice"
    enc = get_encoding(encoding)
    expected = sorted(cookbook_tokens(o, enc) for o in objs)
    report = run(objs, encoding=encoding, workers=workers)
    t = report.stats.tokens_per_example
    assert t is not None
    assert (t.min, t.max, t.total) == (expected[0], expected[-1], sum(expected))
    assert t.p50 == expected[19] and t.p95 == expected[37]


def test_stats_and_estimate() -> None:
    objs = good(20)
    objs[0] = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    report = run(objs, context_length=25)
    s = report.stats
    assert s.messages_per_example is not None
    assert (s.messages_per_example.min, s.messages_per_example.max) == (2, 3)
    assert s.messages_per_example.mean == pytest.approx((2 + 19 * 3) / 20, abs=0.01)
    assert s.default_epochs == 5
    assert s.tokens_per_example is not None
    enc = get_encoding()
    counts = [cookbook_tokens(o, enc) for o in objs]
    assert s.billed_tokens_estimate == 5 * sum(min(c, 25) for c in counts)
    assert s.examples_over_context == sum(c > 25 for c in counts)
    assert s.format == "chat" and s.encoding == "o200k_base" and not s.approximate_tokens
    assert run(objs, exact_tokenizer=False).stats.approximate_tokens


def test_structure_only_mode_skips_token_stats() -> None:
    report = run(good(10), count_tokens=False)
    assert (
        report.ok and report.stats.tokens_per_example is None and report.stats.billed_tokens_estimate is None
    )


@pytest.mark.parametrize(
    ("n", "epochs"),
    [
        (0, 1),
        (1, 25),
        (3, 25),
        (5, 20),
        (10, 10),
        (33, 3),
        (34, 3),
        (50, 3),
        (8333, 3),
        (8334, 2),
        (10_000, 2),
        (25_001, 1),
        (10**7, 1),
    ],
)
def test_default_epochs(n: int, epochs: int) -> None:
    assert default_epochs(n) == epochs


def test_billed_tokens() -> None:
    assert billed_tokens([10, 5000, 100], 4096, 3) == 3 * (10 + 4096 + 100)
    assert billed_tokens([], 4096, 3) == 0


# -- sources, progress, json -------------------------------------------------------------------------
def test_path_source_and_missing_files(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_bytes(jsonl(good(10)))
    assert validate_dataset(p).ok
    with pytest.raises(UnreadableDataset, match="No such file"):
        validate_dataset(tmp_path / "missing.jsonl")
    with pytest.raises(UnreadableDataset, match="directory"):
        validate_dataset(tmp_path)
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert codes_at(validate_dataset(tmp_path / "empty.jsonl")) == {(None, "empty_file")}


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="encoding"):
        run(good(10), encoding="p50k_base")
    with pytest.raises(InvalidInput):
        run(good(10), context_length=0)


def test_progress_reports_bytes_read() -> None:
    data = jsonl(good(30_000))
    seen: list[int] = []
    validate_dataset(io.BytesIO(data), progress=seen.append, count_tokens=False)
    assert seen == sorted(seen) and seen[-1] == len(data) and len(seen) > 1


def test_json_dict_shape() -> None:
    objs: list[Any] = [*good(10), b"x"]
    d = run(objs).to_json_dict()
    assert set(d) == {"ok", "examples", "errors", "warnings", "stats"}
    assert d["ok"] is False and d["examples"] == 11
    assert d["errors"] == [{"line": 11, "code": "invalid_json", "message": d["errors"][0]["message"]}]
    json.dumps(d)


def test_memory_does_not_grow_with_the_file() -> None:
    import tracemalloc

    def peak(n: int) -> int:
        data = jsonl(good(n))
        tracemalloc.start()
        try:
            validate_dataset(io.BytesIO(data), count_tokens=False)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, big = peak(5_000), peak(40_000)  # about 0.6 MB and 5 MB of JSONL
    # 12 bytes per example (line hash + line number) is all that may grow
    assert big - small < 35_000 * 40 + 512 * 1024, (small, big)


def test_unique_system_prompts_beyond_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token_pool, "_CACHE_MAX", 3)
    objs = [chat(i) for i in range(12)]
    for i, o in enumerate(objs):
        o["messages"][0]["content"] = f"System prompt number {i}, unique."
    enc = get_encoding()
    report = run(objs, workers=2)
    assert report.stats.tokens_per_example is not None
    assert report.stats.tokens_per_example.total == sum(cookbook_tokens(o, enc) for o in objs)


@pytest.mark.parametrize(
    ("n", "least", "ok"), [(9, None, False), (10, None, True), (2, 3, False), (3, 3, True)]
)
def test_the_fewest_examples_a_file_may_hold(n: int, least: int | None, ok: bool) -> None:
    report = run(good(n), **({} if least is None else {"min_examples": least}))
    assert report.ok is ok
    too_few = f"The file has {n} example(s); fine-tuning needs at least {least or 10}."
    assert [e.message for e in report.errors if e.code == "too_few_examples"] == ([] if ok else [too_few])


def test_validation_data_beside_training_data_has_no_minimum_whatever_the_training_minimum() -> None:
    report = run(good(4), min_examples=4, validation=io.BytesIO(jsonl(good(1, start=50))))
    assert report.ok and report.validation is not None and report.validation.ok
