"""Local training benchmark: ftbot's LoRA trainer against the plain ``transformers.Trainer``.

    .venv/bin/python bench/bench_train.py                 # 3 rounds, 120 examples x 3 epochs, batch 4
    .venv/bin/python bench/bench_train.py --rounds 5 --examples 240
    .venv/bin/python bench/bench_train.py --model smollm2-135m-instruct --rounds 1 --jobs 1
    .venv/bin/python bench/bench_train.py --precision fp32  # ftbot in float32 (default: what auto picks)

With ``--model smollm2-135m-instruct`` (the real chat model; the smollm2 extra) both loops train on the
bundled customer-support set rendered with the model's own chat template, with the threads the
backend would use (the available cores), and the whole-job wall time is the 35-example set, 3 epochs,
once with the conversion already done and once on a fresh data dir (conversion included).

1. Throughput, side by side in one process (1 torch thread each, rounds alternate): the same ftbot-tiny
   base, the same tokenised data (assistant-only labels), the same LoRA config, batch size, learning rate,
   gradient clipping and number of steps. Only the loop differs: ftbot's hand-written loop with
   length-grouped batches and logits only where a loss is taken, against ``Trainer`` with a padding
   collator (pad to the batch's longest, random order). Tokens/s counts the real (non-pad) tokens seen,
   the same number for both. The data: 1- to 4-turn conversations, so lengths vary as in real chat sets.
   ftbot trains in the precision the backend would pick (``--precision auto``, FTBOT_LOCAL_PRECISION):
   bfloat16 mixed precision where the CPU has native bfloat16. Then ``Trainer`` runs twice, in its
   default float32 and with its own ``bf16=True``. Each run also reports its mean step loss and the
   trained model's float32 loss on the training set, so that speed is compared at the same quality.
2. Wall time of a whole local job through ``LocalBackend`` on a fresh data dir, worker start included:
   the 30-example set, 3 epochs (Default for 30 examples), from ``submit_job`` until ``succeeded``,
   with the training loss of the first and the last epoch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.backends.local.files import OFFLINE_ENV

for _k, _v in OFFLINE_ENV.items():
    os.environ.setdefault(_k, _v)

from bot.backends.local import LocalBackend, catalog, smollm2, tiny, trainer  # noqa: E402
from bot.backends.local.data import IGNORE, Encoded, encode, read_examples  # noqa: E402
from commands.dataset import sample_dataset_path  # noqa: E402
from commands.models import Hyperparameters, JobSpec, JobState, Task  # noqa: E402
from tests.bot.backends.local.fixtures import PAIRS, SYSTEM, examples, write_jsonl  # noqa: E402


def varied_examples(n: int) -> list[dict[str, list[dict[str, str]]]]:
    """Conversations of 1 to 4 question/answer turns, so lengths vary as in real chat data."""
    out = []
    for i in range(n):
        messages = [{"role": "system", "content": SYSTEM}]
        for t in range(i % 4 + 1):
            q, a = PAIRS[(i + 7 * t) % len(PAIRS)]
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        out.append({"messages": messages})
    return out


def _config(epochs: int, batch: int, model: str = tiny.NAME, precision: str = "fp32") -> trainer.TrainConfig:
    if model != tiny.NAME:  # the backend's settings for real models: LoRA r 8, alpha 16, all linear layers
        return trainer.TrainConfig(
            n_epochs=epochs,
            batch_size=batch,
            learning_rate=catalog.BUILTIN_LEARNING_RATE.get(model, 2e-4),
            seed=42,
            precision=precision,
        )
    return trainer.TrainConfig(
        n_epochs=epochs,
        batch_size=batch,
        learning_rate=tiny.LEARNING_RATE,
        seed=42,
        lora_r=tiny.LORA_R,
        lora_alpha=tiny.LORA_ALPHA,
        lora_targets=tiny.LORA_TARGETS,
        precision=precision,
    )


class Run(NamedTuple):
    seconds: float
    steps: int
    loss: float  # the mean of the steps' training losses (what Trainer reports as train_loss)
    final: float  # the trained model's loss on the training set, in float32: the same for the same quality


def run_ftbot(base: Path, data: list[Encoded], cfg: trainer.TrainConfig) -> Run:
    model, tok = trainer.load_base(base, device="cpu", dtype=None)
    model = trainer.add_lora(model, cfg)
    losses: list[float] = []
    pad = int(tok.pad_token_id)
    result = trainer.train(
        model, data, cfg, pad_id=pad, device="cpu", on_step=lambda s: losses.append(s.train_loss)
    )
    final, _ = trainer.evaluate(model, data, pad, "cpu", cfg.batch_size)
    return Run(result.seconds, result.steps, statistics.fmean(losses), final)


def run_hf_trainer(
    base: Path, data: list[Encoded], cfg: trainer.TrainConfig, out: Path, *, bf16: bool = False
) -> Run:
    import torch
    from transformers import Trainer, TrainingArguments

    model, tok = trainer.load_base(base, device="cpu", dtype=None)
    model = trainer.add_lora(model, cfg)
    pad = int(tok.pad_token_id)

    def collate(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"])
            labels[i, :n] = torch.tensor(r["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=cfg.batch_size,
        num_train_epochs=cfg.n_epochs,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=cfg.max_grad_norm or 0.0,
        use_cpu=True,
        bf16=bf16,  # Trainer's own mixed precision: bfloat16 autocast on CPU
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        seed=cfg.seed,
        dataloader_num_workers=0,
        remove_unused_columns=False,
    )
    dataset = [{"input_ids": e.input_ids, "labels": e.labels} for e in data]
    hf = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collate)
    started = time.perf_counter()
    out_ = hf.train()
    seconds = time.perf_counter() - started
    final, _ = trainer.evaluate(hf.model, data, pad, "cpu", cfg.batch_size)
    return Run(seconds, hf.state.global_step, float(out_.training_loss), final)


def throughput(
    rounds: int,
    n_examples: int,
    epochs: int,
    batch: int,
    model: str = tiny.NAME,
    models_dir: Path | None = None,
    precision: str = "fp32",
) -> None:
    threads = 1 if model == tiny.NAME else catalog.available_cores()
    trainer.setup_torch(threads)
    with tempfile.TemporaryDirectory() as tmp:
        base = catalog.ensure_builtin(model, models_dir or Path(tmp) / "models")
        _, tok = trainer.load_base(base, device="cpu", dtype=None)
        if model == tiny.NAME:
            path = write_jsonl(Path(tmp) / "train.jsonl", varied_examples(n_examples))
        else:  # the bundled set, as the real model's users would start
            path = sample_dataset_path()
        data = [encode(tok, ex, max_length=1024) for ex in read_examples(path)]
        tokens = sum(len(e.input_ids) for e in data) * epochs
        cfg = _config(epochs, batch, model, precision)
        print(f"model {model}, {threads} torch thread(s), ftbot in {precision}")
        lengths = sorted(len(e.input_ids) for e in data)
        print(
            f"{len(data)} examples ({lengths[0]}-{lengths[-1]} tokens) x {epochs} epochs, batch {batch}: "
            f"{tokens:,} real tokens per run"
        )
        hf = Path(tmp) / "hf"
        runs: dict[str, Callable[[], Run]] = {
            f"ftbot {precision}": lambda: run_ftbot(base, data, cfg),
            "Trainer fp32": lambda: run_hf_trainer(base, data, cfg, hf),
        }
        if precision == "bf16":  # the same mixed precision on both sides too
            runs["Trainer bf16"] = lambda: run_hf_trainer(base, data, cfg, hf, bf16=True)
        names = list(runs)
        rates: dict[str, list[float]] = {n: [] for n in names}
        for r in range(rounds):
            # rotate who goes first: a noisy neighbour then hurts all alike
            order = names[r % len(names) :] + names[: r % len(names)]
            done = {name: runs[name]() for name in order}
            seconds = {n: d.seconds for n, d in done.items()}
            steps = {n: d.steps for n, d in done.items()}
            assert len(set(steps.values())) == 1, steps
            for name in names:
                rates[name].append(tokens / seconds[name])
            ours = names[0]
            print(
                f"  round {r + 1}: "
                + " | ".join(
                    f"{n} {tokens / seconds[n]:,.0f} tok/s ({seconds[n]:.2f} s, "
                    f"mean step loss {done[n].loss:.3f}, after {done[n].final:.3f})"
                    for n in names
                )
                + f" | {steps[ours]} steps | "
                + ", ".join(f"{seconds[n] / seconds[ours]:.2f}x {n}" for n in names[1:])
            )
        ours = names[0]
        print(
            "throughput: "
            + "; ".join(
                f"{n} {min(v):,.0f}-{max(v):,.0f} tok/s (median {statistics.median(v):,.0f})"
                for n, v in rates.items()
            )
        )
        for n in names[1:]:
            ratios = [a / b for a, b in zip(rates[ours], rates[n], strict=True)]
            print(
                f"speed-up of {ours} over {n}: {min(ratios):.2f}-{max(ratios):.2f}x "
                f"(median {statistics.median(ratios):.2f}x)"
            )


def wall_time(rounds: int, model: str = tiny.NAME, converted: Path | None = None) -> None:
    """Whole jobs through LocalBackend; with ``converted`` (a converted model folder) linked into the
    fresh data dir, the conversion is excluded."""
    times: list[float] = []
    for r in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            backend = LocalBackend(Path(tmp) / "data")
            if converted is not None:
                os.symlink(converted, Path(tmp) / "data" / "models" / model)
            if model == tiny.NAME:
                path, hp = write_jsonl(Path(tmp) / "train.jsonl", examples(30)), Hyperparameters()
            else:
                path, hp = sample_dataset_path(), Hyperparameters(n_epochs=3)
            started = time.perf_counter()
            ref = backend.upload_dataset(path, name="train.jsonl", task=Task.CHAT_COMPLETION)
            spec = JobSpec(
                name="bench-job",
                base_model=model,
                training=ref,
                hyperparameters=hp,
                output_model_name="bench-model",
            )
            job = backend.submit_job(spec)
            while not job.state.terminal:
                time.sleep(0.05)
                job = backend.get_job(spec.name)
            elapsed = time.perf_counter() - started
            assert job.state is JobState.SUCCEEDED, job.error
            losses: dict[int, list[float]] = {}
            for m in job.metrics:
                if m.epoch is not None and m.train_loss is not None:
                    losses.setdefault(m.epoch, []).append(m.train_loss)
            first, last = (statistics.fmean(losses[k]) for k in (min(losses), max(losses)))
            times.append(elapsed)
            print(
                f"  job {r + 1}: {elapsed:.1f} s submit→succeeded, {max(losses)} epochs, "
                f"train loss epoch 1 {first:.2f} → epoch {max(losses)} {last:.2f}"
            )
    what = "conversion excluded" if converted is not None else "conversion included"
    if model == tiny.NAME:
        what = "worker start included"
    print(f"{model} job, 3 epochs, {what}: {min(times):.1f}-{max(times):.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--examples", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=3, help="whole-job wall-time runs")
    parser.add_argument("--model", default=tiny.NAME, choices=[tiny.NAME, smollm2.NAME])
    parser.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="ftbot's precision (auto: what the backend picks for the model on this CPU); with bf16, "
        "Trainer runs in both fp32 and its own bf16",
    )
    parser.add_argument(
        "--models-dir", type=Path, help="where the real model is converted (kept between runs)"
    )
    args = parser.parse_args()
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    models_dir = args.models_dir or Path(tempfile.gettempdir()) / "ftbot-bench-models"
    precision = catalog.resolve_precision(args.precision)
    throughput(args.rounds, args.examples, args.epochs, args.batch_size, args.model, models_dir, precision)
    if args.model == tiny.NAME:
        wall_time(args.jobs)
        return
    wall_time(args.jobs, args.model, converted=models_dir / args.model)
    wall_time(1, args.model)


if __name__ == "__main__":
    main()
