"""The fine-tuning domain's small behaviours: model names as Microsoft's article normalises them."""

from __future__ import annotations

import pytest

from commands.models import normalized_model_name


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("", ""),
        ("x", "x"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18"),
        ("Meta-Llama-3.1-8B-Instruct", "meta-llama-3-1-8b-instruct"),
        ("  Phi 4  ", "phi-4"),
        ("a__b..c", "a-b-c"),
        ("-a-", "a"),
        ("x-", "x"),
        ("-x", "x"),
        ("Mistral—Nemo", "mistral-nemo"),  # an em dash is not ASCII
        ("Ünïcode", "n-code"),
        ("---", ""),
        ("XX-model-XX", "xx-model-xx"),
    ],
)
def test_normalized_model_name_keeps_lowercase_letters_digits_and_single_dashes(
    name: str, normalized: str
) -> None:
    assert normalized_model_name(name) == normalized
