"""Per-epoch checkpoints of a local job (standard library only: the bot reads them, the worker writes them).

The worker saves the LoRA adapter after every epoch into ``<job>/checkpoints/epoch-<n>/`` (written in a
temporary folder and renamed: a listed checkpoint is always whole), with ``checkpoint.json`` holding the
epoch's step and metrics. A checkpoint is deployed by the model name ``<job>:ckpt-epoch-<n>``, the way
OpenAI names fine-tuning checkpoints (``…:ckpt-step-<n>``).

How many are kept is bounded (``FTBOT_LOCAL_CHECKPOINTS``, the job spec's ``keep_checkpoints``): after each
save, only the ``keep`` most recent epochs and the one with the lowest validation loss stay (``kept``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bot.backends.local import files
from bot.backends.local.layout import SAFE_NAME, DataDir, JobDir
from commands.models import Checkpoint

META = "checkpoint.json"
#: the most recent checkpoints a job keeps when its spec does not say (the best by validation loss stays too)
DEFAULT_KEEP = 5
_FOLDER = re.compile(r"^epoch-(\d+)$")
_MODEL = re.compile(r"^(?P<job>[A-Za-z0-9][A-Za-z0-9._-]{0,127}):ckpt-epoch-(?P<n>\d{1,6})$")


def folder(job: JobDir) -> Path:
    return job.path / "checkpoints"


def model_name(job_id: str, epoch: int) -> str:
    return f"{job_id}:ckpt-epoch-{epoch}"


def save(job: JobDir, epoch: int, meta: Mapping[str, Any], write: Callable[[Path], None]) -> Path:
    """Write one epoch's checkpoint: ``write(tmp_folder)`` saves the adapter, then it is renamed in."""
    root = folder(job)
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"epoch-{epoch}"
    tmp = Path(tempfile.mkdtemp(prefix=f".epoch-{epoch}.", suffix=".tmp", dir=root))
    try:
        write(tmp)
        files.atomic_write_json(tmp / META, {"epoch": epoch, **meta, "created_at": files.now().isoformat()})
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    prune(job)
    return target


def kept(epochs: Mapping[int, float | None], keep: int) -> set[int]:
    """The epochs to keep of ``epochs`` (epoch → validation loss, None when there was none): the ``keep``
    most recent, and the one with the lowest validation loss (the earliest of equals)."""
    recent = set(sorted(epochs)[-keep:]) if keep > 0 else set()
    scored = [(loss, epoch) for epoch, loss in epochs.items() if loss is not None]
    return recent | ({min(scored)[1]} if scored else set())


def keep_setting(job: JobDir) -> int:
    """How many recent checkpoints the job keeps (its spec's ``keep_checkpoints``)."""
    value = (files.read_json(job.spec) or {}).get("keep_checkpoints", DEFAULT_KEEP)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else DEFAULT_KEEP


def prune(job: JobDir) -> list[int]:
    """Delete the checkpoints ``kept`` does not keep; returns the epochs deleted."""
    root = folder(job)
    found: dict[int, float | None] = {}
    for path in root.iterdir() if root.is_dir() else ():
        m = _FOLDER.match(path.name)
        meta = files.read_json(path / META) if m else None
        if m is None or meta is None:
            continue
        loss = (meta.get("metrics") or {}).get("valid_loss")
        found[int(m.group(1))] = float(loss) if isinstance(loss, int | float) else None
    keep = kept(found, keep_setting(job))
    gone = sorted(set(found) - keep)
    for epoch in gone:
        shutil.rmtree(root / f"epoch-{epoch}", ignore_errors=True)
    return gone


def list_for(data: DataDir, job_id: str) -> list[Checkpoint]:
    root = folder(data.job(job_id))
    if not root.is_dir():
        return []
    out: list[Checkpoint] = []
    for path in root.iterdir():
        m = _FOLDER.match(path.name)
        meta = files.read_json(path / META) if m else None
        if m is None or meta is None:
            continue
        epoch = int(m.group(1))
        metrics = {
            k: float(v)
            for k, v in (meta.get("metrics") or {}).items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        out.append(
            Checkpoint(
                number=epoch,
                model=model_name(job_id, epoch),
                step=meta.get("step") if isinstance(meta.get("step"), int) else None,
                epoch=epoch,
                metrics=metrics,
                created_at=files.parse_time(meta.get("created_at")),
            )
        )
    return sorted(out, key=lambda c: c.number)


def registry_entry(data: DataDir, model: str) -> dict[str, Any] | None:
    """What the model registry would hold for a checkpoint's model name (``None``: not a checkpoint)."""
    m = _MODEL.match(model)
    if m is None or not SAFE_NAME.match(m.group("job")):
        return None
    job = data.job(m.group("job"))
    path = folder(job) / f"epoch-{int(m.group('n'))}"
    spec = files.read_json(job.spec)
    if spec is None or files.read_json(path / META) is None:
        return None
    return {
        "name": model,
        "base_model": spec.get("base_model"),
        "base_path": spec.get("base_path"),
        "builtin": bool(spec.get("builtin")),
        "builtin_name": spec.get("builtin_name"),
        "adapter_path": str(path),
        "job": job.name,
        "checkpoint": True,
    }
