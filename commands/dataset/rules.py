"""Per-example schema checks: chat (``{"messages": [...]}``) and text completion.

A check reports every problem of its example to an issue log (never stopping at the first) and
gathers the texts whose tokens the example is billed for: per-example texts, and ``shared`` ones
(system prompts, tool definitions) that repeat across examples and are counted once. One checker
serves a whole pass (no object per example: this runs once per line of files of millions of lines).
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from commands.dataset.report import DatasetFormat

ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
MESSAGE_KEYS = frozenset({"role", "content", "name", "function_call", "tool_calls", "tool_call_id", "weight"})
CHAT_TOP_KEYS = frozenset({"messages", "tools", "functions", "parallel_tool_calls"})
TEXT_FORMATS: dict[DatasetFormat, tuple[str, str]] = {
    "text_ground_truth": ("text", "ground_truth"),
    "prompt_completion": ("prompt", "completion"),
}
TEXT_KEYS = frozenset({"text", "ground_truth", "prompt", "completion"})
PREFERENCE_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
PREFERENCE_INPUT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})
OUTPUT_ROLES = frozenset({"assistant", "tool"})
FORMAT_KEYS: dict[str, str] = {
    "text_ground_truth": '{"text", "ground_truth"}',
    "prompt_completion": '{"prompt", "completion"}',
}


class Issues(Protocol):
    def error(self, line: int | None, code: str, message: str) -> None: ...

    def warn(self, line: int | None, code: str, message: str) -> None: ...


def describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class ExampleRules:
    """Checks one example at a time. After ``check``, the attributes describe the example just checked."""

    def __init__(self, issues: Issues) -> None:
        self.issues = issues
        self.line = 0
        self.ok = True
        self.format: DatasetFormat | None = None
        self.messages = 0  # chat: how many
        #: tokens counted without encoding anything (per-message overhead, names)
        self.base = 0
        self.texts: list[str] = []
        #: system prompts and tool definitions: repeat across examples, counted once
        self.shared: list[Any] = []
        #: the first assistant message with an empty reply and no tool calls (0: none)
        self.empty_reply_at: int | str = 0

    def check(self, obj: dict[str, Any], line: int) -> bool:
        """Whether ``obj``, the example on ``line``, passes every check; its problems are reported."""
        raise NotImplementedError

    def _start(self, line: int) -> None:
        self.line = line
        self.ok = True
        self.format = None
        self.base = self.messages = self.empty_reply_at = 0
        self.texts = []
        self.shared = []

    def error(self, code: str, message: str) -> None:
        self.ok = False
        self.issues.error(self.line, code, message)

    def warn(self, code: str, message: str) -> None:
        self.issues.warn(self.line, code, message)


class ChatRules(ExampleRules):
    """``{"messages": [...]}`` examples; the token base follows the OpenAI cookbook's
    ``num_tokens_from_messages``."""

    def __init__(self, issues: Issues) -> None:
        super().__init__(issues)
        self.format = "chat"

    def check(self, obj: dict[str, Any], line: int) -> bool:
        self.line = line
        self.ok = True
        self.empty_reply_at = 0
        self.texts = texts = []
        self.shared = shared = []
        msgs = obj.get("messages")
        if type(msgs) is not list or not msgs:
            self.base = self.messages = 0
            self._not_a_message_list(obj, msgs)
            return False
        # 3 per example (every reply is primed with <|start|>assistant<|message|>), and per message 3 plus
        # the role (one token in cl100k and o200k)
        self.messages = n = len(msgs)
        self.base = 3 + 4 * n
        if len(obj) > 1:  # pragma: no mutate (>= 1: a lone "messages" key has nothing more to check)
            self._top_level(obj)
        has_system = has_user = has_assistant = False  # pragma: no mutate (None: only truthiness is read)
        for i, m in enumerate(msgs, 1):
            # pragma: no mutate start (the fast path: skipped, `_message` below gives the same result)
            if type(m) is dict and len(m) == 2:
                # fast path for the common {"role": ..., "content": "..."} message
                role = m.get("role")
                content = m.get("content")
                if type(content) is str and content:
                    # pragma: no mutate end
                    if role == "assistant":  # pragma: no mutate (not taken: `_message` settles it the same)
                        has_assistant = True
                        texts.append(content)
                        continue
                    if role == "user":  # pragma: no mutate (not taken: `_message` settles it the same)
                        has_user = True
                        texts.append(content)
                        continue
                    if role == "system":  # pragma: no mutate (not taken: `_message` settles it the same)
                        has_system = True
                        shared.append(content)
                        continue
            role = self._message(i, m)
            if role == "assistant":
                has_assistant = True
            elif role == "system":
                has_system = True
            elif role == "user":
                has_user = True
        if not has_assistant:
            self.error("example_missing_assistant_message", "Example has no assistant message to learn from.")
        if self.ok and not (has_system and has_user and not self.empty_reply_at):
            self._example_warnings(has_system, has_user)
        return self.ok

    def _not_a_message_list(self, obj: dict[str, Any], msgs: object) -> None:
        if msgs is None and not obj.keys().isdisjoint(TEXT_KEYS):
            fmt = "text_ground_truth" if ("text" in obj or "ground_truth" in obj) else "prompt_completion"
            self.error(
                "format_mismatch",
                f"This line is text-completion data ({FORMAT_KEYS[fmt]}) but the task is "
                'chat_completion, which needs {"messages": [...]}; choose --task text_completion or '
                "convert the data.",
            )
        elif msgs is None and "preferred_output" in obj:
            self.error(
                "format_mismatch",
                'This line is preference data ({"input", "preferred_output", "non_preferred_output"}) but '
                'the method is supervised, which needs {"messages": [...]}; choose --method dpo.',
            )
        elif msgs is None:
            self.error("missing_messages_list", 'No "messages" list; each line needs {"messages": [...]}.')
        else:
            self.error(
                "missing_messages_list",
                '"messages" must be a non-empty list; it is '
                f"{'an empty list' if msgs == [] else describe(msgs)}.",
            )

    def _top_level(self, obj: dict[str, Any]) -> None:
        """Keys beside ``messages``: unknown ones warn; ``tools`` and ``functions`` are lists of objects."""
        for key in obj.keys() - CHAT_TOP_KEYS:
            self.warn(
                "unrecognized_top_level_key", f"Unrecognized top-level key {key!r}; services may reject it."
            )
        for key in ("tools", "functions"):
            defs = obj.get(key)
            if defs is not None:
                if type(defs) is not list or not all(type(d) is dict for d in defs):
                    self.error("invalid_tools", f'"{key}" must be a list of objects; it is {describe(defs)}.')
                else:
                    self.shared.append(defs)

    def _message(self, i: int | str, m: object) -> str:
        """Every check of message ``i`` that the fast path in ``check`` did not settle. Returns the
        message's role once it is a known one (whatever else is wrong), else ``""``."""
        if type(m) is not dict:
            self.error("data_type", f"Message {i} must be a JSON object; it is {describe(m)}.")
            return ""
        role = m.get("role")
        if not m.keys() <= MESSAGE_KEYS:
            bad = ", ".join(sorted(repr(k) for k in m.keys() - MESSAGE_KEYS))
            self.error("message_unrecognized_key", f"Message {i} has unrecognized key(s) {bad}.")
        if role is None:
            self.error("message_missing_key", f'Message {i} has no "role".')
            return ""
        if type(role) is not str or role not in ROLES:  # a list or object role is not hashable
            self.error(
                "unrecognized_role",
                f"Message {i} has role {str(role)[:40]!r}; use system, user, assistant or tool.",
            )
            return ""
        calls = m.get("tool_calls")
        fcall = m.get("function_call")
        if role == "assistant":
            self._assistant_extras(i, m, calls, fcall)
        else:
            self._only_for_assistants(i, role, m, calls is not None or fcall is not None)
        self._content(i, role, m.get("content", ...), calls is None and fcall is None)
        self._names(i, m)
        return str(role)

    def _assistant_extras(self, i: int | str, m: dict[str, Any], calls: object, fcall: object) -> None:
        """An assistant message's ``weight`` (0 or 1), ``tool_calls`` and ``function_call``."""
        weight = m.get("weight")
        if weight is not None and (type(weight) is not int or weight not in (0, 1)):
            self.error("invalid_weight", f"Message {i} has weight {weight!r}; it must be 0 or 1.")
        if calls is not None:
            if (
                type(calls) is not list
                or not calls
                or not all(
                    type(c) is dict
                    and type(c.get("function")) is dict
                    and type(c["function"].get("name")) is str
                    for c in calls
                )
            ):
                self.error(
                    "invalid_tool_calls",
                    f'Message {i} has "tool_calls" that is not a list of '
                    '{"type": "function", "function": {"name": ..., "arguments": ...}} objects.',
                )
            else:
                self.texts.append(orjson.dumps(calls).decode())
        if fcall is not None:
            if type(fcall) is not dict or type(fcall.get("name")) is not str:
                self.error("invalid_tool_calls", f'Message {i} has a "function_call" without a "name".')
            else:
                self.texts.append(orjson.dumps(fcall).decode())

    def _only_for_assistants(self, i: int | str, role: str, m: dict[str, Any], has_calls: bool) -> None:
        """``weight`` and tool calls belong to assistant messages only."""
        if "weight" in m:
            self.error("invalid_weight", f'Message {i} ({role}) has "weight"; only assistant messages may.')
        if has_calls:
            self.error(
                "invalid_tool_calls", f"Message {i} ({role}) has tool calls; only assistant messages may."
            )

    def _content(self, i: int | str, role: str, content: object, no_calls: bool) -> None:
        """A message's content: a string (empty only for tool results or an assistant's empty reply),
        null only beside tool calls, or a list of content parts. ``...`` stands for a missing key."""
        if content is ...:
            if role != "assistant" or no_calls:
                self.error("message_missing_key", f'Message {i} ({role}) has no "content".')
        elif type(content) is str:
            if content:
                (self.shared if role == "system" else self.texts).append(content)
            elif role == "assistant":
                if no_calls:
                    self.empty_reply_at = self.empty_reply_at or i
            elif role != "tool":
                self.error("missing_content", f"Message {i} ({role}) has empty content.")
        elif content is None:
            if role != "assistant" or no_calls:
                self.error(
                    "missing_content",
                    f"Message {i} ({role}) has null content; only an assistant message with tool calls may.",
                )
        elif type(content) is list and content and all(type(p) is dict and "type" in p for p in content):
            for p in content:
                t = p.get("text")
                if type(t) is str:
                    self.texts.append(t)
        else:
            self.error(
                "missing_content",
                f"Message {i} ({role}) content must be a string (or a list of content parts); "
                f"it is {describe(content)}.",
            )

    def _names(self, i: int | str, m: dict[str, Any]) -> None:
        """``name`` (one token more) and ``tool_call_id`` are strings, counted as text."""
        for key in ("name", "tool_call_id"):
            v = m.get(key)
            if v is not None:
                if type(v) is str:
                    self.texts.append(v)
                    self.base += key == "name"
                else:
                    self.error("message_unrecognized_key", f'Message {i} has a "{key}" that is not a string.')

    def _example_warnings(self, has_system: bool, has_user: bool) -> None:
        """A valid example without a system or user message, or with an empty reply, is worth a warning."""
        if not has_system:
            self.warn("missing_system_message", "Example has no system message.")
        if not has_user:
            self.warn("missing_user_message", "Example has no user message.")
        if self.empty_reply_at:
            self.warn(
                "empty_assistant_reply", f"Message {self.empty_reply_at} (assistant) has an empty reply."
            )


class TextRules(ExampleRules):
    """``{"text", "ground_truth"}`` or ``{"prompt", "completion"}`` examples."""

    def check(self, obj: dict[str, Any], line: int) -> bool:
        self._start(line)
        if "messages" in obj:
            self.error(
                "format_mismatch",
                'This line is chat data ({"messages": [...]}) but the task is text_completion, which needs '
                '{"text", "ground_truth"} or {"prompt", "completion"}; choose --task chat_completion.',
            )
            return False
        tg = ("text" in obj) + ("ground_truth" in obj)
        pc = ("prompt" in obj) + ("completion" in obj)
        if tg and tg >= pc:
            fmt: DatasetFormat = "text_ground_truth"
        elif pc:
            fmt = "prompt_completion"
        else:
            self.error(
                "missing_key",
                'Text-completion lines need {"text", "ground_truth"} or {"prompt", "completion"}; '
                f"this one has {', '.join(sorted(map(repr, obj))) or 'no keys'}.",
            )
            return False
        self.format = fmt
        self._text_keys(obj, fmt)
        self._text_values(obj, fmt)
        return self.ok

    def _text_keys(self, obj: dict[str, Any], fmt: DatasetFormat) -> None:
        """No keys beside the format's two; another format's key means the line mixes formats."""
        extra = obj.keys() - set(TEXT_FORMATS[fmt])
        if extra:
            bad = ", ".join(sorted(map(repr, extra)))
            both = not extra.isdisjoint(TEXT_KEYS)
            self.error(
                "mixed_formats" if both else "unrecognized_key",
                f"Line mixes {FORMAT_KEYS[fmt]} with {bad}." if both else f"Unrecognized key(s) {bad}.",
            )

    def _text_values(self, obj: dict[str, Any], fmt: DatasetFormat) -> None:
        """Both values are strings; the input is not empty (an empty output only warns)."""
        k_in, k_out = TEXT_FORMATS[fmt]
        for key in (k_in, k_out):
            v = obj.get(key)
            if v is None and key not in obj:
                self.error("missing_key", f'No "{key}"; {FORMAT_KEYS[fmt]} lines need both keys.')
            elif type(v) is not str:
                self.error("missing_content", f'"{key}" must be a string; it is {describe(v)}.')
            elif v:
                self.texts.append(v)
            elif key == k_in:
                self.error("missing_content", f'"{key}" is empty.')
            else:
                self.warn("empty_completion", f'"{key}" is empty; there is nothing to learn.')


class PreferenceRules(ChatRules):
    """DPO preference examples: ``{"input": {"messages": [...]}, "preferred_output": [...],
    "non_preferred_output": [...]}`` (Azure OpenAI's "Direct preference optimization" how-to). The input's
    messages are checked as chat messages; each output is a non-empty list of assistant (or tool) messages
    with at least one assistant message. Tokens: the input once plus both outputs."""

    def __init__(self, issues: Issues) -> None:
        super().__init__(issues)
        self.format = "preference"

    def check(self, obj: dict[str, Any], line: int) -> bool:
        self.line = line
        self.ok = True
        self.empty_reply_at = 0
        self.texts = []
        self.shared = []
        self.base = 3
        self.messages = 0
        if "messages" in obj and "input" not in obj:
            self.error(
                "format_mismatch",
                'This line is chat data ({"messages": [...]}) but the method is dpo, which needs '
                '{"input", "preferred_output", "non_preferred_output"}; convert the data, or leave out '
                "--method dpo.",
            )
            return False
        for key in obj.keys() - PREFERENCE_KEYS:
            self.warn(
                "unrecognized_top_level_key", f"Unrecognized top-level key {key!r}; services may reject it."
            )
        has_user = self._input(obj.get("input", ...))
        preferred = self._output("preferred_output", obj.get("preferred_output", ...))
        rejected = self._output("non_preferred_output", obj.get("non_preferred_output", ...))
        if self.ok:
            if preferred == rejected:
                self.warn(
                    "identical_preference",
                    "preferred_output and non_preferred_output are the same; there is nothing to learn.",
                )
            if not has_user:
                self.warn("missing_user_message", "The input has no user message.")
            if self.empty_reply_at:
                self.warn(
                    "empty_assistant_reply", f"Message {self.empty_reply_at} (assistant) has an empty reply."
                )
        return self.ok

    def _input(self, value: object) -> bool:
        """The ``input`` object; whether it has a user message."""
        if type(value) is not dict:
            missing = value is ...
            self.error(
                "missing_input",
                'No "input"; each line needs "input": {"messages": [...]}.'
                if missing
                else f'"input" must be an object with "messages"; it is {describe(value)}.',
            )
            return False  # pragma: no mutate (True: only read for an example without errors)
        for key in value.keys() - PREFERENCE_INPUT_KEYS:
            self.warn("unrecognized_top_level_key", f"Unrecognized key {key!r} in the input.")
        defs = value.get("tools")
        if defs is not None:
            if type(defs) is not list or not all(type(d) is dict for d in defs):
                self.error("invalid_tools", f'"tools" must be a list of objects; it is {describe(defs)}.')
            else:
                self.shared.append(defs)
        msgs = value.get("messages")
        if type(msgs) is not list or not msgs:
            shown = "missing" if msgs is None else "an empty list" if msgs == [] else describe(msgs)
            self.error("missing_input", f'"input" needs a non-empty "messages" list; it is {shown}.')
            return False  # pragma: no mutate (True: only read for an example without errors)
        roles = [self._counted(f"{i} of input", m) for i, m in enumerate(msgs, 1)]
        return "user" in roles

    def _output(self, key: str, value: object) -> object:
        """One output list; returns it (compared with the other) once checked."""
        if type(value) is not list or not value:
            shown = "missing" if value is ... else "an empty list" if value == [] else describe(value)
            self.error(
                "invalid_preference_output",
                f'"{key}" must be a non-empty list of assistant messages; it is {shown}.',
            )
            return None
        roles = []
        for i, m in enumerate(value, 1):
            label = f"{i} of {key}"
            role = self._counted(label, m)
            roles.append(role)
            if role and role not in OUTPUT_ROLES:
                self.error(
                    "invalid_preference_output",
                    f"Message {label} has role {role!r}; outputs hold assistant (or tool) messages only.",
                )
        if "assistant" not in roles:
            self.error("invalid_preference_output", f'"{key}" has no assistant message.')
        return value

    def _counted(self, label: str, m: object) -> str:
        """Check one message and add its tokens (3 plus its role, as chat messages)."""
        self.messages += 1
        self.base += 4
        return self._message(label, m)
