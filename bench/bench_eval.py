"""Evaluation generation benchmark: tokens/s of batched greedy generation (the local endpoint's batch
path: concurrent requests handed to ``HFGenerator.generate_batched``, as the server does for the
evaluation's batch of 8) against one request at a time (``generate``), on the same examples and model, and
a check that every reply is the same greedy output.

    .venv/bin/python bench/bench_eval.py --model smollm2-135m-instruct --examples 16 --max-tokens 48
    .venv/bin/python bench/bench_eval.py --model ftbot-tiny

The examples are the first user turns of ``bench/chatgen.py``-style support questions (below); every run
uses the model's bare weights (the adapter does not change the cost of a token)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.backends.local.files import OFFLINE_ENV

for _k, _v in OFFLINE_ENV.items():
    os.environ.setdefault(_k, _v)

from bot.backends.local import catalog, smollm2, tiny, trainer  # noqa: E402
from bot.backends.local.generation import Generation, HFGenerator  # noqa: E402

QUESTIONS = [
    "How long does shipping take?",
    "Can I return hiking boots after wearing them outside?",
    "Do you ship tents to Canada?",
    "My order number is 4417 and it has not arrived. What should I do?",
    "Which sleeping bag is warmest?",
    "Is the Trailblazer backpack waterproof?",
    "How do I clean a down jacket?",
    "Do you price match?",
    "What sizes do the rain pants come in?",
    "Can I change the delivery address after ordering?",
    "Are gift cards refundable?",
    "How heavy is the two-person tent?",
    "Do you have a store in Seattle?",
    "What is your warranty on stoves?",
    "How do I reset my account password?",
    "Can I pay with PayPal?",
]
SYSTEM = "You are the support assistant for Contoso Outdoor Gear. Answer briefly."


def _load(name: str, models_dir: Path, threads: int) -> HFGenerator:
    torch = trainer.setup_torch(threads)
    folder = smollm2.ensure(models_dir) if name == smollm2.NAME else tiny.ensure(models_dir)
    model, tok = trainer.load_base(folder, device="cpu", dtype=torch.float32)
    return HFGenerator(model.eval(), tok, device="cpu", context_length=2048, adapter=False)


def _tokens(outs: list[Generation]) -> int:
    return sum(o.completion_tokens for o in outs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=smollm2.NAME if smollm2.available() else tiny.NAME)
    parser.add_argument("--examples", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--batch", type=int, default=8, help="concurrent requests (the evaluation's BATCH)")
    parser.add_argument("--threads", type=int, default=catalog.available_cores())
    parser.add_argument("--models-dir", type=Path, default=Path(tempfile.gettempdir()) / "ftbot-bench-models")
    args = parser.parse_args()
    gen = _load(args.model, args.models_dir, args.threads)
    questions = (QUESTIONS * (args.examples // len(QUESTIONS) + 1))[: args.examples]
    prompts = [
        gen.prompt_tokens([{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}])
        for q in questions
    ]
    gen.generate(prompts[0], temperature=0.0, max_tokens=4)  # warm up
    started = time.perf_counter()
    alone = [gen.generate(p, temperature=0.0, max_tokens=args.max_tokens) for p in prompts]
    alone_s = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.batch) as pool:  # the runner's batch of concurrent requests
        together: list[Generation] = []
        for i in range(0, len(prompts), args.batch):
            chunk = prompts[i : i + args.batch]
            together += list(pool.map(gen.generate_batched, chunk, [args.max_tokens] * len(chunk)))
    batched_s = time.perf_counter() - started
    same = sum(a == b for a, b in zip(alone, together, strict=True))
    batches = gen._batcher().batches
    print(
        f"model {args.model}, {len(prompts)} examples, max {args.max_tokens} tokens, greedy, "
        f"{args.threads} torch threads, CPU"
    )
    print(
        f"one at a time : {_tokens(alone):5d} tokens in {alone_s:6.2f} s = "
        f"{_tokens(alone) / alone_s:7.1f} tok/s"
    )
    print(
        f"batched       : {_tokens(together):5d} tokens in {batched_s:6.2f} s = "
        f"{_tokens(together) / batched_s:7.1f} tok/s (batches {batches})"
    )
    print(f"speed-up      : {alone_s / batched_s:.2f}x; same greedy output on {same}/{len(prompts)} examples")
    return 0 if same == len(prompts) else 1


if __name__ == "__main__":
    sys.exit(main())
