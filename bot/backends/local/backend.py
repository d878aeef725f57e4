"""``LocalBackend``: the FineTuningBackend that trains and serves on this machine.

The bot process only does bookkeeping here (files under FTBOT_DATA_DIR, starting and stopping
processes); torch and transformers are imported by the worker and server processes alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.backends.common import no_skus
from bot.backends.local import catalog, checkpoints, files, smollm2, tiny
from bot.backends.local.data import count_examples
from bot.backends.local.endpoints import LocalEndpoints
from bot.backends.local.jobs import LocalJobs
from bot.backends.local.layout import SAFE_NAME, DataDir
from bot.backends.local.tokenizer import load_tokenizer
from commands.dataset.tokens import ModelTokenizer
from commands.errors import Conflict, InvalidInput, NotFound
from commands.models import (
    BaseModelInfo,
    ChatDelta,
    ChatReply,
    ChatRequest,
    Checkpoint,
    DatasetRef,
    Endpoint,
    Job,
    JobSpec,
    Task,
)

if TYPE_CHECKING:
    from bot.runtime.settings import Settings

#: learning rate at multiplier 1 for real pretrained models (the usual LoRA rate); ftbot-tiny has its own
BASE_LEARNING_RATE = 2e-4
LORA_R, LORA_ALPHA, LORA_TARGETS = 8, 16, "all-linear"
MAX_SEQUENCE_TOKENS = 2048
#: padded tokens per forward pass; larger batches accumulate gradients over micro-batches
MAX_BATCH_TOKENS = 4096
SEED = 42


def _default_epochs(n_examples: int) -> int:
    try:
        from commands.dataset.validate import default_epochs
    except ImportError:  # pragma: no cover - the dataset package ships with ftbot
        return _cookbook_epochs(n_examples)
    return default_epochs(n_examples)


def _cookbook_epochs(n: int) -> int:
    """The OpenAI Cookbook's rule ("Data preparation and analysis for chat model fine-tuning"), the same
    as ``commands.dataset.validate.default_epochs``."""
    if n <= 0:
        return 1
    if n * 3 < 100:
        return min(25, 100 // n)
    if n * 3 > 25_000:
        return max(1, 25_000 // n)
    return 3


def default_batch_size(n_examples: int) -> int:
    """About 0.2 % of the examples (the documented Azure/OpenAI rule), at least 4 and at most 32 here, and
    never more than there are examples."""
    return max(1, min(n_examples, max(4, min(32, math.ceil(n_examples * 0.002)))))


class LocalBackend:
    kind = "local"

    def __init__(
        self,
        data_dir: Path,
        *,
        local_models: Mapping[str, Path] | None = None,
        tokens_per_minute: int = 200_000,
        requests_per_minute: int = 1_000,
        threads: int | None = None,
        keep_checkpoints: int = checkpoints.DEFAULT_KEEP,
        precision: str = "auto",
    ) -> None:
        self.data = DataDir(Path(data_dir).resolve())
        for folder in (
            self.data.datasets,
            self.data.models,
            self.data.registry,
            self.data.jobs,
            self.data.endpoints,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        self.local_models = {
            name: Path(path).expanduser().resolve() for name, path in (local_models or {}).items()
        }
        self.threads = threads
        self.keep_checkpoints = keep_checkpoints
        self.precision = catalog.resolve_precision(precision)
        self.jobs = LocalJobs(self.data)
        self.endpoints = LocalEndpoints(
            self.data, tokens_per_minute=tokens_per_minute, requests_per_minute=requests_per_minute
        )
        self.jobs.reattach_all()

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalBackend:
        return cls(
            settings.data_dir,
            local_models=settings.local_models,
            tokens_per_minute=settings.local_tokens_per_minute,
            requests_per_minute=settings.local_requests_per_minute,
            keep_checkpoints=settings.local_checkpoints,
            precision=settings.local_precision,
        )

    # --- base models -------------------------------------------------------------------------------

    def list_base_models(self) -> list[BaseModelInfo]:
        """ftbot-tiny, smollm2-135m-instruct when its extra is installed, then FTBOT_LOCAL_MODELS."""
        return [
            BaseModelInfo(
                name=m.name,
                source="local",
                description=m.description,
                context_length=m.context_length,
                model_id=m.model_id,
            )
            for m in catalog.offered_models(self.local_models)
        ]

    def missing_models_hint(self) -> str | None:
        """How to add the real chat model when it is not offered (for ``/finetune models``, doctor)."""
        return catalog.missing_hint()

    def tokenizer_for(self, model: str) -> ModelTokenizer | None:
        """The base model's own tokenizer and chat template for the dataset statistics (``None`` for
        ftbot-tiny: o200k counts stay). Before smollm2's first conversion they are read out of its GGUF
        file."""
        if model == tiny.NAME:
            return None
        builtin = model in catalog.builtin_names()
        if builtin:
            path = self.data.models / model
            if model == smollm2.NAME and not (path / "tokenizer.json").is_file():
                path = smollm2.ensure_tokenizer(self.data.models) or path
        elif model in self.local_models:
            path = self.local_models[model]
        else:
            return None
        return load_tokenizer(model, path)

    def get_base_model(self, name: str) -> BaseModelInfo:
        for info in self.list_base_models():
            if info.name == name:
                return info
        raise NotFound(
            "No local base model named {model}. {command} lists them.", model=name, command="/finetune models"
        )

    # --- datasets ----------------------------------------------------------------------------------

    def upload_dataset(self, path: Path, *, name: str, task: Task) -> DatasetRef:
        if task is not Task.CHAT_COMPLETION:
            raise InvalidInput(
                "The local backend fine-tunes chat models only (task chat_completion).", field="task"
            )
        stored = self._store_dataset(Path(path))
        return DatasetRef(kind="asset", value=stored.stem, name=name)

    def _store_dataset(self, path: Path) -> Path:
        """Copy a JSONL file into the data dir under a content-addressed name (uploading twice is free)."""
        if not path.is_file():
            raise InvalidInput(f"Cannot read the dataset file {path.name}: it does not exist.", field="data")
        slug = re.sub(r"[^A-Za-z0-9-]+", "-", path.stem).strip("-")[:40] or "dataset"
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(prefix=".upload.", suffix=".tmp", dir=self.data.datasets)
        try:
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            target = self.data.datasets / f"{slug}-{digest.hexdigest()[:16]}.jsonl"
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def _dataset_path(self, ref: DatasetRef, what: str) -> Path:
        if ref.kind == "url":
            raise InvalidInput(
                f"The local backend does not download {what} data itself: ftbot downloads URLs first and "
                "uploads the file.",
                field="data" if what == "training" else "validation",
            )
        if ref.kind == "file":
            return self._store_dataset(Path(ref.value))
        if not SAFE_NAME.match(ref.value):
            raise InvalidInput(f"{ref.value!r} is not a local dataset id.")
        path = self.data.datasets / f"{ref.value}.jsonl"
        if not path.is_file():
            raise NotFound(f"No uploaded dataset {ref.name or ref.value} on the local backend.")
        return path

    # --- jobs --------------------------------------------------------------------------------------

    def submit_job(self, spec: JobSpec) -> Job:
        if self.jobs.exists(spec.name):
            return self.jobs.get(spec.name)
        if spec.task is not Task.CHAT_COMPLETION:
            raise InvalidInput(
                "The local backend fine-tunes chat models only (task chat_completion).", field="task"
            )
        try:
            base = self.get_base_model(spec.base_model)
        except NotFound as e:
            raise InvalidInput(str(e), field="model") from e
        builtin = (base.model_id or "").startswith("builtin:")
        is_tiny = base.name == tiny.NAME
        base_path = self.data.models / base.name if builtin else self.local_models[base.name]
        if not builtin and not (base_path / "config.json").is_file():
            raise InvalidInput(
                f"Base model {base.name}: the folder {base_path} has no config.json.", field="model"
            )
        if not SAFE_NAME.match(spec.output_model_name):
            raise InvalidInput(
                f"{spec.output_model_name!r} cannot name a model: use letters, digits, '.', '_' and '-'.",
                field="suffix",
            )
        self._check_output_name_free(spec.output_model_name)
        training = self._dataset_path(spec.training, "training")
        validation = self._dataset_path(spec.validation, "validation") if spec.validation else None
        n = count_examples(training)
        if n == 0:
            raise InvalidInput("The training data has no examples.", field="data")

        hp = spec.hyperparameters
        n_epochs = hp.n_epochs or _default_epochs(n)
        batch_size = hp.batch_size or default_batch_size(n)
        multiplier = hp.learning_rate_multiplier or 1.0
        base_lr = catalog.BUILTIN_LEARNING_RATE.get(base.name, BASE_LEARNING_RATE)
        lora: dict[str, Any] = (
            {"r": tiny.LORA_R, "alpha": tiny.LORA_ALPHA, "targets": list(tiny.LORA_TARGETS)}
            if is_tiny
            else {"r": LORA_R, "alpha": LORA_ALPHA, "targets": LORA_TARGETS}
        )
        threads = self.threads or (1 if is_tiny else catalog.available_cores())
        epochs_note = f" (Default, from {n} examples)" if hp.n_epochs is None else ""
        notes = [
            f"Hyperparameters: {n_epochs} epochs{epochs_note}, "
            f"batch size {batch_size}{' (Default)' if hp.batch_size is None else ''}, "
            f"learning rate {base_lr * multiplier:g} (base {base_lr:g} × multiplier {multiplier:g}"
            f"{', Default' if hp.learning_rate_multiplier is None else ''})"
        ]
        worker_spec: dict[str, Any] = {
            "name": spec.name,
            "base_model": base.name,
            "base_path": str(base_path),
            "builtin": builtin,
            "builtin_name": base.name if builtin else None,
            "data_dir": str(self.data.root),
            "training": str(training),
            "validation": str(validation) if validation else None,
            "n_epochs": n_epochs,
            "batch_size": batch_size,
            "learning_rate": base_lr * multiplier,
            "learning_rate_multiplier": multiplier,
            "threads": threads,
            "precision": self.precision,
            "seed": SEED,
            "lora": lora,
            "max_length": min(MAX_SEQUENCE_TOKENS, base.context_length),
            "max_batch_tokens": MAX_BATCH_TOKENS,
            "output_model_name": spec.output_model_name,
            "suffix": spec.suffix,
            "tags": dict(spec.tags),
            "keep_checkpoints": self.keep_checkpoints,
            "notes": notes,
        }
        try:
            return self.jobs.create(spec.name, worker_spec, threads=threads)
        except Conflict:  # a concurrent submit of the same name won: return that job
            return self.jobs.get(spec.name)

    def _check_output_name_free(self, name: str) -> None:
        if (self.data.registry / f"{name}.json").exists():
            raise Conflict(f"A model named {name} already exists.", existing=name)
        for job_name in self.jobs.names():
            other = files.read_json(self.data.job(job_name).spec) or {}
            if other.get("output_model_name") == name and not self.jobs.get(job_name).state.terminal:
                raise Conflict(f"Job {job_name} is already training a model named {name}.", existing=job_name)

    def get_job(self, job_id: str) -> Job:
        return self.jobs.get(job_id)

    def cancel_job(self, job_id: str) -> Job:
        return self.jobs.cancel(job_id)

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        """One deployable checkpoint per finished epoch, oldest first (``number`` is the epoch)."""
        self.jobs.get(job_id)  # NotFound for an unknown job
        return checkpoints.list_for(self.data, job_id)

    # --- models ------------------------------------------------------------------------------------

    def _model(self, model: str) -> dict[str, Any]:
        entry = files.read_json(self.data.registry / f"{model}.json") if SAFE_NAME.match(model) else None
        if entry is None:
            entry = checkpoints.registry_entry(self.data, model)
        if entry is None:
            if any(m.name == model for m in self.list_base_models()):
                raise InvalidInput(f"{model} is a base model: deploy a fine-tuned model (a job's output).")
            raise NotFound(f"No fine-tuned model named {model} on the local backend.")
        return entry

    def delete_model(self, model: str) -> None:
        entry = self._model(model)
        serving = self.endpoints.serving(model)
        if serving is not None:
            raise Conflict(
                f"Model {model} has a deployment, {serving}: tear it down before deleting the model.",
                existing=serving,
            )
        (self.data.registry / f"{model}.json").unlink(missing_ok=True)
        adapter = Path(str(entry.get("adapter_path", "")))
        if adapter.is_dir() and self.data.root in adapter.resolve().parents:
            shutil.rmtree(adapter, ignore_errors=True)

    # --- endpoints ---------------------------------------------------------------------------------

    def deploy_model(self, model: str, endpoint_name: str, *, sku: str | None = None) -> Endpoint:
        no_skus(self.kind, sku)
        if not SAFE_NAME.match(endpoint_name):
            raise InvalidInput(
                f"{endpoint_name!r} cannot name an endpoint: use letters, digits, '.', '_' and '-'."
            )
        entry = self._model(model)
        is_tiny = bool(entry.get("builtin")) and (entry.get("builtin_name") or tiny.NAME) == tiny.NAME
        threads = self.threads or (1 if is_tiny else catalog.available_cores())
        return self.endpoints.deploy(entry, endpoint_name, threads=threads)

    def get_endpoint(self, name: str) -> Endpoint:
        return self.endpoints.get(name)

    def list_endpoints(self) -> list[Endpoint]:
        return self.endpoints.list()

    def chat(self, endpoint_name: str, request: ChatRequest) -> ChatReply:
        return self.endpoints.chat(endpoint_name, request)

    def chat_stream(self, endpoint_name: str, request: ChatRequest) -> Iterator[ChatDelta]:
        return self.endpoints.chat_stream(endpoint_name, request)

    def base_model_missing(self, endpoint_name: str, base_model: str) -> None:
        """Never missing: the endpoint's own process answers as its base model, without the adapter."""
        return None

    def chat_base(self, endpoint_name: str, base_model: str, request: ChatRequest) -> ChatReply:
        return self.endpoints.chat(endpoint_name, request, model=base_model)

    def delete_endpoint(self, name: str) -> None:
        self.endpoints.delete(name)

    # --- housekeeping ------------------------------------------------------------------------------

    def stop_all(self) -> None:
        """Stop every server and worker of this data dir (tests, `ftbot demo`'s clean-up)."""
        self.endpoints.stop_all()
        self.jobs.stop_all()

    def describe(self) -> str:
        return json.dumps({"kind": self.kind, "data_dir": str(self.data.root)})
