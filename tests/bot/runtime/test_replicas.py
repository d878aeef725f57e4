"""Several ``ftbot serve`` processes on one PostgreSQL database behave as one bot.

Two real replicas (subprocesses, HTTP mode) share a fresh PostgreSQL database, the loopback Slack
stand-in and a backend in a shared file (``tests.fakes.shared_backend``). Jobs are submitted through
both; replica B is killed with SIGKILL while it polls half of them. Then: every job reaches its end,
B's jobs are taken over by A within one lease period (and not before), no job was ever polled by two
replicas at once, each card got exactly one ``chat.update`` per change, no thread message is doubled,
and the idle-endpoint reminder is sent once. A second, in-process test covers the delivery lease
changing hands (a fake clock stands in for the minute a dead deliverer's lease takes to expire).
"""

from __future__ import annotations

import fcntl
import itertools
import json
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import create_engine, text

from bot.demo.payloads import block_action, payload_body, slash_body
from bot.demo.slack import FakeSlack, Message
from bot.slack.delivery import LEASE, Delivery
from bot.store.db import Database
from bot.store.repo import SqlStore
from bot.ui.ids import Action
from bot.ui.ids import Block as B
from commands.lifecycle import Lifecycle, LocalData, SubmitRequest
from commands.records import Actor, Surface
from tests.fakes.backend import FakeBackend
from tests.fakes.files import FileServer
from tests.fakes.shared_backend import SharedBackend
from tests.support.data import chat_lines
from tests.support.doubles import Approvers, Clock, WallClock
from tests.support.pg import fresh_pg_database
from tests.support.serve import ServeProcess
from tests.support.wait import until

SECRET = "replica-signing-secret"
APPROVER = "UAPPROVER1"
MEMBER = "UMEMBER01"
LEASE_S = 30.0  # Poller's job lease at FTBOT_POLL_SECONDS=0.5: max(30 s, 3 polls)
PER_WAVE = 3


def normalized(msg_text: str, blocks: Any) -> str:
    """A card's content without its clock (elapsed and uptime figures are all that differ between two
    renderings of one version)."""
    return re.sub(r"\d+", "#", msg_text + json.dumps(blocks, sort_keys=True))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeSlack, FileServer, str, dict[str, str]]]:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "train.jsonl").write_text(chat_lines(30))
    with fresh_pg_database() as url, FakeSlack() as fake, FileServer(tmp_path / "www") as files:
        env = {
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "FTBOT_DATABASE_URL": url,
            "FTBOT_DATA_DIR": str(tmp_path / "shared-data"),  # one volume for every replica
            "FTBOT_POLL_SECONDS": "0.5",
            "FTBOT_SLACK_UPDATES_PER_MINUTE": "600",
            "FTBOT_APPROVERS": APPROVER,
            "FTBOT_DATA_URL_HOSTS": files.host,
            "FTBOT_ENDPOINT_IDLE_HOURS": "0.0003",  # about a second
            "FTBOT_LOG_LEVEL": "WARNING",
            "FTBOT_BACKEND_FACTORY": "tests.fakes.shared_backend:build",
            "FTBOT_TEST_SHARED_TIMING": "1,8,1",  # queued 1 s, running 8 s, endpoint creating 1 s
        }
        yield fake, files, url, env


@contextmanager
def paused(replica: ServeProcess, env: dict[str, str]) -> Iterator[None]:
    """SIGSTOP a replica's processes, never while one holds the shared backend's file lock (the other
    replica would wait on it for as long as the pause lasts), and SIGCONT them after."""
    with open(Path(env["FTBOT_DATA_DIR"]) / "shared-backend.json.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        replica.signal_all(signal.SIGSTOP)
    try:
        yield
    finally:
        replica.signal_all(signal.SIGCONT)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_two_replicas_one_killed_every_job_finishes_each_change_sent_once(
    cluster: tuple[FakeSlack, FileServer, str, dict[str, str]], tmp_path: Path
) -> None:
    fake, files, url, env = cluster
    engine = create_engine(url)
    channels = (f"CREPL{i:02d}" for i in itertools.count(1))

    def leases() -> dict[str, tuple[str, str | None]]:
        with engine.connect() as c:
            rows = c.execute(text("SELECT id, state, lease_owner FROM jobs")).all()
        return {r[0]: (r[1], r[2]) for r in rows}

    def started_jobs() -> set[str]:
        return {r["text"].split("`")[1] for r in fake.responses if "Started" in r.get("text", "")}

    def submit_wave(via: ServeProcess) -> set[str]:
        before = started_jobs()
        for _ in range(PER_WAVE):
            command = f"submit --model ftbot-tiny --data {files.url('train.jsonl')}"
            body = slash_body(command, user=MEMBER, channel=next(channels), response_url=fake.response_url())
            assert via.post(body) == 200
        until(lambda: len(started_jobs() - before) == PER_WAVE, 60, f"{via.name}'s jobs to start")
        wave = started_jobs() - before
        until(lambda: all(via.owns(leases()[j][1]) for j in wave), 20, f"{via.name} to lease its jobs")
        return wave

    a = ServeProcess(env, tmp_path, "A")
    b = ServeProcess(env, tmp_path, "B")
    try:
        a.start()
        b.start()
        # each replica takes one wave (the other is paused meanwhile, so it cannot claim them first)
        with paused(a, env):
            b_jobs = submit_wave(b)
        with paused(b, env):
            a_jobs = submit_wave(a)
        jobs = a_jobs | b_jobs
        with engine.connect() as c:
            singletons: dict[str, str] = {
                str(r[0]): str(r[1]) for r in c.execute(text("SELECT name, owner FROM leases"))
            }
        assert a.owns(singletons.get("delivery")) and a.owns(singletons.get("sweep"))

        shared = SharedBackend(tmp_path / "shared-data" / "shared-backend.json")
        b_family = b.family()

        def polled_by_b() -> set[str]:
            return {job for job, pid, _ in shared.snapshot()["polls"] if pid in b_family}

        # B takes a lease before its first poll: on a loaded machine it may hold a job it has not polled yet
        until(lambda: b_jobs <= polled_by_b(), 20, "B to poll each of its jobs")

        # B dies while its jobs are running
        assert all(leases()[j][0] in ("queued", "running") for j in b_jobs)
        assert all(b.owns(leases()[j][1]) for j in b_jobs)
        families = a.family(), b.family()
        b.kill9()  # its scheduler process dies with it (PR_SET_PDEATHSIG)
        killed_at = time.time()

        # A's first job to finish is deployed by an approver (through A)
        def succeeded() -> list[str]:
            return sorted(j for j, (state, _) in leases().items() if state == "succeeded" and j in a_jobs)

        until(lambda: bool(succeeded()), 40, "one of A's jobs to succeed")
        deployed = succeeded()[0]
        deployed_channel = _channel_of(fake, deployed)
        click = block_action(
            Action.DEPLOY, deployed, user=APPROVER, channel=deployed_channel, response_url=fake.response_url()
        )
        assert a.post(payload_body(click)) == 200

        until(lambda: all(leases()[j][0] == "succeeded" for j in jobs), LEASE_S + 30, "every job to finish")
        # the idle reminder comes from A's next endpoint sweep (once a minute)
        until(lambda: len(_reminders(fake, deployed)) >= 1, 90, "the idle-endpoint reminder")
        # a third writer sweeping on its own (no lease) still finds the reminder already owed
        _sweep_from_outside(url, tmp_path / "shared-data")
        time.sleep(2.5)  # two delivery ticks: anything doubled would be sent by now

        with engine.connect() as c:
            undelivered = c.execute(
                text("SELECT count(*) FROM jobs WHERE version > delivered_version")
            ).scalar()
            unsent = c.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar()
        assert undelivered == 0 and unsent == 0

        state = SharedBackend(tmp_path / "shared-data" / "shared-backend.json").snapshot()
        assert state["counts"]["submitted"] == dict.fromkeys(jobs, 1)
        assert sum(state["counts"]["deployed"].values()) == 1

        _assert_polled_by_one_replica_at_a_time(state["polls"], (a_jobs, b_jobs), families, killed_at)
        for job in jobs:
            _assert_each_change_sent_once(fake, job)
        assert len(_reminders(fake, deployed)) == 1
    finally:
        a.stop()
        b.stop()
        engine.dispose()


def _assert_polled_by_one_replica_at_a_time(
    log: list[list[Any]],
    jobs: tuple[set[str], set[str]],
    families: tuple[set[int], set[int]],
    killed_at: float,
) -> None:
    """One replica at a time per job; B's jobs moved to A once, after one lease period (``jobs`` and
    ``families``: A's and B's, the process families taken before B was killed at ``killed_at``)."""
    (a_jobs, b_jobs), (a_family, b_family) = jobs, families
    polls: dict[str, list[tuple[int, float]]] = {}
    for job, pid, at in log:
        polls.setdefault(job, []).append((pid, at))
    for job in a_jobs | b_jobs:
        runs = [pid for pid, _ in itertools.groupby(pid for pid, _ in polls[job])]
        assert len(runs) == len(set(runs)), f"{job} was polled by replicas in turn: {runs}"
    for job in b_jobs:
        by_b = [at for pid, at in polls[job] if pid in b_family]
        by_a = [at for pid, at in polls[job] if pid in a_family]
        assert by_b and by_a and max(by_b) < killed_at <= min(by_a)
        gap = min(by_a) - max(by_b)
        # the lease runs from B's last claim, which may precede its last poll by a few seconds on a
        # busy machine; a stolen lease would show a gap of about one poll interval
        assert LEASE_S - 5 <= gap <= LEASE_S + 5, f"{job} taken over after {gap:.1f}s"
    for job in a_jobs:
        assert {pid for pid, _ in polls[job]} <= a_family


def _assert_each_change_sent_once(fake: FakeSlack, job: str) -> None:
    """Slack: one card for the job, one chat.update per change, no thread message twice."""
    card = _card(fake, job)
    sent = [c.body for c in fake.calls_to("chat.update") if c.body.get("ts") == card.ts]
    post = next(
        c.body
        for c in fake.calls_to("chat.postMessage")
        if c.body.get("channel") == card.channel and not c.body.get("thread_ts")
    )
    contents = [normalized(b.get("text", ""), b.get("blocks")) for b in [post, *sent]]
    doubled = [i for i in range(1, len(contents)) if contents[i] == contents[i - 1]]
    assert not doubled, f"{job}: chat.update repeated an unchanged card ({len(sent)} updates)"
    # the card ends succeeded: its last edit, or its post when the job had ended before the card went out
    assert "succeeded" in (sent[-1] if sent else post).get("text", "")
    thread = fake.thread(card.channel, card.ts)
    seen = [json.dumps([m.text, m.blocks, m.files], sort_keys=True) for m in thread]
    assert len(seen) == len(set(seen)), f"{job}: a thread message was posted twice"
    assert sum(f"{job}` succeeded." in s for s in seen) == 1


def _channel_of(fake: FakeSlack, job: str) -> str:
    return _card(fake, job).channel


def _card(fake: FakeSlack, job: str) -> Message:
    with fake._lock:
        cards = [m for m in fake.messages.values() if m.thread_ts is None and job in m.text]
    assert len(cards) == 1, f"{job}: expected one card, found {len(cards)}"
    return cards[0]


def _reminders(fake: FakeSlack, job: str) -> list[Message]:
    card = _card(fake, job)
    return [
        m
        for m in fake.thread(card.channel, card.ts)
        if any(b.get("block_id") == B.THREAD_ACTIONS for b in m.blocks) and "idle" in m.text.lower()
    ]


def _sweep_from_outside(url: str, data_dir: Path) -> None:
    database = Database(url)
    try:
        life = Lifecycle(
            backend=SharedBackend(data_dir / "shared-backend.json"),
            store=SqlStore(database),
            clock=WallClock(),
            approvers=Approvers(),
            work_dir=data_dir / "outside",
            idle_hours=0.0003,
        )
        life.endpoints.sweep()
    finally:
        database.dispose()


def test_delivery_lease_moves_to_another_replica_only_when_it_expires(tmp_path: Path) -> None:
    """Two deliverers on one database: only the lease holder sends; when it stops (dies), the other
    takes over once the lease expires, and sends each pending change exactly once."""
    with fresh_pg_database() as url, FakeSlack() as fake:
        database = Database(url)
        database.migrate()
        try:
            clock = Clock()
            store = SqlStore(database)
            life = Lifecycle(
                backend=FakeBackend(),
                store=store,
                clock=clock,
                approvers=Approvers(),
                work_dir=tmp_path / "work",
            )
            web = WebClient(token=fake.bot_token, base_url=fake.api_url)
            one, two = (
                Delivery(
                    store=store,
                    lifecycle=life,
                    web=web,
                    approvers=Approvers(),
                    clock=clock,
                    owner=owner,
                    updates_per_minute=6000,
                )
                for owner in ("host-1-aaaaaa", "host-2-bbbbbb")
            )
            path = tmp_path / "train.jsonl"
            path.write_text(chat_lines(12))
            actor = Actor(user_id=MEMBER, channel_id="CJOBS1", surface=Surface.SLASH)
            request = SubmitRequest(model="ftbot-tiny", training=LocalData(path, "train.jsonl"))
            job = life.jobs.submit(actor, life.jobs.check(request))
            life.jobs.start(job.id)
            for d in (one, two, one, two):
                d.tick()
            assert one.stats["chat.postMessage"] >= 1 and two.stats == dict.fromkeys(two.stats, 0)
            life.jobs.poll(job.id)  # running: a change for the card, while `one` is gone
            for _ in range(3):
                two.tick()
            assert fake.calls_to("chat.update") == []  # the dead holder's lease still stands
            clock.advance(seconds=LEASE.total_seconds() + 1)
            two.tick()
            two.tick()
            assert len(fake.calls_to("chat.update")) == 1 and two.stats["chat.update"] == 1
            with store.transaction() as tx:
                assert tx.undelivered_cards() == 0 and tx.unsent_count() == 0
        finally:
            database.dispose()
