"""``commands.dataset.rules`` for text-completion and DPO preference examples: each branch with the exact
code and sentence a user reads, the format chosen, and what a valid example is billed for."""

from __future__ import annotations

from typing import Any

import pytest

from commands.dataset.rules import PreferenceRules, TextRules
from tests.commands.dataset.helpers import IssueRecorder, Outcome, outcome

TG = '{"text", "ground_truth"}'
PC = '{"prompt", "completion"}'
CHAT_AS_TEXT = (
    'This line is chat data ({"messages": [...]}) but the task is text_completion, which needs '
    f"{TG} or {PC}; choose --task chat_completion."
)
NEEDS_KEYS = f"Text-completion lines need {TG} or {PC}; this one has "


def err(code: str, message: str) -> tuple[str, str, str]:
    return ("E", code, message)


# (line, format chosen, every issue in order, texts billed)
TEXT = [
    ({"messages": []}, None, [err("format_mismatch", CHAT_AS_TEXT)], []),
    ({"messages": [], "prompt": "p", "completion": "c"}, None, [err("format_mismatch", CHAT_AS_TEXT)], []),
    ({}, None, [err("missing_key", NEEDS_KEYS + "no keys.")], []),
    ({"b": 1, "a": 2}, None, [err("missing_key", NEEDS_KEYS + "'a', 'b'.")], []),
    ({"text": "t", "ground_truth": "g"}, "text_ground_truth", [], ["t", "g"]),
    ({"prompt": "p", "completion": "c"}, "prompt_completion", [], ["p", "c"]),
    (
        {"text": "t", "prompt": "p"},  # a tie goes to text_ground_truth
        "text_ground_truth",
        [
            err("mixed_formats", f"Line mixes {TG} with 'prompt'."),
            err("missing_key", f'No "ground_truth"; {TG} lines need both keys.'),
        ],
        ["t"],
    ),
    (
        {"ground_truth": "g", "completion": "c"},
        "text_ground_truth",
        [
            err("mixed_formats", f"Line mixes {TG} with 'completion'."),
            err("missing_key", f'No "text"; {TG} lines need both keys.'),
        ],
        ["g"],
    ),
    (
        {"text": "t", "prompt": "p", "completion": "c"},
        "prompt_completion",
        [err("mixed_formats", f"Line mixes {PC} with 'text'.")],
        ["p", "c"],
    ),
    (
        {"text": "t", "ground_truth": "g", "z": 1, "y": 2},
        "text_ground_truth",
        [err("unrecognized_key", "Unrecognized key(s) 'y', 'z'.")],
        ["t", "g"],
    ),
    (
        {"prompt": "p", "completion": "c", "text": "t", "z": 1},
        "prompt_completion",
        [err("mixed_formats", f"Line mixes {PC} with 'text', 'z'.")],
        ["p", "c"],
    ),
    (
        {"text": "t"},
        "text_ground_truth",
        [err("missing_key", f'No "ground_truth"; {TG} lines need both keys.')],
        ["t"],
    ),
    (
        {"completion": "c"},
        "prompt_completion",
        [err("missing_key", f'No "prompt"; {PC} lines need both keys.')],
        ["c"],
    ),
    (
        {"prompt": None, "completion": "c"},
        "prompt_completion",
        [err("missing_content", '"prompt" must be a string; it is null.')],
        ["c"],
    ),
    (
        {"prompt": "p", "completion": 3},
        "prompt_completion",
        [err("missing_content", '"completion" must be a string; it is a number.')],
        ["p"],
    ),
    (
        {"prompt": "", "completion": "c"},
        "prompt_completion",
        [err("missing_content", '"prompt" is empty.')],
        ["c"],
    ),
    (
        {"text": "", "ground_truth": ""},
        "text_ground_truth",
        [
            err("missing_content", '"text" is empty.'),
            ("W", "empty_completion", '"ground_truth" is empty; there is nothing to learn.'),
        ],
        [],
    ),
    (
        {"text": "t", "ground_truth": ""},
        "text_ground_truth",
        [("W", "empty_completion", '"ground_truth" is empty; there is nothing to learn.')],
        ["t"],
    ),
]


@pytest.mark.parametrize(("obj", "fmt", "issues", "texts"), TEXT)
def test_text_example(
    obj: dict[str, Any], fmt: str | None, issues: list[tuple[str, str, str]], texts: list[str]
) -> None:
    rules = TextRules(IssueRecorder())
    found = outcome(rules, obj)
    assert found.issues == issues
    assert found.ok is (not any(kind == "E" for kind, _, _ in issues))
    assert (rules.format, found.texts, found.base, found.messages, found.shared) == (fmt, texts, 0, 0, [])


def test_a_text_check_starts_afresh() -> None:
    rules = TextRules(IssueRecorder())
    assert outcome(rules, {"text": "t", "ground_truth": "g"}).ok
    assert not outcome(rules, {}, line=8).ok
    assert (rules.format, rules.texts, rules.line) == (None, [], 8)
    assert outcome(rules, {"prompt": "p", "completion": "c"}, line=9).ok and rules.ok is True


U = {"role": "user", "content": "hi"}
S = {"role": "system", "content": "sys"}
P = {"role": "assistant", "content": "good"}
R = {"role": "assistant", "content": "bad"}
CHAT_AS_PREFERENCE = (
    'This line is chat data ({"messages": [...]}) but the method is dpo, which needs '
    '{"input", "preferred_output", "non_preferred_output"}; convert the data, or leave out --method dpo.'
)
ONLY_ASSISTANTS = "outputs hold assistant (or tool) messages only."
NOT_OUTPUT = '"{key}" must be a non-empty list of assistant messages; it is {what}.'


def pref(inp: Any = ..., preferred: Any = ..., rejected: Any = ..., **top: Any) -> dict[str, Any]:
    """A preference line; ``...`` leaves a key out; the defaults make a valid one."""
    parts = {
        "input": {"messages": [U]} if inp is ... else inp,
        "preferred_output": [P] if preferred is ... else preferred,
        "non_preferred_output": [R] if rejected is ... else rejected,
    }
    return {**{k: v for k, v in parts.items() if v is not None}, **top}


def no_output(key: str, what: str) -> tuple[str, str, str]:
    return err("invalid_preference_output", NOT_OUTPUT.format(key=key, what=what))


# (line, every issue in order)
PREFERENCE_ISSUES = [
    ({"messages": [U, P]}, [err("format_mismatch", CHAT_AS_PREFERENCE)]),
    ({"messages": [U, P], "preferred_output": [P]}, [err("format_mismatch", CHAT_AS_PREFERENCE)]),
    (
        pref(messages=[U]),
        [
            (
                "W",
                "unrecognized_top_level_key",
                "Unrecognized top-level key 'messages'; services may reject it.",
            )
        ],
    ),
    (
        pref({"messages": [U], "zz": 1}, extra=1),
        [
            (
                "W",
                "unrecognized_top_level_key",
                "Unrecognized top-level key 'extra'; services may reject it.",
            ),
            ("W", "unrecognized_top_level_key", "Unrecognized key 'zz' in the input."),
        ],
    ),
    (pref(None), [err("missing_input", 'No "input"; each line needs "input": {"messages": [...]}.')]),
    (pref([U]), [err("missing_input", '"input" must be an object with "messages"; it is a list.')]),
    (pref("x"), [err("missing_input", '"input" must be an object with "messages"; it is a string.')]),
    (
        pref({"messages": [U], "tools": "t"}),
        [err("invalid_tools", '"tools" must be a list of objects; it is a string.')],
    ),
    (
        pref({"messages": [U], "tools": [1]}),
        [err("invalid_tools", '"tools" must be a list of objects; it is a list.')],
    ),
    (pref({}), [err("missing_input", '"input" needs a non-empty "messages" list; it is missing.')]),
    (
        pref({"messages": []}),
        [err("missing_input", '"input" needs a non-empty "messages" list; it is an empty list.')],
    ),
    (
        pref({"messages": "m"}),
        [err("missing_input", '"input" needs a non-empty "messages" list; it is a string.')],
    ),
    (pref({"messages": [S]}), [("W", "missing_user_message", "The input has no user message.")]),
    (
        pref({"messages": [S]}, [P], [dict(P)]),
        [
            (
                "W",
                "identical_preference",
                "preferred_output and non_preferred_output are the same; there is nothing to learn.",
            ),
            ("W", "missing_user_message", "The input has no user message."),
        ],
    ),
    (pref(preferred=None), [no_output("preferred_output", "missing")]),
    (pref(preferred=[]), [no_output("preferred_output", "an empty list")]),
    (pref(rejected=None), [no_output("non_preferred_output", "missing")]),
    (
        pref(rejected=[R, [1]]),
        [err("data_type", "Message 2 of non_preferred_output must be a JSON object; it is a list.")],
    ),
    (
        pref(rejected=[R, {"content": "x"}]),
        [err("message_missing_key", 'Message 2 of non_preferred_output has no "role".')],
    ),
    (pref(rejected="r"), [no_output("non_preferred_output", "a string")]),
    (pref(rejected={"role": "assistant"}), [no_output("non_preferred_output", "an object")]),
    (
        pref(preferred=[P, U]),
        [
            err(
                "invalid_preference_output",
                "Message 2 of preferred_output has role 'user'; " + ONLY_ASSISTANTS,
            )
        ],
    ),
    (
        pref(rejected=[{"role": "system", "content": "s"}]),
        [
            err(
                "invalid_preference_output",
                "Message 1 of non_preferred_output has role 'system'; " + ONLY_ASSISTANTS,
            ),
            err("invalid_preference_output", '"non_preferred_output" has no assistant message.'),
        ],
    ),
    (
        pref(preferred=[{"role": "tool", "content": "t"}]),
        [err("invalid_preference_output", '"preferred_output" has no assistant message.')],
    ),
    (
        pref(
            preferred=[{"role": "assistant", "content": ""}],
            rejected=[R, {"role": "assistant", "content": ""}],
        ),
        [("W", "empty_assistant_reply", "Message 1 of preferred_output (assistant) has an empty reply.")],
    ),
    (
        pref(preferred=[{"role": "robot", "content": "x"}, P]),
        [
            err(
                "unrecognized_role",
                "Message 1 of preferred_output has role 'robot'; use system, user, assistant or tool.",
            )
        ],
    ),
    (
        pref({"messages": [{"role": "user"}]}),
        [err("message_missing_key", 'Message 1 of input (user) has no "content".')],
    ),
    (
        pref({"messages": [S]}, [P], [P], x=1),
        [
            ("W", "unrecognized_top_level_key", "Unrecognized top-level key 'x'; services may reject it."),
            (
                "W",
                "identical_preference",
                "preferred_output and non_preferred_output are the same; there is nothing to learn.",
            ),
            ("W", "missing_user_message", "The input has no user message."),
        ],
    ),
    # an example with an error gets none of the warnings
    (pref({"messages": [S]}, [P], []), [no_output("non_preferred_output", "an empty list")]),
]


@pytest.mark.parametrize(("obj", "issues"), PREFERENCE_ISSUES)
def test_preference_issues(obj: dict[str, Any], issues: list[tuple[str, str, str]]) -> None:
    rules = PreferenceRules(IssueRecorder())
    found = outcome(rules, obj)
    assert found.issues == issues
    assert found.ok is (not any(kind == "E" for kind, _, _ in issues)) is rules.ok
    assert rules.format == "preference"


def test_a_preference_example_is_billed_for_its_input_once_and_both_outputs() -> None:
    tools = [{"t": 1}]
    found = outcome(PreferenceRules(IssueRecorder()), pref({"messages": [S, U], "tools": tools}))
    # 3 per example, 4 per message: two of the input, one per output
    assert found == Outcome(True, [], 19, 4, 0, ["hi", "good", "bad"], [tools, "sys"])
    two_each = outcome(
        PreferenceRules(IssueRecorder()), pref(preferred=[P, P], rejected=[R, dict(R, name="n")])
    )
    assert (two_each.base, two_each.messages, two_each.texts) == (
        24,
        5,
        ["hi", "good", "good", "bad", "bad", "n"],
    )


def test_a_failed_preference_example_leaves_nothing_of_the_one_before() -> None:
    rules = PreferenceRules(IssueRecorder())
    assert (
        outcome(rules, pref({"messages": [S, U], "tools": []}, [dict(P, content="")])).empty_reply_at
        == "1 of preferred_output"
    )
    found = outcome(rules, {"messages": [U]}, line=8)
    assert found == Outcome(False, [err("format_mismatch", CHAT_AS_PREFERENCE)], 3, 0, 0, [], [])
    assert rules.line == 8
    assert outcome(rules, pref(), line=9).ok and rules.ok is True and rules.empty_reply_at == 0
