"""The hourly purge of expired view state: deletes what expired, keeps the rest, and is idempotent."""

from __future__ import annotations

from datetime import timedelta

from bot.scheduling.scheduler import error_boundary
from bot.scheduling.view_states import purge_view_states
from commands.records import ViewStateRecord
from tests.support.doubles import Clock
from tests.support.memory_store import MemoryStore


def state(key: str, clock: Clock, ttl: timedelta) -> ViewStateRecord:
    now = clock.now()
    return ViewStateRecord(
        key=key, team_id="T1", user_id="UMEMBER01", payload="{}", created_at=now, expires_at=now + ttl
    )


def test_the_purge_deletes_expired_view_states_once_and_keeps_the_rest() -> None:
    store, clock = MemoryStore(), Clock()
    with store.transaction() as tx:
        tx.put_view_state(state("abandoned", clock, timedelta(minutes=30)))
        tx.put_view_state(state("open", clock, timedelta(hours=3)))
    assert purge_view_states(store, clock) == 0
    clock.advance(hours=1)
    assert purge_view_states(store, clock) == 1
    assert purge_view_states(store, clock) == 0
    assert set(store.tables.view_states) == {"open"}


def test_a_failing_purge_stays_inside_the_error_boundary() -> None:
    class Broken:
        def transaction(self) -> object:
            raise RuntimeError("database down")

    error_boundary("purge_view_states", lambda: purge_view_states(Broken(), Clock()))()  # type: ignore[arg-type]
