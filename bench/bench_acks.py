"""Ack latency under load: 50 concurrent clients against one ``ftbot serve`` (HTTP mode, real uvicorn) while
its scheduler polls 1,000 live jobs, beside a bare Bolt AsyncApp that only acks on the same stack.

- Store: a fresh PostgreSQL database (SQLite with ``--db sqlite``) seeded with ``--live`` running jobs and
  as many finished ones; the backend is ``bench/scale_world.py``'s in-memory one, loaded into the serve
  process through the FTBOT_BACKEND_FACTORY test hook, every job held running. The scheduler polls
  every live job every ``--poll-seconds`` (30 s, the default, or 5 s as a stress case) during the run.
- Load: ``wrk`` (one thread, ``--connections`` connections, ``--seconds`` s) replaying pre-signed
  requests in turn: ``/finetune status``, ``/finetune status JOB``, a Cancel click by someone who may
  not cancel (refused after the ack, with an audit row) and a Deploy click on a running job (refused
  after the ack). Signatures carry the start time; Slack's 5-minute window covers the run. Replies
  after the ack go to the loopback Slack stand-in's response URL (in this process).
- Baseline: ``bench/bare_bolt.py``, same requests, same wrk settings, run first.
- Metrics (issue #19): ftbot runs with FTBOT_METRICS_PORT unset and set (``--metrics both``, the default),
  and while metrics are on, ``/metrics`` is scraped every second as Prometheus would; the ack p99 with
  metrics on must stay within 5% of the p99 without.

Re-run: ``.venv/bin/python bench/bench_acks.py`` (needs ``wrk``: ``apt-get install wrk``; without it,
``--client python`` replays the same requests from Python threads, one keep-alive connection each).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from bench.scale_world import job_id, pg_available, scratch_database, seed
from bot.demo.payloads import block_action, payload_body, sign, slash_body
from bot.demo.slack import FakeSlack
from bot.store.db import Database
from bot.ui.ids import Action
from tests.support.serve import REPO, clean_env, free_port, ftbot_argv, wait_healthy

SECRET = "bench-signing-secret"
LUA = """
local bodies = {
%s
}
local reqs = {}
local i = 0
init = function(args)
  for k, b in ipairs(bodies) do
    reqs[k] = wrk.format("POST", "/slack/events", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Slack-Request-Timestamp"] = b[1], ["X-Slack-Signature"] = b[2]}, b[3])
  end
end
request = function()
  i = i %% #reqs + 1
  return reqs[i]
end
%s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\\"p50\\": %%d, \\"p95\\": %%d, \\"p99\\": %%d, \\"max\\": %%d, \\"requests\\": %%d, " ..
    "\\"duration_us\\": %%d, \\"connect\\": %%d, \\"read\\": %%d, \\"write\\": %%d, \\"timeout\\": %%d, " ..
    "\\"status\\": %%d}\\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status))
end
"""


def requests(fake: FakeSlack, live: int, n: int = 200) -> list[str]:
    bodies = []
    for i in range(n):
        job, user, channel = job_id(i * 7 % live), f"UUSER{i % 50:04d}", f"CBENCH{i % 50:03d}"
        url = fake.response_url()
        match i % 4:
            case 0:
                bodies.append(slash_body("status", user=user, channel=channel, response_url=url))
            case 1:
                bodies.append(slash_body(f"status {job}", user=user, channel=channel, response_url=url))
            case 2:
                click = block_action(Action.CANCEL, job, user=user, channel=channel, response_url=url)
                bodies.append(payload_body(click))
            case _:
                click = block_action(Action.DEPLOY, job, user=user, channel=channel, response_url=url)
                bodies.append(payload_body(click))
    return bodies


def lua_script(bodies: list[str], path: Path, think_ms: int) -> None:
    rows = []
    for body in bodies:
        h = sign(SECRET, body)
        rows.append(f'{{"{h["X-Slack-Request-Timestamp"]}", "{h["X-Slack-Signature"]}", [==[{body}]==]}},')
    delay = f"delay = function() return {think_ms} end" if think_ms else ""
    path.write_text(LUA % ("\n".join(rows), delay))


def wrk(port: int, script: Path, connections: int, seconds: int) -> dict:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/slack/events",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def python_load(port: int, bodies: list[str], connections: int, seconds: int, think_ms: int) -> dict:
    """wrk's job from Python threads (one keep-alive connection each): latency percentiles in µs."""
    signed = [(sign(SECRET, b), b.encode()) for b in bodies]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        i = k
        while time.monotonic() < deadline:
            headers, body = signed[i % len(signed)]
            i += connections
            started = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    "/slack/events",
                    body,
                    {"Content-Type": "application/x-www-form-urlencoded", **headers},
                )
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            with lock:
                latencies.append((time.perf_counter() - started) * 1e6)
                errors[0] += not ok
            time.sleep(think_ms / 1000)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q / 100 * len(latencies)))] if latencies else 0.0

    return {
        "p50": pct(50), "p95": pct(95), "p99": pct(99), "max": latencies[-1] if latencies else 0.0,
        "requests": len(latencies), "duration_us": (time.monotonic() - started) * 1e6,
        "connect": 0, "read": 0, "write": 0, "timeout": 0, "status": errors[0],
    }  # fmt: skip


def scraping(port: int | None, stop: threading.Event) -> threading.Thread | None:
    """Scrape ``/metrics`` every second while the load runs (what Prometheus does, more often)."""
    if port is None:
        return None

    def run() -> None:
        while not stop.wait(1.0):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def load(port: int, script: Path, args: argparse.Namespace, seconds: int) -> dict:
    if args.client == "wrk":
        return wrk(port, script, args.connections, seconds)
    return python_load(port, args.bodies, args.connections, seconds, args.think_ms)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(
    label: str,
    cmd: list[str],
    env: dict[str, str],
    port: int,
    script: Path,
    args: argparse.Namespace,
    log: Path,
) -> dict:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    metrics_port = int(env["FTBOT_METRICS_PORT"]) if "FTBOT_METRICS_PORT" in env else None
    done = threading.Event()
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        time.sleep(args.settle)  # ftbot: the scheduler is into its polling rounds
        load(port, script, args, 3)  # warm-up, not reported
        scraper = scraping(metrics_port, done)
        result = load(port, script, args, args.seconds)
    finally:
        done.set()
        stop(proc)
    if metrics_port is not None and scraper is not None:
        scraper.join(timeout=5)
    result["label"] = label
    return result


def report(r: dict) -> str:
    errors = r["connect"] + r["read"] + r["write"] + r["timeout"] + r["status"]
    rate = r["requests"] / (r["duration_us"] / 1e6)
    return (
        f"| {r['label']} | {r['p50'] / 1000:.1f} | {r['p95'] / 1000:.1f} | {r['p99'] / 1000:.1f} | "
        f"{r['max'] / 1000:.1f} | {r['requests']:,} ({rate:,.0f}/s) | {errors} |"
    )


def measure_ftbot(
    url: str, base: dict[str, str], args: argparse.Namespace, script: Path, tmp: Path, metrics_on: bool
) -> dict:
    port = free_port()
    env = base | {
        "FTBOT_DATABASE_URL": url,
        "FTBOT_DATA_DIR": str(tmp / "data"),
        "FTBOT_POLL_SECONDS": str(args.poll_seconds),
        "FTBOT_LOG_LEVEL": "WARNING",
        "FTBOT_BACKEND_FACTORY": "bench.scale_world:build",
        "FTBOT_BENCH_LIVE": str(args.live),
    }
    if metrics_on:
        env["FTBOT_METRICS_PORT"] = str(free_port())
    label = f"ftbot serve, {args.live} live jobs polled, metrics {'on' if metrics_on else 'off'}"
    log = tmp / f"f-{metrics_on}.log"
    started = time.time()
    r = measure(label, ftbot_argv("serve", "--port", str(port)), env, port, script, args, log)
    engine = create_engine(url)
    with engine.connect() as c:
        polled = c.execute(
            text("SELECT count(*) FROM jobs WHERE next_poll_at IS NOT NULL AND state = 'running'")
        ).scalar()
        oldest = c.execute(text("SELECT min(next_poll_at) FROM jobs WHERE state = 'running'")).scalar()
    engine.dispose()
    if isinstance(oldest, str):  # SQLite hands the timestamp back as text
        oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
    lag = time.time() - (oldest.timestamp() - args.poll_seconds) if oldest else float("nan")
    print(
        f"{label}: {polled} of {args.live} live jobs polled; the last round's oldest poll was "
        f"{lag:.1f} s before shutdown ({time.time() - started:.0f} s run)"
    )
    text_log = log.read_text()
    if "Traceback" in text_log or "ERROR" in text_log:
        print("ftbot log had errors:\n" + text_log[-3000:])
    return r


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--live", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--settle", type=float, default=6.0)
    parser.add_argument("--poll-seconds", type=float, default=30, help="FTBOT_POLL_SECONDS (default 30)")
    parser.add_argument(
        "--think-ms",
        type=int,
        default=500,
        help="each client waits this long after an answer before its next request (0: flat out)",
    )
    parser.add_argument("--db", choices=("pg", "sqlite"), default="pg" if pg_available() else "sqlite")
    parser.add_argument("--metrics", choices=("both", "on", "off"), default="both", help="FTBOT_METRICS_PORT")
    parser.add_argument(
        "--client", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python"
    )
    parser.add_argument("--rounds", type=int, default=1, help="metrics off/on pairs, alternating")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare Bolt baseline")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    if args.client == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk), or use --client python")
    modes = {"both": [False, True], "on": [True], "off": [False]}[args.metrics] * args.rounds
    results = []
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        script = Path(tmp) / "requests.lua"
        args.bodies = requests(fake, args.live)
        lua_script(args.bodies, script, args.think_ms)
        base = clean_env(
            {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_API_URL": fake.api_url}
        )
        if not args.no_bare:
            port = free_port()
            cmd = [sys.executable, str(REPO / "bench" / "bare_bolt.py"), str(port)]
            results.append(
                measure("bare Bolt AsyncApp (ack only)", cmd, base, port, script, args, Path(tmp) / "b.log")
            )
        with scratch_database(args.db, Path(tmp)) as url:
            database = Database(url)
            database.migrate()
            seed(database, args.live, args.live, 50)
            database.dispose()
            for metrics_on in modes:
                results.append(measure_ftbot(url, base, args, script, Path(tmp), metrics_on))
        print(f"replies after the ack reached the Slack stand-in: {len(fake.responses):,}")
    print(
        f"\n{args.connections} clients, think time {args.think_ms} ms, {args.seconds} s, db={args.db}, "
        f"FTBOT_POLL_SECONDS={args.poll_seconds:g}, client={args.client}"
    )
    print("| server | p50 ms | p95 ms | p99 ms | max ms | requests | errors |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(report(r))
    off = [r["p99"] for r in results if r["label"].endswith("metrics off")]
    on = [r["p99"] for r in results if r["label"].endswith("metrics on")]
    if off and on:
        ratio = (sum(on) / len(on)) / max(1.0, sum(off) / len(off))
        print(
            f"\nack p99 with metrics on / off (mean of {len(on)} run(s) each): {ratio:.3f} (target <= 1.05)"
        )
    if not args.no_bare and len(results) > 1:
        print(f"p99 ratio ftbot (first run) / bare: {results[1]['p99'] / max(1, results[0]['p99']):.2f}")


if __name__ == "__main__":
    main()
