"""Cost arithmetic against hand-computed values: training, hosting across a month boundary and an
expiry, inference, a price change mid-month that does not rewrite what was spent."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from commands.costs.book import MemoryCostBook
from commands.costs.ledger import (
    CostFact,
    CostKind,
    fact_cost,
    hosting_cost,
    hosting_so_far,
    hourly,
    inference_cost,
    is_live,
    money,
    month,
    overlaps,
    training_cost,
)
from commands.costs.prices import Money, Rate
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


# --- each function against its edges --------------------------------------------------------------------


def test_hosting_end_is_the_end_or_now_never_past_the_expiry_nor_before_ready() -> None:
    live = fact(CostKind.HOSTING, "hosting:a", at(10), endpoint="a")
    assert live.hosting_end(at(12)) == at(12)
    ended = live.model_copy(update={"ended_at": at(11)})
    assert ended.hosting_end(at(12)) == at(11)
    expiring = live.model_copy(update={"expires_at": at(11, 6)})
    assert expiring.hosting_end(at(12)) == at(11, 6)
    assert expiring.hosting_end(at(11)) == at(11)  # not expired yet
    assert ended.model_copy(update={"expires_at": at(13)}).hosting_end(at(14)) == at(11)
    assert live.hosting_end(at(9)) == at(10)  # a clock behind the ready time: no negative span
    assert live.model_copy(update={"ended_at": at(9)}).hosting_end(at(12)) == at(10)


def test_training_is_priced_by_the_token_first_then_by_the_hour() -> None:
    per_token = Rate(currency="USD", training_per_million_tokens=Decimal("2.50"))
    assert training_cost(per_token, 400_000, Decimal(3)) == Decimal("1.00")  # 0.4M × 2.50, hours unread
    assert training_cost(per_token, 0) == Decimal(0)
    by_hour = Rate(currency="USD", training_per_hour=Decimal(4))
    assert training_cost(by_hour, 1_000_000, Decimal("2.5")) == Decimal(10)  # 2.5 h × 4
    assert training_cost(by_hour, 1_000_000) is None  # no hours: no price
    assert training_cost(Rate(currency="USD", hosting_per_hour=Decimal(1)), 5, Decimal(1)) is None


def test_hosting_is_billed_to_the_second_and_never_negative() -> None:
    rate = Rate(currency="USD", hosting_per_hour=Decimal("3.60"))
    start = at(1)
    assert hosting_cost(rate, start, start + timedelta(seconds=90, milliseconds=900)) == Decimal("0.09")
    assert hosting_cost(rate, start, start + timedelta(milliseconds=500)) == Decimal(0)
    assert hosting_cost(rate, start, start - timedelta(hours=1)) == Decimal(0)
    assert hosting_cost(rate, start, start + timedelta(hours=2)) == Decimal("7.20")
    assert hosting_cost(None, start, at(2)) is None


def test_inference_needs_both_token_prices() -> None:
    rate = Rate(
        currency="USD", input_per_million_tokens=Decimal("0.40"), output_per_million_tokens=Decimal("1.60")
    )
    assert inference_cost(rate, 3_000_000, 500_000) == Decimal("2.00")  # 3M × 0.40 + 0.5M × 1.60
    assert inference_cost(rate, 0, 0) == Decimal(0)
    assert inference_cost(None, 1, 1) is None
    assert inference_cost(rate.model_copy(update={"input_per_million_tokens": None}), 1, 1) is None
    assert inference_cost(rate.model_copy(update={"output_per_million_tokens": None}), 1, 1) is None


def test_a_window_is_half_open() -> None:
    assert MARCH.holds(MARCH.start) and not MARCH.holds(MARCH.end)
    assert not MARCH.holds(MARCH.start - timedelta(microseconds=1))
    assert MARCH.holds(MARCH.end - timedelta(microseconds=1))
    assert MARCH.clip(at(20, mon=2), at(2)) == (MARCH.start, at(2))
    assert MARCH.clip(at(30), at(5, mon=4)) == (at(30), MARCH.end)
    assert MARCH.clip(at(3), at(4)) == (at(3), at(4))
    assert MARCH.clip(at(20, mon=2), MARCH.start) is None  # touches the start only
    assert MARCH.clip(MARCH.end, at(3, mon=4)) is None
    assert MARCH.clip(at(5), at(5)) is None


def test_months_edges_and_the_error_a_user_sees() -> None:
    assert month("2026-01", at(5)).start == datetime(2026, 1, 1, tzinfo=UTC)
    assert month("2026-01", at(5)).end == datetime(2026, 2, 1, tzinfo=UTC)
    november = month("2026-11", at(5))
    assert (november.start, november.end, november.label) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
        "2026-11",
    )
    december = month("2026-12", at(5))
    assert (december.start, december.end, december.label) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
        "2026-12",
    )
    assert month("2000-01", at(5)).label == "2000-01"
    assert month(None, datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)).label == "2026-12"
    for bad in ("1999-12", "2026-00", "02026-03", "2026-1a", "2026", "2026-03-01"):
        with pytest.raises(UsageError) as caught:
            month(bad, at(5))
        err = caught.value
        assert err.message == "--month is a month as YYYY-MM, e.g. 2026-03."
        assert (err.field, err.hint) == ("--month", "/finetune costs [--month YYYY-MM] [--channel #channel]")
        assert err.names == {"flag": "--month", "example": "2026-03"}


def test_the_current_month_is_read_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    # late on March 31st in New York is already April in UTC, whatever the machine's own zone
    new_york = timezone(timedelta(hours=-4))
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        assert month(None, datetime(2026, 3, 31, 22, tzinfo=new_york)).label == "2026-04"
        assert month(None, datetime(2026, 4, 1, 3, tzinfo=UTC)).label == "2026-04"
        assert month(None, datetime(2026, 12, 31, 22, tzinfo=new_york)).label == "2027-01"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_fact_cost_outside_its_window_is_zero_when_priced_and_none_when_not() -> None:
    april = month("2026-04", at(5))
    training = fact(CostKind.TRAINING, "training:t", at(10), tokens=1_000_000, hours=Decimal(7))
    assert fact_cost(training, MARCH, at(12)) == Decimal("2.00")  # by the token: the hours are not read
    assert fact_cost(training, april, at(12)) == Decimal(0)
    unpriced = training.model_copy(update={"rate": None})
    assert fact_cost(unpriced, april, at(12)) is None
    assert fact_cost(unpriced, MARCH, at(12)) is None
    by_hour = training.model_copy(update={"rate": Rate(currency="USD", training_per_hour=Decimal(3))})
    assert fact_cost(by_hour, MARCH, at(12)) == Decimal(21)  # 7 h × 3
    hosting = fact(CostKind.HOSTING, "hosting:h", at(10), endpoint="h", ended_at=at(10, 2))
    assert fact_cost(hosting, MARCH, at(12)) == Decimal("3.40")
    assert fact_cost(hosting, april, at(12)) == Decimal(0)
    assert fact_cost(hosting.model_copy(update={"rate": None}), april, at(12)) is None
    assert fact_cost(hosting.model_copy(update={"rate": None}), MARCH, at(12)) is None
    reply = fact(CostKind.INFERENCE, "inference:r", at(10), input_tokens=1_000_000, output_tokens=2_000_000)
    assert fact_cost(reply, MARCH, at(12)) == Decimal("2.70")  # 0.30 + 2 × 1.20
    assert fact_cost(reply, april, at(12)) == Decimal(0)


def test_money_hourly_and_hosting_so_far() -> None:
    assert money(Decimal("1.5"), OLD) == Money(amount=Decimal("1.5"), currency="USD")
    assert money(None, OLD) is None and money(Decimal(1), None) is None
    assert hourly(OLD) == Money(amount=Decimal("1.70"), currency="USD")
    assert hourly(None) is None and hourly(Rate(currency="USD")) is None
    hosting = fact(CostKind.HOSTING, "hosting:h", at(10), endpoint="h")
    assert hosting_so_far(hosting, at(10, 5)) == Money(amount=Decimal("8.50"), currency="USD")
    assert hosting_so_far(hosting.model_copy(update={"rate": None}), at(11)) is None


def test_a_fact_is_live_while_hosting_has_neither_ended_nor_expired() -> None:
    hosting = fact(CostKind.HOSTING, "hosting:h", at(10), endpoint="h")
    assert is_live(hosting, at(11)) is True
    assert is_live(hosting.model_copy(update={"ended_at": at(11)}), at(12)) is False
    assert is_live(hosting.model_copy(update={"ended_at": at(13)}), at(12)) is False
    assert is_live(hosting.model_copy(update={"expires_at": at(12)}), at(12)) is True
    assert is_live(hosting.model_copy(update={"expires_at": at(11)}), at(12)) is False
    assert is_live(fact(CostKind.TRAINING, "training:t", at(10)), at(11)) is False
    assert is_live(fact(CostKind.INFERENCE, "inference:i", at(10), endpoint="h"), at(11)) is False


def test_overlaps_says_what_a_store_reads_for_a_month() -> None:
    hosting = fact(CostKind.HOSTING, "hosting:h", at(20, mon=2), endpoint="h")
    assert overlaps(hosting.model_copy(update={"ended_at": MARCH.start}), MARCH, at(5))
    second_before = MARCH.start - timedelta(seconds=1)
    assert not overlaps(hosting.model_copy(update={"ended_at": second_before}), MARCH, at(5))
    assert overlaps(hosting, MARCH, at(5))
    assert not overlaps(hosting.model_copy(update={"at": MARCH.end}), MARCH, at(5, mon=4))
    assert overlaps(fact(CostKind.TRAINING, "training:t", MARCH.start), MARCH, at(5))
    assert not overlaps(fact(CostKind.TRAINING, "training:t", MARCH.end), MARCH, at(5))


def test_a_fact_key_is_one_to_two_hundred_characters() -> None:
    assert fact(CostKind.TRAINING, "k" * 200, at(1)).key == "k" * 200
    for bad in ("", "k" * 201):
        with pytest.raises(ValidationError):
            fact(CostKind.TRAINING, bad, at(1))
