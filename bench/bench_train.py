"""Local training benchmark: ftbot's LoRA trainer against the plain ``transformers.Trainer``.

    .venv/bin/python bench/bench_train.py                 # 3 rounds, 120 examples x 3 epochs, batch 4
    .venv/bin/python bench/bench_train.py --rounds 5 --examples 240
    .venv/bin/python bench/bench_train.py --model smollm2-135m-instruct --rounds 1 --jobs 1

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
from pathlib import Path
from typing import Any

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


def _config(epochs: int, batch: int, model: str = tiny.NAME) -> trainer.TrainConfig:
    if model != tiny.NAME:  # the backend's settings for real models: LoRA r 8, alpha 16, all linear layers
        return trainer.TrainConfig(
            n_epochs=epochs,
            batch_size=batch,
            learning_rate=catalog.BUILTIN_LEARNING_RATE.get(model, 2e-4),
            seed=42,
        )
    return trainer.TrainConfig(
        n_epochs=epochs,
        batch_size=batch,
        learning_rate=tiny.LEARNING_RATE,
        seed=42,
        lora_r=tiny.LORA_R,
        lora_alpha=tiny.LORA_ALPHA,
        lora_targets=tiny.LORA_TARGETS,
    )


def run_ftbot(base: Path, data: list[Encoded], cfg: trainer.TrainConfig) -> tuple[float, int]:
    model, tok = trainer.load_base(base, device="cpu", dtype=None)
    model = trainer.add_lora(model, cfg)
    result = trainer.train(model, data, cfg, pad_id=int(tok.pad_token_id), device="cpu")
    return result.seconds, result.steps


def run_hf_trainer(base: Path, data: list[Encoded], cfg: trainer.TrainConfig, out: Path) -> tuple[float, int]:
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
    hf.train()  # prints its own summary line
    return time.perf_counter() - started, hf.state.global_step


def throughput(
    rounds: int,
    n_examples: int,
    epochs: int,
    batch: int,
    model: str = tiny.NAME,
    models_dir: Path | None = None,
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
        cfg = _config(epochs, batch, model)
        print(f"model {model}, {threads} torch thread(s)")
        lengths = sorted(len(e.input_ids) for e in data)
        print(
            f"{len(data)} examples ({lengths[0]}-{lengths[-1]} tokens) x {epochs} epochs, batch {batch}: "
            f"{tokens:,} real tokens per run"
        )
        ours: list[float] = []
        theirs: list[float] = []
        for r in range(rounds):
            if r % 2:  # alternate who goes first: a noisy neighbour then hurts both alike
                s_ft, steps_ft = run_ftbot(base, data, cfg)
                s_hf, steps_hf = run_hf_trainer(base, data, cfg, Path(tmp) / "hf")
            else:
                s_hf, steps_hf = run_hf_trainer(base, data, cfg, Path(tmp) / "hf")
                s_ft, steps_ft = run_ftbot(base, data, cfg)
            assert steps_ft == steps_hf, (steps_ft, steps_hf)
            ours.append(tokens / s_ft)
            theirs.append(tokens / s_hf)
            print(
                f"  round {r + 1}: ftbot {tokens / s_ft:,.0f} tok/s ({s_ft:.2f} s, {steps_ft} steps)"
                f" | Trainer {tokens / s_hf:,.0f} tok/s ({s_hf:.2f} s) | {s_hf / s_ft:.2f}x"
            )
        ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
        print(
            f"throughput: ftbot {min(ours):,.0f}-{max(ours):,.0f} tok/s "
            f"(median {statistics.median(ours):,.0f}), "
            f"Trainer {min(theirs):,.0f}-{max(theirs):,.0f} (median {statistics.median(theirs):,.0f}); "
            f"speed-up {min(ratios):.2f}-{max(ratios):.2f}x (median {statistics.median(ratios):.2f}x)"
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
        "--models-dir", type=Path, help="where the real model is converted (kept between runs)"
    )
    args = parser.parse_args()
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    models_dir = args.models_dir or Path(tempfile.gettempdir()) / "ftbot-bench-models"
    throughput(args.rounds, args.examples, args.epochs, args.batch_size, args.model, models_dir)
    if args.model == tiny.NAME:
        wall_time(args.jobs)
        return
    wall_time(args.jobs, args.model, converted=models_dir / args.model)
    wall_time(1, args.model)


if __name__ == "__main__":
    main()
