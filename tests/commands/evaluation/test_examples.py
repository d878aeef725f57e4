"""The examples an evaluation asks: a chat line up to its last assistant turn, the first ones of a file or
a seeded sample of training data, and the ``--examples`` count."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from commands.errors import InvalidInput
from commands.evaluation.examples import Example, check_count, example_from_line, load_examples
from commands.models import ChatMessage


def _m(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def _line(*messages: Mapping[str, object]) -> str:
    return json.dumps({"messages": list(messages)})


def _msg(role: str, content: str) -> ChatMessage:
    return ChatMessage(role=role, content=content)


def _numbered(n: int) -> str:
    return "\n".join(_line(_m("user", f"q{i}"), _m("assistant", f"a{i}")) for i in range(n)) + "\n"


def test_a_line_is_the_conversation_before_the_last_assistant_turn_and_that_turns_text() -> None:
    line = _line(
        _m("system", "s"), _m("user", "u1"), _m("assistant", "a1"), _m("user", "u2"), _m("assistant", "a2")
    )
    assert example_from_line(line) == Example(
        messages=(_msg("system", "s"), _msg("user", "u1"), _msg("assistant", "a1"), _msg("user", "u2")),
        reference="a2",
    )


def test_turns_after_the_last_assistant_turn_are_left_out() -> None:
    line = _line(_m("user", "u1"), _m("assistant", "a1"), _m("user", "u2"))
    assert example_from_line(line) == Example(messages=(_msg("user", "u1"),), reference="a1")


def test_the_shortest_example_is_one_user_turn_and_its_answer() -> None:
    assert example_from_line(_line(_m("user", "u"), _m("assistant", "a"))) == Example(
        messages=(_msg("user", "u"),), reference="a"
    )


def test_content_that_is_not_text_is_read_as_text() -> None:
    example = example_from_line(_line(_m("user", "u"), {"role": "assistant", "content": 5}))
    assert example is not None and example.reference == "5"


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        json.dumps({"prompt": "no messages"}),
        json.dumps({"messages": [{"role": "user"}]}),
        json.dumps({"messages": 5}),
        json.dumps({"messages": [_m("robot", "x"), _m("assistant", "a")]}),
        json.dumps([1, 2]),
        _line(_m("user", "u")),  # no assistant turn
        _line(_m("assistant", "a"), _m("user", "u")),  # the assistant turn is first
        _line(_m("system", "s"), _m("assistant", "a")),  # no user turn before it
        _line(_m("assistant", "a0"), _m("system", "s"), _m("assistant", "a")),
        _line(),
    ],
)
def test_a_line_without_a_final_assistant_turn_after_a_user_turn_is_no_example(line: str) -> None:
    assert example_from_line(line) is None


def test_the_prompt_is_the_last_user_turn() -> None:
    example = Example(
        messages=(_msg("system", "s"), _msg("user", "u1"), _msg("assistant", "a1"), _msg("user", "u2")),
        reference="r",
    )
    assert example.prompt == "u2"
    assert Example(messages=(_msg("user", "u1"), _msg("assistant", "a1")), reference="r").prompt == "u1"
    assert Example(messages=(_msg("system", "s"),), reference="r").prompt == ""


def test_load_takes_the_first_examples_in_file_order_skipping_blank_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "valid.jsonl"
    lines = [_line(_m("user", "q0"), _m("assistant", "a0")), "", "   ", "not json"]
    lines += [_line(_m("user", f"q{i}"), _m("assistant", f"a{i}")) for i in (1, 2, 3)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = load_examples(path, 3, sample=False)
    assert [e.reference for e in found] == ["a0", "a1", "a2"]
    assert [e.reference for e in load_examples(path, 10, sample=False)] == ["a0", "a1", "a2", "a3"]
    assert [e.reference for e in load_examples(path, 10, sample=True)] == ["a0", "a1", "a2", "a3"]


def test_load_reads_a_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_text(_numbered(2), encoding="utf-8-sig")
    assert [e.reference for e in load_examples(path, 5, sample=False)] == ["a0", "a1"]


def test_a_sample_is_seeded_and_kept_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(_numbered(10), encoding="utf-8")
    # random.Random(0).sample(range(10), 3), sorted
    assert [e.reference for e in load_examples(path, 3, sample=True)] == ["a0", "a6", "a9"]
    assert [e.reference for e in load_examples(path, 3, sample=False)] == ["a0", "a1", "a2"]
    assert [e.reference for e in load_examples(path, 10, sample=True)] == [f"a{i}" for i in range(10)]


def test_a_file_gone_from_disk_is_invalid_input_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as e:
        load_examples(tmp_path / "gone.jsonl", 3, sample=False)
    assert e.value.message == "The job's data file is no longer on disk (gone.jsonl)."
    assert isinstance(e.value.__cause__, OSError)


def test_check_count_defaults_to_40_and_accepts_1_to_200() -> None:
    assert check_count(None) == 40
    assert check_count(1) == 1
    assert check_count(200) == 200
    assert check_count(37) == 37


@pytest.mark.parametrize("count", [0, -1, 201])
def test_check_count_refuses_outside_1_to_200(count: int) -> None:
    with pytest.raises(InvalidInput) as e:
        check_count(count)
    assert e.value.message == f"--examples must be 1 to 200 (got {count})."
    assert e.value.field == "examples"
