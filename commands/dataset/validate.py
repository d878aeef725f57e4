"""Streaming JSONL dataset validation: every error with its line, warnings, token statistics, cost estimate.

The file is read in blocks and never held whole: memory stays flat apart from 12 bytes per example (a
64-bit line hash for duplicate and overlap detection, a 32-bit line number) plus 4 bytes per token count.
The main thread parses (orjson) and checks each line; token counting, which is nearly all of the cost,
runs in a small thread pool (tiktoken's core releases the GIL while it encodes), a bounded number of
batches in flight. System prompts and tool definitions, which repeat across examples, are counted once.

Token counts follow the OpenAI cookbook's ``num_tokens_from_messages``: 3 per message, the tokens of
every text value (role, content, name), 1 more for ``name``, 3 per example; tool calls, ``function_call``
and the top-level ``tools``/``functions`` count as their JSON text. Special-token-looking text such as
``<|endoftext|>`` is counted as ordinary text.
"""

from __future__ import annotations

import os
import re
from array import array
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import orjson

from commands.dataset.report import (
    DatasetFormat,
    DatasetStats,
    Issue,
    MessageStats,
    TokenStats,
    ValidationReport,
)
from commands.dataset.tokens import ENCODINGS, Counter, get_counter
from commands.errors import InvalidInput
from commands.models import Task

MIN_EXAMPLES = 10  # Azure OpenAI and OpenAI refuse fewer
MAX_FILE_BYTES = 512 * 1024 * 1024  # Azure: files must be under 512 MB
DEFAULT_CONTEXT_LENGTH = 4096
LISTED_PER_CODE = 100  # issues listed per code; every one is counted

TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

_BLOCK = 1 << 20
#: a line longer than this is over every model's context many times (>1M tokens): it is reported and
#: skipped without being held in memory, parsed or tokenized (a single 100 MB line stays cheap)
MAX_LINE_BYTES = 4 << 20
_BATCH_TEXT_CHARS = 1 << 18
_CACHE_MAX = 4096
_BOM = b"\xef\xbb\xbf"
_SEP = "<|endoftext|>"
_ALLOWED = {_SEP}

ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
MESSAGE_KEYS = frozenset({"role", "content", "name", "function_call", "tool_calls", "tool_call_id", "weight"})
CHAT_TOP_KEYS = frozenset({"messages", "tools", "functions", "parallel_tool_calls"})
TEXT_FORMATS: dict[DatasetFormat, tuple[str, str]] = {
    "text_ground_truth": ("text", "ground_truth"),
    "prompt_completion": ("prompt", "completion"),
}
_TEXT_KEYS = frozenset({"text", "ground_truth", "prompt", "completion"})
_FORMAT_KEYS: dict[str, str] = {
    "text_ground_truth": '{"text", "ground_truth"}',
    "prompt_completion": '{"prompt", "completion"}',
}


class UnreadableDataset(InvalidInput):
    """The dataset could not be read at all (missing file, a directory, an I/O error)."""

    code = "unreadable"


def default_epochs(n_examples: int) -> int:
    """The cookbook's rule for ``n_epochs=auto`` (peers.md §1.5): 3 epochs, but at least 100 and at most
    25,000 example-passes, clamped to 1-25. No examples: 1."""
    if n_examples <= 0:
        return MIN_DEFAULT_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


def billed_tokens(token_counts: Any, context_length: int, epochs: int) -> int:
    """``epochs x sum(min(tokens, context_length))`` over examples (peers.md §1.7)."""
    counts = np.asarray(token_counts, dtype=np.int64)
    return int(epochs * int(np.minimum(counts, context_length).sum()))


def _count_batch(core: Counter, eot: int, texts: list[str], ends: list[int], base: list[int]) -> list[int]:
    """Per-example token totals: ``base[i]`` plus the tokens of ``texts[ends[i-1]:ends[i]]``.

    The texts are joined with ``<|endoftext|>`` and encoded in one call with that special token allowed:
    tiktoken encodes the text between special tokens piece by piece, exactly as it would each text alone,
    so the separators give every text's count. One call per batch instead of one per message halves the
    Python overhead and holds the GIL once. A text that itself contains ``<|endoftext|>`` is counted alone,
    as ordinary text.
    """
    extra: dict[int, int] = {}
    if any(_SEP in t for t in texts):
        texts = list(texts)
        for i, t in enumerate(texts):
            if _SEP in t:
                extra[i] = len(core.encode_ordinary(t))
                texts[i] = ""
    tokens = np.frombuffer(core.encode_to_tiktoken_buffer(_SEP.join(texts), _ALLOWED), dtype=np.uint32)
    bounds = np.empty(len(texts) + 1, dtype=np.int64)
    bounds[0] = -1
    bounds[1:-1] = np.flatnonzero(tokens == eot)
    bounds[-1] = tokens.size
    per_text = np.diff(bounds) - 1
    for i, n in extra.items():
        per_text[i] = n
    cum = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(per_text, out=cum[1:])
    e = np.asarray(ends, dtype=np.int64)
    starts = np.empty_like(e)
    starts[0] = 0
    starts[1:] = e[:-1]
    totals: list[int] = (cum[e] - cum[starts] + np.asarray(base, dtype=np.int64)).tolist()
    return totals


_POSITION = re.compile(r": line \d+ column (\d+) \(char \d+\)$")


def _json_reason(e: orjson.JSONDecodeError) -> str:
    """orjson's message, with its "line 1 column N (char M)" (always line 1 of the one line) as a column."""
    msg = str(e)
    m = _POSITION.search(msg)
    return _POSITION.sub("", msg) + f" (column {m.group(1)})" if m else msg


def _describe(value: object) -> str:
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


class _Validator:
    """One pass over one file. Not thread-safe; the token pool only ever sees plain lists."""

    def __init__(
        self,
        *,
        task: Task,
        context_length: int,
        encoding: str,
        exact_tokenizer: bool,
        count_tokens: bool,
        backend_text_format: DatasetFormat | None,
        workers: int,
        progress: Callable[[int], None] | None,
        min_examples: int = MIN_EXAMPLES,
    ) -> None:
        self.min_examples = min_examples
        self.task = task
        self._check = self._chat if task is Task.CHAT_COMPLETION else self._text
        self.ctx = context_length
        self.encoding = encoding
        self.exact = exact_tokenizer
        self.count_tokens = count_tokens
        self.backend_text_format = backend_text_format
        self.workers = workers
        self.progress = progress
        self.eot = ENCODINGS[encoding][2][_SEP]
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        self.error_counts: dict[str, int] = {}
        self.warning_counts: dict[str, int] = {}
        self.examples = 0
        self.valid = 0
        self.bytes = 0
        self.has_bom = False
        self.hashes = array("q")
        self.hash_lines = array("I")
        self.token_counts = array("I")
        self.over_context = 0
        self.msg_min = 0
        self.msg_max = 0
        self.msg_sum = 0
        self.formats: dict[DatasetFormat, int] = {}
        self.first_format_line: dict[DatasetFormat, int] = {}
        self._core: Counter | None = None
        self._cache: dict[str, int] = {}
        # the batch being built: texts to encode, per-example end index, base count, line number
        self._texts: list[str] = []
        self._ends: list[int] = []
        self._base: list[int] = []
        self._lines: list[int] = []
        self._chars = 0
        self._pending: deque[tuple[Future[list[int]], list[int]]] = deque()
        self._pool: ThreadPoolExecutor | None = None

    # -- issues ------------------------------------------------------------------------------------
    def error(self, line: int | None, code: str, message: str) -> None:
        n = self.error_counts.get(code, 0)
        self.error_counts[code] = n + 1
        if n < LISTED_PER_CODE:
            self.errors.append(Issue(line=line, code=code, message=message))

    def warn(self, line: int | None, code: str, message: str) -> None:
        n = self.warning_counts.get(code, 0)
        self.warning_counts[code] = n + 1
        if n < LISTED_PER_CODE:
            self.warnings.append(Issue(line=line, code=code, message=message))

    # -- tokens ------------------------------------------------------------------------------------
    @property
    def core(self) -> Counter:
        if self._core is None:
            self._core = get_counter(self.encoding)
        return self._core

    def _cached(self, text: str) -> int:
        """Token count of a text that tends to repeat (system prompt, tool definitions)."""
        n = self._cache.get(text)
        if n is None:
            n = len(self.core.encode_ordinary(text))
            if len(self._cache) < _CACHE_MAX:
                self._cache[text] = n
        return n

    def _queue(self, line: int, base: int, texts: list[str], chars: int) -> None:
        self._texts.extend(texts)
        self._ends.append(len(self._texts))
        self._base.append(base)
        self._lines.append(line)
        self._chars += chars
        if self._chars >= _BATCH_TEXT_CHARS:
            self._submit()

    def _submit(self) -> None:
        if not self._ends:
            return
        texts, ends, base, lines = self._texts, self._ends, self._base, self._lines
        self._texts, self._ends, self._base, self._lines, self._chars = [], [], [], [], 0
        if self.workers <= 1:
            self._collect(_count_batch(self.core, self.eot, texts, ends, base), lines)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ftbot-tokens")
        self._pending.append((self._pool.submit(_count_batch, self.core, self.eot, texts, ends, base), lines))
        while len(self._pending) > 2 * self.workers:
            fut, lns = self._pending.popleft()
            self._collect(fut.result(), lns)

    def _collect(self, totals: list[int], lines: list[int]) -> None:
        ctx = self.ctx
        for n, line in zip(totals, lines, strict=True):
            if self.count_tokens:
                self.token_counts.append(n)
            if n > ctx:
                self.over_context += 1
                self.warn(
                    line,
                    "over_context_length",
                    f"Example has {n:,} tokens, over the model's context length of {ctx:,}; "
                    "it will be truncated during training.",
                )

    def _drain(self) -> None:
        self._submit()
        while self._pending:
            fut, lns = self._pending.popleft()
            self._collect(fut.result(), lns)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    # -- lines -------------------------------------------------------------------------------------
    def _too_long(self, line: int, size: int) -> None:
        self.examples += 1
        self.error(
            line,
            "line_too_long",
            f"This line is {size / (1 << 20):.0f} MB, far beyond any model's context "
            f"(at most {MAX_LINE_BYTES >> 20} MB a line); it was not read. "
            "Is the file one JSON object per line?",
        )

    def feed(self, raw: bytes, line: int) -> None:
        if not raw or raw.isspace():
            self.warn(line, "blank_line", "Blank line; it is skipped (and dropped when ftbot uploads).")
            return
        self.examples += 1
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as ue:
                self.error(
                    line,
                    "encoding",
                    f"Bytes that are not UTF-8 at byte {ue.start + 1} of the line; save the file as UTF-8.",
                )
                return
            self.error(line, "invalid_json", f"Not valid JSON: {_json_reason(e)}.")
            return
        if type(obj) is not dict:
            self.error(line, "data_type", f"Each line must be a JSON object; this one is {_describe(obj)}.")
            return
        if self._check(obj, raw, line):
            self.valid += 1
            self.hashes.append(hash(raw))
            self.hash_lines.append(line)

    def _chat(self, obj: dict[str, Any], raw: bytes, line: int) -> bool:
        msgs = obj.get("messages")
        if type(msgs) is not list or not msgs:
            if msgs is None and not obj.keys().isdisjoint(_TEXT_KEYS):
                fmt = "text_ground_truth" if ("text" in obj or "ground_truth" in obj) else "prompt_completion"
                self.error(
                    line,
                    "format_mismatch",
                    f"This line is text-completion data ({_FORMAT_KEYS[fmt]}) but the task is "
                    'chat_completion, which needs {"messages": [...]}; choose --task text_completion or '
                    "convert the data.",
                )
            elif msgs is None:
                self.error(
                    line, "missing_messages_list", 'No "messages" list; each line needs {"messages": [...]}.'
                )
            else:
                self.error(
                    line,
                    "missing_messages_list",
                    '"messages" must be a non-empty list; it is '
                    f"{'an empty list' if msgs == [] else _describe(msgs)}.",
                )
            return False
        ok = True
        texts: list[str] = []
        shared: list[Any] = []  # system prompts and tool definitions: repeat across examples, counted once
        # 3 per example (every reply is primed with <|start|>assistant<|message|>), and per message 3 plus
        # the role (one token in cl100k and o200k)
        base = 3 + 4 * len(msgs)
        if len(obj) > 1:
            for key in obj.keys() - CHAT_TOP_KEYS:
                self.warn(
                    line,
                    "unrecognized_top_level_key",
                    f"Unrecognized top-level key {key!r}; services may reject it.",
                )
            for key in ("tools", "functions"):
                defs = obj.get(key)
                if defs is not None:
                    if type(defs) is not list or not all(type(d) is dict for d in defs):
                        self.error(
                            line,
                            "invalid_tools",
                            f'"{key}" must be a list of objects; it is {_describe(defs)}.',
                        )
                        ok = False
                    else:
                        shared.append(defs)
        has_system = has_user = has_assistant = False
        empty_reply_at = 0
        for i, m in enumerate(msgs, 1):
            if type(m) is dict and len(m) == 2:
                # fast path for the common {"role": ..., "content": "..."} message
                role = m.get("role")
                content = m.get("content")
                if type(content) is str and content:
                    if role == "assistant":
                        has_assistant = True
                        texts.append(content)
                        continue
                    if role == "user":
                        has_user = True
                        texts.append(content)
                        continue
                    if role == "system":
                        has_system = True
                        shared.append(content)
                        continue
            if type(m) is not dict:
                self.error(line, "data_type", f"Message {i} must be a JSON object; it is {_describe(m)}.")
                ok = False
                continue
            role = m.get("role")
            if not m.keys() <= MESSAGE_KEYS:
                bad = ", ".join(sorted(repr(k) for k in m.keys() - MESSAGE_KEYS))
                self.error(line, "message_unrecognized_key", f"Message {i} has unrecognized key(s) {bad}.")
                ok = False
            if role is None:
                self.error(line, "message_missing_key", f'Message {i} has no "role".')
                ok = False
                continue
            if role not in ROLES:
                self.error(
                    line,
                    "unrecognized_role",
                    f"Message {i} has role {str(role)[:40]!r}; use system, user, assistant or tool.",
                )
                ok = False
                continue
            content = m.get("content", ...)
            calls = m.get("tool_calls")
            fcall = m.get("function_call")
            if role == "assistant":
                has_assistant = True
                weight = m.get("weight")
                if weight is not None and (type(weight) is not int or weight not in (0, 1)):
                    self.error(
                        line, "invalid_weight", f"Message {i} has weight {weight!r}; it must be 0 or 1."
                    )
                    ok = False
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
                            line,
                            "invalid_tool_calls",
                            f'Message {i} has "tool_calls" that is not a list of '
                            '{"type": "function", "function": {"name": ..., "arguments": ...}} objects.',
                        )
                        ok = False
                    else:
                        s = orjson.dumps(calls).decode()
                        texts.append(s)
                if fcall is not None:
                    if type(fcall) is not dict or type(fcall.get("name")) is not str:
                        self.error(
                            line, "invalid_tool_calls", f'Message {i} has a "function_call" without a "name".'
                        )
                        ok = False
                    else:
                        s = orjson.dumps(fcall).decode()
                        texts.append(s)
            else:
                if "weight" in m:
                    self.error(
                        line,
                        "invalid_weight",
                        f'Message {i} ({role}) has "weight"; only assistant messages may.',
                    )
                    ok = False
                if calls is not None or fcall is not None:
                    self.error(
                        line,
                        "invalid_tool_calls",
                        f"Message {i} ({role}) has tool calls; only assistant messages may.",
                    )
                    ok = False
                if role == "system":
                    has_system = True
                elif role == "user":
                    has_user = True
            if content is ...:
                if role != "assistant" or (calls is None and fcall is None):
                    self.error(line, "message_missing_key", f'Message {i} ({role}) has no "content".')
                    ok = False
            elif type(content) is str:
                if content:
                    if role == "system":
                        shared.append(content)
                    else:
                        texts.append(content)
                elif role == "assistant":
                    if calls is None and fcall is None:
                        empty_reply_at = empty_reply_at or i
                elif role != "tool":
                    self.error(line, "missing_content", f"Message {i} ({role}) has empty content.")
                    ok = False
            elif content is None:
                if role != "assistant" or (calls is None and fcall is None):
                    self.error(
                        line,
                        "missing_content",
                        f"Message {i} ({role}) has null content; only an assistant message with tool calls "
                        "may.",
                    )
                    ok = False
            elif type(content) is list and content and all(type(p) is dict and "type" in p for p in content):
                for p in content:
                    t = p.get("text")
                    if type(t) is str:
                        texts.append(t)
            else:
                self.error(
                    line,
                    "missing_content",
                    f"Message {i} ({role}) content must be a string (or a list of content parts); "
                    f"it is {_describe(content)}.",
                )
                ok = False
            for key in ("name", "tool_call_id"):
                v = m.get(key)
                if v is not None:
                    if type(v) is str:
                        texts.append(v)
                        base += key == "name"
                    else:
                        self.error(
                            line,
                            "message_unrecognized_key",
                            f'Message {i} has a "{key}" that is not a string.',
                        )
                        ok = False
        if not has_assistant:
            self.error(
                line, "example_missing_assistant_message", "Example has no assistant message to learn from."
            )
            ok = False
        if not ok:
            return False
        n = len(msgs)
        if self.valid == 0:
            self.msg_min = self.msg_max = n
        elif n < self.msg_min:
            self.msg_min = n
        elif n > self.msg_max:
            self.msg_max = n
        self.msg_sum += n
        if not has_system:
            self.warn(line, "missing_system_message", "Example has no system message.")
        if not has_user:
            self.warn(line, "missing_user_message", "Example has no user message.")
        if empty_reply_at:
            self.warn(
                line, "empty_assistant_reply", f"Message {empty_reply_at} (assistant) has an empty reply."
            )
        self._tokens(line, raw, base, texts, shared)
        return True

    def _tokens(self, line: int, raw: bytes, base: int, texts: list[str], shared: list[Any]) -> None:
        if self.count_tokens:
            cache = self._cache
            for s in shared:
                text = s if type(s) is str else orjson.dumps(s).decode()
                n = cache.get(text)
                if n is not None:
                    base += n
                elif len(cache) < _CACHE_MAX:
                    base += self._cached(text)
                else:  # the cache is full of other prompts: count it with the rest, in the pool
                    texts.append(text)
            self._queue(line, base, texts, len(raw))

    def _text(self, obj: dict[str, Any], raw: bytes, line: int) -> bool:
        if "messages" in obj:
            self.error(
                line,
                "format_mismatch",
                'This line is chat data ({"messages": [...]}) but the task is text_completion, which needs '
                '{"text", "ground_truth"} or {"prompt", "completion"}; choose --task chat_completion.',
            )
            return False
        fmt: DatasetFormat
        tg = ("text" in obj) + ("ground_truth" in obj)
        pc = ("prompt" in obj) + ("completion" in obj)
        if tg and tg >= pc:
            fmt = "text_ground_truth"
        elif pc:
            fmt = "prompt_completion"
        else:
            self.error(
                line,
                "missing_key",
                'Text-completion lines need {"text", "ground_truth"} or {"prompt", "completion"}; '
                f"this one has {', '.join(sorted(map(repr, obj))) or 'no keys'}.",
            )
            return False
        ok = True
        k_in, k_out = TEXT_FORMATS[fmt]
        extra = obj.keys() - {k_in, k_out}
        if extra:
            bad = ", ".join(sorted(map(repr, extra)))
            both = not extra.isdisjoint(_TEXT_KEYS)
            self.error(
                line,
                "mixed_formats" if both else "unrecognized_key",
                f"Line mixes {_FORMAT_KEYS[fmt]} with {bad}." if both else f"Unrecognized key(s) {bad}.",
            )
            ok = False
        texts: list[str] = []
        for key in (k_in, k_out):
            v = obj.get(key)
            if v is None and key not in obj:
                self.error(line, "missing_key", f'No "{key}"; {_FORMAT_KEYS[fmt]} lines need both keys.')
                ok = False
            elif type(v) is not str:
                self.error(line, "missing_content", f'"{key}" must be a string; it is {_describe(v)}.')
                ok = False
            elif v:
                texts.append(v)
            elif key == k_in:
                self.error(line, "missing_content", f'"{key}" is empty.')
                ok = False
            else:
                self.warn(line, "empty_completion", f'"{key}" is empty; there is nothing to learn.')
        if not ok:
            return False
        self.formats[fmt] = self.formats.get(fmt, 0) + 1
        self.first_format_line.setdefault(fmt, line)
        self._tokens(line, raw, 0, texts, [])
        return True

    # -- the whole file ----------------------------------------------------------------------------
    def run(self, stream: BinaryIO) -> None:
        line = 0
        rest = b""
        first = True
        long_line, long_size = 0, 0  # inside an over-long line: its number and bytes so far
        try:
            while True:
                block = stream.read(_BLOCK)
                if not block:
                    break
                self.bytes += len(block)
                if long_line:
                    end = block.find(b"\n")
                    if end < 0:
                        long_size += len(block)
                        continue
                    self._too_long(long_line, long_size + end)
                    line, long_line, block = long_line, 0, block[end + 1 :]
                if rest:
                    block = rest + block
                if first:
                    if len(block) < 3 and _BOM.startswith(block):
                        rest = block  # a BOM split across reads (unbuffered streams)
                        continue
                    first = False
                    if block.startswith(_BOM):
                        self.has_bom = True
                        block = block[3:]
                parts = block.split(b"\n")
                rest = parts.pop()
                feed = self.feed
                first_line = line + 1
                for line, raw in enumerate(parts, first_line):
                    feed(raw, line)
                if len(rest) > MAX_LINE_BYTES:
                    long_line, long_size, rest = line + 1, len(rest), b""
                if self.progress is not None:
                    self.progress(self.bytes)
            if long_line:
                self._too_long(long_line, long_size)
                line = long_line
            if first and rest.startswith(_BOM):
                self.has_bom = True
                rest = rest[3:]
            if rest:
                line += 1
                self.feed(rest, line)
            self._drain()
        finally:
            self.close()

    def finish(self, validation_hashes: tuple[array[int], array[int]] | None) -> ValidationReport:
        file_errors: list[Issue] = []
        if self.bytes == 0 or self.examples == 0:
            self.error_counts["empty_file"] = 1
            file_errors.append(
                Issue(
                    line=None,
                    code="empty_file",
                    message="The file is empty; it needs one JSON example per line.",
                )
            )
        elif self.examples < self.min_examples:
            self.error_counts["too_few_examples"] = 1
            file_errors.append(
                Issue(
                    line=None,
                    code="too_few_examples",
                    message=f"The file has {self.examples} example(s); fine-tuning needs at least "
                    f"{self.min_examples}.",
                )
            )
        if self.bytes >= MAX_FILE_BYTES:
            self.error_counts["too_large"] = 1
            file_errors.append(
                Issue(
                    line=None,
                    code="too_large",
                    message=f"The file is {self.bytes / 2**20:,.0f} MB; Azure takes files under 512 MB. "
                    "Split it or import it from Blob storage.",
                )
            )
        fmt: DatasetFormat | None = None
        if self.task is Task.CHAT_COMPLETION:
            fmt = "chat" if self.valid else None
        elif self.formats:
            main: DatasetFormat = max(self.formats, key=lambda f: self.formats[f])
            fmt = main
            if len(self.formats) > 1:
                other = min(self.formats, key=lambda f: self.formats[f])
                self.error_counts["mixed_formats"] = self.error_counts.get("mixed_formats", 0) + 1
                file_errors.append(
                    Issue(
                        line=self.first_format_line[other],
                        code="mixed_formats",
                        message=f"The file mixes {_FORMAT_KEYS[main]} lines ({self.formats[main]}) with "
                        f"{_FORMAT_KEYS[other]} lines ({self.formats[other]}, the first here); "
                        "use one format.",
                    )
                )
            if self.backend_text_format is not None and self.backend_text_format != main:
                self.error_counts["format_mismatch"] = self.error_counts.get("format_mismatch", 0) + 1
                file_errors.append(
                    Issue(
                        line=None,
                        code="format_mismatch",
                        message=f"The chosen backend needs {_FORMAT_KEYS[self.backend_text_format]} lines; "
                        f"this file has {_FORMAT_KEYS[main]}.",
                    )
                )
        dups = self._duplicates()
        if validation_hashes is not None:
            self._overlap(*validation_hashes)
        counts = np.frombuffer(self.token_counts, dtype=np.uint32) if self.token_counts else None
        tokens: TokenStats | None = None
        epochs = default_epochs(self.valid)
        billed: int | None = None
        if self.count_tokens and counts is not None and counts.size:
            s = np.sort(counts)
            n = s.size
            tokens = TokenStats(
                min=int(s[0]),
                p50=int(s[max(0, -(-n * 50 // 100) - 1)]),
                p95=int(s[max(0, -(-n * 95 // 100) - 1)]),
                max=int(s[-1]),
                total=int(s.sum(dtype=np.int64)),
            )
            billed = billed_tokens(s, self.ctx, epochs)
        elif self.count_tokens:
            billed = 0
        messages = None
        if self.task is Task.CHAT_COMPLETION and self.valid:
            messages = MessageStats(
                min=self.msg_min, mean=round(self.msg_sum / self.valid, 2), max=self.msg_max
            )
        errors = file_errors + self.errors
        warnings = sorted(self.warnings, key=lambda i: i.line or 0)
        stats = DatasetStats(
            examples=self.examples,
            valid_examples=self.valid,
            format=fmt,
            bytes=self.bytes,
            has_bom=self.has_bom,
            messages_per_example=messages,
            tokens_per_example=tokens,
            encoding=self.encoding,
            approximate_tokens=not self.exact,
            context_length=self.ctx,
            examples_over_context=self.over_context if self.count_tokens else None,
            duplicates=dups,
            default_epochs=epochs,
            billed_tokens_estimate=billed,
            needed_text_format=self.backend_text_format if self.task is Task.TEXT_COMPLETION else None,
            error_counts=dict(self.error_counts),
            warning_counts=dict(self.warning_counts),
        )
        return ValidationReport(
            ok=not self.error_counts,
            examples=self.examples,
            errors=errors,
            error_counts=dict(self.error_counts),
            warnings=warnings,
            warning_counts=dict(self.warning_counts),
            stats=stats,
        )

    def _duplicates(self) -> int:
        if len(self.hashes) < 2:
            return 0
        h = np.frombuffer(self.hashes, dtype=np.int64)
        order = np.argsort(h, kind="stable")
        hs = h[order]
        same = np.flatnonzero(hs[1:] == hs[:-1]) + 1
        if not same.size:
            return 0
        lines = np.frombuffer(self.hash_lines, dtype=np.uint32)
        # the first line of each run of equal hashes
        first = np.arange(hs.size)
        starts = np.ones(hs.size, dtype=bool)
        starts[same] = False
        first = np.maximum.accumulate(np.where(starts, first, 0))
        for pos in same.tolist():
            dup_line = int(lines[order[pos]])
            orig = int(lines[order[first[pos]]])
            self.warn(dup_line, "duplicate_example", f"Exact duplicate of line {orig}.")
        return int(same.size)

    def _overlap(self, vhashes: array[int], vlines: array[int]) -> None:
        if not self.hashes or not vhashes:
            return
        h = np.frombuffer(self.hashes, dtype=np.int64)
        v = np.frombuffer(vhashes, dtype=np.int64)
        hit = np.flatnonzero(np.isin(h, v))
        if not hit.size:
            return
        lines = np.frombuffer(self.hash_lines, dtype=np.uint32)
        vl = (
            dict(zip(v.tolist(), np.frombuffer(vlines, dtype=np.uint32).tolist(), strict=True))
            if hit.size
            else {}
        )
        for pos in hit.tolist():
            self.warn(
                int(lines[pos]),
                "train_validation_overlap",
                f"The same example is line {vl[int(h[pos])]} of the validation file; "
                "validation loss will flatter the model.",
            )


def _workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def _open(source: BinaryIO | Path) -> tuple[BinaryIO, bool]:
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            return open(path, "rb"), True  # closed by the caller
        except FileNotFoundError as e:
            raise UnreadableDataset(f"No such file: {path.name}") from e
        except IsADirectoryError as e:
            raise UnreadableDataset(f"{path.name} is a directory, not a JSONL file.") from e
        except OSError as e:
            raise UnreadableDataset(f"Cannot read {path.name}: {e.strerror or e}") from e
    return source, False


def _run_one(source: BinaryIO | Path, v: _Validator) -> None:
    stream, owned = _open(source)
    try:
        v.run(stream)
    except OSError as e:
        raise UnreadableDataset(f"Reading the dataset failed: {e.strerror or e}") from e
    finally:
        if owned:
            stream.close()


def validate_dataset(
    source: BinaryIO | Path,
    *,
    task: Task = Task.CHAT_COMPLETION,
    context_length: int = DEFAULT_CONTEXT_LENGTH,
    encoding: str = "o200k_base",
    validation: BinaryIO | Path | None = None,
    backend_text_format: Literal["text_ground_truth", "prompt_completion"] | None = None,
    progress: Callable[[int], None] | None = None,
    exact_tokenizer: bool = True,
    count_tokens: bool = True,
    workers: int | None = None,
) -> ValidationReport:
    """Check a JSONL fine-tuning dataset line by line and return the full report (it never stops at the
    first problem). ``source`` is a path or a binary stream (read to its end, not closed).

    ``count_tokens=False`` gives the structure checks alone, without loading a tokenizer (fast enough to
    answer inside Slack's 3-second window); token statistics, the estimate and the over-context count are
    then ``None``.
    ``exact_tokenizer=False`` marks token figures approximate (base models that do not use ``encoding``).
    ``progress`` is called with the number of bytes read so far. Raises ``UnreadableDataset`` when the
    file cannot be read at all; every problem inside it is in the report.
    """
    if context_length < 1:
        raise InvalidInput("The context length must be at least 1 token.", field="context_length")
    task = Task(task)
    n_workers = _workers() if workers is None else max(1, workers)

    def make(progress_cb: Callable[[int], None] | None, min_examples: int = MIN_EXAMPLES) -> _Validator:
        return _Validator(
            task=task,
            context_length=context_length,
            encoding=encoding,
            exact_tokenizer=exact_tokenizer,
            count_tokens=count_tokens,
            backend_text_format=backend_text_format,
            workers=n_workers,
            progress=progress_cb,
            min_examples=min_examples,
        )

    if encoding not in ENCODINGS:
        get_counter(encoding)  # raises the user-facing error, before reading
    vreport: ValidationReport | None = None
    vhashes: tuple[array[int], array[int]] | None = None
    if validation is not None:
        vv = make(None, min_examples=1)  # the services set no minimum for validation data
        _run_one(validation, vv)
        vreport = vv.finish(None)
        vhashes = (vv.hashes, vv.hash_lines)
    v = make(progress)
    _run_one(source, v)
    report = v.finish(vhashes)
    if vreport is not None:
        report = report.model_copy(update={"validation": vreport, "ok": report.ok and vreport.ok})
    return report
