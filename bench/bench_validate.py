"""Dataset validation benchmark: ftbot's validator against its baselines, on generated chat files.

    .venv/bin/python bench/bench_validate.py                  # 10, 100 and 500 MB, 2 runs each
    .venv/bin/python bench/bench_validate.py --sizes 10 --runs 3

Files are generated into /tmp (bench/chatgen.py; never committed). Every measurement runs in a fresh
subprocess, so its peak RSS is its own; the time is measured inside it and includes loading the
tokenizer. Modes:

- ``orjson``: a bare loop that only parses each line with orjson (the floor for structure checks).
- ``structure``: ``validate_dataset(count_tokens=False)``: every check, no token statistics.
- ``cookbook``: the OpenAI cookbook's approach (Chat_finetuning_data_prep.ipynb): ``json.loads`` per line,
  its format checks, ``num_tokens_from_messages`` (tiktoken ``encode`` per message value) and
  ``num_assistant_tokens_from_messages``, with ``disallowed_special=()`` and non-string values skipped
  so that it does not crash. It streams line by line instead of loading the whole file first, which only
  makes it faster and smaller than the notebook.
- ``cookbook-min``: the same without the assistant-token pass (the strictest baseline).
- ``full``: ``validate_dataset()``: every check plus exact token counts and statistics.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_KNOWN_KEYS = ("role", "content", "name", "function_call", "weight", "tool_calls", "tool_call_id")
MODES = ("orjson", "structure", "cookbook", "cookbook-min", "full")


def _cookbook(path: Path, assistant_pass: bool) -> dict[str, object]:
    from commands.dataset import get_encoding

    enc = get_encoding("o200k_base")

    def num_tokens_from_messages(messages: list[dict[str, object]]) -> int:
        n = 0
        for message in messages:
            n += 3
            for key, value in message.items():
                if isinstance(value, str):
                    n += len(enc.encode(value, disallowed_special=()))
                if key == "name":
                    n += 1
        return n + 3

    def num_assistant_tokens_from_messages(messages: list[dict[str, object]]) -> int:
        n = 0
        for message in messages:
            if message["role"] == "assistant" and isinstance(message.get("content"), str):
                n += len(enc.encode(message["content"], disallowed_special=()))  # type: ignore[arg-type]
        return n

    format_errors: dict[str, int] = {}
    totals: list[int] = []
    assistant: list[int] = []
    n_missing_system = n_missing_user = 0
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            ex = json.loads(line)
            if not isinstance(ex, dict):
                format_errors["data_type"] = format_errors.get("data_type", 0) + 1
                continue
            messages = ex.get("messages", None)
            if not messages:
                format_errors["missing_messages_list"] = format_errors.get("missing_messages_list", 0) + 1
                continue
            for message in messages:
                if "role" not in message or "content" not in message:
                    format_errors["message_missing_key"] = format_errors.get("message_missing_key", 0) + 1
                if any(k not in _KNOWN_KEYS for k in message):
                    format_errors["message_unrecognized_key"] = (
                        format_errors.get("message_unrecognized_key", 0) + 1
                    )
                if message.get("role", None) not in ("system", "user", "assistant", "function", "tool"):
                    format_errors["unrecognized_role"] = format_errors.get("unrecognized_role", 0) + 1
                content = message.get("content", None)
                function_call = message.get("function_call", None) or message.get("tool_calls", None)
                if (not content and not function_call) or not isinstance(content, str | type(None)):
                    format_errors["missing_content"] = format_errors.get("missing_content", 0) + 1
            if not any(message.get("role", None) == "assistant" for message in messages):
                format_errors["example_missing_assistant_message"] = (
                    format_errors.get("example_missing_assistant_message", 0) + 1
                )
            n_missing_system += not any(m["role"] == "system" for m in messages)
            n_missing_user += not any(m["role"] == "user" for m in messages)
            totals.append(num_tokens_from_messages(messages))
            if assistant_pass:
                assistant.append(num_assistant_tokens_from_messages(messages))
    return {"examples": len(totals), "tokens": sum(totals), "errors": sum(format_errors.values())}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return r.ru_utime + r.ru_stime


def _one(mode: str, path: Path) -> dict[str, object]:
    # modules are imported before the clock starts (a fixed cost of about 0.5 s for pydantic, numpy and
    # tiktoken, the same for every file size); loading the tokenizer is part of the measured work
    import orjson

    from commands.dataset import get_encoding, validate_dataset  # noqa: F401

    t0, c0 = time.perf_counter(), _cpu()
    if mode == "orjson":
        n = 0
        with open(path, "rb") as f:
            for line in f:
                orjson.loads(line)
                n += 1
        out: dict[str, object] = {"examples": n}
    elif mode in ("structure", "full"):
        r = validate_dataset(path, count_tokens=mode == "full")
        t = r.stats.tokens_per_example
        out = {"examples": r.examples, "tokens": t.total if t else None, "errors": r.error_total}
    else:
        out = _cookbook(path, assistant_pass=mode == "cookbook")
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = _cpu() - c0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_avg"] = os.getloadavg()[0]
    return out


def measure(mode: str, path: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, __file__, "--one", mode, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,100,500", help="file sizes in MB")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--one", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(_one(a.one[0], Path(a.one[1]))))
        return
    from bench.chatgen import generate

    modes = a.modes.split(",")
    print(f"# {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start", flush=True)
    rows = []
    for mb in (float(s) for s in a.sizes.split(",")):
        path = Path(f"/tmp/ftbot-bench-chat-{mb:g}mb.jsonl")
        if not path.exists() or abs(path.stat().st_size - mb * 2**20) > 2**20:
            n = generate(path, int(mb * 2**20))
            print(f"generated {path} ({n:,} examples)", flush=True)
        times: dict[str, list[float]] = {m: [] for m in modes}
        cpus: dict[str, list[float]] = {m: [] for m in modes}
        rss: dict[str, float] = {m: 0.0 for m in modes}
        info: dict[str, dict[str, object]] = {}
        for _ in range(a.runs):
            for m in modes:  # interleaved, so that load from other work hits every mode alike
                r = measure(m, path)
                times[m].append(float(r["seconds"]))  # type: ignore[arg-type]
                cpus[m].append(float(r["cpu_seconds"]))  # type: ignore[arg-type]
                rss[m] = max(rss[m], float(r["peak_rss_mb"]))  # type: ignore[arg-type]
                info[m] = r
                print(
                    f"{mb:g} MB {m:13s} {r['seconds']:.2f} s  rss {r['peak_rss_mb']:.0f} MB  {r}", flush=True
                )
        mbs = path.stat().st_size / 2**20
        for m in modes:
            lo, hi = min(times[m]), max(times[m])
            rows.append((mbs, info[m].get("examples"), m, lo, hi, mbs / lo, min(cpus[m]), rss[m]))
        if "full" in modes and "cookbook-min" in modes:
            tok = {m: info[m].get("tokens") for m in ("full", "cookbook-min", "cookbook") if m in info}
            print(f"token totals agree: {tok}", flush=True)
    print("\n| file | examples | mode | wall s (best-worst) | MB/s (best) | CPU s (best) | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for mbs, n, m, lo, hi, speed, cpu, peak in rows:
        print(f"| {mbs:.0f} MB | {n:,} | {m} | {lo:.2f}-{hi:.2f} | {speed:.0f} | {cpu:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
