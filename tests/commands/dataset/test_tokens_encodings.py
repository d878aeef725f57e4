"""The vendored encodings are checked before use, and each model family gets its own encoding."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
import tiktoken

from commands.dataset import count_tokens, encoding_for_model, get_encoding, is_openai_model
from commands.dataset import tokens as tmod
from commands.errors import InvalidInput


@pytest.fixture
def fresh_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty per-process caches for the test, the real ones back afterwards."""
    monkeypatch.setattr(tmod, "_cache", {})
    monkeypatch.setattr(tmod, "_core_cache", {})


class _Folder:
    """What ``importlib.resources.files`` returns, rooted in a temporary folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def joinpath(self, name: str) -> _Folder:
        return _Folder(self.path / name)

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


def _vendor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, data: bytes | None) -> None:
    """Serve ``data`` as the vendored ``<name>.tiktoken`` (None: the file is missing)."""
    (tmp_path / "encodings").mkdir()
    if data is not None:
        (tmp_path / "encodings" / f"{name}.tiktoken").write_bytes(data)
    monkeypatch.setattr(tmod.resources, "files", lambda package: _Folder(tmp_path))


@pytest.mark.usefixtures("fresh_caches")
def test_a_corrupted_encoding_file_is_refused_everywhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = b"IQ== 0\nIg== 1\n"  # well-formed, but not the file whose hash ftbot ships
    _vendor(monkeypatch, tmp_path, "cl100k_base", data)
    expected = tmod.ENCODINGS["cl100k_base"][0]
    message = (
        f"vendored encoding cl100k_base is corrupt (sha256 {hashlib.sha256(data).hexdigest()}, "
        f"expected {expected})"
    )
    with pytest.raises(RuntimeError) as e:
        tmod._load_ranks("cl100k_base")
    assert str(e.value) == message
    with pytest.raises(RuntimeError, match="is corrupt"):
        get_encoding("cl100k_base")
    with pytest.raises(RuntimeError, match="is corrupt"):
        tmod.get_counter("cl100k_base")
    with pytest.raises(RuntimeError, match="is corrupt"):
        count_tokens(["hello"], "cl100k_base")
    assert tmod._cache == {} and tmod._core_cache == {}  # nothing half-built is kept


@pytest.mark.usefixtures("fresh_caches")
def test_a_missing_encoding_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _vendor(monkeypatch, tmp_path, "o200k_base", None)
    with pytest.raises(FileNotFoundError):
        get_encoding("o200k_base")
    with pytest.raises(FileNotFoundError):
        tmod.get_counter("o200k_base")


def test_the_file_is_read_from_the_packages_encodings_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    real = tmod.resources.files

    def files(package: str) -> object:
        asked.append(package)
        return real(package)

    monkeypatch.setattr(tmod.resources, "files", files)
    ranks = tmod._load_ranks("cl100k_base")
    assert asked == ["commands.dataset"]
    assert len(ranks) == 100256
    assert (ranks[b"!"], ranks[b"hello"], ranks[b" world"]) == (0, 15339, 1917)


@pytest.mark.usefixtures("fresh_caches")
def test_a_malformed_file_is_refused_even_with_a_matching_hash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = b"IQ== 0\nIg==\n"
    _vendor(monkeypatch, tmp_path, "cl100k_base", data)
    sha = hashlib.sha256(data).hexdigest()
    monkeypatch.setitem(tmod.ENCODINGS, "cl100k_base", (sha, *tmod.ENCODINGS["cl100k_base"][1:]))
    with pytest.raises(ValueError) as e:
        get_encoding("cl100k_base")
    assert str(e.value) == "vendored encoding cl100k_base is malformed"


class _SpyLock:
    """The module lock, counted; ``on_enter`` runs inside it (another thread's work, simulated)."""

    def __init__(self, on_enter: Callable[[], object] = lambda: None) -> None:
        self.entered = 0
        self.on_enter = on_enter

    def __enter__(self) -> None:
        self.entered += 1
        self.on_enter()

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.usefixtures("fresh_caches")
def test_a_cached_encoding_is_returned_without_taking_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = _SpyLock()
    monkeypatch.setattr(tmod, "_lock", lock)
    enc = get_encoding("cl100k_base")
    assert lock.entered == 1
    assert get_encoding("cl100k_base") is enc
    assert lock.entered == 1


@pytest.mark.usefixtures("fresh_caches")
def test_an_encoding_built_by_another_thread_meanwhile_is_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = tiktoken.Encoding(
        name="cl100k_base", pat_str=r"\S+", mergeable_ranks={b"a": 0}, special_tokens={}
    )
    monkeypatch.setattr(tmod, "_lock", _SpyLock(lambda: tmod._cache.setdefault("cl100k_base", theirs)))
    assert get_encoding("cl100k_base") is theirs


@pytest.mark.usefixtures("fresh_caches")
@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_a_freshly_built_encoding_carries_its_name(name: str) -> None:
    enc = get_encoding(name)
    assert enc.name == name
    assert tmod._cache == {name: enc}


def test_ranks_parse_base64_tokens_and_integer_ranks() -> None:
    assert tmod._parse_ranks(b"IQ== 0\nIg== 1\naGk= 7\n", "x") == {b"!": 0, b'"': 1, b"hi": 7}


@pytest.mark.parametrize("data", [b"", b"   \n", b"IQ== 0\nIg==\n"])
def test_malformed_ranks_are_refused_with_the_encodings_name(data: bytes) -> None:
    with pytest.raises(ValueError) as e:
        tmod._parse_ranks(data, "o200k_base")
    assert str(e.value) == "vendored encoding o200k_base is malformed"


def test_unknown_encoding_names_it_and_the_shipped_ones() -> None:
    with pytest.raises(InvalidInput) as e:
        get_encoding("p50k_base")
    err = e.value
    assert err.field == "encoding"
    assert err.names == {"encoding": "p50k_base", "shipped0": "cl100k_base", "shipped1": "o200k_base"}
    assert str(err) == "Unknown token encoding p50k_base; ftbot ships cl100k_base, o200k_base."
    with pytest.raises(InvalidInput) as e2:
        tmod.get_counter("r50k_base")
    assert (e2.value.field, e2.value.names["encoding"]) == ("encoding", "r50k_base")


def test_the_default_encoding_is_o200k_base() -> None:
    assert get_encoding().name == "o200k_base"
    # "<|endoftext|>" as one special token: its id tells the two encodings apart
    assert get_encoding().encode("<|endoftext|>", allowed_special="all") == [199999]
    assert tmod.get_counter().encode_ordinary("hello world") == [24912, 2375]
    assert count_tokens(["hello world", " world"]) == [2, 1]


@pytest.mark.parametrize(
    ("name", "special"),
    [
        ("o200k_base", {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
        (
            "cl100k_base",
            {
                "<|endoftext|>": 100257,
                "<|fim_prefix|>": 100258,
                "<|fim_middle|>": 100259,
                "<|fim_suffix|>": 100260,
                "<|endofprompt|>": 100276,
            },
        ),
    ],
)
def test_each_encoding_has_its_name_and_special_tokens(name: str, special: dict[str, int]) -> None:
    enc = get_encoding(name)
    assert enc.name == name
    assert enc.special_tokens_set == set(special)
    for text, token in special.items():
        assert enc.encode(text, allowed_special="all") == [token]


@pytest.mark.usefixtures("fresh_caches")
def test_counters_are_built_once_and_share_the_encodings_core() -> None:
    counter = tmod.get_counter("cl100k_base")
    assert tmod.get_counter("cl100k_base") is counter
    assert tmod._core_cache == {"cl100k_base": counter}
    assert counter.encode_ordinary("hello world") == [15339, 1917]
    assert "cl100k_base" not in tmod._cache  # counting alone does not build the full Encoding
    enc = get_encoding("o200k_base")
    assert get_encoding("o200k_base") is enc
    assert tmod.get_counter("o200k_base") is enc._core_bpe  # an Encoding already built is reused
    assert "o200k_base" not in tmod._core_cache


# The fallback calls get_encoding while get_counter holds the module's lock (reentrant, so no deadlock;
# the timeout turns a regression into a failure instead of a hang).
@pytest.mark.timeout(3)
@pytest.mark.usefixtures("fresh_caches")
def test_counter_falls_back_to_the_public_encoding_when_tiktokens_core_moved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tiktoken, "_tiktoken", None, raising=False)
    counter = tmod.get_counter("cl100k_base")
    assert counter is tmod._cache["cl100k_base"]._core_bpe
    assert tmod._core_cache["cl100k_base"] is counter
    assert counter.encode_ordinary("hello world") == [15339, 1917]


def test_special_token_text_is_counted_as_ordinary_text() -> None:
    assert count_tokens(["<|endoftext|>", ""], "cl100k_base") == [7, 0]
    assert count_tokens([], "cl100k_base") == []


@pytest.mark.parametrize(
    "model",
    [
        "gpt-35-turbo",
        "gpt-35-turbo-16k",
        "gpt-3.5-turbo-0125",
        "GPT-35-Turbo",
        "gpt-4",
        "GPT-4",
        "gpt-4-0613",
        "gpt-4-32k",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "Text-Embedding-3-Small",
        "text-embedding-ada-002",
    ],
)
def test_older_openai_families_use_cl100k_base(model: str) -> None:
    assert encoding_for_model(model) == "cl100k_base"


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-nano",
        "gpt-40",
        "gpt-4x",
        "o1-mini",
        "o3",
        "text-embedding-2",
        "text-embedding",
        "Phi-3-mini-4k-instruct",
        "Llama-3.2-1B-Instruct",
        "",
    ],
)
def test_newer_and_other_models_use_o200k_base(model: str) -> None:
    assert encoding_for_model(model) == "o200k_base"


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o",
        "GPT-4o-mini",
        "gpt-35-turbo",
        "o1",
        "o1-mini",
        "O3-mini",
        "o4-mini",
        "davinci-002",
        "babbage-002",
        "Davinci-002",
    ],
)
def test_openai_models_get_exact_counts(model: str) -> None:
    assert is_openai_model(model) is True


@pytest.mark.parametrize(
    "model",
    [
        "Phi-3-mini-4k-instruct",
        "Llama-3.2-1B-Instruct",
        "mistral-7b",
        "o2",
        "gpt",
        "text-embedding-3-small",
        "ada",
        "smollm2-135m-instruct",
        "",
    ],
)
def test_other_models_get_approximate_counts(model: str) -> None:
    assert is_openai_model(model) is False


@pytest.mark.usefixtures("fresh_caches")
def test_a_cached_counter_is_returned_without_taking_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = _SpyLock()
    monkeypatch.setattr(tmod, "_lock", lock)
    counter = tmod.get_counter("cl100k_base")
    assert lock.entered == 1
    assert tmod.get_counter("cl100k_base") is counter
    assert lock.entered == 1
    enc = get_encoding("o200k_base")
    assert lock.entered == 2
    assert tmod.get_counter("o200k_base") is enc._core_bpe
    assert lock.entered == 2


@pytest.mark.usefixtures("fresh_caches")
def test_a_counter_built_by_another_thread_meanwhile_is_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = object()
    monkeypatch.setattr(tmod, "_lock", _SpyLock(lambda: tmod._core_cache.setdefault("cl100k_base", theirs)))
    assert tmod.get_counter("cl100k_base") is theirs
    assert tmod._core_cache == {"cl100k_base": theirs}
    assert tmod._cache == {}
