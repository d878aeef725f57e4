"""``commands.dataset.rules`` for chat examples: every branch of a message's checks with the exact code and
sentence a user reads, and the token base, texts and shared texts a valid example is billed for."""

from __future__ import annotations

from typing import Any

import pytest

from commands.dataset.rules import ChatRules, ExampleRules, describe
from tests.commands.dataset.helpers import IssueRecorder, Outcome, outcome

U = {"role": "user", "content": "hi"}
A = {"role": "assistant", "content": "hello"}
S = {"role": "system", "content": "sys"}
CALL = {"type": "function", "function": {"name": "f", "arguments": "{}"}}
ALL_KEYS = {  # every key a message may have
    "role": "assistant",
    "content": "x",
    "name": "n",
    "function_call": {"name": "f"},
    "tool_calls": None,
    "tool_call_id": "id",
    "weight": 1,
}
NO_SYSTEM = ("W", "missing_system_message", "Example has no system message.")
NO_USER = ("W", "missing_user_message", "Example has no user message.")
NEEDS_CHAT = 'which needs {"messages": [...]}'
TEXT_AS_CHAT = (
    "This line is text-completion data (KEYS) but the task is chat_completion, "
    f"{NEEDS_CHAT}; choose --task text_completion or convert the data."
)
PREFERENCE_AS_CHAT = (
    'This line is preference data ({"input", "preferred_output", "non_preferred_output"}) but the method '
    f"is supervised, {NEEDS_CHAT}; choose --method dpo."
)
CALLS_SHAPE = (
    'Message 2 has "tool_calls" that is not a list of '
    '{"type": "function", "function": {"name": ..., "arguments": ...}} objects.'
)
NOT_A_STRING = "Message 1 (user) content must be a string (or a list of content parts); it is {what}."


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "a boolean"),
        (False, "a boolean"),
        (0, "a number"),
        (1.5, "a number"),
        ("", "a string"),
        ([], "a list"),
        ({}, "an object"),
        ((1,), "tuple"),
    ],
)
def test_describe_names_a_json_value_as_a_user_reads_it(value: object, text: str) -> None:
    assert describe(value) == text


def msgs(*m: Any, **top: Any) -> dict[str, Any]:
    return {"messages": list(m), **top}


def err(code: str, message: str) -> tuple[str, str, str]:
    return ("E", code, message)


# (example, every issue in order) for examples that fail, or pass with warnings only
ISSUES = [
    (
        {"conversation": [U, A]},
        [err("missing_messages_list", 'No "messages" list; each line needs {"messages": [...]}.')],
    ),
    (msgs(), [err("missing_messages_list", '"messages" must be a non-empty list; it is an empty list.')]),
    (
        {"messages": "hi"},
        [err("missing_messages_list", '"messages" must be a non-empty list; it is a string.')],
    ),
    (
        {"ground_truth": "g"},
        [err("format_mismatch", TEXT_AS_CHAT.replace("KEYS", '{"text", "ground_truth"}'))],
    ),
    ({"text": "t"}, [err("format_mismatch", TEXT_AS_CHAT.replace("KEYS", '{"text", "ground_truth"}'))]),
    ({"prompt": "p"}, [err("format_mismatch", TEXT_AS_CHAT.replace("KEYS", '{"prompt", "completion"}'))]),
    ({"preferred_output": []}, [err("format_mismatch", PREFERENCE_AS_CHAT)]),
    (
        msgs(U, A, tools=[{"t": 1}, 2]),
        [err("invalid_tools", '"tools" must be a list of objects; it is a list.')],
    ),
    (
        msgs(U, A, functions={"f": 1}),
        [err("invalid_tools", '"functions" must be a list of objects; it is an object.')],
    ),
    (msgs(U, [1], A), [err("data_type", "Message 2 must be a JSON object; it is a list.")]),
    (msgs(U, [1, 2], A), [err("data_type", "Message 2 must be a JSON object; it is a list.")]),
    (msgs(U, "ab", A), [err("data_type", "Message 2 must be a JSON object; it is a string.")]),
    (
        msgs(U, dict(A, zz=1, aa=2)),
        [err("message_unrecognized_key", "Message 2 has unrecognized key(s) 'aa', 'zz'.")],
    ),
    (msgs(U, {"content": "x", "weight": 1}, A), [err("message_missing_key", 'Message 2 has no "role".')]),
    (
        msgs({"role": "x" * 50, "content": "c"}, A),
        [err("unrecognized_role", f"Message 1 has role {'x' * 40!r}; use system, user, assistant or tool.")],
    ),
    (
        msgs({"role": 3, "content": "c"}, A),
        [err("unrecognized_role", "Message 1 has role '3'; use system, user, assistant or tool.")],
    ),
    (msgs(U, dict(A, weight=True)), [err("invalid_weight", "Message 2 has weight True; it must be 0 or 1.")]),
    (msgs(U, dict(A, weight=2)), [err("invalid_weight", "Message 2 has weight 2; it must be 0 or 1.")]),
    (msgs(U, dict(A, weight=-1)), [err("invalid_weight", "Message 2 has weight -1; it must be 0 or 1.")]),
    (
        msgs(U, dict(A, content=None, tool_calls={"function": {"name": "f"}}), A),
        [err("invalid_tool_calls", CALLS_SHAPE)],
    ),
    (msgs(U, {"role": "assistant", "tool_calls": []}, A), [err("invalid_tool_calls", CALLS_SHAPE)]),
    (msgs(U, {"role": "assistant", "tool_calls": [1]}, A), [err("invalid_tool_calls", CALLS_SHAPE)]),
    (
        msgs(U, {"role": "assistant", "tool_calls": [{"function": "f"}]}, A),
        [err("invalid_tool_calls", CALLS_SHAPE)],
    ),
    (
        msgs(U, {"role": "assistant", "tool_calls": [{"function": {"name": 1}}]}, A),
        [err("invalid_tool_calls", CALLS_SHAPE)],
    ),
    (
        msgs(U, {"role": "assistant", "tool_calls": [CALL, {"function": {}}]}, A),
        [err("invalid_tool_calls", CALLS_SHAPE)],
    ),
    (
        msgs(U, {"role": "assistant", "function_call": ["f"]}, A),
        [err("invalid_tool_calls", 'Message 2 has a "function_call" without a "name".')],
    ),
    (
        msgs(U, {"role": "assistant", "function_call": {"name": None}}, A),
        [err("invalid_tool_calls", 'Message 2 has a "function_call" without a "name".')],
    ),
    (
        msgs({"role": "user", "content": "q", "weight": 0, "tool_calls": []}, A),
        [
            err("invalid_weight", 'Message 1 (user) has "weight"; only assistant messages may.'),
            err("invalid_tool_calls", "Message 1 (user) has tool calls; only assistant messages may."),
        ],
    ),
    (
        msgs(U, {"role": "tool", "content": "r", "function_call": {"name": "f"}}, A),
        [err("invalid_tool_calls", "Message 2 (tool) has tool calls; only assistant messages may.")],
    ),
    (msgs({"role": "user"}, A), [err("message_missing_key", 'Message 1 (user) has no "content".')]),
    (msgs(U, {"role": "assistant"}), [err("message_missing_key", 'Message 2 (assistant) has no "content".')]),
    (
        msgs({"role": "system", "content": ""}, U, A),
        [err("missing_content", "Message 1 (system) has empty content.")],
    ),
    (
        msgs({"role": "user", "content": ""}, A),
        [err("missing_content", "Message 1 (user) has empty content.")],
    ),
    (
        msgs({"role": "user", "content": None}, A),
        [
            err(
                "missing_content",
                "Message 1 (user) has null content; only an assistant message with tool calls may.",
            )
        ],
    ),
    (
        msgs(U, {"role": "assistant", "content": None}),
        [
            err(
                "missing_content",
                "Message 2 (assistant) has null content; only an assistant message with tool calls may.",
            )
        ],
    ),
    (msgs({"role": "user", "content": []}, A), [err("missing_content", NOT_A_STRING.format(what="a list"))]),
    (
        msgs({"role": "user", "content": [{"text": "a"}]}, A),
        [err("missing_content", NOT_A_STRING.format(what="a list"))],
    ),
    (
        msgs({"role": "user", "content": ["a"]}, A),
        [err("missing_content", NOT_A_STRING.format(what="a list"))],
    ),
    (
        msgs({"role": "user", "content": {"a": 1}}, A),
        [err("missing_content", NOT_A_STRING.format(what="an object"))],
    ),
    (
        msgs({"role": "user", "content": "q", "name": 1, "tool_call_id": ["x"]}, A),
        [
            err("message_unrecognized_key", 'Message 1 has a "name" that is not a string.'),
            err("message_unrecognized_key", 'Message 1 has a "tool_call_id" that is not a string.'),
        ],
    ),
    (
        msgs(S, U),
        [err("example_missing_assistant_message", "Example has no assistant message to learn from.")],
    ),
    (
        msgs(S, {"role": "user", "content": [{"type": "text", "text": "t"}]}),
        [err("example_missing_assistant_message", "Example has no assistant message to learn from.")],
    ),
    (
        msgs(S, {"role": "user", "content": "x", "name": "n"}),
        [err("example_missing_assistant_message", "Example has no assistant message to learn from.")],
    ),
    (msgs(U, A), [NO_SYSTEM]),
    (msgs(S, A), [NO_USER]),
    (msgs(A), [NO_SYSTEM, NO_USER]),
    (msgs(dict(S, name="n"), A), [NO_USER]),
    (msgs({"role": "user", "content": [{"type": "text", "text": "t"}]}, A), [NO_SYSTEM]),
    (
        msgs(U, A, zeta=1),
        [
            ("W", "unrecognized_top_level_key", "Unrecognized top-level key 'zeta'; services may reject it."),
            NO_SYSTEM,
        ],
    ),
    (
        msgs(S, U, {"role": "assistant", "content": ""}, U, {"role": "assistant", "content": ""}),
        [("W", "empty_assistant_reply", "Message 3 (assistant) has an empty reply.")],
    ),
    (
        msgs(S, U, {"role": "assistant", "content": "", "name": "b"}),
        [("W", "empty_assistant_reply", "Message 3 (assistant) has an empty reply.")],
    ),
    # an example with an error gets none of the warnings
    (
        msgs({"role": "user", "content": ""}, {"role": "assistant", "content": ""}),
        [err("missing_content", "Message 1 (user) has empty content.")],
    ),
]


@pytest.mark.parametrize(("obj", "issues"), ISSUES)
def test_chat_issues(obj: dict[str, Any], issues: list[tuple[str, str, str]]) -> None:
    rules = ChatRules(IssueRecorder())
    found = outcome(rules, obj)
    assert found.issues == issues
    assert found.ok is (not any(kind == "E" for kind, _, _ in issues)) is rules.ok
    assert rules.format == "chat" and rules.line == 7


# (valid example, token base, messages, texts, shared): 3 per example, 4 per message, 1 per name
BILLED = [
    (msgs(S, A, U, A), 19, 4, ["hello", "hi", "hello"], ["sys"]),
    (msgs(S, U, A, S, U), 23, 5, ["hi", "hello", "hi"], ["sys", "sys"]),
    (msgs(U, ALL_KEYS), 12, 2, ["hi", '{"name":"f"}', "x", "n", "id"], []),
    (msgs(S, U, A), 15, 3, ["hi", "hello"], ["sys"]),
    (msgs(S, U, dict(A, name="bot")), 16, 3, ["hi", "hello", "bot"], ["sys"]),
    (
        msgs(U, A, tools=[{"t": 1}], functions=[{"f": 2}], parallel_tool_calls=True),
        11,
        2,
        ["hi", "hello"],
        [[{"t": 1}], [{"f": 2}]],
    ),
    (msgs(U, dict(A, weight=0), dict(A, content="y", weight=1)), 15, 3, ["hi", "hello", "y"], []),
    (
        msgs(U, dict(A, content=None, tool_calls=[CALL]), A),
        15,
        3,
        ["hi", '[{"type":"function","function":{"name":"f","arguments":"{}"}}]', "hello"],
        [],
    ),
    (
        msgs(U, {"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}, A),
        15,
        3,
        ["hi", '[{"function":{"name":"f"}}]', "hello"],
        [],
    ),
    (
        msgs(U, {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}, A),
        15,
        3,
        ["hi", '{"name":"f","arguments":"{}"}', "hello"],
        [],
    ),
    (
        msgs(S, U, dict(A, content="", tool_calls=[{"function": {"name": "f"}}]), A),
        19,
        4,
        ["hi", '[{"function":{"name":"f"}}]', "hello"],
        ["sys"],
    ),
    (
        msgs(S, U, dict(A, content=None, function_call={"name": "f"}), A),
        19,
        4,
        ["hi", '{"name":"f"}', "hello"],
        ["sys"],
    ),
    (msgs(S, U, {"role": "tool", "content": ""}, A), 19, 4, ["hi", "hello"], ["sys"]),
    (msgs(S, U, {"role": "tool", "content": "t"}, A), 19, 4, ["hi", "t", "hello"], ["sys"]),
    (
        msgs(
            S,
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "image_url", "text": 5}, {"type": "x"}],
            },
            A,
        ),
        15,
        3,
        ["a", "hello"],
        ["sys"],
    ),
    (
        msgs(
            S,
            {"role": "user", "content": "q", "name": "bob"},
            {"role": "tool", "content": "r", "tool_call_id": "c1"},
            A,
        ),
        20,
        4,
        ["q", "bob", "r", "c1", "hello"],
        ["sys"],
    ),
    (msgs(U, {"role": "function", "content": "r", "name": "f"}, A), 16, 3, ["hi", "r", "f", "hello"], []),
    (
        msgs(dict(S, name="a"), dict(U, name="b"), dict(A, name="c")),
        18,
        3,
        ["a", "hi", "b", "hello", "c"],
        ["sys"],
    ),
]


@pytest.mark.parametrize(("obj", "base", "messages", "texts", "shared"), BILLED)
def test_what_a_valid_chat_example_is_billed_for(
    obj: dict[str, Any], base: int, messages: int, texts: list[str], shared: list[Any]
) -> None:
    found = outcome(ChatRules(IssueRecorder()), obj)
    assert found.ok, found.issues
    assert (found.base, found.messages, found.texts, found.shared) == (base, messages, texts, shared)


def test_an_error_keeps_the_first_empty_reply_and_the_base_of_every_message() -> None:
    found = outcome(
        ChatRules(IssueRecorder()), msgs(U, dict(A, content=""), {"role": "robot"}, dict(A, content=""))
    )
    assert (found.ok, found.base, found.messages, found.empty_reply_at) == (False, 19, 4, 2)


def test_a_failed_example_leaves_nothing_of_the_one_before() -> None:
    rules = ChatRules(IssueRecorder())
    rich = msgs(S, dict(U, name="u"), dict(A, content=""), tools=[{"t": 1}])
    assert outcome(rules, rich).empty_reply_at == 3
    empty_list = err("missing_messages_list", '"messages" must be a non-empty list; it is an empty list.')
    assert outcome(rules, msgs(), line=8) == Outcome(False, [empty_list], 0, 0, 0, [], [])
    assert rules.line == 8 and rules.ok is False
    fine = outcome(rules, msgs(A), line=9)
    assert fine.ok and fine.empty_reply_at == 0 and rules.ok is True and rules.line == 9


def test_a_fresh_checker_describes_no_example() -> None:
    rules = ChatRules(IssueRecorder())
    seen = (rules.line, rules.ok, rules.messages, rules.base, rules.texts, rules.shared, rules.empty_reply_at)
    assert seen == (0, True, 0, 0, [], [], 0)
    assert rules.format == "chat" and ExampleRules(IssueRecorder()).format is None
