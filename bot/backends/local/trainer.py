"""The training worker: ``python -m bot.backends.local.trainer <job_dir>``.

Runs in its own process (started by ``jobs.py``), never in the bot. Reads ``spec.json``, trains a LoRA
adapter with a hand-written loop (faster than ``transformers.Trainer`` at the same loss curve: see
BENCHMARKS.md), and reports through files the bot reads, each written atomically:
``status.json``, ``events.jsonl`` (started, epoch n, completed / failed / cancelled with reason) and
``results.csv`` (step, train_loss, train_mean_token_accuracy, valid_loss, valid_mean_token_accuracy).

No compute is spent on padding to the longest example of a random batch: batches are grouped by
length, and logits are only computed at positions that carry a loss. SIGTERM cancels.
"""

from __future__ import annotations

import os
import sys

from bot.backends.local.files import OFFLINE_ENV

# Read by huggingface_hub at import time: must be set before transformers is imported anywhere.
for _k, _v in OFFLINE_ENV.items():
    os.environ.setdefault(_k, _v)

import contextlib  # noqa: E402
import csv  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

from bot.backends.local import catalog, checkpoints, files, tiny  # noqa: E402
from bot.backends.local.data import IGNORE, DataError, Encoded, encode, read_examples  # noqa: E402
from bot.backends.local.layout import RESULTS_COLUMNS, DataDir, JobDir  # noqa: E402
from bot.backends.local.smollm2 import ConversionError  # noqa: E402

if TYPE_CHECKING:
    import torch


class Cancelled(Exception):
    """SIGTERM arrived: the bot cancelled the job."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one cancel is enough
    raise Cancelled


# --- model loading (shared with the endpoint server) ----------------------------------------------


class ModelFolderError(ValueError):
    pass


def check_model_folder(path: Path) -> None:
    """A clear error instead of transformers' misleading message (it takes a folder without config.json
    for a Hugging Face Hub repo id)."""
    if not (path / "config.json").is_file():
        raise ModelFolderError(
            f"model folder {path} has no config.json: "
            "point FTBOT_LOCAL_MODELS at a local Hugging Face model folder"
        )


def setup_torch(threads: int) -> Any:
    import torch

    torch.set_num_threads(max(1, threads))
    with contextlib.suppress(RuntimeError):  # already set in this process
        torch.set_num_interop_threads(1)
    return torch


def pick_device() -> tuple[str, Any]:
    import torch

    if torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return "cuda", dtype
    return "cpu", torch.float32


def check_causal_lm(path: Path) -> None:
    """A folder whose config is not a causal language model (an encoder such as BERT, an image model)
    gets a clear reason instead of transformers' "Unrecognized configuration class"."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    try:
        config = AutoConfig.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise ModelFolderError(f"model folder {path}: its config.json cannot be read ({e})") from e
    kind = getattr(config, "model_type", None)
    architectures = list(getattr(config, "architectures", None) or [])
    decoder = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures)
    if kind not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or (architectures and not decoder):
        raise ModelFolderError(
            f"model folder {path} is not a causal language model (its config.json says model_type "
            f"{kind!r}, architectures {architectures or 'none'}): chat fine-tuning needs a decoder model "
            "such as Llama, Phi or SmolLM (an architecture ending in ForCausalLM)"
        )


def load_base(path: Path, *, device: str, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_model_folder(path)
    check_causal_lm(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as e:
        raise ModelFolderError(f"model folder {path}: its tokenizer cannot be loaded ({e})") from e
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise ModelFolderError(f"model folder {path} has no chat template: chat fine-tuning needs one")
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype=dtype)
    except (OSError, ValueError) as e:  # missing or truncated weights
        raise ModelFolderError(f"model folder {path}: its weights cannot be loaded ({e})") from e
    model.to(device)  # type: ignore[arg-type]
    return model, tokenizer


# --- the training loop (also used in-process by bench/bench_train.py) -----------------------------


@dataclass(frozen=True)
class TrainConfig:
    n_epochs: int
    batch_size: int
    learning_rate: float
    seed: int = 0
    lora_r: int = 8
    lora_alpha: int = 16
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    lora_targets: str | tuple[str, ...] = "all-linear"
    #: padded tokens (rows x longest) per forward pass; a bigger batch is split and its gradients
    #: accumulated, so the optimizer step is the same as for the whole batch (0: never split)
    max_batch_tokens: int = 0
    #: "bf16": on CPU, forward passes under bfloat16 autocast (matrix products in bfloat16, weights, LoRA
    #: parameters, gradients, optimizer state and the loss in float32); "fp32": all in float32
    precision: str = "fp32"


@dataclass
class StepLog:
    step: int
    epoch: int
    train_loss: float
    train_mean_token_accuracy: float
    tokens: int  # non-pad tokens in the batch


@dataclass
class EpochLog:
    epoch: int
    step: int
    train_loss: float
    valid_loss: float | None
    valid_mean_token_accuracy: float | None


@dataclass
class TrainResult:
    steps: int = 0
    tokens: int = 0
    seconds: float = 0.0
    epochs: list[EpochLog] = field(default_factory=list)


def add_lora(model: Any, cfg: TrainConfig) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(cfg.seed)  # LoRA A matrices are random: seed before wrapping
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=0.0,
        target_modules=cfg.lora_targets if isinstance(cfg.lora_targets, str) else list(cfg.lora_targets),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def length_grouped_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar-length examples (megabatches of 50 batches sorted by length, as HF's
    LengthGroupedSampler does): padding to the batch's longest wastes little."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = batch_size * 50
    batches: list[list[int]] = []
    for i in range(0, len(order), mega):
        chunk = sorted(order[i : i + mega], key=lambda k: lengths[k], reverse=True)
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def collate(batch: Sequence[Encoded], pad_id: int, device: str) -> tuple[Any, Any, Any]:
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for r, e in enumerate(batch):
        n = len(e.input_ids)
        ids[r, :n] = torch.tensor(e.input_ids)
        labels[r, :n] = torch.tensor(e.labels)
        mask[r, :n] = 1
    return ids.to(device), mask.to(device), labels.to(device)


def micro_batches(batch: Sequence[Encoded], max_tokens: int) -> list[list[Encoded]]:
    """``batch`` split so that rows x longest stays within ``max_tokens`` (longest first)."""
    rows = sorted(batch, key=lambda e: len(e.input_ids), reverse=True)
    if max_tokens <= 0:
        return [rows]
    out: list[list[Encoded]] = []
    current: list[Encoded] = []
    for e in rows:
        width = len(current[0].input_ids) if current else len(e.input_ids)
        if current and (len(current) + 1) * width > max_tokens:
            out.append(current)
            current = []
        current.append(e)
    out.append(current)
    return out


def autocast(device: str, precision: str) -> contextlib.AbstractContextManager[Any]:
    """The forward pass's precision: bfloat16 autocast on CPU for ``precision == "bf16"``. On CUDA the
    model is already loaded in bfloat16 or float16 (``pick_device``)."""
    import torch

    if device == "cpu" and precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _accepts_logits_to_keep(model: Any) -> bool:
    import inspect

    try:
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        return "logits_to_keep" in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False


def batch_loss(
    model: Any,
    ids: torch.Tensor,
    mask: torch.Tensor,
    labels: torch.Tensor,
    *,
    sparse_logits: bool,
    precision: str = "fp32",
) -> tuple[torch.Tensor, int, int]:
    """Mean token loss over trained tokens, number of correct argmax predictions, number of trained tokens.

    With ``sparse_logits`` the LM head runs only at positions whose next token is trained; the forward
    pass runs in ``precision`` (``autocast``), the loss in float32."""
    import torch
    import torch.nn.functional as F

    target = labels[:, 1:]
    with autocast(str(ids.device.type), precision):
        if sparse_logits:
            keep = (target != IGNORE).any(dim=0).nonzero(as_tuple=True)[0]
            logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits
            target = target[:, keep]
        else:
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    flat_logits = logits.reshape(-1, logits.shape[-1]).float()
    flat_target = target.reshape(-1)
    loss = F.cross_entropy(flat_logits, flat_target, ignore_index=IGNORE)
    with torch.no_grad():
        valid = flat_target != IGNORE
        correct = int((flat_logits.argmax(dim=-1)[valid] == flat_target[valid]).sum())
        n = int(valid.sum())
    return loss, correct, n


def _accumulate(
    model: Any, batch: Sequence[Encoded], cfg: TrainConfig, pad_id: int, device: str, sparse: bool
) -> tuple[float, int, int]:
    """Forward and backward over one batch in micro-batches; the gradient equals the whole batch's
    (each micro-batch's mean loss weighted by its share of the trained tokens). Returns the batch's mean
    loss, correct predictions and trained tokens."""
    parts = micro_batches(batch, cfg.max_batch_tokens)
    if len(parts) == 1:
        ids, mask, labels = collate(parts[0], pad_id, device)
        loss, correct, n = batch_loss(model, ids, mask, labels, sparse_logits=sparse, precision=cfg.precision)
        loss.backward()
        return loss.detach().item(), correct, n
    total = sum(sum(1 for x in e.labels[1:] if x != IGNORE) for e in batch)
    loss_sum, correct_sum, n_sum = 0.0, 0, 0
    for part in parts:
        ids, mask, labels = collate(part, pad_id, device)
        loss, correct, n = batch_loss(model, ids, mask, labels, sparse_logits=sparse, precision=cfg.precision)
        if n:
            (loss * (n / max(total, 1))).backward()
            loss_sum += loss.detach().item() * n
        correct_sum += correct
        n_sum += n
    return loss_sum / max(n_sum, 1), correct_sum, n_sum


def evaluate(
    model: Any, data: Sequence[Encoded], pad_id: int, device: str, batch_size: int, precision: str = "fp32"
) -> tuple[float, float]:
    """Token-weighted mean loss and accuracy on ``data``."""
    import torch

    sparse = _accepts_logits_to_keep(model)
    order = sorted(range(len(data)), key=lambda k: len(data[k].input_ids))
    total_loss, total_correct, total_n = 0.0, 0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(order), batch_size):
            batch = [data[k] for k in order[i : i + batch_size]]
            ids, mask, labels = collate(batch, pad_id, device)
            loss, correct, n = batch_loss(model, ids, mask, labels, sparse_logits=sparse, precision=precision)
            total_loss += loss.item() * n
            total_correct += correct
            total_n += n
    model.train()
    return total_loss / max(total_n, 1), total_correct / max(total_n, 1)


def train(
    model: Any,
    train_data: Sequence[Encoded],
    cfg: TrainConfig,
    *,
    pad_id: int,
    device: str,
    valid_data: Sequence[Encoded] = (),
    on_step: Callable[[StepLog], None] | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> TrainResult:
    """The hand-written LoRA loop: AdamW at a constant learning rate, one optimizer step per batch
    (gradients accumulated over micro-batches when a batch is over ``cfg.max_batch_tokens``)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    rng = random.Random(cfg.seed)
    lengths = [len(e.input_ids) for e in train_data]
    sparse = _accepts_logits_to_keep(model)
    result = TrainResult()
    model.train()
    started = time.perf_counter()
    for epoch in range(1, cfg.n_epochs + 1):
        epoch_loss, epoch_n = 0.0, 0
        for batch_idx in length_grouped_batches(lengths, cfg.batch_size, rng):
            batch = [train_data[k] for k in batch_idx]
            value, correct, n = _accumulate(model, batch, cfg, pad_id, device, sparse)
            if cfg.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            result.steps += 1
            tokens = sum(lengths[k] for k in batch_idx)
            result.tokens += tokens
            epoch_loss += value * n
            epoch_n += n
            if on_step:
                on_step(StepLog(result.steps, epoch, value, correct / max(n, 1), tokens))
        valid_loss = valid_acc = None
        if valid_data:
            valid_loss, valid_acc = evaluate(model, valid_data, pad_id, device, cfg.batch_size, cfg.precision)
        log = EpochLog(epoch, result.steps, epoch_loss / max(epoch_n, 1), valid_loss, valid_acc)
        result.epochs.append(log)
        if on_epoch:
            on_epoch(log)
    result.seconds = time.perf_counter() - started
    return result


# --- the worker ------------------------------------------------------------------------------------


class Reporter:
    """Writes status.json, events.jsonl and results.csv for the bot to read."""

    def __init__(self, job: JobDir) -> None:
        self.job = job
        self.rows: list[dict[str, object]] = []
        self._last_flush = 0.0

    def status(self, **changes: object) -> None:
        current = files.read_json(self.job.status) or {}
        current.update(changes)
        files.atomic_write_json(self.job.status, current)

    def event(self, kind: str, message: str) -> None:
        files.append_jsonl(self.job.events, {"at": files.now().isoformat(), "kind": kind, "message": message})

    def row(self, values: dict[str, object], *, flush: bool = False) -> None:
        self.rows.append(values)
        if flush or time.monotonic() - self._last_flush > 2.0:
            self.flush()

    def flush(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=RESULTS_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for r in self.rows:
            writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in RESULTS_COLUMNS})
        files.atomic_write_text(self.job.results, buf.getvalue())
        self._last_flush = time.monotonic()


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _encode_all(tokenizer: Any, path: Path, max_length: int, what: str) -> list[Encoded]:
    try:
        examples = read_examples(path)
    except DataError as e:
        raise DataError(f"{what} data: {e}") from e
    encoded = [encode(tokenizer, ex, max_length=max_length) for ex in examples]
    kept = [e for e in encoded if e.trained_tokens > 0 and len(e.input_ids) > 1]
    if not kept:
        raise DataError(
            f"{what} data: no example has assistant tokens to train on within {max_length} tokens"
        )
    return kept


def _train_config(spec: dict[str, Any]) -> TrainConfig:
    lora = spec.get("lora") or {}
    targets = lora.get("targets", "all-linear")
    return TrainConfig(
        n_epochs=int(spec["n_epochs"]),
        batch_size=int(spec["batch_size"]),
        learning_rate=float(spec["learning_rate"]),
        seed=int(spec.get("seed") or 0),
        lora_r=int(lora.get("r", 8)),
        lora_alpha=int(lora.get("alpha", 16)),
        lora_targets=targets if isinstance(targets, str) else tuple(targets),
        max_batch_tokens=int(spec.get("max_batch_tokens") or 0),
        precision=str(spec.get("precision") or "fp32"),
    )


def _progress(
    report: Reporter, cfg: TrainConfig, save: Callable[[EpochLog], None] | None = None
) -> tuple[Callable[[StepLog], None], Callable[[EpochLog], None]]:
    """``on_step`` and ``on_epoch`` for ``train``: a results.csv row per step, an event per epoch, and
    ``save`` (the epoch's checkpoint) before the epoch is reported."""

    def on_step(s: StepLog) -> None:
        report.row(
            {
                "step": s.step,
                "train_loss": round(s.train_loss, 6),
                "train_mean_token_accuracy": round(s.train_mean_token_accuracy, 6),
            }
        )
        if s.step % 10 == 0:
            report.status(step=s.step)

    def on_epoch(e: EpochLog) -> None:
        last = report.rows[-1]
        if e.valid_loss is not None:
            last["valid_loss"] = round(e.valid_loss, 6)
            last["valid_mean_token_accuracy"] = round(e.valid_mean_token_accuracy or 0.0, 6)
        report.flush()
        if save is not None:
            save(e)
        report.status(step=e.step, epoch=e.epoch)
        report.event(
            "epoch",
            f"Epoch {e.epoch}/{cfg.n_epochs}: train loss {_fmt(e.train_loss)}"
            + (f", validation loss {_fmt(e.valid_loss)}" if e.valid_loss is not None else ""),
        )

    return on_step, on_epoch


def _register(job: JobDir, spec: dict[str, Any], data_dir: DataDir, base_path: Path) -> str:
    """Record the trained adapter in the model registry; returns the model's name."""
    name = str(spec["output_model_name"])
    files.atomic_write_json(
        data_dir.registry / f"{name}.json",
        {
            "name": name,
            "base_model": spec["base_model"],
            "base_path": str(base_path),
            "builtin": bool(spec.get("builtin")),
            "builtin_name": spec.get("builtin_name"),
            "adapter_path": str(job.adapter),
            "job": job.name,
            "created_at": files.now().isoformat(),
        },
    )
    return name


def _base_folder(spec: dict[str, Any], data_dir: DataDir, report: Reporter) -> Path:
    """The base model's folder; a built-in one is built or converted on first use (reported)."""
    if not spec.get("builtin"):
        return Path(spec["base_path"])
    name = str(spec.get("builtin_name") or tiny.NAME)

    def converting() -> None:
        report.status(service_status="Converting")
        report.event("info", f"Converting {name} for its first use (once; later jobs reuse it)")

    return catalog.ensure_builtin(name, data_dir.models, on_convert=converting)


def run_job(job: JobDir) -> None:
    spec = files.read_json(job.spec)
    if spec is None:
        raise RuntimeError(f"{job.spec} is missing or unreadable")
    report = Reporter(job)
    data_dir = DataDir(Path(spec["data_dir"]))
    setup_torch(int(spec.get("threads") or 1))
    report.status(
        state="running", service_status="Loading", started_at=files.now().isoformat(), pid=os.getpid()
    )

    base_path = _base_folder(spec, data_dir, report)
    device, dtype = pick_device()
    model, tokenizer = load_base(base_path, device=device, dtype=dtype)
    max_length = min(
        int(spec.get("max_length") or 2048), int(getattr(tokenizer, "model_max_length", 10**9) or 10**9)
    )
    train_data = _encode_all(tokenizer, Path(spec["training"]), max_length, "training")
    valid_data = (
        _encode_all(tokenizer, Path(spec["validation"]), max_length, "validation")
        if spec.get("validation")
        else []
    )

    cfg = _train_config(spec)
    model = add_lora(model, cfg)
    steps_per_epoch = math.ceil(len(train_data) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.n_epochs
    report.status(service_status="Running", steps_per_epoch=steps_per_epoch, total_steps=total_steps, step=0)
    mixed = " in bfloat16 mixed precision" if device == "cpu" and cfg.precision == "bf16" else ""
    report.event(
        "started",
        f"Training {spec['base_model']} on {len(train_data)} examples"
        + (f" ({len(valid_data)} validation)" if valid_data else "")
        + f" on {device}{mixed}: {cfg.n_epochs} epochs × {steps_per_epoch} steps, "
        f"batch size {cfg.batch_size}, learning rate {cfg.learning_rate:g}",
    )

    def save_checkpoint(e: EpochLog) -> None:
        metrics = {"train_loss": e.train_loss}
        if e.valid_loss is not None:
            metrics.update(
                valid_loss=e.valid_loss, valid_mean_token_accuracy=e.valid_mean_token_accuracy or 0.0
            )
        checkpoints.save(
            job, e.epoch, {"step": e.step, "metrics": metrics}, lambda d: model.save_pretrained(str(d))
        )

    on_step, on_epoch = _progress(report, cfg, save_checkpoint)
    result = train(
        model,
        train_data,
        cfg,
        pad_id=int(tokenizer.pad_token_id),
        device=device,
        valid_data=valid_data,
        on_step=on_step,
        on_epoch=on_epoch,
    )
    report.flush()

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the adapter is written whole or not at all
    model.save_pretrained(str(job.adapter))
    tokenizer.save_pretrained(str(job.adapter))
    name = _register(job, spec, data_dir, base_path)
    report.status(
        state="succeeded",
        service_status="Completed",
        finished_at=files.now().isoformat(),
        output_model=name,
        trained_tokens=result.tokens,
        step=result.steps,
    )
    report.event(
        "completed",
        f"Completed in {result.seconds:.1f} s of training "
        f"({result.tokens / max(result.seconds, 1e-9):,.0f} tokens/s); "
        f"model {name} registered",
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bot.backends.local.trainer <job_dir>", file=sys.stderr)
        return 2
    job = JobDir(Path(argv[0]))
    report = Reporter(job)
    try:
        run_job(job)
        return 0
    except Cancelled:
        report.status(state="cancelled", service_status="Cancelled", finished_at=files.now().isoformat())
        report.event("cancelled", "Cancelled on request")
        return 0
    except (DataError, ModelFolderError) as e:
        reason = str(e)
    except ConversionError as e:
        traceback.print_exc()
        reason = f"The base model could not be prepared: {e}"
    except MemoryError:
        reason = "out of memory: try a smaller batch size or a smaller model"
    except Exception as e:
        traceback.print_exc()
        reason = f"{type(e).__name__}: {e}"
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    report.status(state="failed", service_status="Failed", finished_at=files.now().isoformat(), error=reason)
    report.event("failed", reason)
    return 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.exit(main(sys.argv[1:]))
