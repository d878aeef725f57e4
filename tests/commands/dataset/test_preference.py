"""DPO preference data (``--method dpo``): the same line-numbered error codes and token statistics as
chat data."""

from __future__ import annotations

import io
import json

import pytest

from commands.dataset import ERROR_CODES, WARNING_CODES, ValidationReport, validate_dataset
from commands.errors import InvalidInput
from commands.models import Method, Task
from tests.support.data import chat_lines, preference_lines


def check(text: str, method: Method = Method.DPO) -> ValidationReport:
    return validate_dataset(io.BytesIO(text.encode()), method=method)


def test_valid_preference_data_has_token_and_message_statistics() -> None:
    report = check(preference_lines(12))
    assert report.ok and report.examples == 12 and report.errors == []
    stats = report.stats
    assert stats.format == "preference"
    assert stats.messages_per_example is not None and stats.messages_per_example.max == 4
    assert stats.tokens_per_example is not None and stats.tokens_per_example.min > 10
    assert stats.billed_tokens_estimate and stats.billed_tokens_estimate > stats.tokens_per_example.total


def test_tokens_count_the_input_and_both_outputs() -> None:
    row = json.loads(preference_lines(1))
    longer = dict(row, non_preferred_output=[{"role": "assistant", "content": "word " * 50}])
    short = check("\n".join([json.dumps(row)] * 10)).stats.tokens_per_example
    long = check("\n".join([json.dumps(longer)] * 10)).stats.tokens_per_example
    assert short is not None and long is not None and long.min >= short.min + 45


BAD = {
    "missing_input": {
        "preferred_output": [{"role": "assistant", "content": "a"}],
        "non_preferred_output": [{"role": "assistant", "content": "b"}],
    },
    "empty_input": {
        "input": {"messages": []},
        "preferred_output": [{"role": "assistant", "content": "a"}],
        "non_preferred_output": [{"role": "assistant", "content": "b"}],
    },
    "user_in_output": {
        "input": {"messages": [{"role": "user", "content": "q"}]},
        "preferred_output": [{"role": "user", "content": "a"}],
        "non_preferred_output": [{"role": "assistant", "content": "b"}],
    },
    "output_not_a_list": {
        "input": {"messages": [{"role": "user", "content": "q"}]},
        "preferred_output": [{"role": "assistant", "content": "a"}],
        "non_preferred_output": "b",
    },
    "bad_input_message": {
        "input": {"messages": [{"role": "user"}]},
        "preferred_output": [{"role": "assistant", "content": "a"}],
        "non_preferred_output": [{"role": "assistant", "content": "b"}],
    },
}


@pytest.mark.parametrize(
    "case, code, fragment",
    [
        ("missing_input", "missing_input", 'No "input"'),
        ("empty_input", "missing_input", "an empty list"),
        ("user_in_output", "invalid_preference_output", "Message 1 of preferred_output has role 'user'"),
        ("output_not_a_list", "invalid_preference_output", '"non_preferred_output" must be'),
        ("bad_input_message", "message_missing_key", "Message 1 of input (user) has no"),
    ],
)
def test_each_problem_has_its_code_and_line(case: str, code: str, fragment: str) -> None:
    lines = preference_lines(11).splitlines()
    lines.insert(4, json.dumps(BAD[case]))
    report = check("\n".join(lines))
    assert not report.ok
    found = [e for e in report.errors if e.code == code]
    assert found and found[0].line == 5 and fragment in found[0].message, report.errors
    assert code in ERROR_CODES


def test_chat_data_under_dpo_and_preference_data_under_supervised_say_which_method() -> None:
    under_dpo = check(chat_lines(10))
    assert {e.code for e in under_dpo.errors} == {"format_mismatch"}
    assert "method is dpo" in under_dpo.errors[0].message
    under_sft = check(preference_lines(10), method=Method.SUPERVISED)
    assert {e.code for e in under_sft.errors} == {"format_mismatch"}
    assert "--method dpo" in under_sft.errors[0].message


def test_identical_outputs_and_a_missing_user_message_warn() -> None:
    row = json.loads(preference_lines(1))
    row["non_preferred_output"] = row["preferred_output"]
    row["input"]["messages"] = [{"role": "system", "content": "s"}]
    report = check("\n".join([json.dumps(row), *preference_lines(10).splitlines()]))
    assert report.ok
    codes = {w.code for w in report.warnings if w.line == 1}
    assert {"identical_preference", "missing_user_message"} <= codes
    assert "identical_preference" in WARNING_CODES


def test_dpo_is_for_chat_models_only() -> None:
    with pytest.raises(InvalidInput, match="chat_completion"):
        validate_dataset(
            io.BytesIO(preference_lines(10).encode()), method=Method.DPO, task=Task.TEXT_COMPLETION
        )
