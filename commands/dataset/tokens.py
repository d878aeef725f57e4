"""Offline tiktoken encodings and token counting.

tiktoken downloads its encoding files at first use, which fails without network. The two files ftbot
needs are vendored as package data (``encodings/*.tiktoken``, byte-identical to the files tiktoken
fetches: their sha256 is checked on load) and turned into a ``tiktoken.Encoding`` here, without touching
tiktoken's download cache. ``pat_str`` and special tokens are copied from ``tiktoken_ext/openai_public.py``
(tiktoken 0.14).
"""

from __future__ import annotations

import binascii
import hashlib
import threading
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any, Protocol

import tiktoken

from commands.errors import InvalidInput

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

#: name -> (sha256 of the vendored file, regex, special tokens)
ENCODINGS: dict[str, tuple[str, str, dict[str, int]]] = {
    "o200k_base": (
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PAT,
        {ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
    ),
    "cl100k_base": (
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PAT,
        {ENDOFTEXT: 100257, FIM_PREFIX: 100258, FIM_MIDDLE: 100259, FIM_SUFFIX: 100260, ENDOFPROMPT: 100276},
    ),
}

_cache: dict[str, tiktoken.Encoding] = {}
_core_cache: dict[str, Any] = {}
_lock = threading.RLock()  # reentrant: get_counter falls back to get_encoding while holding it


def _parse_ranks(data: bytes, name: str) -> dict[bytes, int]:
    """``load_tiktoken_bpe``'s parse ("<base64 token> <rank>" per line), with C-level loops."""
    parts = data.split()
    if not parts or len(parts) % 2:
        raise ValueError(f"vendored encoding {name} is malformed")
    return dict(
        zip(
            map(binascii.a2b_base64, parts[0::2]),
            map(int, parts[1::2]),
            strict=True,  # pragma: no mutate (an even count of parts is checked just above)
        )
    )


def get_encoding(name: str = "o200k_base") -> tiktoken.Encoding:
    """The named encoding, built from the vendored file (no network, no cache dir). Cached per process."""
    enc = _cache.get(name)
    if enc is not None:
        return enc
    if name not in ENCODINGS:
        shipped = {f"shipped{i}": n for i, n in enumerate(sorted(ENCODINGS))}
        raise InvalidInput(
            "Unknown token encoding {encoding}; ftbot ships " + ", ".join(f"{{{k}}}" for k in shipped) + ".",
            field="encoding",
            encoding=name,
            **shipped,
        )
    with _lock:
        enc = _cache.get(name)
        if enc is not None:
            return enc
        _, pat, special = ENCODINGS[name]
        enc = tiktoken.Encoding(
            name=name, pat_str=pat, mergeable_ranks=_load_ranks(name), special_tokens=special
        )
        _cache[name] = enc
        return enc


def _load_ranks(name: str) -> dict[bytes, int]:
    sha = ENCODINGS[name][0]
    data = resources.files("commands.dataset").joinpath("encodings").joinpath(f"{name}.tiktoken").read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha:
        raise RuntimeError(f"vendored encoding {name} is corrupt (sha256 {actual}, expected {sha})")
    return _parse_ranks(data, name)


class Counter(Protocol):
    """The part of tiktoken's core BPE that counting needs (it releases the GIL while it encodes)."""

    def encode_ordinary(self, text: str) -> list[int]: ...

    def encode_to_tiktoken_buffer(self, text: str, allowed_special: set[str]) -> Any: ...


def get_counter(name: str = "o200k_base") -> Counter:
    """A lean encoder for counting: tiktoken's core BPE without the Python-side rank table that
    ``tiktoken.Encoding`` keeps (about 30 MB less resident memory for o200k_base)."""
    enc = _cache.get(name)
    if enc is not None:
        return enc._core_bpe
    core = _core_cache.get(name)
    if core is not None:
        return core
    if name not in ENCODINGS:
        get_encoding(name)  # raises the user-facing error
    with _lock:
        core = _core_cache.get(name)
        if core is None:
            _, pat, special = ENCODINGS[name]
            try:
                from tiktoken import _tiktoken  # type: ignore[attr-defined]

                core = _tiktoken.CoreBPE(_load_ranks(name), special, pat)
            except (ImportError, AttributeError, TypeError):  # private API moved: fall back to the public one
                core = get_encoding(name)._core_bpe
            _core_cache[name] = core
        return core


def encoding_for_model(model: str) -> str:
    """The tiktoken encoding an OpenAI model family uses; o200k_base for everything else (approximate)."""
    m = model.lower()
    if (
        m.startswith(("gpt-35", "gpt-3.5", "gpt-4-", "text-embedding-3", "text-embedding-ada"))
        or m == "gpt-4"
    ):
        return "cl100k_base"
    return "o200k_base"


def is_openai_model(model: str) -> bool:
    """True where tiktoken counts are exact (OpenAI models); other base models get approximate counts."""
    m = model.lower()
    return m.startswith(("gpt-", "o1", "o3", "o4", "davinci", "babbage"))


def count_tokens(texts: Iterable[str], encoding: str = "o200k_base") -> list[int]:
    """Token count of each text. Special-token-looking text such as ``<|endoftext|>`` is counted as
    ordinary text (what a fine-tuning service does with user data), never rejected."""
    core = get_counter(encoding)
    return [len(core.encode_ordinary(t)) for t in texts]


class ModelTokenizer(Protocol):
    """A base model's own tokenizer, supplied by a backend (``commands.ports.TokenizerSource``) so that the
    statistics and the billed-token estimate count what this model will see instead of an OpenAI
    encoding. ``count`` gets the parsed example, the texts the validator found in it and the validator's
    per-message overhead (``base``); a chat template counts the rendered example instead."""

    name: str

    def count(self, example: Any, texts: Sequence[str], base: int) -> int: ...
