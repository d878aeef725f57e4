"""Cost arithmetic against hand-computed values: training, hosting across a month boundary and an
expiry, inference, a price change mid-month that does not rewrite what was spent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from commands.costs.book import MemoryCostBook
from commands.costs.ledger import (
    CostFact,
    CostKind,
    fact_cost,
    hosting_cost,
    inference_cost,
    month,
    training_cost,
)
from commands.costs.prices import Rate
from commands.costs.report import build_report
from commands.errors import UsageError

OLD = Rate(
    currency="USD",
    training_per_million_tokens=Decimal("2.00"),
    hosting_per_hour=Decimal("1.70"),
    input_per_million_tokens=Decimal("0.30"),
    output_per_million_tokens=Decimal("1.20"),
)
NEW = OLD.model_copy(
    update={"training_per_million_tokens": Decimal("3.00"), "hosting_per_hour": Decimal("2.00")}
)
MARCH = month("2026-03", datetime(2026, 3, 5, tzinfo=UTC))


def at(day: int, hour: int = 0, mon: int = 3) -> datetime:
    return datetime(2026, mon, day, hour, tzinfo=UTC)


def fact(kind: CostKind, key: str, when: datetime, rate: Rate | None = OLD, **extra: object) -> CostFact:
    values: dict[str, object] = {"channel_id": "C1", "user_id": "U1", "job_id": "job-1", "model": "m"}
    values.update(extra)
    return CostFact(key=key, kind=kind, at=when, rate=rate, **values)


def test_training_inference_and_hosting_by_hand() -> None:
    assert training_cost(OLD, 1_500_000) == Decimal("3.00")  # 1.5M × 2.00/1M
    assert inference_cost(OLD, 1000, 500) == Decimal("0.0009")  # 1000 × 0.30/1M + 500 × 1.20/1M
    assert hosting_cost(OLD, at(1), at(1, 3)) == Decimal("5.10")  # 3 h × 1.70
    by_hour = Rate(currency="USD", training_per_hour=Decimal(5))
    assert training_cost(by_hour, 0, Decimal("1.5")) == Decimal("7.5")
    assert training_cost(None, 10) is None and hosting_cost(Rate(currency="USD"), at(1), at(2)) is None


def test_an_endpoint_across_a_month_boundary_is_split_between_the_months() -> None:
    live = fact(CostKind.HOSTING, "hosting:ep", at(31, 20), endpoint="ep", ended_at=at(1, 4, mon=4))
    april = month("2026-04", at(2, mon=4))
    assert fact_cost(live, MARCH, at(2, mon=4)) == Decimal("6.80")  # 4 h in March × 1.70
    assert fact_cost(live, april, at(2, mon=4)) == Decimal("6.80")  # 4 h in April
    whole = fact(CostKind.HOSTING, "hosting:ep2", at(31, 20), endpoint="ep2")
    assert fact_cost(whole, MARCH, at(1, 2, mon=4)) == Decimal("6.80")  # still live: March keeps its 4 h


def test_a_service_deletion_stops_hosting_at_its_time() -> None:
    expiring = fact(CostKind.HOSTING, "hosting:dev", at(10), endpoint="dev", expires_at=at(11))
    # ftbot noticed only on the 12th; the service deleted it after 24 h: 24 h × 1.70
    assert fact_cost(expiring, MARCH, at(12)) == Decimal("40.80")


def test_a_price_change_mid_month_does_not_rewrite_what_was_spent() -> None:
    book = MemoryCostBook()
    book.record(fact(CostKind.TRAINING, "training:a", at(3), tokens=1_000_000, job_id="a"))
    book.record(fact(CostKind.TRAINING, "training:b", at(20), NEW, tokens=1_000_000, job_id="b"))
    book.record(fact(CostKind.HOSTING, "hosting:e", at(19), NEW, endpoint="e", job_id="b", user_id="U2"))
    book.end_hosting("e", at(19, 10))
    book.record(
        fact(
            CostKind.INFERENCE,
            "inference:e:1",
            at(19, 1),
            NEW,
            input_tokens=2_000_000,
            job_id="b",
            output_tokens=1_000_000,
        )
    )
    book.record(fact(CostKind.TRAINING, "training:old", at(28, mon=2), tokens=5_000_000, job_id="old"))
    report = build_report(book.facts(team_id=None, since=MARCH.start, until=MARCH.end), MARCH, at(25), "USD")
    # a: 1M × 2.00 = 2.00 (the old price, kept); b: 1M × 3.00 = 3.00; hosting 10 h × 2.00 = 20.00;
    # inference 2M × 0.30 + 1M × 1.20 = 1.80 (the rate kept with the reply); February's job is not March's
    assert report.total == Decimal("26.80")
    channel = report.channels[0]
    assert (channel.training, channel.hosting, channel.inference) == (
        Decimal(5),
        Decimal(20),
        Decimal("1.80"),
    )
    assert {u.key: u.total for u in report.users} == {"U1": Decimal("6.80"), "U2": Decimal(20)}
    assert [j.key for j in report.jobs] == ["b", "a"]
    assert report.live == ()


def test_live_endpoints_burn_and_unpriced_facts_are_counted() -> None:
    facts = [
        fact(CostKind.HOSTING, "hosting:x", at(24), endpoint="x"),
        fact(CostKind.TRAINING, "training:free", at(2), None, tokens=10, job_id="free"),
    ]
    report = build_report(facts, MARCH, at(25), "USD")
    assert [e.endpoint for e in report.live] == ["x"]
    assert report.burn_per_hour == Decimal("1.70")
    assert report.live[0].so_far is not None and report.live[0].so_far.amount == Decimal("40.80")
    assert report.unpriced == 1


def test_six_jobs_show_the_top_five() -> None:
    facts = [
        fact(CostKind.TRAINING, f"training:{i}", at(2), tokens=i * 1_000_000, job_id=f"j{i}")
        for i in range(1, 7)
    ]
    report = build_report(facts, MARCH, at(25), "USD")
    assert [j.key for j in report.jobs] == ["j6", "j5", "j4", "j3", "j2"]


def test_months_are_calendar_months_in_utc() -> None:
    december = month("2025-12", at(1))
    assert (december.start, december.end) == (
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert month(None, at(15, 3)).label == "2026-03"
    assert MARCH.end - MARCH.start == timedelta(days=31)
    for bad in ("2026-13", "26-03", "March", "2026-3"):
        with pytest.raises(UsageError, match="YYYY-MM"):
            month(bad, at(1))
