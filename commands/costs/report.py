"""A month's spend, added up from cost facts: by channel, by user, the live endpoints' hourly burn and
the most expensive jobs. What ``/finetune costs``, App Home and ``ftbot costs --csv`` show."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from pydantic import Field

from commands.costs.ledger import CostFact, CostKind, Window, fact_cost, hosting_so_far, hourly, is_live
from commands.costs.prices import Money
from commands.models import Frozen

TOP_JOBS = 5


class Spend(Frozen):
    """Training, hosting and inference of one channel, user or job, in the report's currency."""

    key: str
    training: Decimal = Decimal(0)
    hosting: Decimal = Decimal(0)
    inference: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.training + self.hosting + self.inference


class LiveEndpoint(Frozen):
    endpoint: str
    job_id: str
    channel_id: str
    user_id: str
    per_hour: Money | None
    so_far: Money | None
    since: datetime


class CostReport(Frozen):
    window: Window
    currency: str
    channels: tuple[Spend, ...] = ()
    users: tuple[Spend, ...] = ()
    jobs: tuple[Spend, ...] = ()  # the top five, most expensive first
    live: tuple[LiveEndpoint, ...] = ()
    unpriced: int = 0  # facts with no price (shown as token counts only)
    other_currency: int = 0  # facts priced in another currency than the report's
    channel_filter: str | None = None
    all_jobs: tuple[Spend, ...] = Field(default=(), repr=False)

    @property
    def total(self) -> Decimal:
        return sum((s.total for s in self.channels), Decimal(0))

    @property
    def burn_per_hour(self) -> Decimal:
        return sum((e.per_hour.amount for e in self.live if e.per_hour), Decimal(0))

    def money(self, amount: Decimal) -> Money:
        return Money(amount=amount, currency=self.currency)


def _add(table: dict[str, dict[CostKind, Decimal]], key: str, kind: CostKind, amount: Decimal) -> None:
    table[key][kind] += amount


def _spends(table: dict[str, dict[CostKind, Decimal]]) -> tuple[Spend, ...]:
    rows = [
        Spend(
            key=key,
            training=v[CostKind.TRAINING],
            hosting=v[CostKind.HOSTING],
            inference=v[CostKind.INFERENCE],
        )
        for key, v in table.items()
    ]
    return tuple(sorted(rows, key=lambda s: (-s.total, s.key)))


def build_report(
    facts: Iterable[CostFact],
    window: Window,
    now: datetime,
    currency: str,
    *,
    channel_id: str | None = None,
) -> CostReport:
    """Add up ``facts`` inside ``window`` (hosting: the hours inside it), in ``currency``."""
    tables: dict[str, dict[str, dict[CostKind, Decimal]]] = {
        name: defaultdict(lambda: defaultdict(Decimal)) for name in ("channel", "user", "job")
    }
    live: list[LiveEndpoint] = []
    unpriced = other = 0
    for fact in facts:
        if channel_id is not None and fact.channel_id != channel_id:
            continue
        if fact.rate is not None and fact.rate.currency != currency:
            other += 1
            continue
        amount = fact_cost(fact, window, now)
        if amount is None:
            unpriced += 1
            amount = Decimal(0)  # pragma: no mutate (None is skipped as 0 is, just below)
        if is_live(fact, now) and window.holds(now):
            live.append(
                LiveEndpoint(
                    endpoint=fact.endpoint or "",
                    job_id=fact.job_id,
                    channel_id=fact.channel_id,
                    user_id=fact.user_id,
                    per_hour=hourly(fact.rate),
                    so_far=hosting_so_far(fact, now),
                    since=fact.at,
                )
            )
        if not amount:
            continue
        _add(tables["channel"], fact.channel_id, fact.kind, amount)
        _add(tables["user"], fact.user_id, fact.kind, amount)
        _add(tables["job"], fact.job_id, fact.kind, amount)
    jobs = _spends(tables["job"])
    return CostReport(
        window=window,
        currency=currency,
        channels=_spends(tables["channel"]),
        users=_spends(tables["user"]),
        jobs=jobs[:TOP_JOBS],
        all_jobs=jobs,
        live=tuple(sorted(live, key=lambda e: e.since)),
        unpriced=unpriced,
        other_currency=other,
        channel_filter=channel_id,
    )


def channel_spent(facts: Iterable[CostFact], channel_id: str, window: Window, now: datetime) -> Decimal:
    """What one channel spent inside ``window``, priced facts only (the budget check's figure)."""
    total = Decimal(0)
    for fact in facts:
        if fact.channel_id == channel_id:
            total += fact_cost(fact, window, now) or Decimal(0)
    return total
