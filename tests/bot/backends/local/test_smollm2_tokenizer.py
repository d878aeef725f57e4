"""smollm2's tokenizer before the first conversion: read out of the GGUF file's metadata into a small folder
of its own (once, atomically), so a fresh install's first review counts with the model's own tokenizer and
chat template; an unreadable file leaves nothing and the counts stay approximate."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.backends.local import LocalBackend, smollm2
from bot.backends.local.tokenizer import load_tokenizer

REAL_GGUF = smollm2.gguf_path()
needs_package = pytest.mark.skipif(REAL_GGUF is None, reason="the smollm2 extra is not installed")

# what the converted model folder's tokenizer (transformers' GGUF loader) gives, recorded from a conversion
HELLO_IDS = [19556, 905, 17, 1073, 986, 1072, 12497, 1188, 47]
PROMPT = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
)


@needs_package
def test_read_out_of_the_gguf_it_matches_the_converted_tokenizer(tmp_path: Path) -> None:
    folder = smollm2.ensure_tokenizer(tmp_path)
    assert folder == tmp_path / "smollm2-135m-instruct.tokenizer"
    tok = load_tokenizer(smollm2.NAME, folder)
    assert tok is not None
    assert tok.encode("Hello world! How long does shipping take?") == HELLO_IDS
    assert tok.render([{"role": "user", "content": "Hi"}], generation_prompt=True) == PROMPT
    assert tok.encode("<|im_start|>user") == [1, 4093]  # a special token is never split
    assert not (tmp_path / smollm2.NAME).exists()  # no conversion happened


@needs_package
def test_read_once_then_reused(tmp_path: Path) -> None:
    folder = smollm2.ensure_tokenizer(tmp_path)
    assert folder is not None
    stamp = (folder / "tokenizer.json").stat().st_mtime_ns
    os.utime(folder / "tokenizer.json", ns=(stamp - 10**9, stamp - 10**9))
    assert smollm2.ensure_tokenizer(tmp_path) == folder
    assert (folder / "tokenizer.json").stat().st_mtime_ns == stamp - 10**9  # not written again
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("content", [b"", b"GGUF not really a gguf file", b"\x00" * 64])
def test_an_unreadable_file_gives_no_tokenizer_and_leaves_nothing(tmp_path: Path, content: bytes) -> None:
    src = tmp_path / "src" / smollm2.GGUF_FILE
    src.parent.mkdir()
    src.write_bytes(content)
    models = tmp_path / "models"
    models.mkdir()
    assert smollm2.ensure_tokenizer(models, source=src) is None
    assert sorted(p.name for p in models.iterdir()) == [".smollm2-135m-instruct-tokenizer.lock"]


def test_without_the_package_there_is_no_tokenizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smollm2, "gguf_path", lambda: None)
    assert smollm2.ensure_tokenizer(tmp_path) is None


@needs_package
def test_the_backend_counts_with_it_before_the_first_conversion(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "data")
    tokenizer = backend.tokenizer_for(smollm2.NAME)
    assert tokenizer is not None and tokenizer.name == smollm2.NAME
    assert tokenizer.encode("Hello world! How long does shipping take?") == HELLO_IDS
    assert not (backend.data.models / smollm2.NAME).exists()


def test_any_failure_reading_it_leaves_the_counts_approximate_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "src" / smollm2.GGUF_FILE
    src.parent.mkdir()
    src.write_bytes(b"GGUF")

    def broken(source: Path, out: Path) -> None:
        (out / "tokenizer.json").write_text("{")  # half written
        raise RuntimeError("a reader bug")

    monkeypatch.setattr(smollm2, "write_tokenizer", broken)
    models = tmp_path / "models"
    models.mkdir()
    assert smollm2.ensure_tokenizer(models, source=src) is None
    assert sorted(p.name for p in models.iterdir()) == [".smollm2-135m-instruct-tokenizer.lock"]
    said = f"{smollm2.NAME}: no tokenizer from {smollm2.GGUF_FILE} (RuntimeError: a reader bug)"
    assert said in caplog.text
