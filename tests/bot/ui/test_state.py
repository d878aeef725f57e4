from __future__ import annotations

from typing import Any

import pytest

from bot.ui.state import parse_number, selected_option, selected_value, state_files, state_value
from commands.errors import InvalidInput

VALUES: dict[str, Any] = {
    "text": {"a": {"type": "plain_text_input", "value": "  hello \n"}},
    "blank": {"a": {"type": "plain_text_input", "value": "   "}},
    "select": {"a": {"type": "static_select", "selected_option": {"value": "v1", "text": {"text": "One"}}}},
    "bare": {"a": {"type": "static_select", "selected_option": {"value": "v2"}}},
    "none": {"a": {"type": "static_select", "selected_option": None}},
    "files": {"a": {"type": "file_input", "files": [{"id": "F1"}, "junk"]}},
    "junk": "not a mapping",
}


def test_text_values_are_stripped_and_blank_is_none() -> None:
    assert state_value(VALUES, "text", "a") == "hello"
    assert state_value(VALUES, "blank", "a") is None
    assert state_value(VALUES, "missing", "a") is None and state_value(VALUES, "text", "other") is None
    assert state_value(VALUES, "junk", "a") is None


def test_selected_options() -> None:
    assert selected_value(VALUES, "select", "a") == "v1"
    assert selected_option(VALUES, "select", "a") == ("v1", "One")
    assert selected_option(VALUES, "bare", "a") == ("v2", "v2")  # no text: the value stands in
    assert selected_value(VALUES, "none", "a") is None and selected_option(VALUES, "none", "a") is None


def test_files_keep_only_file_objects() -> None:
    assert state_files(VALUES, "files", "a") == [{"id": "F1"}]
    assert state_files(VALUES, "text", "a") == []


def test_numbers_within_bounds() -> None:
    assert parse_number(None, field="f", label="N", integer=True, low=1, high=5) is None
    assert parse_number("3", field="f", label="N", integer=True, low=1, high=5) == 3
    assert parse_number("0.5", field="f", label="X", integer=False, low=0, high=1, low_exclusive=True) == 0.5


@pytest.mark.parametrize(
    ("raw", "integer", "exclusive", "words"),
    [
        ("many", True, False, "must be a number"),
        ("inf", False, False, "must be a number"),
        ("2.5", True, False, "whole number"),
        ("0", False, True, "above 0 and at most 5"),
        ("6", True, False, "at least 0 and at most 5"),
    ],
)
def test_bad_numbers_name_their_block(raw: str, integer: bool, exclusive: bool, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_number(raw, field="blk", label="N", integer=integer, low=0, high=5, low_exclusive=exclusive)
    assert caught.value.field == "blk" and words in caught.value.message
