"""Local endpoint latency: p50/p95 of a 40-token reply over 50 requests.

    .venv/bin/python bench/bench_endpoint.py [--requests 50] [--tokens 40]

Trains ftbot-tiny for one epoch on the 30-example set, deploys it through ``LocalBackend`` and sends the
requests one after another over one keep-alive HTTP connection to 127.0.0.1 (key check, quota, chat
template, greedy generate), with ``min_tokens`` = ``max_tokens`` = 40 so every reply is 40 tokens long.
Baseline, side by side: the same generator called in-process (no HTTP, no server), the same prompt and
token count, so the difference is what the endpoint process and the round trip add.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.backends.local.files import OFFLINE_ENV

for _k, _v in OFFLINE_ENV.items():
    os.environ.setdefault(_k, _v)

from bot.backends.local import LocalBackend, files  # noqa: E402
from commands.models import EndpointState, Hyperparameters, JobSpec, JobState, Task  # noqa: E402
from tests.bot.backends.local.fixtures import examples, write_jsonl  # noqa: E402

PROMPT = "Tell me a long story about the sea and a ship."


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--tokens", type=int, default=40)
    args = parser.parse_args()
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        backend = LocalBackend(Path(tmp) / "data")
        try:
            ref = backend.upload_dataset(
                write_jsonl(Path(tmp) / "t.jsonl", examples(30)), name="t.jsonl", task=Task.CHAT_COMPLETION
            )
            spec = JobSpec(
                name="bench-endpoint",
                base_model="ftbot-tiny",
                training=ref,
                hyperparameters=Hyperparameters(n_epochs=1),
                output_model_name="bench-endpoint-model",
            )
            job = backend.submit_job(spec)
            while not job.state.terminal:
                time.sleep(0.1)
                job = backend.get_job(spec.name)
            assert job.state is JobState.SUCCEEDED and job.output_model, job.error
            started = time.perf_counter()
            backend.deploy_model(job.output_model, "bench-ep")
            while (ep := backend.get_endpoint("bench-ep")).state is EndpointState.CREATING:
                time.sleep(0.05)
            assert ep.state is EndpointState.READY, ep.error
            print(
                f"deploy → ready: {time.perf_counter() - started:.1f} s (server process start + model load)"
            )

            port = int((backend.data.endpoint("bench-ep").port).read_text())
            key = (backend.data.endpoint("bench-ep").key).read_text().strip()
            body = json.dumps(
                {
                    "messages": [{"role": "user", "content": PROMPT}],
                    "temperature": 0,
                    "max_tokens": args.tokens,
                    "min_tokens": args.tokens,  # vLLM's extension, served by ftbot: a full-length reply
                }
            )
            http_ms: list[float] = []
            tokens: list[int] = []
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for _ in range(args.requests):
                t0 = time.perf_counter()
                conn.request(
                    "POST", "/v1/chat/completions", body=body, headers={"Authorization": f"Bearer {key}"}
                )
                resp = conn.getresponse()
                data = json.loads(resp.read())
                http_ms.append((time.perf_counter() - t0) * 1000)
                assert resp.status == 200, data
                tokens.append(data["usage"]["completion_tokens"])
            conn.close()

            from bot.backends.local.server import load_generator

            config = files.read_json(backend.data.endpoint("bench-ep").config) or {}
            generator = load_generator(config)
            prompt = generator.prompt_tokens([{"role": "user", "content": PROMPT}])

            def timed() -> float:
                t0 = time.perf_counter()
                generator.generate(prompt, temperature=0, max_tokens=args.tokens, min_tokens=args.tokens)
                return (time.perf_counter() - t0) * 1000

            local_ms = [timed() for _ in range(args.requests)]
            with ThreadPoolExecutor(
                1
            ) as pool:  # as the server runs it: off the event loop, in a worker thread
                thread_ms = [pool.submit(timed).result() for _ in range(args.requests)]
        finally:
            backend.stop_all()
    print(f"completion tokens per reply: {min(tokens)}-{max(tokens)} (asked for {args.tokens})")
    print(
        f"endpoint over HTTP: p50 {_pct(http_ms, 0.5):.0f} ms, p95 {_pct(http_ms, 0.95):.0f} ms "
        f"(mean {statistics.fmean(http_ms):.0f} ms, {args.requests} requests)"
    )
    print(
        f"baseline, in-process generate: p50 {_pct(local_ms, 0.5):.0f} ms, p95 {_pct(local_ms, 0.95):.0f} ms "
        f"(mean {statistics.fmean(local_ms):.0f} ms)"
    )
    print(
        f"baseline, in-process generate in a worker thread: p50 {_pct(thread_ms, 0.5):.0f} ms, "
        f"p95 {_pct(thread_ms, 0.95):.0f} ms (mean {statistics.fmean(thread_ms):.0f} ms)"
    )


if __name__ == "__main__":
    main()
