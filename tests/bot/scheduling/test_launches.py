"""Launches cut short by a crash are answered once, in the channel, and never after their job was recorded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from slack_sdk import WebClient

from bot.datasets.names import safe_url
from bot.demo.slack import FakeSlack
from bot.scheduling.launches import LAUNCH_TIMEOUT, InterruptedLaunches
from bot.scheduling.owners import crashed_owners
from bot.ui.replies import submit_launch
from commands.records import LaunchRecord, LaunchState, Surface
from tests.support.blockkit import assert_valid_message
from tests.support.doubles import Clock
from tests.support.memory_store import MemoryStore

HOST = socket.gethostname()[:30]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


def launch(store: MemoryStore, clock: Clock, owner: str, launch_id: str = "l1") -> LaunchRecord:
    now = clock.now()
    record = LaunchRecord(
        id=launch_id,
        team_id="T1",
        channel_id="C1",
        user_id="U0123ABCD",
        owner=owner,
        surface=Surface.SLASH,
        what=submit_launch(
            "ftbot-tiny", safe_url("https://acct.blob.core.windows.net/c/train.jsonl?sig=SECRETSIG")
        ),
        created_at=now,
        updated_at=now,
    )
    with store.transaction() as tx:
        tx.begin_launch(record)
    return record


def sweeper(store: MemoryStore, clock: Clock, fake: FakeSlack, alive: set[str]) -> InterruptedLaunches:
    web = WebClient(token=fake.bot_token, base_url=fake.api_url)
    return InterruptedLaunches(store=store, web=web, clock=clock, alive=lambda: alive)


def test_a_crashed_processes_launch_is_answered_once_with_what_to_run_again(fake: FakeSlack) -> None:
    store, clock = MemoryStore(), Clock()
    crashed = f"{HOST}-{dead_pid()}-abc123"
    launch(store, clock, crashed)
    sweep = sweeper(store, clock, fake, alive={f"{HOST}-{os.getpid()}-me0000"})
    assert sweep.sweep() == 1
    assert sweep.sweep() == 0  # answered once
    (call,) = fake.calls_to("chat.postMessage")
    text = call.body["text"]
    assert call.body["channel"] == "C1" and "<@U0123ABCD>" in text
    assert "nothing was submitted" in text and "Please run it again" in text
    assert (
        "/finetune submit --model ftbot-tiny --data https://acct.blob.core.windows.net/c/train.jsonl" in text
    )
    assert "SECRETSIG" not in text and "sig=" not in text
    assert_valid_message(text)


def test_the_answer_is_valid_slack_text_whatever_the_launch_holds(fake: FakeSlack) -> None:
    store, clock = MemoryStore(), Clock()
    hostile = launch(store, clock, f"{HOST}-{dead_pid()}-abc123")
    with store.transaction() as tx:  # a record written by an older or damaged process
        tx.answer_launch(hostile.id, at=clock.now())
        tx.begin_launch(
            hostile.model_copy(update={"id": "l2", "user_id": "<!channel>", "what": "`<!here>`" * 80})
        )
    sweeper(store, clock, fake, alive=set()).sweep()
    (call,) = fake.calls_to("chat.postMessage")
    assert_valid_message(call.body["text"])
    assert "<!channel>" not in call.body["text"] and "<!here>" not in call.body["text"]
    with store.transaction() as tx:
        assert tx.get_launch("l1").state is LaunchState.ANSWERED


def test_a_live_processes_launch_waits_and_another_hosts_times_out(fake: FakeSlack) -> None:
    store, clock = MemoryStore(), Clock()
    me = f"{HOST}-{os.getpid()}-me0000"
    launch(store, clock, me, "mine")
    launch(store, clock, "other-host-12-abcdef", "theirs")
    sweep = sweeper(store, clock, fake, alive={me})
    assert sweep.sweep() == 0
    clock.advance(seconds=LAUNCH_TIMEOUT.total_seconds() + 1)
    assert sweep.sweep() == 2  # both past the timeout: a check never takes this long
    assert len(fake.calls_to("chat.postMessage")) == 2


def test_a_submitted_launch_is_never_answered(fake: FakeSlack) -> None:
    store, clock = MemoryStore(), Clock()
    crashed = f"{HOST}-{dead_pid()}-abc123"
    launch(store, clock, crashed)
    with store.transaction() as tx:  # the job was recorded before the crash
        tx.finish_launch("l1", "ft-job-1", at=clock.now())
    clock.advance(hours=2)
    assert sweeper(store, clock, fake, alive=set()).sweep() == 0
    assert fake.calls_to("chat.postMessage") == []


def test_crashed_owners_are_this_hosts_dead_or_reused_pids_only() -> None:
    dead = f"{HOST}-{dead_pid()}-aaaaaa"
    live_other = f"{HOST}-{os.getppid()}-bbbbbb"  # a pid of this serve under an old name: a restart
    me = f"{HOST}-{os.getpid()}-cccccc"
    elsewhere = "another-host-1-dddddd"
    assert crashed_owners({dead, live_other, me, elsewhere}, alive={me}) == {dead, live_other}
    assert timedelta(minutes=5) < LAUNCH_TIMEOUT
