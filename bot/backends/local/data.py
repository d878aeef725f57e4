"""Chat JSONL → token ids with a loss mask on assistant tokens only, for any chat template.

The method: render the conversation with the model's own template,
mark the characters of each trained assistant turn as
``[len(render(msgs[:i], add_generation_prompt=True)), common_prefix(full, render(msgs[:i+1])))``,
tokenize the full text once with offsets, and label only tokens lying fully inside a span. This works
for templates without ``{% generation %}`` markers and for ones that append an eos at the very end
(Phi-4-mini). Assistant messages with ``"weight": 0`` are context only (not trained).

Reading and counting need no torch; ``encode`` only needs a tokenizer object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

IGNORE = -100


class DataError(ValueError):
    """The data cannot be trained on; the message names the line."""


@dataclass(frozen=True)
class Example:
    messages: list[dict[str, Any]]  # role/content (+ weight on assistant turns)
    line: int


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]  # IGNORE where no loss is taken

    @property
    def trained_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def read_examples(path: Path) -> list[Example]:
    """Parse a chat JSONL file (UTF-8, with or without BOM). Raises ``DataError`` naming the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path.name} is not UTF-8 text") from e
    out: list[Example] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as e:
            raise DataError(f"line {n}: not valid JSON ({e})") from e
        msgs = obj.get("messages") if isinstance(obj, dict) else None
        if not isinstance(msgs, list) or not msgs:
            raise DataError(f'line {n}: expected an object with a non-empty "messages" list')
        clean: list[dict[str, Any]] = []
        for m in msgs:
            if (
                not isinstance(m, dict)
                or not isinstance(m.get("role"), str)
                or not isinstance(m.get("content"), str)
            ):
                raise DataError(f'line {n}: each message needs a string "role" and "content"')
            item: dict[str, Any] = {"role": m["role"], "content": m["content"]}
            if m["role"] == "assistant" and "weight" in m:
                item["weight"] = m["weight"]
            clean.append(item)
        if not any(m["role"] == "assistant" for m in clean):
            raise DataError(f"line {n}: no assistant message to learn from")
        out.append(Example(messages=clean, line=n))
    if not out:
        raise DataError(f"{path.name} has no examples")
    return out


def count_examples(path: Path) -> int:
    """Non-empty lines: the example count used for Default hyperparameters (cheap, no parsing)."""
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


class ChatTokenizer(Protocol):
    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...

    def __call__(self, text: str, **kwargs: Any) -> Any: ...


def _render(tokenizer: ChatTokenizer, messages: list[dict[str, Any]], *, generation_prompt: bool) -> str:
    plain = [{"role": m["role"], "content": m["content"]} for m in messages]
    text = tokenizer.apply_chat_template(plain, tokenize=False, add_generation_prompt=generation_prompt)
    return str(text)


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def assistant_spans(
    tokenizer: ChatTokenizer, messages: list[dict[str, Any]]
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of its trained assistant turns."""
    full = _render(tokenizer, messages, generation_prompt=False)
    spans: list[tuple[int, int]] = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or m.get("weight", 1) == 0:
            continue
        start = len(_render(tokenizer, messages[:i], generation_prompt=True)) if i else 0
        end = _common_prefix(full, _render(tokenizer, messages[: i + 1], generation_prompt=False))
        if end > start:
            spans.append((start, end))
    return full, spans


def encode(tokenizer: ChatTokenizer, example: Example, *, max_length: int) -> Encoded:
    """Token ids and labels for one example, truncated to ``max_length`` tokens."""
    text, spans = assistant_spans(tokenizer, example.messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(enc["input_ids"])
    offsets: list[tuple[int, int]] = [tuple(o) for o in enc["offset_mapping"]]
    labels = [IGNORE] * len(ids)
    j = 0
    for k, (s, e) in enumerate(offsets):
        while j < len(spans) and spans[j][1] <= s:
            j += 1
        if j < len(spans) and e > s and spans[j][0] <= s and e <= spans[j][1]:
            labels[k] = ids[k]
    return Encoded(input_ids=ids[:max_length], labels=labels[:max_length])
