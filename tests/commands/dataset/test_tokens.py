from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

import pytest
import tiktoken_ext.openai_public as openai_public

from commands.dataset import count_tokens, encoding_for_model, get_encoding, is_openai_model
from commands.dataset import tokens as tmod
from commands.errors import InvalidInput


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_vendored_file_matches_tiktokens_expected_hash(name: str) -> None:
    data = resources.files("commands.dataset").joinpath("encodings").joinpath(f"{name}.tiktoken").read_bytes()
    assert hashlib.sha256(data).hexdigest() == tmod.ENCODINGS[name][0]


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_definition_matches_tiktoken_ext(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """pat_str, special tokens and the expected hash are tiktoken's own (the network load is replaced)."""
    seen: dict[str, Any] = {}

    def fake_load(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        seen["hash"] = expected_hash
        return {}

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", fake_load)
    spec = openai_public.ENCODING_CONSTRUCTORS[name]()
    sha, pat, special = tmod.ENCODINGS[name]
    assert (spec["pat_str"], spec["special_tokens"], seen["hash"]) == (pat, special, sha)


def test_loads_offline_and_encodes_known_values() -> None:
    """Runs under the network guard (tests/conftest.py): loading must not fetch anything."""
    o200k, cl100k = get_encoding("o200k_base"), get_encoding("cl100k_base")
    assert o200k.encode("hello world") == [24912, 2375]
    assert cl100k.encode("hello world") == [15339, 1917]
    assert o200k.n_vocab == 200019 and cl100k.n_vocab == 100277
    assert get_encoding("o200k_base") is o200k


def test_count_tokens_treats_special_tokens_as_text() -> None:
    enc = get_encoding("cl100k_base")
    texts = ["", "plain", "a <|endoftext|> b", "<|fim_prefix|>"]
    assert count_tokens(texts, "cl100k_base") == [len(enc.encode(t, disallowed_special=())) for t in texts]


def test_unknown_encoding_is_a_user_error() -> None:
    with pytest.raises(InvalidInput, match="p50k_base"):
        get_encoding("p50k_base")


def test_corrupt_file_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tmod.ENCODINGS, "o200k_base", ("0" * 64, *tmod.ENCODINGS["o200k_base"][1:]))
    with pytest.raises(RuntimeError, match="corrupt"):
        tmod._load_ranks("o200k_base")


@pytest.mark.parametrize(
    ("model", "encoding", "openai"),
    [
        ("gpt-4o-mini", "o200k_base", True),
        ("gpt-35-turbo", "cl100k_base", True),
        ("gpt-4", "cl100k_base", True),
        ("Phi-4-mini-instruct", "o200k_base", False),
        ("Meta-Llama-3-8B-Instruct", "o200k_base", False),
    ],
)
def test_model_helpers(model: str, encoding: str, openai: bool) -> None:
    assert encoding_for_model(model) == encoding
    assert is_openai_model(model) is openai
