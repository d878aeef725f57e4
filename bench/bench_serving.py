"""Serving benchmark for the local endpoint on smollm2-135m-instruct: time to first token and tokens/s of
a 40-token answer, streamed (server-sent events) and plain, against ``generate`` in-process.

    .venv/bin/python bench/bench_serving.py --models-dir /tmp/ftbot-bench-models --requests 5

1. In-process baselines (the endpoint's own threads): ``generate`` on the bare base model; the adapter
   unmerged (what the endpoint serves, so the base answers stay available); the adapter merged.
2. The endpoint process started by ``LocalBackend.deploy_model`` with a LoRA adapter (r 8, all linear
   layers), over HTTP on 127.0.0.1: plain answers and ``stream: true``. Every answer is forced to 40
   tokens (``min_tokens`` = ``max_tokens`` = 40, greedy), the prompt is a question from the bundled set.
"""

from __future__ import annotations

import argparse
import http.client
import json
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

from bot.backends.local import LocalBackend, catalog, files, smollm2, trainer  # noqa: E402
from bot.backends.local.generation import HFGenerator  # noqa: E402

TOKENS = 40
MESSAGES = [
    {"role": "system", "content": "You are the support assistant for Contoso Outdoor Gear."},
    {"role": "user", "content": "How long does shipping take?"},
]


def _p50(xs: list[float]) -> float:
    return statistics.median(xs)


def in_process(base: Path, adapter: Path, n: int) -> None:
    from peft import PeftModel

    torch = trainer.setup_torch(catalog.available_cores())
    model, tok = trainer.load_base(base, device="cpu", dtype=torch.float32)
    bare = HFGenerator(model, tok, device="cpu", context_length=8192, adapter=False)
    prompt = bare.prompt_tokens(MESSAGES)
    rows: list[tuple[str, HFGenerator]] = [("generate, base model alone", bare)]
    peft = PeftModel.from_pretrained(model, str(adapter)).eval()
    unmerged = HFGenerator(peft, tok, device="cpu", context_length=8192)
    rows += [
        ("generate, adapter unmerged (served)", unmerged),
        ("generate, base via disable_adapter", unmerged.base()),
    ]
    for label, gen in rows:
        _measure(label, gen, prompt, n)
    peft.merge_adapter()
    _measure("generate, adapter merged", HFGenerator(peft, tok, device="cpu", context_length=8192), prompt, n)


def _measure(label: str, gen: HFGenerator, prompt: list[int], n: int) -> None:
    gen.generate(prompt, temperature=0, max_tokens=4)  # warm-up
    times, ttfts = [], []
    for _ in range(n):
        started = time.perf_counter()
        first = None
        for part in gen.stream(prompt, temperature=0, max_tokens=TOKENS, min_tokens=TOKENS):
            if first is None and isinstance(part, str):
                first = time.perf_counter() - started
        times.append(time.perf_counter() - started)
        ttfts.append(first or 0.0)
    print(
        f"  {label:<40} p50 TTFT {_p50(ttfts) * 1000:6.0f} ms, {TOKENS / _p50(times):5.1f} tokens/s "
        f"(p50 {_p50(times):.2f} s for {TOKENS} tokens)"
    )


def _request(port: int, key: str, stream: bool) -> tuple[float, float, int]:
    body = {
        "messages": MESSAGES,
        "max_tokens": TOKENS,
        "min_tokens": TOKENS,
        "temperature": 0,
        "stream": stream,
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started = time.perf_counter()
    conn.request(
        "POST",
        "/v1/chat/completions",
        json.dumps(body),
        {"Authorization": key, "Content-Type": "application/json"},
    )
    resp = conn.getresponse()
    first, tokens = None, 0
    if stream:
        buf = b""
        while chunk := resp.read1(65536):
            buf += chunk
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                data = event.removeprefix(b"data: ")
                if data == b"[DONE]":
                    continue
                delta: dict[str, Any] = (json.loads(data)["choices"] or [{}])[0].get("delta", {})
                if delta.get("content"):
                    tokens += 1
                    if first is None:
                        first = time.perf_counter() - started
    else:
        payload = json.loads(resp.read())
        tokens = payload["usage"]["completion_tokens"]
    total = time.perf_counter() - started
    conn.close()
    return first if first is not None else total, total, tokens


def endpoint(data_dir: Path, adapter: Path, n: int) -> None:
    files.atomic_write_json(
        data_dir / "models" / "registry" / "bench-model.json",
        {
            "name": "bench-model",
            "base_model": smollm2.NAME,
            "base_path": str(data_dir / "models" / smollm2.NAME),
            "builtin": True,
            "builtin_name": smollm2.NAME,
            "adapter_path": str(adapter),
        },
    )
    backend = LocalBackend(data_dir)
    try:
        backend.deploy_model("bench-model", "bench-ep")
        deadline = time.monotonic() + 300
        while (ep := backend.get_endpoint("bench-ep")).state.value != "ready":
            if time.monotonic() > deadline or ep.error:
                raise SystemExit(f"endpoint not ready: {ep.error}")
            time.sleep(0.5)
        port = int((ep.scoring_uri or "").split(":")[2].split("/")[0])
        key = (data_dir / "endpoints" / "bench-ep" / "key").read_text().strip()
        _request(port, key, False)  # warm-up
        for stream in (False, True):
            runs = [_request(port, key, stream) for _ in range(n)]
            ttft, total = _p50([r[0] for r in runs]), _p50([r[1] for r in runs])
            label = "endpoint, stream: true (SSE)" if stream else "endpoint, plain answer"
            print(
                f"  {label:<40} p50 TTFT {ttft * 1000:6.0f} ms, {TOKENS / total:5.1f} tokens/s "
                f"(p50 {total:.2f} s; {runs[0][2]} deltas)"
                if stream
                else f"  {label:<40} p50 time to answer {total * 1000:6.0f} ms (= TTFT), "
                f"{TOKENS / total:5.1f} tokens/s"
            )
    finally:
        backend.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--models-dir", type=Path, default=Path(tempfile.gettempdir()) / "ftbot-bench-models")
    args = parser.parse_args()
    print(f"cpu count {os.cpu_count()}, available {catalog.available_cores()}, load {os.getloadavg()[0]:.2f}")
    base = smollm2.ensure(args.models_dir)
    with tempfile.TemporaryDirectory() as tmp:
        adapter = Path(tmp) / "adapter"
        torch = trainer.setup_torch(catalog.available_cores())
        model, _ = trainer.load_base(base, device="cpu", dtype=torch.float32)
        lora = trainer.add_lora(
            model, trainer.TrainConfig(n_epochs=1, batch_size=1, learning_rate=0.0, seed=1)
        )
        for name, p in lora.named_parameters():  # a non-zero adapter, like a trained one
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=1e-3)
        lora.save_pretrained(str(adapter))
        del lora, model
        print(f"in-process, {TOKENS}-token greedy answers, {args.requests} each:")
        in_process(base, adapter, args.requests)
        data = Path(tmp) / "data"
        (data / "models").mkdir(parents=True)
        os.symlink(base, data / "models" / smollm2.NAME)
        print(f"endpoint process over HTTP, {args.requests} requests each:")
        endpoint(data, adapter, args.requests)


if __name__ == "__main__":
    main()
