"""The examples an evaluation asks both models: the job's validation data, or else a sample of its
training data (labelled "seen in training", since the fine-tuned model learnt those very answers)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from commands.errors import InvalidInput
from commands.models import ChatMessage, Frozen

DEFAULT_EXAMPLES = 40
MAX_EXAMPLES = 200
SAMPLE_SEED = 0


class Example(Frozen):
    """The conversation up to the last assistant turn, and that turn's text: what a good reply says."""

    messages: tuple[ChatMessage, ...]
    reference: str

    @property
    def prompt(self) -> str:
        """The last user turn (what a person reading the thread recognises)."""
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")


def example_from_line(line: str) -> Example | None:
    """A chat-format line as an example; ``None`` for a line that has no final assistant turn after a
    user turn (the dataset check reports those; the evaluation skips them)."""
    try:
        data = json.loads(line)
        turns = [ChatMessage(role=m["role"], content=str(m["content"])) for m in data["messages"]]
    except (ValueError, KeyError, TypeError):
        return None
    last = max((i for i, m in enumerate(turns) if m.role == "assistant"), default=-1)
    if last < 1 or not any(m.role == "user" for m in turns[:last]):
        return None
    return Example(messages=tuple(turns[:last]), reference=turns[last].content)


def load_examples(path: Path, limit: int, *, sample: bool) -> list[Example]:
    """Up to ``limit`` examples of the JSONL at ``path``: the first ones in file order, or a seeded
    random ``sample`` (training data, whose order may be sorted by topic)."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # pragma: no mutate (UTF-8-SIG: same codec)
    except OSError as e:
        raise InvalidInput(f"The job's data file is no longer on disk ({path.name}).") from e
    examples = [e for e in (example_from_line(line) for line in lines if line.strip()) if e is not None]
    if sample and len(examples) > limit:  # pragma: no mutate (>=: a sample of all of them is all, in order)
        picked = sorted(random.Random(SAMPLE_SEED).sample(range(len(examples)), limit))
        return [examples[i] for i in picked]
    return examples[:limit]


def check_count(count: int | None) -> int:
    if count is None:
        return DEFAULT_EXAMPLES
    if not 1 <= count <= MAX_EXAMPLES:
        raise InvalidInput(f"--examples must be 1 to {MAX_EXAMPLES} (got {count}).", field="examples")
    return count
