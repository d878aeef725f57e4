"""Shared pieces of the scale benchmarks: a throwaway store (PostgreSQL when it runs, else SQLite) seeded
with many jobs, and an in-memory backend whose jobs change state when the benchmark says so."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from bot.store.db import Database
from bot.store.repo import SqlStore
from bot.store.tables import JobRow
from commands.errors import NotFound
from commands.models import BaseModelInfo, DatasetRef, Job, JobSpec, JobState
from commands.records import JobRecord
from tests.support.pg import pg_available, pg_database

__all__ = ["ScaleBackend", "job_id", "pg_available", "scratch_database", "seed"]

MODEL = BaseModelInfo(name="ftbot-tiny", source="local", description="bench model", context_length=512)


@contextmanager
def scratch_database(kind: str, tmp: Path) -> Iterator[str]:
    """A new empty database URL: ``pg`` (a throwaway database on 127.0.0.1:5432) or ``sqlite``."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    with pg_database("ftbot_bench_") as url:
        yield url


def job_id(i: int) -> str:
    return f"ft-bench-{i:05d}"


def seed(database: Database, live: int, finished: int, channels: int, *, posted: bool = True) -> list[str]:
    """``live`` running jobs and ``finished`` succeeded ones, spread over ``channels`` channels, each with
    its card already in Slack (``posted``). Returns the live job ids."""
    now = datetime.now(UTC)
    spec = JobSpec(
        name="ft-bench",
        base_model="ftbot-tiny",
        output_model_name="ftbot-tiny-bench",
        training=DatasetRef(kind="asset", value="asset:x", name="train.jsonl"),
    )
    store = SqlStore(database)
    ids = []
    with store.transaction() as tx:
        for i in range(live + finished):
            jid = job_id(i)
            state = JobState.RUNNING if i < live else JobState.SUCCEEDED
            tx.add_job(
                JobRecord(
                    id=jid,
                    channel_id=f"CBENCH{i % channels:03d}",
                    user_id="UBENCH01",
                    spec=spec.model_copy(update={"name": jid}),
                    state=state,
                    service_status=state.value.capitalize(),
                    created_at=now,
                    updated_at=now,
                    finished_at=None if i < live else now,
                )
            )
            if posted:
                tx.save_status_message(jid, f"CBENCH{i % channels:03d}", f"1700000000.{i:06d}", now)
            if i < live:
                ids.append(jid)
        tx.session.flush()
        tx.session.execute(update(JobRow).values(delivered_version=JobRow.version))  # cards are up to date
    return ids


class ScaleBackend:
    """Jobs are RUNNING until ``finish`` moves them; every call is counted per method and per job. An
    optional ``latency_s`` stands in for the network round trip of a real backend."""

    kind = "local"

    def __init__(self, ids: list[str], latency_s: float = 0.0) -> None:
        self.states: dict[str, JobState] = dict.fromkeys(ids, JobState.RUNNING)
        self.latency_s = latency_s
        self.calls: Counter[str] = Counter()
        self.per_job: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._created = datetime.now(UTC)

    def finish(self, ids: list[str], state: JobState) -> None:
        with self._lock:
            for i in ids:
                self.states[i] = state

    def get_job(self, job_id: str) -> Job:
        if self.latency_s:
            time.sleep(self.latency_s)
        with self._lock:
            self.calls["get_job"] += 1
            self.per_job[job_id] += 1
            state = self.states.get(job_id)
        if state is None:
            raise NotFound(f"no job {job_id}")
        return Job(
            id=job_id,
            state=state,
            service_status=state.value.capitalize(),
            base_model="ftbot-tiny",
            created_at=self._created,
            error="bench failure" if state is JobState.FAILED else None,
            output_model="ftbot-tiny-bench" if state is JobState.SUCCEEDED else None,
        )

    def list_base_models(self) -> list[BaseModelInfo]:
        return [MODEL]

    def get_base_model(self, name: str) -> BaseModelInfo:
        if name != MODEL.name:
            raise NotFound(f"no model {name}")
        return MODEL

    def __getattr__(self, name: str) -> object:  # the rest of the Protocol is not used by polling
        raise AttributeError(name)


def build(settings: object) -> ScaleBackend:
    """FTBOT_BACKEND_FACTORY hook for ``ftbot serve`` in the ack benchmark: the seeded live jobs, held
    running (``FTBOT_BENCH_LIVE`` of them), answering at ``FTBOT_BENCH_LATENCY_MS``."""
    import os

    live = int(os.environ.get("FTBOT_BENCH_LIVE", "1000"))
    latency = float(os.environ.get("FTBOT_BENCH_LATENCY_MS", "0")) / 1000
    return ScaleBackend([job_id(i) for i in range(live)], latency)
