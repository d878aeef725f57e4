"""On-call paging, in process: the sweep against a real store (SQLite) and the loopback Slack stand-in.
What the service failed pages once in the job's thread; what the user got wrong never pages; a process-level
problem pages the channels with live jobs once and says when it recovered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.demo.slack import FakeSlack
from bot.scheduling.oncall import Incidents, Oncall, SchedulerHealth, service_failure
from bot.scheduling.oncall_ids import OncallIds
from bot.store.db import Database
from bot.store.repo import SqlStore
from bot.ui.errors import message_text
from commands.errors import Conflict
from commands.models import JobState
from commands.records import Actor
from tests.contract.store_suite import job
from tests.support.doubles import WallClock

ONCALL = "SONCALL01"


@pytest.mark.parametrize(
    "reason",
    [
        "The training worker stopped unexpectedly (killed by signal 9) without reporting a result.",
        "InternalServerError: the service failed the job",
        "Quota exceeded for this subscription",
        "The job timed out after 720 minutes",
        None,
    ],
)
def test_service_failures_page(reason: str | None) -> None:
    assert service_failure(reason)


@pytest.mark.parametrize(
    "reason",
    [
        "training data: line 1: no assistant message to learn from",
        "validation data: line 3: not valid JSON (Expecting value)",
        "train.jsonl has no examples",
        "cancelled before it was submitted",
        "The dataset is invalid: line 7 exceeds the context length",
    ],
)
def test_the_users_own_failures_never_page(reason: str) -> None:
    assert not service_failure(reason)


class World:
    def __init__(self, tmp_path: Path, fake: FakeSlack) -> None:
        self.database = Database(f"sqlite:///{tmp_path / 'ftbot.db'}")
        self.database.migrate()
        self.store = SqlStore(self.database)
        self.clock = WallClock()
        self.fake = fake
        self.web = WebClient(token=fake.bot_token, base_url=fake.api_url)
        self.health = SchedulerHealth()
        self.credential: str | None = None
        self.oncall = Oncall(
            oncall=OncallIds(default=ONCALL), store=self.store, web=self.web, clock=self.clock,
            health=self.health, credential_problem=lambda: self.credential,
        )  # fmt: skip

    def job(self, job_id: str, state: JobState, error: str | None = None, channel: str = "CJOBS1") -> str:
        now = self.clock.now()
        card = self.web.chat_postMessage(channel=channel, text=f"card {job_id}")
        with self.store.transaction() as tx:
            tx.add_job(job(job_id, channel=channel).model_copy(update={"created_at": now, "updated_at": now}))
            fields: dict[str, Any] = {"state": state, "error": error, "updated_at": now}
            if state.terminal:
                fields["finished_at"] = now
            tx.update_job(job_id, **fields)
            tx.save_status_message(job_id, channel, str(card["ts"]), now)
        return str(card["ts"])

    def pages(self) -> list[str]:
        return [m.text for m in self.fake.messages.values() if f"<!subteam^{ONCALL}>" in m.text]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeSlack() as fake:
        w = World(tmp_path, fake)
        yield w
        w.database.dispose()


def test_a_service_failure_pages_once_in_the_jobs_thread_and_a_dataset_error_never(world: World) -> None:
    ts = world.job("ft-a-aaaaaa", JobState.FAILED, "The training worker stopped unexpectedly (signal 9).")
    world.job("ft-b-bbbbbb", JobState.FAILED, "training data: line 1: no assistant message to learn from")
    world.job("ft-c-cccccc", JobState.CANCELLED)
    assert world.oncall.sweep() == 1
    for _ in range(3):  # a retry storm, the next ticks: still one incident
        assert world.oncall.sweep() == 0
    (page,) = world.pages()
    (message,) = [m for m in world.fake.messages.values() if m.text == page]
    assert message.thread_ts == ts and "ft-a-aaaaaa" in page and "stopped unexpectedly" in page
    assert "ref " in page


def test_a_workspace_without_an_on_call_is_not_paged(world: World) -> None:
    world.oncall.oncall = OncallIds(teams={"TOTHER": "SOTHER01"})  # names another workspace only
    world.job("ft-a-aaaaaa", JobState.FAILED, "The training worker stopped unexpectedly (signal 9).")
    assert world.oncall.sweep() == 0
    with world.store.transaction() as tx:
        assert tx.incidents.open_incidents() == []  # nothing opened either: nobody would take it
    world.oncall.oncall = OncallIds(teams={"T1": "SHOME01"}, default="SOTHER01")  # its own entry wins
    assert world.oncall.sweep() == 1
    assert any("<!subteam^SHOME01>" in m.text for m in world.fake.messages.values())


def test_acknowledge_records_who_took_it_once(world: World) -> None:
    world.job("ft-a-aaaaaa", JobState.FAILED, "Quota exceeded")
    world.oncall.sweep()
    with world.store.transaction() as tx:
        (incident,) = tx.incidents.open_incidents()
    incidents = Incidents(world.store, world.clock, OncallIds(default=ONCALL))
    taken, _ = incidents.acknowledge(Actor(user_id="UONCALL01", channel_id="CJOBS1"), incident.ref)
    text, blocks = incidents.taken(taken, "UONCALL01", world.clock.now())
    assert "<@UONCALL01>" in text and any(b.get("block_id") == "oncall_taken" for b in blocks)
    with pytest.raises(Conflict) as taken_before:
        incidents.acknowledge(Actor(user_id="UOTHER001"), incident.ref)
    assert message_text(taken_before.value).endswith("already acknowledged by <@UONCALL01>.")
    with world.store.transaction() as tx:
        assert tx.incidents.get_incident(incident.ref).acknowledged_by == "UONCALL01"  # type: ignore[union-attr]
        audit = [e for e in tx.audit_entries() if e.action == "oncall_acknowledge"]
    assert [(e.actor, e.result) for e in audit] == [("UONCALL01", "ok"), ("UOTHER001", "duplicate")]


def test_a_credential_problem_pages_each_live_channel_once_and_says_when_it_recovered(world: World) -> None:
    world.job("ft-a-aaaaaa", JobState.RUNNING, channel="CLIVE001")
    world.job("ft-b-bbbbbb", JobState.QUEUED, channel="CLIVE002")
    world.job("ft-c-cccccc", JobState.SUCCEEDED, channel="CDONE001")
    world.credential = "Azure refused ftbot's credentials (401)"
    assert world.oncall.sweep() == 1
    assert world.oncall.sweep() == 0
    pages = [m for m in world.fake.messages.values() if f"<!subteam^{ONCALL}>" in m.text]
    assert sorted(m.channel for m in pages) == ["CLIVE001", "CLIVE002"]
    world.credential = None
    world.oncall.sweep()
    recovered = [
        m for m in world.fake.messages.values() if m.text.startswith(":large_green_circle: Recovered")
    ]
    assert sorted(m.channel for m in recovered) == ["CLIVE001", "CLIVE002"]
    world.oncall.sweep()
    assert len([m for m in world.fake.messages.values() if "Recovered" in m.text]) == 2
