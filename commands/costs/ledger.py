"""What was spent, computed from stored facts and the prices kept with them.

A ``CostFact`` is one billable thing as ftbot saw it happen: a finished training run (trained tokens),
an endpoint that became ready (hosting from then until it was torn down, failed or expired), a chat
reply (input and output tokens). Each keeps the ``Rate`` of its moment, so a later change of the price
table never rewrites history. Amounts are ``Decimal``; nothing here reads a clock or a store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from commands.costs.prices import MILLION, Money, Rate
from commands.errors import UsageError
from commands.models import Frozen

HOUR = Decimal(3600)


class CostKind(StrEnum):
    TRAINING = "training"
    HOSTING = "hosting"
    INFERENCE = "inference"


class CostFact(Frozen):
    """One billable fact. ``key`` makes recording it idempotent (``training:JOB``, ``hosting:ENDPOINT``,
    ``inference:ENDPOINT:at:user``). ``rate`` is None where the table had no price for the model then."""

    key: str = Field(min_length=1, max_length=200)
    kind: CostKind
    team_id: str = ""
    enterprise_id: str | None = None
    channel_id: str
    user_id: str
    job_id: str
    endpoint: str | None = None
    model: str
    tier: str | None = None  # the training tier or deployment SKU the rate was looked up for
    at: datetime  # training: when it ended; hosting: when the endpoint became ready; inference: the reply
    ended_at: datetime | None = None  # hosting: when it stopped (torn down, failed); None while live
    expires_at: datetime | None = None  # hosting: when the service deletes it on its own (foundry)
    tokens: int = 0  # training: trained tokens (or the estimate, see ``estimated``)
    estimated: bool = False  # training: the backend reported no trained tokens, the estimate was used
    hours: Decimal | None = None  # training billed by time: the hours it ran
    input_tokens: int = 0
    output_tokens: int = 0
    rate: Rate | None = None

    def hosting_end(self, now: datetime) -> datetime:
        """When this endpoint stopped billing: torn down or failed, else now; never after the service's
        own deletion (``expires_at``)."""
        end = self.ended_at or now
        if self.expires_at is not None:
            end = min(end, self.expires_at)
        return max(end, self.at)


def training_cost(rate: Rate | None, tokens: int, hours: Decimal | None = None) -> Decimal | None:
    """Trained tokens × the per-million price, or hours × the hourly price; None when unpriced."""
    if rate is None:
        return None
    if rate.training_per_million_tokens is not None:
        return Decimal(tokens) * rate.training_per_million_tokens / MILLION
    if rate.training_per_hour is not None and hours is not None:
        return hours * rate.training_per_hour
    return None


def hosting_cost(rate: Rate | None, start: datetime, end: datetime) -> Decimal | None:
    """Hours between ``start`` and ``end`` (to the second) × the hourly price; None when unpriced."""
    if rate is None or rate.hosting_per_hour is None:
        return None
    seconds = max(Decimal(0), Decimal(int((end - start).total_seconds())))
    return seconds / HOUR * rate.hosting_per_hour


def inference_cost(rate: Rate | None, input_tokens: int, output_tokens: int) -> Decimal | None:
    """Input and output tokens × their per-million prices; None when either price is missing."""
    if rate is None or rate.input_per_million_tokens is None or rate.output_per_million_tokens is None:
        return None
    return (
        Decimal(input_tokens) * rate.input_per_million_tokens
        + Decimal(output_tokens) * rate.output_per_million_tokens
    ) / MILLION


class Window(Frozen):
    """A half-open period ``[start, end)``: a calendar month in UTC."""

    start: datetime
    end: datetime
    label: str

    def clip(self, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
        lo, hi = max(start, self.start), min(end, self.end)
        return (lo, hi) if lo < hi else None

    def holds(self, at: datetime) -> bool:
        return self.start <= at < self.end


def month(text: str | None, now: datetime) -> Window:
    """The calendar month ``YYYY-MM`` (UTC); the current month when ``text`` is None."""
    if text is None:
        year, mon = now.astimezone(UTC).year, now.astimezone(UTC).month
    else:
        try:
            year, mon = (int(part) for part in text.split("-"))
            if len(text) != 7 or not 1 <= mon <= 12 or year < 2000:
                raise ValueError
        except ValueError:
            raise UsageError(
                "{flag} is a month as YYYY-MM, e.g. {example}.",
                field="--month",
                hint="/finetune costs [--month YYYY-MM] [--channel #channel]",
                flag="--month",
                example=now.strftime("%Y-%m"),
            ) from None
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=UTC)
    return Window(start=start, end=end, label=f"{year:04d}-{mon:02d}")


def fact_cost(fact: CostFact, window: Window, now: datetime) -> Decimal | None:
    """What ``fact`` cost inside ``window`` (hosting: only its hours inside it); None when unpriced."""
    if fact.kind is CostKind.HOSTING:
        span = window.clip(fact.at, fact.hosting_end(now))
        return hosting_cost(fact.rate, *span) if span else Decimal(0) if fact.rate else None
    if not window.holds(fact.at):
        return Decimal(0) if fact.rate else None
    if fact.kind is CostKind.TRAINING:
        return training_cost(fact.rate, fact.tokens, fact.hours)
    return inference_cost(fact.rate, fact.input_tokens, fact.output_tokens)


def money(amount: Decimal | None, rate: Rate | None) -> Money | None:
    if amount is None or rate is None:
        return None
    return Money(amount=amount, currency=rate.currency)


def hosting_so_far(fact: CostFact, now: datetime) -> Money | None:
    """A hosting fact's whole cost from ready until it stopped (or now)."""
    return money(hosting_cost(fact.rate, fact.at, fact.hosting_end(now)), fact.rate)


def hourly(rate: Rate | None) -> Money | None:
    if rate is None or rate.hosting_per_hour is None:
        return None
    return Money(amount=rate.hosting_per_hour, currency=rate.currency)


def is_live(fact: CostFact, now: datetime) -> bool:
    return fact.kind is CostKind.HOSTING and fact.ended_at is None and fact.hosting_end(now) >= now


def overlaps(fact: CostFact, window: Window, now: datetime) -> bool:
    """Whether ``fact`` may cost anything inside ``window`` (what a store reads for a month)."""
    if fact.kind is CostKind.HOSTING:
        return window.clip(fact.at, fact.hosting_end(now) + timedelta(seconds=1)) is not None
    return window.holds(fact.at)
