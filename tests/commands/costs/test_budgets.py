"""FTBOT_BUDGETS' format and the budget arithmetic (over budget, the 80% and 100% thresholds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from commands.costs.book import MemoryCostBook
from commands.costs.budgets import (
    BudgetGuard,
    BudgetNotice,
    Overspend,
    crossed,
    over_budget,
    parse_budgets,
)
from commands.costs.ledger import CostFact, CostKind
from commands.costs.prices import Money, PriceTable, Rate
from commands.costs.recorder import Costs


def test_channels_and_a_default() -> None:
    budgets = parse_budgets("C0123=500, C0456=100.50,default=50")
    assert budgets.for_channel("C0123") == Decimal(500)
    assert budgets.for_channel("C0456") == Decimal("100.50")
    assert budgets.for_channel("COTHER") == Decimal(50)
    assert not parse_budgets(None).enabled and parse_budgets(None).for_channel("C1") is None


@pytest.mark.parametrize("text", ["C1", "C0123=lots", "C0123=-5", "general=5", "C0123=NaN"])
def test_a_bad_item_is_named(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected|not a Slack channel"):
        parse_budgets(text)


def test_over_budget_and_thresholds() -> None:
    assert over_budget(Decimal(90), Decimal("10.01"), Decimal(100))
    assert not over_budget(Decimal(90), Decimal(10), Decimal(100))
    assert not over_budget(Decimal(10**6), Decimal(1), None)
    assert crossed(Decimal("79.99"), Decimal(100)) == []
    assert crossed(Decimal(80), Decimal(100)) == [80]
    assert crossed(Decimal(100), Decimal(100)) == [80, 100]


# --- the guard: checks against recorded facts, notices once --------------------------------------------

T = datetime(2026, 3, 10, 12, tzinfo=UTC)
RATE = Rate(currency="USD", training_per_million_tokens=Decimal(1_000_000))  # USD 1 per trained token


class _At:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def _guard(text: str) -> tuple[BudgetGuard, MemoryCostBook]:
    book = MemoryCostBook()
    costs = Costs(book, _At(T), PriceTable.model_validate({"currency": "USD", "models": {}}))
    return BudgetGuard(parse_budgets(text), costs), book


def _train(book: MemoryCostBook, job: str, tokens: int, at: datetime = T, channel: str = "CA1") -> None:
    book.record(
        CostFact(
            key=f"training:{job}",
            kind=CostKind.TRAINING,
            team_id="T1",
            channel_id=channel,
            user_id="U1",
            job_id=job,
            model="m",
            at=at,
            tokens=tokens,
            rate=RATE,
        )
    )


def _usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def test_check_counts_this_month_only_and_gives_the_numbers() -> None:
    guard, book = _guard("CA1=100,default=1000")
    _train(book, "a", 70)
    _train(book, "last-month", 500, at=datetime(2026, 2, 27, tzinfo=UTC))
    assert guard.check("T1", "CA1", _usd("30"), T) is None  # exactly the budget: fits
    over = guard.check("T1", "CA1", _usd("30.01"), T)
    assert over is not None
    assert over.data() == {
        "budget_spent": "USD 70.00",
        "budget_request": "USD 30.01",
        "budget_amount": "USD 100.00",
    }
    assert guard.check("T1", "CA9", _usd("999"), T) is None  # the default budget
    assert guard.check("T1", "CA1", None, T) is None  # unpriced: nothing to hold
    assert guard.check("T1", "CA1", Money(amount=Decimal(500), currency="EUR"), T) is None


def test_notices_once_per_threshold_and_month() -> None:
    guard, book = _guard("CA1=100")
    _train(book, "a", 79)
    assert guard.notices(T) == []
    _train(book, "b", 1)  # 80%
    [notice] = guard.notices(T)
    assert (notice.channel_id, notice.threshold, str(notice.spent)) == ("CA1", 80, "USD 80.00")
    assert guard.notices(T) == []
    _train(book, "c", 50)  # 130%
    assert [n.threshold for n in guard.notices(T)] == [100]
    assert guard.notices(T) == []


def test_a_jump_past_both_thresholds_is_one_message() -> None:
    guard, book = _guard("CA1=100")
    _train(book, "a", 120)
    assert [n.threshold for n in guard.notices(T)] == [100]
    assert guard.notices(T) == []


def test_hosting_note_only_past_the_budget() -> None:
    guard, book = _guard("CA1=100")
    _train(book, "a", 99)
    assert guard.hosting_note("T1", "CA1", _usd("1.70"), T) == ""
    _train(book, "b", 1)
    note = guard.hosting_note("T1", "CA1", _usd("1.70"), T)
    assert "spent USD 100.00 of its USD 100.00 budget" in note and "at USD 1.70 an hour" in note
    assert guard.hosting_note("T1", "CA2", _usd("1.70"), T) == ""  # no budget


# --- the format's edges -----------------------------------------------------------------------------------


def test_empty_items_are_skipped_and_every_item_is_read() -> None:
    budgets = parse_budgets(" C0123=1 ,, C0456=2.5,default=0,")
    assert budgets.channels == {"C0123": Decimal(1), "C0456": Decimal("2.5")}
    assert budgets.default == Decimal(0)
    assert parse_budgets("") == parse_budgets(None) == parse_budgets(" , ")
    assert parse_budgets(None).channels == {} and parse_budgets(None).default is None


def test_zero_is_a_budget_and_a_dm_id_is_a_channel() -> None:
    assert parse_budgets("C0123=0").channels == {"C0123": Decimal(0)}
    assert parse_budgets("D0123ABC=5").channels == {"D0123ABC": Decimal(5)}
    assert parse_budgets("G0AB=3").channels == {"G0AB": Decimal(3)}


@pytest.mark.parametrize("keyword", ["default", "DEFAULT", "Default"])
def test_the_default_keyword_in_any_case(keyword: str) -> None:
    # "DEFAULT" also looks like a DM's id (D…): it is the keyword, as its writer meant
    budgets = parse_budgets(f"C0123=1,{keyword}=5")
    assert (budgets.channels, budgets.default) == ({"C0123": Decimal(1)}, Decimal(5))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("C0123", "expected CHANNEL_ID=AMOUNT or default=AMOUNT, got 'C0123'"),
        ("C0123=", "expected CHANNEL_ID=AMOUNT or default=AMOUNT, got 'C0123='"),
        ("C0123=5=6", "expected CHANNEL_ID=AMOUNT or default=AMOUNT, got 'C0123=5=6'"),
        ("C0123=-0.01", "expected CHANNEL_ID=AMOUNT or default=AMOUNT, got 'C0123=-0.01'"),
        ("C0123=Infinity", "expected CHANNEL_ID=AMOUNT or default=AMOUNT, got 'C0123=Infinity'"),
        ("default=lots", "expected CHANNEL_ID=AMOUNT or default=AMOUNT, got 'default=lots'"),
        ("C1=5", "'C1' is not a Slack channel id (C…) or 'default'"),
        ("c0123=5", "'c0123' is not a Slack channel id (C…) or 'default'"),
    ],
)
def test_a_bad_item_gets_its_exact_message(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_budgets(f"C0999=1,{text}")
    assert str(caught.value) == message


def test_a_budget_is_enabled_by_a_channel_or_a_default() -> None:
    assert parse_budgets("C0123=5").enabled is True
    assert parse_budgets("default=0").enabled is True
    assert parse_budgets(None).enabled is False
    budgets = parse_budgets("C0123=5")
    assert budgets.for_channel("C0123") == Decimal(5) and budgets.for_channel("C0456") is None


def test_the_thresholds_at_just_below_and_just_above() -> None:
    budget = Decimal(100)
    assert crossed(Decimal("79.99"), budget) == []
    assert crossed(Decimal("80.00"), budget) == [80]
    assert crossed(Decimal("80.01"), budget) == [80]
    assert crossed(Decimal("99.99"), budget) == [80]
    assert crossed(Decimal("100.00"), budget) == [80, 100]
    assert crossed(Decimal("100.01"), budget) == [80, 100]
    assert crossed(Decimal(0), budget) == []
    assert crossed(Decimal("0.39"), Decimal("0.5")) == []
    assert crossed(Decimal("0.4"), Decimal("0.5")) == [80]  # a budget under 1 is still a share
    assert crossed(Decimal(5), None) == []


def test_a_zero_budget_is_reached_by_any_spend() -> None:
    assert crossed(Decimal(0), Decimal(0)) == []
    assert crossed(Decimal("0.5"), Decimal(0)) == [100]
    assert crossed(Decimal("0.01"), Decimal(0)) == [100]


def test_over_budget_is_strictly_past_it() -> None:
    assert over_budget(Decimal(0), Decimal(100), Decimal(100)) is False
    assert over_budget(Decimal(0), Decimal("100.01"), Decimal(100)) is True
    assert over_budget(Decimal("99.99"), Decimal("0.01"), Decimal(100)) is False
    assert over_budget(Decimal(50), Decimal(60), Decimal(100)) is True
    assert over_budget(Decimal(0), Decimal(0), Decimal(0)) is False
    assert over_budget(Decimal(0), Decimal("0.01"), Decimal(0)) is True
    assert over_budget(Decimal(1), Decimal(1), None) is False


# --- the guard on a book that tells what it was asked --------------------------------------------------


class _SpyBook(MemoryCostBook):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str | None, datetime, datetime]] = []
        self.claims: list[tuple[str, str, datetime]] = []

    def facts(self, *, team_id: str | None, since: datetime, until: datetime) -> list[CostFact]:
        self.reads.append((team_id, since, until))
        return super().facts(team_id=team_id, since=since, until=until)

    def claim_notice(self, key: str, *, team_id: str, at: datetime) -> bool:
        self.claims.append((key, team_id, at))
        return super().claim_notice(key, team_id=team_id, at=at)


def _spied(text: str, currency: str = "USD") -> tuple[BudgetGuard, _SpyBook]:
    book = _SpyBook()
    costs = Costs(book, _At(T), PriceTable.model_validate({"currency": currency, "models": {}}))
    return BudgetGuard(parse_budgets(text), costs), book


def _fact(book: MemoryCostBook, key: str, tokens: int, **extra: object) -> None:
    values: dict[str, object] = {
        "kind": CostKind.TRAINING,
        "team_id": "T1",
        "channel_id": "CA1",
        "user_id": "U1",
        "job_id": key,
        "model": "m",
        "at": T,
        "tokens": tokens,
        "rate": RATE,
    }
    values.update(extra)
    book.record(CostFact(key=key, **values))


MARCH_START = datetime(2026, 3, 1, tzinfo=UTC)
HOURLY = Rate(currency="USD", hosting_per_hour=Decimal(1))
APRIL_START = datetime(2026, 4, 1, tzinfo=UTC)


def test_spent_reads_this_month_of_one_workspace_or_of_all() -> None:
    guard, book = _spied("CA1=100")
    _fact(book, "a", 10)
    _fact(book, "b", 5, team_id="T2")
    _fact(book, "c", 7, channel_id="CA2")
    _fact(book, "d", 3, rate=None)
    _fact(book, "e", 2)
    _fact(book, "live", 0, kind=CostKind.HOSTING, endpoint="ep", at=T - timedelta(hours=3), rate=HOURLY)
    assert guard.spent("T1", "CA1", T) == Decimal(15)  # 10 + 2 + 3 h × 1 of a live endpoint, until now
    assert guard.spent("T2", "CA1", T) == Decimal(5)
    assert guard.spent("", "CA1", T) == Decimal(20)  # no workspace known: all of them
    assert book.reads == [
        ("T1", MARCH_START, APRIL_START),
        ("T2", MARCH_START, APRIL_START),
        (None, MARCH_START, APRIL_START),
    ]


def test_check_reads_nothing_without_a_budget_and_gives_exact_numbers() -> None:
    guard, book = _spied("CA1=100")
    _fact(book, "a", 60)
    assert guard.check("T1", "CA2", _usd("1000"), T) is None
    assert guard.check("T1", "CA1", None, T) is None
    assert guard.check("T1", "CA1", Money(amount=Decimal(1000), currency="EUR"), T) is None
    assert book.reads == []
    assert guard.check("T1", "CA1", _usd("40"), T) is None
    over = guard.check("T1", "CA1", _usd("40.01"), T)
    assert over == Overspend(channel_id="CA1", spent=_usd("60"), request=_usd("40.01"), budget=_usd("100"))
    assert over.audit_detail() == "over budget: spent=USD 60.00 request=USD 40.01 budget=USD 100.00"
    assert over.unestimated is None


def test_an_unestimated_request_in_a_channel_with_a_budget() -> None:
    guard, book = _spied("CA1=100")
    _fact(book, "a", 25)
    _fact(book, "other-workspace", 40, team_id="T2")
    assert guard.unestimated("T1", "CA2", "no tokens", T) is None
    assert book.reads == []
    held = guard.unestimated("T1", "CA1", "no tokens", T)
    assert held == Overspend(
        channel_id="CA1", spent=_usd("25"), request=None, budget=_usd("100"), unestimated="no tokens"
    )
    assert held.data() == {
        "budget_spent": "USD 25.00",
        "budget_amount": "USD 100.00",
        "budget_unestimated": "no tokens",
    }
    assert held.audit_detail() == "cost not estimated (no tokens): spent=USD 25.00 budget=USD 100.00"


def test_notices_are_one_per_channel_in_order_with_their_claims() -> None:
    guard, book = _spied("CA2=10,CA1=100,default=1000")
    _fact(book, "b", 10, channel_id="CA2", team_id="T2")  # 100% of 10
    _fact(book, "a1", 50)
    _fact(book, "a2", 30)  # CA1: 80 of 100
    _fact(book, "a3", 5, rate=None)  # unpriced: adds nothing
    _fact(book, "eur", 50, rate=Rate(currency="EUR", training_per_million_tokens=Decimal(1_000_000)))
    _fact(book, "old", 500, at=datetime(2026, 2, 28, 23, 59, tzinfo=UTC))
    _fact(book, "x", 799, channel_id="CA3")  # 79.9% of the default 1000
    notices = guard.notices(T)
    assert notices == [
        BudgetNotice(
            team_id="T1",
            channel_id="CA1",
            threshold=80,
            spent=_usd("80"),
            budget=_usd("100"),
            month="2026-03",
        ),
        BudgetNotice(
            team_id="T2",
            channel_id="CA2",
            threshold=100,
            spent=_usd("10"),
            budget=_usd("10"),
            month="2026-03",
        ),
    ]
    assert book.reads == [(None, MARCH_START, APRIL_START)]
    assert book.claims == [
        ("budget:2026-03:CA1:80", "T1", T),
        ("budget:2026-03:CA2:80", "T2", T),
        ("budget:2026-03:CA2:100", "T2", T),
    ]
    assert guard.notices(T) == []


def test_a_zero_budget_tells_once_at_the_first_spend() -> None:
    guard, book = _spied("CA1=0")
    _fact(book, "free", 3, rate=None)
    assert guard.notices(T) == []
    _fact(book, "a", 1)
    [notice] = guard.notices(T)
    assert (notice.threshold, notice.spent, notice.budget) == (100, _usd("1"), _usd("0"))


def test_a_live_endpoint_counts_until_now_towards_a_notice() -> None:
    guard, book = _spied("CA1=10")
    _fact(book, "live", 0, kind=CostKind.HOSTING, endpoint="ep", at=T - timedelta(hours=8), rate=HOURLY)
    [notice] = guard.notices(T)
    assert (notice.threshold, notice.spent) == (80, _usd("8"))  # 8 h × 1 of 10


def test_no_budgets_no_notices_and_nothing_read() -> None:
    guard, book = _spied("")
    _fact(book, "a", 10**6)
    assert guard.notices(T) == []
    assert book.reads == [] and book.claims == []


def test_the_hosting_note_in_words() -> None:
    guard, book = _spied("CA1=100")
    _fact(book, "a", 100)
    assert guard.hosting_note("T1", "CA1", None, T) == (
        "This channel has spent USD 100.00 of its USD 100.00 budget this month; "
        "this endpoint keeps billing until it is torn down."
    )
    assert guard.hosting_note("T1", "CA1", _usd("2.5"), T) == (
        "This channel has spent USD 100.00 of its USD 100.00 budget this month; "
        "this endpoint keeps billing at USD 2.50 an hour until it is torn down."
    )
    assert guard.hosting_note("T2", "CA1", None, T) == ""  # another workspace spent nothing
