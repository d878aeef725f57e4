"""Chat JSONL → tokens with the loss on assistant tokens only, for templates with or without a final eos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.backends.local import tiny
from bot.backends.local.data import IGNORE, DataError, Example, encode, read_examples

# Phi-4-mini's stock template shape: <|role|>content<|end|> per message, and an eos after the last one
# when no generation prompt is asked for — so render(msgs[:i+1]) is not a prefix of the full text.
PHI_LIKE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% else %}{{ eos_token }}{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return tiny.build_tokenizer()


def _trained_text(tokenizer: Any, example: Example) -> str:
    enc = encode(tokenizer, example, max_length=10_000)
    assert len(enc.input_ids) == len(enc.labels)
    return tokenizer.decode(
        [t for t, label in zip(enc.input_ids, enc.labels, strict=True) if label != IGNORE]
    )


CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "First question?"},
    {"role": "assistant", "content": "First answer."},
    {"role": "user", "content": "Second question?"},
    {"role": "assistant", "content": "Second answer."},
]


def test_only_assistant_turns_and_their_end_token_are_trained(tokenizer: Any) -> None:
    assert (
        _trained_text(tokenizer, Example(CONVERSATION, line=1)) == "First answer.<|end|>Second answer.<|end|>"
    )


def test_weight_zero_turns_are_context_only(tokenizer: Any) -> None:
    messages: list[dict[str, object]] = [dict(m) for m in CONVERSATION]
    messages[2]["weight"] = 0
    assert _trained_text(tokenizer, Example(messages, line=1)) == "Second answer.<|end|>"


def test_a_template_with_a_trailing_eos_still_masks_exactly(tokenizer: Any) -> None:
    tokenizer.chat_template = PHI_LIKE
    try:
        text = _trained_text(tokenizer, Example(CONVERSATION, line=1))
    finally:
        tokenizer.chat_template = tiny.CHAT_TEMPLATE
    # the role tag of the next turn never leaks in; the final eos is part of the last answer's span
    assert text == "First answer.<|end|>Second answer.<|end|><|end|>"


def test_truncation_keeps_ids_and_labels_aligned(tokenizer: Any) -> None:
    enc = encode(tokenizer, Example(CONVERSATION, line=1), max_length=7)
    assert len(enc.input_ids) == len(enc.labels) == 7


def test_reading_names_the_bad_line(tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + "{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 3: not valid JSON"):
        read_examples(path)
    path.write_text("\ufeff" + json.dumps(good) + "\n", encoding="utf-8")  # a BOM is fine
    assert len(read_examples(path)) == 1
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1: no assistant message"):
        read_examples(path)
