"""FTBOT_BUDGETS' format and the budget arithmetic (over budget, the 80% and 100% thresholds)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from commands.costs.book import MemoryCostBook
from commands.costs.budgets import BudgetGuard, crossed, over_budget, parse_budgets
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
