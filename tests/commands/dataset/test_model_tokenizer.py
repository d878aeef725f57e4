"""A backend's model tokenizer (``ModelTokenizer``) replaces the tiktoken counts: every example is counted
by it, the figures are exact, and the report names it."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from commands.dataset import validate_dataset


class WordTokenizer:
    """Counts the words of a rendered chat (a stand-in for a model's chat template) and records calls."""

    name = "wordy"

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def count(self, example: Any, texts: Sequence[str], base: int) -> int:
        self.seen.append(example)
        return sum(len(m["content"].split()) + 2 for m in example["messages"]) + 1


def _data(n: int) -> bytes:
    rows = [
        {
            "messages": [
                {"role": "user", "content": "word " * (i + 1)},
                {"role": "assistant", "content": "ok then"},
            ]
        }
        for i in range(n)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_a_model_tokenizer_counts_every_example_exactly() -> None:
    tok = WordTokenizer()
    for workers in (1, 2):
        tok.seen.clear()
        report = validate_dataset(
            io.BytesIO(_data(12)), tokenizer=tok, exact_tokenizer=False, workers=workers
        )
        stats = report.stats
        assert stats.encoding == "wordy tokenizer" and stats.approximate_tokens is False
        expected = [(i + 1) + 2 + 2 + 2 + 1 for i in range(12)]
        assert stats.tokens_per_example is not None
        assert stats.tokens_per_example.total == sum(expected)
        assert (stats.tokens_per_example.min, stats.tokens_per_example.max) == (min(expected), max(expected))
        assert len(tok.seen) == 12 and tok.seen[0]["messages"][0]["role"] == "user"
        assert stats.billed_tokens_estimate == stats.default_epochs * sum(expected)


def test_without_a_model_tokenizer_counts_stay_tiktoken() -> None:
    stats = validate_dataset(io.BytesIO(_data(12)), workers=1).stats
    assert stats.encoding == "o200k_base"
