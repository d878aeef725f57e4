"""``ftbot submit job.json`` for the ``foundry`` backend: the body of a v1 ``POST /fine_tuning/jobs``
(``model``, ``training_file``, ``validation_file``, ``method``, ``suffix``, ``seed``; the Azure extra
``trainingType``), with ``training_file`` and ``validation_file`` given as local paths (relative to the
JSON file) or as the ids of files already uploaded with purpose ``fine-tune`` (``file-…``), turned into
ftbot's ``JobSpec``. Keys ftbot does not pass on are named in a warning."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.backends.foundry.constants import SEED_TAG
from commands.dataset.service_refs import SERVICE_FILE
from commands.errors import InvalidInput
from commands.models import DatasetRef, Hyperparameters, JobSpec, Method, normalized_model_name

_KNOWN = {
    "model",
    "training_file",
    "validation_file",
    "method",
    "suffix",
    "seed",
    "trainingType",
    "hyperparameters",
}
_METHODS = {"supervised": Method.SUPERVISED, "dpo": Method.DPO}


def _local(value: object, base_dir: Path, key: str, source: str) -> DatasetRef:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"{source}: `{key}` must be a path to a local JSONL file or a file id (file-…).", field=key
        )
    if SERVICE_FILE.match(value):  # uploaded before with purpose fine-tune: referenced, not uploaded again
        return DatasetRef(kind="asset", value=value, name=value)
    path = Path(value)
    path = path if path.is_absolute() else (base_dir / path).resolve()
    if not path.is_file():
        raise InvalidInput(f"{source}: `{key}` {value}: no such file.", field=key)
    return DatasetRef(kind="file", value=str(path), name=path.name)


def _hyperparameters(raw: object, source: str) -> Hyperparameters:
    if raw is None:
        return Hyperparameters()
    if not isinstance(raw, dict):
        raise InvalidInput(f"{source}: `hyperparameters` must be an object.", field="hyperparameters")
    wanted = {
        k: v for k, v in raw.items() if k in ("n_epochs", "batch_size", "learning_rate_multiplier", "beta")
    }
    try:
        return Hyperparameters(**{k: None if v == "auto" else v for k, v in wanted.items()})
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise InvalidInput(f"{source}: {problems}", field="hyperparameters") from e


def _method(body: dict[str, Any], source: str) -> tuple[Method, Hyperparameters]:
    method = body.get("method") or {"type": "supervised"}
    kind = str(method.get("type", "")) if isinstance(method, dict) else ""
    if kind not in _METHODS:
        raise InvalidInput(
            f"{source}: `method.type` must be supervised or dpo, got `{kind}`.", field="method"
        )
    inner = method.get(kind) or {}
    raw = inner.get("hyperparameters") if isinstance(inner, dict) else None
    if raw is None and isinstance(inner, dict) and "beta" in inner:  # the DPO how-to's spelling
        raw = {"beta": inner["beta"]}
    return _METHODS[kind], _hyperparameters(raw if raw is not None else body.get("hyperparameters"), source)


def spec_from_json(path: Path, *, name: str | None = None) -> tuple[JobSpec, list[str]]:
    """A v1 job create body → ``JobSpec`` (plus warnings to show)."""
    source = path.name
    try:
        body = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InvalidInput(f"{source} is not a JSON file: {e}") from e
    if not isinstance(body, dict):
        raise InvalidInput(f"{source}: expected one JSON object, the body of a fine-tuning job create.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidInput(
            f"{source}: `model` is missing (a base model, e.g. gpt-4.1-2025-04-14).", field="model"
        )
    base_dir = path.resolve().parent
    training = _local(body.get("training_file"), base_dir, "training_file", source)
    validation = None
    if body.get("validation_file") is not None:
        validation = _local(body["validation_file"], base_dir, "validation_file", source)
    method, hyperparameters = _method(body, source)
    warnings = [f"`{key}` is not passed on by ftbot" for key in sorted(set(body) - _KNOWN)]
    tags = {"ftbot.source": "cli"}
    seed = body.get("seed")
    if seed is not None:
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= 2_147_483_647:
            raise InvalidInput(f"{source}: `seed` must be an integer from 0 to 2147483647.", field="seed")
        tags[SEED_TAG] = str(seed)
    stem = normalized_model_name(model)[:30].strip("-") or "model"
    job_name = normalized_model_name(name) if name else f"ft-{stem}-{uuid.uuid4().hex[:8]}"
    try:
        spec = JobSpec(
            name=job_name,
            base_model=model,
            training=training,
            validation=validation,
            hyperparameters=hyperparameters,
            suffix=body.get("suffix"),
            output_model_name=job_name,
            tags=tags,
            method=method,
            training_type=body.get("trainingType"),
        )
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise InvalidInput(f"{source}: {problems}") from e
    return spec, warnings
