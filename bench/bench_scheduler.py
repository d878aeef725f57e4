"""Scheduler cost at 1,000 live jobs: ftbot's Poller + Delivery against a naive baseline.

The store holds ``--live`` running jobs and ``--finished`` finished ones (PostgreSQL by default), each
with its card already in Slack; the backend is in memory (``bench/scale_world.py``); Slack is the
loopback stand-in with Slack's ``chat.update`` tier enforced (``--limit`` a minute, 429 + Retry-After
beyond it). Every live job then changes state once (half succeed on one tick, half fail on the next).

- **ftbot**: ``Poller.poll_jobs`` (leased, chunked, 4 backend calls in flight) then ``Delivery.tick``
  every second (cards coalesced and paced, thread posts paced per channel). Pacing and the stand-in's
  limit are both sped up ``--speedup`` times so the run takes seconds; the time at Slack's real budget
  is that figure times the speed-up (and is checked for real on ``--paced-check`` cards at 45/min).
- **naive** (the baseline): each tick gets every job, finished ones included, and ``chat.update``s
  every card on every poll, unpaced, on a client that does not retry 429s.

Re-run: ``.venv/bin/python bench/bench_scheduler.py`` (``--db sqlite`` without PostgreSQL).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bench.scale_world import ScaleBackend, job_id, pg_available, scratch_database, seed
from bot.demo.slack import FakeSlack, Message
from bot.scheduling.poller import Poller
from bot.slack.delivery import Delivery
from bot.store.db import Database
from bot.store.repo import SqlStore
from commands.lifecycle import Lifecycle
from commands.models import JobState
from tests.support.doubles import Approvers, WallClock


def _slack(limit_per_minute: float, cards: int, channels: int) -> FakeSlack:
    """The stand-in with Slack's chat.update tier, already holding every job's card (as seeded)."""
    fake = FakeSlack().start()
    fake.rate_limit("chat.update", limit_per_minute, burst=5)
    for i in range(cards):
        channel, ts = f"CBENCH{i % channels:03d}", f"1700000000.{i:06d}"
        fake.messages[(channel, ts)] = Message(channel, ts, f"Fine-tuning job {job_id(i)}", [], None)
    return fake


def run_ftbot(url: str, args: argparse.Namespace, *, live: int, speedup: float, label: str) -> dict:
    database = Database(url)
    database.migrate()
    finished = args.finished if live == args.live else 0
    ids = seed(database, live, finished, args.channels)
    fake = _slack(50 * speedup, live + args.finished, args.channels)
    clock = WallClock()  # moved forward each tick, so every live job is due again
    backend = ScaleBackend(
        ids + [job_id(i) for i in range(live, live + args.finished)], args.latency_ms / 1000
    )
    store = SqlStore(database)
    life = Lifecycle(
        backend=backend,  # type: ignore[arg-type]  # only get_job is used by polling
        store=store,
        clock=clock,
        approvers=Approvers(()),
        work_dir=Path(tempfile.mkdtemp()),
    )
    poller = Poller(store=store, lifecycle=life, clock=clock, owner="bench-1-000000", poll_seconds=30)
    web = WebClient(
        token=fake.bot_token,
        base_url=fake.api_url,
        timeout=15,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)],
    )
    delivery = Delivery(
        store=store,
        lifecycle=life,
        web=web,
        approvers=Approvers(()),
        clock=clock,
        owner="bench-1-000000",
        updates_per_minute=45 * speedup,
        posts_per_channel_minute=60 * speedup,
    )
    ticks = []
    half = len(ids) // 2
    plan = [[], [(ids[:half], JobState.SUCCEEDED)], [(ids[half:], JobState.FAILED)], []]
    changed_at = None
    for step in plan:
        for group, state in step:
            backend.finish(group, state)
        before = backend.calls["get_job"]
        t0 = time.perf_counter()
        polled = poller.poll_jobs()
        ticks.append((time.perf_counter() - t0, polled, backend.calls["get_job"] - before))
        if step and changed_at is None:
            changed_at = time.perf_counter()
        clock.advance(31)  # the next tick finds every live job due again
    # deliver as the scheduler does: a tick a second
    assert changed_at is not None
    while True:
        delivery.tick()
        with store.transaction() as tx:
            pending = tx.undelivered_cards() + tx.unsent_count()
        if pending == 0:
            break
        time.sleep(1.0 / speedup)  # the scheduler's 1 s delivery tick, sped up with the pace
    delivered_s = time.perf_counter() - changed_at
    finished_calls = sum(backend.per_job[job_id(i)] for i in range(live, live + args.finished))
    poller.close()
    rejected = sum(1 for c in fake.calls if c.status == 429)
    updates = len(fake.calls_to("chat.update"))
    posts = len([c for c in fake.calls_to("chat.postMessage") if c.body.get("thread_ts")])
    lost = _lost_final_states(fake, ids, backend)
    fake.stop()
    database.dispose()
    return {
        "label": label,
        "live": live,
        "ticks": ticks,
        "finished_calls": finished_calls,
        "changes": len(ids),
        "updates": updates,
        "posts": posts,
        "429": rejected,
        "delivered_s": delivered_s,
        "lost": lost,
        "speedup": speedup,
        "finished": finished,
    }


def _lost_final_states(fake: FakeSlack, ids: list[str], backend: ScaleBackend) -> int:
    """Cards whose last accepted chat.update does not show the job's final state."""
    last: dict[str, str] = {}
    for c in fake.calls_to("chat.update"):
        last[str(c.body.get("ts"))] = str(c.body.get("text", ""))
    lost = 0
    for i, jid in enumerate(ids):
        shown = last.get(f"1700000000.{i:06d}", "")
        if not shown.endswith(backend.states[jid].value):
            lost += 1
    return lost


def run_naive(args: argparse.Namespace) -> dict:
    """The baseline: every job (finished too), every tick, chat.update every card, unpaced, no retries."""
    total = args.live + args.finished
    ids = [job_id(i) for i in range(total)]
    backend = ScaleBackend(ids, args.latency_ms / 1000)
    backend.finish(ids[args.live :], JobState.SUCCEEDED)
    fake = _slack(50, total, args.channels)
    web = WebClient(token=fake.bot_token, base_url=fake.api_url, timeout=15, retry_handlers=[])
    half = args.live // 2
    plan = [[], [(ids[:half], JobState.SUCCEEDED)], [(ids[half : args.live], JobState.FAILED)], []]
    ticks = []

    def one(i: int) -> None:
        job = backend.get_job(ids[i])
        with contextlib.suppress(SlackApiError):  # a 429 is simply lost: no pacing, no retry
            web.chat_update(
                channel=f"CBENCH{i % args.channels:03d}",
                ts=f"1700000000.{i:06d}",
                text=f"Fine-tuning job {job.id}: {job.state.value}",
            )

    with ThreadPoolExecutor(4) as pool:
        for step in plan:
            for group, state in step:
                backend.finish(group, state)
            before = backend.calls["get_job"]
            t0 = time.perf_counter()
            list(pool.map(one, range(total)))
            ticks.append((time.perf_counter() - t0, total, backend.calls["get_job"] - before))
    rejected = sum(1 for c in fake.calls if c.status == 429)
    updates = len(fake.calls_to("chat.update"))
    lost = _lost_final_states(fake, ids[: args.live], backend)
    fake.stop()
    return {
        "label": "naive",
        "live": args.live,
        "ticks": ticks,
        "finished_calls": args.finished * len(plan),
        "changes": args.live,
        "updates": updates,
        "posts": 0,
        "429": rejected,
        "delivered_s": None,
        "lost": lost,
        "speedup": 1,
        "finished": args.finished,
    }


def report(r: dict, args: argparse.Namespace) -> None:
    times = [t for t, _, _ in r["ticks"]]
    per_job = [calls / max(1, r["live"]) for _, _, calls in r["ticks"]]
    print(
        f"\n{r['label']}: {r['live']} live jobs, {r['finished']} finished, db={args.db}, "
        f"backend latency {args.latency_ms} ms"
    )
    print(f"  poll tick s: {', '.join(f'{t:.2f}' for t in times)}")
    print(f"  backend get_job per live job per tick: {', '.join(f'{x:.2f}' for x in per_job)}")
    print(f"  get_job calls on finished jobs (all ticks): {r['finished_calls']}")
    print(
        f"  state changes {r['changes']}: chat.update {r['updates']} "
        f"({r['updates'] / r['changes']:.2f}/change), thread posts {r['posts']} "
        f"({r['posts'] / r['changes']:.2f}/change), 429s {r['429']}, final states lost {r['lost']}"
    )
    if r["delivered_s"] is not None:
        print(
            f"  every final state delivered {r['delivered_s']:.1f} s after the first change, paced at "
            f"{45 * r['speedup']:.0f} updates/min; at 45/min Slack's budget alone needs "
            f"{r['changes'] / 45:.1f} min"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--live", type=int, default=1000)
    parser.add_argument("--finished", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--db", choices=("pg", "sqlite"), default="pg" if pg_available() else "sqlite")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="backend round trip per get_job")
    parser.add_argument("--speedup", type=float, default=60.0, help="pacing and Slack's limit, sped up")
    parser.add_argument("--paced-check", type=int, default=25, help="cards delivered at the real 45/min")
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with scratch_database(args.db, Path(tmp)) as url:
            report(run_ftbot(url, args, live=args.live, speedup=args.speedup, label="ftbot"), args)
        if args.paced_check:
            (Path(tmp) / "paced").mkdir()
            with scratch_database(args.db, Path(tmp) / "paced") as url:
                r = run_ftbot(url, args, live=args.paced_check, speedup=1, label="ftbot, real 45/min pace")
                report(r, args)
    if not args.skip_naive:
        report(run_naive(args), args)


if __name__ == "__main__":
    main()
