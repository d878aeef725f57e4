"""The card's money line and the review's estimate, from typed values."""

from __future__ import annotations

from decimal import Decimal

from bot.ui.costs import card_costs_text, estimate_text
from commands.costs.prices import Money
from commands.costs.recorder import JobCosts


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def test_before_the_end_the_estimate_after_it_the_cost_estimated_where_no_tokens_were_reported() -> None:
    assert card_costs_text(JobCosts(training=usd("3.4"))) == "*Estimated training cost:* ≈ USD 3.40"
    assert card_costs_text(JobCosts(training=usd("3.4"), training_final=True)) == "*Training cost:* USD 3.40"
    final = JobCosts(training=usd("3.4"), training_final=True, estimated=True)
    assert card_costs_text(final) == "*Training cost (estimated):* USD 3.40"


def test_hosting_so_far_and_per_hour_while_live_then_the_total() -> None:
    live = JobCosts(hosting=usd("5.1"), hosting_per_hour=usd("1.7"), hosting_live=True)
    assert card_costs_text(live) == "*Hosting so far:* USD 5.10 (USD 1.70 per hour)"
    assert card_costs_text(JobCosts(hosting=usd("5.1"))) == "*Hosting in total:* USD 5.10"


def test_unpriced_says_nothing_and_time_billed_says_the_rate() -> None:
    assert card_costs_text(JobCosts()) is None
    assert estimate_text(None) is None
    assert estimate_text(usd("2")) == "Estimated training cost ≈ USD 2.00"
    assert estimate_text(None, usd("5")) == "Training is billed by the hour: USD 5.00 per hour"
