"""The in-memory CostBook: facts kept once per key, read by month (hosting by overlap, the rest by date),
per workspace and per job, hosting ends filled from the endpoint, notices claimed once per workspace."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from commands.costs.book import MemoryCostBook
from commands.costs.ledger import CostFact, CostKind
from commands.costs.prices import Rate

RATE = Rate(currency="USD", training_per_million_tokens=Decimal(2), hosting_per_hour=Decimal("1.5"))
SINCE = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = datetime(2026, 4, 1, tzinfo=UTC)


def at(day: int, hour: int = 0, mon: int = 3) -> datetime:
    return datetime(2026, mon, day, hour, tzinfo=UTC)


def fact(kind: CostKind, key: str, when: datetime, **extra: object) -> CostFact:
    values: dict[str, object] = {
        "team_id": "T1",
        "channel_id": "C1",
        "user_id": "U1",
        "job_id": "job-1",
        "model": "m",
        "rate": RATE,
    }
    values.update(extra)
    return CostFact(key=key, kind=kind, at=when, **values)


def keys(facts: list[CostFact]) -> list[str]:
    return [f.key for f in facts]


def test_a_fact_is_kept_once_per_key_and_the_first_one_wins() -> None:
    book = MemoryCostBook()
    first = fact(CostKind.TRAINING, "training:a", at(3), tokens=10)
    assert book.record(first) is True
    assert book.record(fact(CostKind.TRAINING, "training:a", at(4), tokens=99)) is False
    assert book.record(fact(CostKind.TRAINING, "training:b", at(5))) is True
    assert book.facts(team_id=None, since=SINCE, until=UNTIL) == [
        first,
        fact(CostKind.TRAINING, "training:b", at(5)),
    ]
    assert book.facts_for_job("job-1")[0] == first


def test_training_and_inference_are_read_by_their_date_in_the_half_open_window() -> None:
    book = MemoryCostBook()
    book.record(fact(CostKind.TRAINING, "before", datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)))
    book.record(fact(CostKind.TRAINING, "at-start", SINCE))
    book.record(fact(CostKind.INFERENCE, "inside", at(15), endpoint="e"))
    book.record(fact(CostKind.INFERENCE, "at-end", UNTIL, endpoint="e"))
    assert keys(book.facts(team_id=None, since=SINCE, until=UNTIL)) == ["at-start", "inside"]


def test_hosting_is_read_when_it_overlaps_the_window() -> None:
    book = MemoryCostBook()
    book.record(fact(CostKind.HOSTING, "ended-at-start", at(20, mon=2), endpoint="a", ended_at=SINCE))
    book.record(fact(CostKind.HOSTING, "ended-inside", at(20, mon=2), endpoint="b", ended_at=at(1, 1)))
    book.record(fact(CostKind.HOSTING, "still-live", at(25, mon=2), endpoint="c"))
    book.record(fact(CostKind.HOSTING, "ready-at-end", UNTIL, endpoint="d"))
    book.record(
        fact(CostKind.HOSTING, "ready-before-end", datetime(2026, 3, 31, 23, 59, tzinfo=UTC), endpoint="e")
    )
    found = book.facts(team_id=None, since=SINCE, until=UNTIL)
    assert keys(found) == ["ended-inside", "still-live", "ready-before-end"]


def test_facts_come_sorted_by_time_and_filtered_by_workspace() -> None:
    book = MemoryCostBook()
    book.record(fact(CostKind.TRAINING, "t2-late", at(20), team_id="T2"))
    book.record(fact(CostKind.TRAINING, "t1-late", at(9)))
    book.record(fact(CostKind.TRAINING, "t2-early", at(2), team_id="T2"))
    book.record(fact(CostKind.TRAINING, "t1-early", at(4)))
    assert keys(book.facts(team_id="T1", since=SINCE, until=UNTIL)) == ["t1-early", "t1-late"]
    assert keys(book.facts(team_id="T2", since=SINCE, until=UNTIL)) == ["t2-early", "t2-late"]
    assert keys(book.facts(team_id=None, since=SINCE, until=UNTIL)) == [
        "t2-early",
        "t1-early",
        "t1-late",
        "t2-late",
    ]
    assert book.facts(team_id="T9", since=SINCE, until=UNTIL) == []


def test_a_hosting_end_is_filled_from_the_endpoint_only_where_the_fact_has_none() -> None:
    book = MemoryCostBook()
    book.record(fact(CostKind.HOSTING, "hosting:ep", at(2), endpoint="ep"))
    book.record(fact(CostKind.HOSTING, "hosting:kept", at(3), endpoint="kept", ended_at=at(4)))
    book.record(fact(CostKind.HOSTING, "hosting:other", at(5), endpoint="other"))
    book.record(fact(CostKind.INFERENCE, "inference:ep", at(2, 5), endpoint="ep"))
    book.end_hosting("ep", at(2, 10))
    book.end_hosting("kept", at(9))
    found = {f.key: f.ended_at for f in book.facts_for_job("job-1")}
    assert found == {
        "hosting:ep": at(2, 10),
        "inference:ep": None,  # only hosting ends
        "hosting:kept": at(4),  # the fact's own end stands
        "hosting:other": None,  # its endpoint has not ended
    }
    # the window read fills it too: ended at the 2nd, 10:00, it is not March 3rd's
    assert keys(book.facts(team_id="T1", since=at(3), until=UNTIL)) == ["hosting:kept", "hosting:other"]
    assert book.facts(team_id="T1", since=at(2, 9), until=at(2, 11))[0].ended_at == at(2, 10)


def test_facts_for_a_job_are_its_own_sorted_by_time() -> None:
    book = MemoryCostBook()
    book.record(fact(CostKind.INFERENCE, "inference:late", at(9), endpoint="e"))
    book.record(fact(CostKind.TRAINING, "training:other", at(1), job_id="job-2"))
    book.record(fact(CostKind.TRAINING, "training:job-1", at(2)))
    assert keys(book.facts_for_job("job-1")) == ["training:job-1", "inference:late"]
    assert keys(book.facts_for_job("job-2")) == ["training:other"]
    assert book.facts_for_job("job-3") == []


def test_a_notice_is_claimed_once_per_workspace() -> None:
    book = MemoryCostBook()
    assert book.claim_notice("budget:2026-03:C1:80", team_id="T1", at=at(2)) is True
    assert book.claim_notice("budget:2026-03:C1:80", team_id="T1", at=at(3)) is False
    assert book.claim_notice("budget:2026-03:C1:80", team_id="T2", at=at(3)) is True
    assert book.claim_notice("budget:2026-03:C1:100", team_id="T1", at=at(3)) is True
    assert book.claim_notice("budget:2026-03:C1:100", team_id="T1", at=at(3)) is False
