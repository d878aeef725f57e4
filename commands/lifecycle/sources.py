"""The data a job was launched with, as it lies on this machine, so a rerun reuses it without downloading
it again: ``<work_dir>/<job>/sources.json`` holds the training and validation files the bot brought in
(before any split or upload) and the split fraction. A dataset the service keeps is recorded by its id, and
is always there to rerun on (its local copy only while that is still here)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from commands.lifecycle.values import Data, LocalData, ServiceData, SubmitRequest

FILE = "sources.json"


@dataclass(frozen=True)
class Sources:
    """What a job trained on: ``None`` data is data no longer on this machine (or never recorded)."""

    training: Data | None
    validation: Data | None = None
    split: float | None = None


def remember_sources(job_dir: Path, request: SubmitRequest) -> None:
    """Record ``request``'s data files in ``job_dir`` (written whole: a temporary file, then renamed)."""

    def data(d: Data | None) -> dict[str, str | None] | None:
        if isinstance(d, ServiceData):
            path = str(d.path.resolve()) if d.path else None
            return {"ref": d.ref, "name": d.name, "path": path, "not_checked": d.not_checked}
        return {"path": str(d.path.resolve()), "name": d.name} if d else None

    body = {
        "training": data(request.training),
        "validation": data(request.validation),
        "split": request.split,
    }
    tmp = job_dir / f".{FILE}.tmp"
    tmp.write_text(json.dumps(body), encoding="utf-8")  # pragma: no mutate (json.dumps writes ASCII only)
    os.replace(tmp, job_dir / FILE)


def _data(raw: object) -> Data | None:
    if isinstance(raw, dict) and isinstance(raw.get("ref"), str):
        copy = Path(raw["path"]) if isinstance(raw.get("path"), str) else None
        here = copy if copy is not None and copy.is_file() else None
        reason = raw.get("not_checked") if here is None else None
        return ServiceData(
            ref=raw["ref"],
            name=str(raw.get("name") or raw["ref"]),
            path=here,
            not_checked=str(reason) if reason else ("its local copy is gone" if copy and not here else None),
        )
    if not isinstance(raw, dict) or not isinstance(raw.get("path"), str):
        return None
    path = Path(raw["path"])
    return LocalData(path=path, name=str(raw.get("name") or path.name)) if path.is_file() else None


def read_sources(job_dir: Path) -> Sources:
    """The data ``job_dir``'s job was launched with, each file only while it is still here."""
    try:
        raw = json.loads((job_dir / FILE).read_text(encoding="utf-8"))  # pragma: no mutate (written in ASCII)
    except (OSError, ValueError):
        return Sources(training=None)
    if not isinstance(raw, dict):
        return Sources(training=None)
    split = raw.get("split")
    return Sources(
        training=_data(raw.get("training")),
        validation=_data(raw.get("validation")),
        split=float(split) if isinstance(split, int | float) and 0 < split < 1 else None,
    )
