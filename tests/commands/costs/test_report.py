"""A month's report added up from facts by hand: rows by channel, user and job, their order, the live
endpoints, the unpriced and other-currency counts, the channel filter, and one channel's spend."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from commands.costs.ledger import CostFact, CostKind, month
from commands.costs.prices import Money, Rate
from commands.costs.report import CostReport, LiveEndpoint, Spend, build_report, channel_spent

RATE = Rate(
    currency="USD",
    training_per_million_tokens=Decimal(1_000_000),  # USD 1 per trained token
    hosting_per_hour=Decimal(2),
    input_per_million_tokens=Decimal(1_000_000),  # USD 1 per token in
    output_per_million_tokens=Decimal(2_000_000),  # USD 2 per token out
)
EUR = RATE.model_copy(update={"currency": "EUR"})
MARCH = month("2026-03", datetime(2026, 3, 5, tzinfo=UTC))
NOW = datetime(2026, 3, 20, tzinfo=UTC)


def at(day: int, hour: int = 0, mon: int = 3) -> datetime:
    return datetime(2026, mon, day, hour, tzinfo=UTC)


def train(key: str, tokens: int, *, rate: Rate | None = RATE, **extra: object) -> CostFact:
    values: dict[str, object] = {
        "channel_id": "C1",
        "user_id": "U1",
        "job_id": key,
        "model": "m",
        "at": at(2),
    }
    values.update(extra)
    return CostFact(key=f"training:{key}", kind=CostKind.TRAINING, tokens=tokens, rate=rate, **values)


def host(name: str, since: datetime, **extra: object) -> CostFact:
    values: dict[str, object] = {
        "channel_id": "C1",
        "user_id": "U1",
        "job_id": "j1",
        "model": "m",
        "rate": RATE,
    }
    values.update(extra)
    return CostFact(key=f"hosting:{name}", kind=CostKind.HOSTING, endpoint=name, at=since, **values)


def test_rows_add_each_kind_per_channel_user_and_job() -> None:
    facts = [
        train("j1", 3, channel_id="C1", user_id="U1"),
        train("j2", 4, channel_id="C1", user_id="U2"),
        host("e1", at(19, 21), job_id="j1", channel_id="C1", user_id="U2"),  # 3 h × 2 = 6
        CostFact(
            key="inference:e1:1",
            kind=CostKind.INFERENCE,
            channel_id="C2",
            user_id="U1",
            job_id="j1",
            endpoint="e1",
            model="m",
            at=at(19, 22),
            input_tokens=1,
            output_tokens=2,  # 1 × 1 + 2 × 2 = 5
            rate=RATE,
        ),
    ]
    report = build_report(facts, MARCH, NOW, "USD")
    assert report.channels == (
        Spend(key="C1", training=Decimal(7), hosting=Decimal(6)),
        Spend(key="C2", inference=Decimal(5)),
    )
    assert report.users == (
        Spend(key="U2", training=Decimal(4), hosting=Decimal(6)),
        Spend(key="U1", training=Decimal(3), inference=Decimal(5)),
    )
    assert report.jobs == (
        Spend(key="j1", training=Decimal(3), hosting=Decimal(6), inference=Decimal(5)),
        Spend(key="j2", training=Decimal(4)),
    )
    assert report.jobs[0].total == Decimal(14)
    assert report.total == Decimal(18)
    assert report.all_jobs == report.jobs
    assert (report.unpriced, report.other_currency, report.channel_filter, report.currency) == (
        0,
        0,
        None,
        "USD",
    )
    assert report.window == MARCH
    assert report.money(Decimal("1.5")) == Money(amount=Decimal("1.5"), currency="USD")


def test_rows_tie_by_key_and_six_jobs_keep_all_in_all_jobs() -> None:
    facts = [train(f"j{i}", 10, channel_id=f"C{i}") for i in (6, 5, 4, 3, 2, 1)] + [train("j0", 11)]
    report = build_report(facts, MARCH, NOW, "USD")
    assert [s.key for s in report.jobs] == ["j0", "j1", "j2", "j3", "j4"]
    assert [s.key for s in report.all_jobs] == ["j0", "j1", "j2", "j3", "j4", "j5", "j6"]
    assert [s.key for s in report.channels] == ["C1", "C2", "C3", "C4", "C5", "C6"]
    assert report.channels[0].total == Decimal(21)


def test_unpriced_other_currency_and_zero_facts_add_nothing_but_are_counted() -> None:
    facts = [
        train("eur1", 100, rate=EUR),
        train("free1", 50, rate=None),
        host("old", at(20, mon=2), ended_at=at(21, mon=2)),  # February's: priced, 0 in March
        train("eur2", 100, rate=EUR),
        train("free2", 50, rate=None),
        train("j1", 3),
    ]
    report = build_report(facts, MARCH, NOW, "USD")
    assert report.channels == (Spend(key="C1", training=Decimal(3)),)
    assert report.jobs == (Spend(key="j1", training=Decimal(3)),)
    assert report.users == (Spend(key="U1", training=Decimal(3)),)
    assert (report.unpriced, report.other_currency) == (2, 2)
    in_euros = build_report(facts, MARCH, NOW, "EUR")
    assert in_euros.channels == (Spend(key="C1", training=Decimal(200)),)
    assert (in_euros.unpriced, in_euros.other_currency) == (2, 2)


def test_the_channel_filter_keeps_one_channel() -> None:
    facts = [train("a", 5, channel_id="C2"), train("b", 3, channel_id="C1"), train("c", 4, channel_id="C2")]
    report = build_report(facts, MARCH, NOW, "USD", channel_id="C2")
    assert report.channels == (Spend(key="C2", training=Decimal(9)),)
    assert [s.key for s in report.jobs] == ["a", "c"]
    assert report.channel_filter == "C2"


def test_live_endpoints_in_order_with_their_burn() -> None:
    facts = [
        host("late", at(19), user_id="U2", channel_id="C2", job_id="j2"),
        host("early", at(18), rate=Rate(currency="USD", hosting_per_hour=Decimal("0.5"))),
        host("gone", at(10), ended_at=at(11)),
        host("unpriced", at(19, 12), rate=None),
        train("t", 1),
    ]
    report = build_report(facts, MARCH, NOW, "USD")
    assert report.live == (
        LiveEndpoint(
            endpoint="early",
            job_id="j1",
            channel_id="C1",
            user_id="U1",
            per_hour=Money(amount=Decimal("0.5"), currency="USD"),
            so_far=Money(amount=Decimal(24), currency="USD"),  # 48 h × 0.50
            since=at(18),
        ),
        LiveEndpoint(
            endpoint="late",
            job_id="j2",
            channel_id="C2",
            user_id="U2",
            per_hour=Money(amount=Decimal(2), currency="USD"),
            so_far=Money(amount=Decimal(48), currency="USD"),  # 24 h × 2
            since=at(19),
        ),
        LiveEndpoint(
            endpoint="unpriced",
            job_id="j1",
            channel_id="C1",
            user_id="U1",
            per_hour=None,
            so_far=None,
            since=at(19, 12),
        ),
    )
    assert report.burn_per_hour == Decimal("2.5")
    assert report.unpriced == 1
    # the report of a past month has nothing live in it, even for endpoints that began then
    february = build_report(facts, month("2026-02", NOW), NOW, "USD")
    assert february.live == () and february.burn_per_hour == Decimal(0)
    assert february.total == Decimal(0) and february.channels == ()


def test_a_hosting_fact_without_an_endpoint_name_shows_an_empty_one() -> None:
    fact = CostFact(
        key="hosting:x",
        kind=CostKind.HOSTING,
        channel_id="C1",
        user_id="U1",
        job_id="j",
        model="m",
        at=at(19),
    )
    [live] = build_report([fact], MARCH, NOW, "USD").live
    assert live.endpoint == ""


def test_an_empty_report_is_zero() -> None:
    report = build_report([], MARCH, NOW, "USD")
    assert report == CostReport(window=MARCH, currency="USD")
    assert report.total == Decimal(0) and report.burn_per_hour == Decimal(0)
    assert Spend(key="x").total == Decimal(0)
    assert Spend(key="x", training=Decimal(1), hosting=Decimal(2), inference=Decimal(4)).total == Decimal(7)


def test_channel_spent_adds_one_channels_priced_facts() -> None:
    facts = [
        train("a", 5),
        train("b", 7, channel_id="C2"),
        train("c", 9, rate=None),
        train("d", 11),
        train("e", 13, at=at(28, mon=2)),
        host("live", at(19, 18)),  # 6 h × 2 until now
    ]
    assert channel_spent(facts, "C1", MARCH, NOW) == Decimal(28)
    assert channel_spent(facts, "C2", MARCH, NOW) == Decimal(7)
    assert channel_spent(facts, "C3", MARCH, NOW) == Decimal(0)
    assert channel_spent([train("z", 9, rate=None)], "C1", MARCH, NOW) == Decimal(0)
