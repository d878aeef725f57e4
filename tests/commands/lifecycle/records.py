"""Records to put straight into the in-memory store, for use-case tests that need a given state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from commands.lifecycle.base import Deps
from commands.models import DatasetRef, EndpointState, JobSpec, JobState
from commands.records import EndpointRecord, JobRecord
from tests.fakes.backend import FakeBackend
from tests.support.doubles import Approvers, Clock
from tests.support.memory_store import MemoryStore

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def job_record(job_id: str, *, channel: str = "C1", user: str = "U1", minutes: int = 0) -> JobRecord:
    spec = JobSpec(
        name=job_id,
        base_model="m",
        training=DatasetRef(kind="file", value="/d.jsonl"),
        output_model_name=f"{job_id}-ft",
    )
    at = T0 + timedelta(minutes=minutes)
    return JobRecord(
        id=job_id,
        channel_id=channel,
        user_id=user,
        spec=spec,
        state=JobState.SUCCEEDED,
        created_at=at,
        updated_at=at,
    )


def endpoint_record(name: str, job_id: str, state: EndpointState, *, minutes: int = 0) -> EndpointRecord:
    at = T0 + timedelta(minutes=minutes)
    return EndpointRecord(
        name=name,
        job_id=job_id,
        model=f"{name}-model",
        state=state,
        requested_by="U1",
        created_at=at,
        updated_at=at,
    )


def deps(tmp_path: Path, backend: FakeBackend | None = None, store: MemoryStore | None = None) -> Deps:
    return Deps(
        backend=backend or FakeBackend(),
        store=store or MemoryStore(),
        clock=Clock(),
        approvers=Approvers(),
        work_dir=tmp_path,
    )
