"""The cost use cases on an in-memory book: rates with the backend's default tier and SKU, estimates,
the facts recorded when a job ends, an endpoint becomes ready or a reply comes, the job card's money
line and the month's report, all against amounts computed by hand."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from commands.costs.book import MemoryCostBook
from commands.costs.ledger import CostFact, CostKind, month
from commands.costs.prices import Money, parse_prices
from commands.costs.recorder import Costs, JobCosts
from commands.costs.report import Spend
from commands.models import DatasetRef, DeployOptions, EndpointState, JobSpec, JobState, Usage
from commands.records import DatasetSummary, EndpointRecord, JobRecord

TABLE = parse_prices(
    """\
currency: EUR
models:
  tiny:
    training_per_million_tokens: 2
    hosting_per_hour: 1.5
    input_per_million_tokens: 0.5
    output_per_million_tokens: 2
    tiers:
      Dev:
        training_per_million_tokens: 4
        hosting_per_hour: 3
        input_per_million_tokens: 1
        output_per_million_tokens: 4
      Pro:
        training_per_hour: 10
        hosting_per_hour: 6
        input_per_million_tokens: 2
        output_per_million_tokens: 8
      Mixed:
        training_per_hour: 3
        training_per_million_tokens: 7
  byhour:
    training_per_hour: 5
  hostonly:
    hosting_per_hour: 1
"""
)
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
CREATED = datetime(2026, 3, 20, 9, tzinfo=UTC)
FINISHED = datetime(2026, 3, 20, 10, 30, 0, 900_000, tzinfo=UTC)  # 1.5 h (and 0.9 s) after CREATED


class _At:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def eur(amount: str | int) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def costs(book: MemoryCostBook | None = None, *, defaults: bool = True) -> Costs:
    if defaults:
        return Costs(book or MemoryCostBook(), _At(NOW), TABLE, default_tier="Dev", default_sku="Dev")
    return Costs(book or MemoryCostBook(), _At(NOW), TABLE)


def job(
    *,
    model: str = "tiny",
    tier: str | None = None,
    estimate: int | None = 3_000_000,
    state: JobState = JobState.SUCCEEDED,
    finished: datetime | None = FINISHED,
    job_id: str = "job-1",
    team: str = "T1",
) -> JobRecord:
    spec = JobSpec(
        name=job_id,
        base_model=model,
        training=DatasetRef(kind="file", value="/d.jsonl"),
        output_model_name=f"{job_id}-ft",
        training_type=tier,
    )
    summary = (
        None
        if estimate is None
        else DatasetSummary(training_name="d", examples=9, billed_tokens_estimate=estimate)
    )
    return JobRecord(
        id=job_id,
        team_id=team,
        channel_id="C1",
        user_id="U1",
        spec=spec,
        summary=summary,
        state=state,
        created_at=CREATED,
        updated_at=CREATED,
        finished_at=finished,
    )


def endpoint(
    name: str = "ep-1",
    *,
    state: EndpointState = EndpointState.READY,
    sku: str | None = None,
    ready: datetime | None = None,
    updated: datetime = CREATED,
    deleted: datetime | None = None,
) -> EndpointRecord:
    return EndpointRecord(
        name=name,
        job_id="job-1",
        model="tiny-ft",
        state=state,
        requested_by="U7",
        created_at=CREATED,
        updated_at=updated,
        ready_at=ready,
        deleted_at=deleted,
        options=DeployOptions(sku=sku),
    )


# --- prices ---------------------------------------------------------------------------------------------


def test_rates_fall_back_to_the_backends_default_tier_and_sku() -> None:
    c = costs()
    assert c.currency == "EUR"
    assert c.training_rate("tiny", None) == TABLE.rate("tiny", "Dev")
    assert c.training_rate("tiny", "Pro") == TABLE.rate("tiny", "Pro")
    assert c.hosting_rate("tiny", None) == TABLE.rate("tiny", "Dev")
    assert c.hosting_rate("tiny", "Pro") == TABLE.rate("tiny", "Pro")
    plain = costs(defaults=False)
    assert plain.training_rate("tiny", None) == TABLE.rate("tiny")
    assert plain.hosting_rate("tiny", None) == TABLE.rate("tiny")
    assert plain.training_rate("unpriced", None) is None
    assert Costs(MemoryCostBook(), _At(NOW)).currency == "USD"  # no table: nothing priced
    assert Costs(MemoryCostBook(), _At(NOW)).training_rate("tiny", None) is None


def test_estimates_are_by_the_token_only() -> None:
    c = costs()
    assert c.estimate_training("tiny", 1_500_000) == eur(6)  # 1.5M × 4 (Dev, the default tier)
    assert c.estimate_training("tiny", 1_500_000, "Dev") == eur(6)
    assert costs(defaults=False).estimate_training("tiny", 1_500_000) == eur(3)  # × 2, the model's own
    assert c.estimate_training("tiny", 1_000_000, "Pro") is None  # Pro bills by the hour
    assert c.estimate_training("tiny", None) is None and c.estimate_training("tiny", 0) is None
    assert c.estimate_training("unpriced", 10) is None


def test_the_hourly_training_price_only_for_models_billed_by_time() -> None:
    c = costs()
    assert c.training_hourly("tiny") is None  # Dev: by the token
    assert c.training_hourly("tiny", "Pro") == eur(10)
    assert c.training_hourly("byhour") == eur(5)
    assert c.training_hourly("hostonly") is None
    assert c.training_hourly("unpriced") is None
    assert c.training_hourly("tiny", "Mixed") is None  # a tier with both: by the token wins


def test_inference_is_priced_at_the_deployments_sku() -> None:
    c = costs()
    assert c.price_inference("tiny", 1_000_000, 500_000) == eur(3)  # 1M × 1 + 0.5M × 4 (Dev)
    assert c.price_inference("tiny", 1_000_000, 500_000, sku="Pro") == eur(6)  # 1M × 2 + 0.5M × 8
    assert costs(defaults=False).price_inference("tiny", 2_000_000, 0) == eur(1)  # 2M × 0.5
    assert c.price_inference("unpriced", 1, 1) is None


# --- recording ------------------------------------------------------------------------------------------


def test_a_finished_job_records_its_trained_tokens_at_todays_price() -> None:
    book = MemoryCostBook()
    costs(book).training_ended(job(), 1_000_000)
    [fact] = book.facts_for_job("job-1")
    assert fact == CostFact(
        key="training:job-1",
        kind=CostKind.TRAINING,
        team_id="T1",
        channel_id="C1",
        user_id="U1",
        job_id="job-1",
        model="tiny",
        tier="Dev",
        at=FINISHED,
        tokens=1_000_000,
        estimated=False,
        hours=Decimal("1.5"),
        rate=TABLE.rate("tiny", "Dev"),
    )


def test_a_job_on_a_named_tier_keeps_that_tiers_rate() -> None:
    book = MemoryCostBook()
    costs(book).training_ended(job(tier="Pro"), 1_000_000)
    [fact] = book.facts_for_job("job-1")
    assert (fact.tier, fact.rate) == ("Pro", TABLE.rate("tiny", "Pro"))
    assert costs(book).job_costs(job(tier="Pro"), None, NOW).training == eur(15)  # 1.5 h × 10


def test_without_a_count_a_succeeded_job_records_the_estimate_and_others_nothing() -> None:
    book = MemoryCostBook()
    c = costs(book)
    c.training_ended(job(job_id="ok1"), None)
    c.training_ended(job(job_id="failed", state=JobState.FAILED), None)
    c.training_ended(job(job_id="cancelled", state=JobState.CANCELLED), None)
    c.training_ended(job(job_id="partial", state=JobState.FAILED), 500)
    c.training_ended(job(job_id="nosummary", estimate=None), None)
    [ok] = book.facts_for_job("ok1")
    assert (ok.tokens, ok.estimated) == (3_000_000, True)
    assert book.facts_for_job("failed") == [] and book.facts_for_job("cancelled") == []
    [partial] = book.facts_for_job("partial")
    assert (partial.tokens, partial.estimated) == (500, False)
    [bare] = book.facts_for_job("nosummary")
    assert (bare.tokens, bare.estimated) == (0, True)


def test_a_job_without_an_end_time_is_dated_now() -> None:
    book = MemoryCostBook()
    costs(book).training_ended(job(finished=None), 7)
    [fact] = book.facts_for_job("job-1")
    assert (fact.at, fact.hours) == (NOW, Decimal(3))


def test_a_failing_book_is_logged_and_the_step_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    class _Broken(MemoryCostBook):
        def record(self, fact: CostFact) -> bool:
            raise RuntimeError("database gone")

    with caplog.at_level(logging.ERROR, logger="ftbot.costs"):
        costs(_Broken()).training_ended(job(), 10)
    [record] = caplog.records
    assert (record.name, record.levelno, record.getMessage()) == (
        "ftbot.costs",
        logging.ERROR,
        "cost fact training:job-1 not recorded",
    )
    assert record.exc_info is not None


def test_a_ready_endpoint_records_hosting_from_its_ready_time() -> None:
    book = MemoryCostBook()
    c = costs(book)
    expiry = NOW + timedelta(days=1)
    c.hosting_started(endpoint(ready=FINISHED), job(), expiry)
    c.hosting_started(endpoint("ep-pro", sku="Pro"), job(), None)
    dev, pro = book.facts_for_job("job-1")
    assert dev == CostFact(
        key="hosting:ep-1",
        kind=CostKind.HOSTING,
        team_id="T1",
        channel_id="C1",
        user_id="U7",
        job_id="job-1",
        endpoint="ep-1",
        model="tiny",
        tier="Dev",
        at=FINISHED,
        expires_at=expiry,
        rate=TABLE.rate("tiny", "Dev"),
    )
    assert (pro.key, pro.tier, pro.at, pro.expires_at, pro.rate) == (
        "hosting:ep-pro",
        "Pro",
        NOW,
        None,
        TABLE.rate("tiny", "Pro"),
    )


def test_a_reply_records_its_tokens_and_says_what_it_cost() -> None:
    book = MemoryCostBook()
    when = datetime(2026, 3, 20, 11, 0, 0, 123_456, tzinfo=UTC)
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=250_000, total_tokens=1_250_000)
    cost = costs(book).reply(job(), endpoint(sku="Pro"), "U9", usage, when)
    assert cost == eur(4)  # 1M × 2 + 0.25M × 8 (Pro)
    [fact] = book.facts_for_job("job-1")
    assert fact == CostFact(
        key=f"inference:ep-1:{when.timestamp():.6f}:U9",
        kind=CostKind.INFERENCE,
        team_id="T1",
        channel_id="C1",
        user_id="U9",
        job_id="job-1",
        endpoint="ep-1",
        model="tiny",
        tier="Pro",
        at=when,
        input_tokens=1_000_000,
        output_tokens=250_000,
        rate=TABLE.rate("tiny", "Pro"),
    )
    assert fact.key == "inference:ep-1:1774004400.123456:U9"
    plain = costs(MemoryCostBook(), defaults=True).reply(job(), endpoint(), "U9", usage, when)
    assert plain == eur(2)  # 1M × 1 + 0.25M × 4 (Dev)
    assert costs(MemoryCostBook()).reply(job(model="unpriced"), endpoint(), "U9", usage, when) is None


# --- the card's money line ------------------------------------------------------------------------------


def test_before_any_fact_the_card_shows_the_estimate() -> None:
    c = costs()
    assert c.job_costs(job(), None, NOW) == JobCosts(training=eur(12))  # 3M × 4 (Dev)
    assert c.job_costs(job(tier="Pro"), None, NOW) == JobCosts(training_per_hour=eur(10))
    assert c.job_costs(job(estimate=None), None, NOW) == JobCosts()


def test_after_the_job_the_card_shows_what_it_cost() -> None:
    book = MemoryCostBook()
    c = costs(book)
    c.training_ended(job(), None)  # the estimate, marked so
    assert c.job_costs(job(), None, NOW) == JobCosts(training=eur(12), training_final=True, estimated=True)


def test_a_live_endpoint_shows_hosting_so_far_and_its_hourly_price() -> None:
    book = MemoryCostBook()
    c = costs(book)
    c.training_ended(job(), 1_000_000)
    c.hosting_started(endpoint(ready=datetime(2026, 3, 20, 10, tzinfo=UTC)), job(), None)
    c.reply(job(), endpoint(), "U9", Usage(prompt_tokens=5), datetime(2026, 3, 20, 11, tzinfo=UTC))
    line = c.job_costs(job(), endpoint(), NOW)
    assert line == JobCosts(
        training=eur(4),
        training_final=True,
        hosting=eur(6),  # 2 h × 3 (Dev)
        hosting_per_hour=eur(3),
        hosting_live=True,
    )
    assert c.job_costs(job(), None, NOW).hosting is None  # no endpoint: no hosting line


def test_a_stopped_endpoint_is_billed_until_it_stopped() -> None:
    ready = datetime(2026, 3, 20, 9, tzinfo=UTC)
    deleted = datetime(2026, 3, 20, 10, tzinfo=UTC)
    updated = datetime(2026, 3, 20, 11, tzinfo=UTC)
    book = MemoryCostBook()
    c = costs(book)
    c.hosting_started(endpoint(ready=ready), job(), None)
    gone = endpoint(state=EndpointState.DELETED, deleted=deleted, updated=updated)
    line = c.job_costs(job(), gone, NOW)
    assert (line.hosting, line.hosting_per_hour, line.hosting_live) == (eur(3), eur(3), False)  # 1 h × 3
    failed = endpoint(state=EndpointState.FAILED, updated=updated)
    assert c.job_costs(job(), failed, NOW).hosting == eur(6)  # no deleted_at: until the last update, 2 h
    book.end_hosting("ep-1", datetime(2026, 3, 20, 9, 30, tzinfo=UTC))  # the store knows: its time stands
    assert c.job_costs(job(), gone, NOW).hosting == eur("1.5")


def test_the_card_shows_its_current_endpoint_only() -> None:
    book = MemoryCostBook()
    c = costs(book)
    c.hosting_started(endpoint("old", ready=datetime(2026, 3, 19, tzinfo=UTC)), job(), None)
    book.end_hosting("old", datetime(2026, 3, 19, 1, tzinfo=UTC))
    c.hosting_started(endpoint("new", ready=datetime(2026, 3, 20, 11, tzinfo=UTC), sku="Pro"), job(), None)
    line = c.job_costs(job(), endpoint("new", sku="Pro"), NOW)
    assert (line.hosting, line.hosting_per_hour, line.hosting_live) == (eur(6), eur(6), True)
    assert c.job_costs(job(), endpoint("never"), NOW).hosting is None


# --- the month ------------------------------------------------------------------------------------------


def test_the_report_reads_the_month_asked_for_in_one_workspace() -> None:
    book = MemoryCostBook()
    c = costs(book)
    c.training_ended(job(), 1_000_000)  # March, T1: 4
    c.training_ended(job(job_id="feb", finished=datetime(2026, 2, 10, tzinfo=UTC)), 2_000_000)  # 8
    c.training_ended(job(job_id="other", team="T2"), 1_000_000)
    c.hosting_started(endpoint(ready=datetime(2026, 3, 20, 11, tzinfo=UTC)), job(), None)
    march = c.report(team_id="T1")
    assert (march.window, march.currency) == (month("2026-03", NOW), "EUR")
    assert march.jobs == (Spend(key="job-1", training=Decimal(4), hosting=Decimal(3)),)  # 1 h × 3 (Dev)
    assert [e.endpoint for e in march.live] == ["ep-1"]
    february = c.report(team_id="T1", month_text="2026-02")
    assert february.jobs == (Spend(key="feb", training=Decimal(8)),)
    both = c.report(team_id=None)
    assert [s.key for s in both.jobs] == ["job-1", "other"]  # 7, then 4
    assert c.report(team_id=None, channel_id="C9").jobs == ()
    assert c.report(team_id=None, channel_id="C9").channel_filter == "C9"
