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
- OAuth mode (issue #16, ``--oauth``, or ``--auth both`` for both modes in one table): ftbot runs with
  SLACK_CLIENT_ID / SLACK_CLIENT_SECRET and no bot token. The load comes from ``--workspaces`` workspaces
  (each job belongs to one, and every request about a job comes from its workspace); before the load,
  each workspace installs ftbot through the real OAuth flow (``/slack/install``, then
  ``/slack/oauth_redirect`` with a code the Slack stand-in exchanges in ``oauth.v2.access``), so its
  installation is in ftbot's store. Each request then finds its token through Bolt's authorize with its
  cache on, in front of the installation store's in-process cache; the run also reports how many
  ``auth.test`` calls the load caused (the cache's work: at most one per workspace token, whatever the
  number of requests). Single-token mode gets the very same requests.

Re-run: ``.venv/bin/python bench/bench_acks.py`` (needs ``wrk``: ``apt-get install wrk``; without it,
``--client python`` replays the same requests from Python threads, one keep-alive connection each).
Single-token and OAuth mode side by side, each with metrics off and on:
``.venv/bin/python bench/bench_acks.py --auth both``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text, update

from bench.scale_world import job_id, pg_available, scratch_database, seed
from bot.demo.payloads import block_action, payload_body, sign, slash_body
from bot.demo.slack import FakeSlack
from bot.store.db import Database
from bot.store.tables import JobRow, StatusMessageRow
from bot.ui.ids import Action
from tests.support.serve import REPO, clean_env, free_port, ftbot_argv, wait_healthy

SECRET = "bench-signing-secret"
#: OAuth mode's app credentials (the Slack stand-in accepts any client secret)
OAUTH_ENV = {
    "SLACK_CLIENT_ID": "111.222",
    "SLACK_CLIENT_SECRET": "bench-client-secret",
    "SLACK_STATE_SECRET": "bench-state-secret",
}
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


def team_of(job: int, workspaces: int) -> str:
    """The workspace a seeded job belongs to (and every request about it comes from)."""
    return f"TBENCH{job % workspaces:03d}"


def requests(fake: FakeSlack, live: int, workspaces: int, n: int = 200) -> list[str]:
    bodies = []
    for i in range(n):
        j = i * 7 % live
        job, user, channel = job_id(j), f"UUSER{i % 50:04d}", f"CBENCH{i % 50:03d}"
        team, url = team_of(j, workspaces), fake.response_url()
        match i % 4:
            case 0:
                bodies.append(slash_body("status", user=user, channel=channel, response_url=url, team=team))
            case 1:
                text_ = f"status {job}"
                bodies.append(slash_body(text_, user=user, channel=channel, response_url=url, team=team))
            case _:
                action = Action.CANCEL if i % 4 == 2 else Action.DEPLOY
                click = block_action(action, job, user=user, channel=channel, response_url=url)
                click["team"]["id"] = click["user"]["team_id"] = team
                bodies.append(payload_body(click))
    return bodies


def assign_workspaces(database: Database, jobs: int, workspaces: int) -> None:
    """Give each seeded job (and its card) to its workspace (``team_of``): single-token mode reads every
    job whatever its team; OAuth mode scopes each request to its workspace's jobs."""
    with database.session_scope() as s:
        for k in range(workspaces):
            ids = [job_id(j) for j in range(k, jobs, workspaces)]
            team = team_of(k, workspaces)
            s.execute(update(JobRow).where(JobRow.id.in_(ids)).values(team_id=team))
            s.execute(update(StatusMessageRow).where(StatusMessageRow.job_id.in_(ids)).values(team_id=team))


def install(port: int, fake: FakeSlack, team: str, attempt: str) -> None:
    """Install ftbot in ``team`` the way Slack does: the install page sets the state cookie, Slack
    redirects back with a code, which ftbot exchanges (``oauth.v2.access`` on the stand-in)."""
    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(f"{base}/slack/install", timeout=10) as r:
        found = re.search(r"slack-app-oauth-state=([^;]+)", r.headers.get("set-cookie", ""))
    if found is None:
        raise SystemExit("ftbot's /slack/install set no OAuth state cookie")
    state, code = found.group(1), f"bench-{team}-{attempt}"
    fake.grant(code, team)
    query = urllib.parse.urlencode({"code": code, "state": state})
    req = urllib.request.Request(
        f"{base}/slack/oauth_redirect?{query}", headers={"Cookie": f"slack-app-oauth-state={state}"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        if r.status != 200:
            raise SystemExit(f"installing in {team} answered {r.status}")


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
    prepare: Callable[[int], None] | None = None,
) -> dict:
    """``prepare(port)`` runs once the server is healthy, before the warm-up (OAuth mode: the installs)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    metrics_port = int(env["FTBOT_METRICS_PORT"]) if "FTBOT_METRICS_PORT" in env else None
    done = threading.Event()
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        if prepare is not None:
            prepare(port)
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


def errors_of(r: dict) -> int:
    return int(r["connect"] + r["read"] + r["write"] + r["timeout"] + r["status"])


def report(r: dict) -> str:
    errors = errors_of(r)
    rate = r["requests"] / (r["duration_us"] / 1e6)
    return (
        f"| {r['label']} | {r['p50'] / 1000:.1f} | {r['p95'] / 1000:.1f} | {r['p99'] / 1000:.1f} | "
        f"{r['max'] / 1000:.1f} | {r['requests']:,} ({rate:,.0f}/s) | {errors} |"
    )


def measure_ftbot(
    url: str,
    base: dict[str, str],
    args: argparse.Namespace,
    tmp: Path,
    metrics_on: bool,
    oauth: FakeSlack | None = None,
) -> dict:
    """One ``ftbot serve`` run; with ``oauth`` (the Slack stand-in), in OAuth mode, each workspace of the
    load installed first."""
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
    prepare: Callable[[int], None] | None = None
    teams: list[str] = []
    installed: list[int] = []
    auth = "single token"
    if oauth is not None:
        env = {k: v for k, v in env.items() if k != "SLACK_BOT_TOKEN"} | OAUTH_ENV
        auth = f"OAuth, {args.workspaces} workspaces"
        teams = sorted({team_of(j, args.workspaces) for j in range(args.live)})  # every one of the load
        attempt = f"{metrics_on}-{time.monotonic_ns()}"

        def prepare(p: int) -> None:
            for team in teams:
                install(p, oauth, team, attempt)
            installed.append(len(oauth.calls_to("auth.test")))  # what the load adds is counted from here

    label = f"ftbot serve ({auth}), {args.live} live jobs polled, metrics {'on' if metrics_on else 'off'}"
    log = tmp / f"f-{metrics_on}-{oauth is not None}.log"
    started = time.time()
    cmd = ftbot_argv("serve", "--port", str(port))
    r = measure(label, cmd, env, port, args.script, args, log, prepare)
    r |= {"auth": auth, "metrics": metrics_on}
    polling(url, args, label, started)
    if oauth is not None:
        calls = oauth.calls_to("auth.test")[installed[0] :]
        tokens = {c.headers.get("authorization") for c in calls}
        print(
            f"{label}: auth.test called {len(calls)} time(s) with {len(tokens)} token(s) during the load "
            f"({r['requests']:,} measured requests and the warm-up, from {len(teams)} workspaces; Bolt's "
            "authorize cache: once per workspace token)"
        )
    text_log = log.read_text()
    if "Traceback" in text_log or "ERROR" in text_log:
        print("ftbot log had errors:\n" + text_log[-3000:])
    return r


def polling(url: str, args: argparse.Namespace, label: str, started: float) -> None:
    """How far the scheduler got with the live jobs during the run."""
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
    parser.add_argument(
        "--auth",
        choices=("token", "oauth", "both"),
        default="token",
        help="single bot token (SLACK_BOT_TOKEN), OAuth installs (SLACK_CLIENT_ID/SECRET), or both in turn",
    )
    parser.add_argument("--oauth", dest="auth", action="store_const", const="oauth", help="--auth oauth")
    parser.add_argument("--workspaces", type=int, default=10, help="workspaces the load comes from")
    return parser.parse_args()


def summary(results: list[dict], args: argparse.Namespace) -> None:
    print(
        f"\n{args.connections} clients, think time {args.think_ms} ms, {args.seconds} s, db={args.db}, "
        f"FTBOT_POLL_SECONDS={args.poll_seconds:g}, client={args.client}, requests from "
        f"{args.workspaces} workspaces"
    )
    print("| server | p50 ms | p95 ms | p99 ms | max ms | requests | errors |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(report(r))
    failed = [r for r in results if errors_of(r)]
    if failed:
        print(f"\n{len(failed)} run(s) had errors and are left out of the ratios below")
    runs = [r for r in results if "auth" in r and not errors_of(r)]

    def mean_p99(auth: str, metrics: bool) -> float | None:
        p99 = [r["p99"] for r in runs if r["auth"].startswith(auth) and r["metrics"] is metrics]
        return sum(p99) / len(p99) if p99 else None

    for auth in ("single", "OAuth"):
        off, on = mean_p99(auth, False), mean_p99(auth, True)
        if off is not None and on is not None:
            ratio = on / max(1.0, off)
            print(f"\nack p99 with metrics on / off ({auth}, mean of runs): {ratio:.3f} (target <= 1.05)")
    for metrics in (False, True):
        single, oauth = mean_p99("single", metrics), mean_p99("OAuth", metrics)
        if single is not None and oauth is not None:
            where = "on" if metrics else "off"
            print(f"ack p99 OAuth / single token (metrics {where}): {oauth / max(1.0, single):.3f}")
    if not args.no_bare and runs:
        print(f"p99 ratio ftbot (first run) / bare: {runs[0]['p99'] / max(1, results[0]['p99']):.2f}")


def main() -> None:
    args = arguments()
    if args.client == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk), or use --client python")
    modes = {"both": [False, True], "on": [True], "off": [False]}[args.metrics] * args.rounds
    auths = {"token": [False], "oauth": [True], "both": [False, True]}[args.auth]
    results = []
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        args.script = Path(tmp) / "requests.lua"
        args.bodies = requests(fake, args.live, args.workspaces)
        base = clean_env(
            {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": fake.bot_token, "SLACK_API_URL": fake.api_url}
        )
        if not args.no_bare:
            port = free_port()
            cmd = [sys.executable, str(REPO / "bench" / "bare_bolt.py"), str(port)]
            bare = "bare Bolt AsyncApp (ack only)"
            lua_script(args.bodies, args.script, args.think_ms)
            results.append(measure(bare, cmd, base, port, args.script, args, Path(tmp) / "b.log"))
        with scratch_database(args.db, Path(tmp)) as url:
            database = Database(url)
            database.migrate()
            seed(database, args.live, args.live, 50)
            assign_workspaces(database, 2 * args.live, args.workspaces)
            database.dispose()
            for metrics_on in modes:
                for oauth in auths:
                    # signed afresh for each run: Bolt refuses a signature more than 5 minutes old
                    lua_script(args.bodies, args.script, args.think_ms)
                    run = measure_ftbot(url, base, args, Path(tmp), metrics_on, fake if oauth else None)
                    results.append(run)
        print(f"replies after the ack reached the Slack stand-in: {len(fake.responses):,}")
    summary(results, args)


if __name__ == "__main__":
    main()
