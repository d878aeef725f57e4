"""Monthly budgets per channel (``FTBOT_BUDGETS``: ``CHANNEL_ID=AMOUNT,…,default=AMOUNT``) and the checks
made against them: would a request take a channel past its budget, and which thresholds (80%, 100%) a
channel's spend has crossed."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from decimal import Decimal, InvalidOperation

from pydantic import Field

from commands.costs.ledger import fact_cost, month
from commands.costs.prices import Money
from commands.costs.recorder import Costs
from commands.costs.report import channel_spent
from commands.models import Frozen

#: the shares of a budget at which a channel hears about it, once each per month
THRESHOLDS = (80, 100)
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class Budgets(Frozen):
    """Amounts in the price table's currency; ``default`` for channels not named (None: no budget)."""

    channels: dict[str, Decimal] = Field(default_factory=dict)
    default: Decimal | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.channels) or self.default is not None

    def for_channel(self, channel_id: str) -> Decimal | None:
        return self.channels.get(channel_id, self.default)


def parse_budgets(text: str | None) -> Budgets:
    """``C0123=500,C0456=100.50,default=50``. ``ValueError`` naming the first bad item."""
    channels: dict[str, Decimal] = {}
    default: Decimal | None = None
    for item in (part.strip() for part in (text or "").split(",")):
        if not item:
            continue
        name, sep, raw = (p.strip() for p in item.partition("="))
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            amount = Decimal(-1)
        if not sep or not amount.is_finite() or amount < 0:
            raise ValueError(f"expected CHANNEL_ID=AMOUNT or default=AMOUNT, got {item!r}")
        if name.lower() == "default":  # in any case: "DEFAULT" would also pass for a DM's id (D…)
            default = amount
        elif _CHANNEL.match(name):
            channels[name] = amount
        else:
            raise ValueError(f"{name!r} is not a Slack channel id (C…) or 'default'")
    return Budgets(channels=channels, default=default)


def over_budget(spent: Decimal, request: Decimal, budget: Decimal | None) -> bool:
    """Whether ``request`` on top of ``spent`` takes the channel past ``budget``."""
    return budget is not None and spent + request > budget


def crossed(spent: Decimal, budget: Decimal | None) -> list[int]:
    """The thresholds (percent) ``spent`` has reached, lowest first."""
    if budget is None or budget <= 0:
        return [100] if budget is not None and spent > 0 else []
    return [t for t in THRESHOLDS if spent * 100 >= budget * t]


class Overspend(Frozen):
    """The numbers of a request that would take a channel past its monthly budget; or, with
    ``unestimated`` (why) and no ``request``, of one whose cost could not be estimated in a channel that
    has a budget: an approver decides on both."""

    channel_id: str
    spent: Money
    request: Money | None
    budget: Money
    unestimated: str | None = None

    def data(self) -> dict[str, str]:
        """What a thread post keeps of it (plain strings: ``USD 3.40``)."""
        data = {"budget_spent": str(self.spent), "budget_amount": str(self.budget)}
        if self.request is not None:
            data["budget_request"] = str(self.request)
        if self.unestimated:
            data["budget_unestimated"] = self.unestimated
        return data

    def audit_detail(self) -> str:
        """The audit line's detail (amounts and the reason, never a secret)."""
        if self.request is None:
            return f"cost not estimated ({self.unestimated}): spent={self.spent} budget={self.budget}"
        return f"over budget: spent={self.spent} request={self.request} budget={self.budget}"


class BudgetNotice(Frozen):
    """A channel's spend reached ``threshold`` percent of its budget this month (told once)."""

    team_id: str
    channel_id: str
    threshold: int
    spent: Money
    budget: Money
    month: str


class BudgetGuard:
    """``Budgets`` checked against what ``Costs`` has recorded for the current calendar month (UTC)."""

    def __init__(self, budgets: Budgets, costs: Costs) -> None:
        self.budgets = budgets
        self.costs = costs

    def _money(self, amount: Decimal) -> Money:
        return Money(amount=amount, currency=self.costs.currency)

    def spent(self, team_id: str, channel_id: str, now: datetime) -> Decimal:
        window = month(None, now)
        facts = self.costs.book.facts(team_id=team_id or None, since=window.start, until=window.end)
        return channel_spent(facts, channel_id, window, now)

    def check(self, team_id: str, channel_id: str, request: Money | None, now: datetime) -> Overspend | None:
        """The numbers when ``request`` would take ``channel_id`` past its budget; None when it fits, the
        channel has no budget, or the request has no price (in the budget's currency)."""
        budget = self.budgets.for_channel(channel_id)
        if budget is None or request is None or request.currency != self.costs.currency:
            return None
        spent = self.spent(team_id, channel_id, now)
        if not over_budget(spent, request.amount, budget):
            return None
        return Overspend(
            channel_id=channel_id,
            spent=self._money(spent),
            request=request,
            budget=self._money(budget),
        )

    def unestimated(self, team_id: str, channel_id: str, reason: str, now: datetime) -> Overspend | None:
        """A request whose cost could not be estimated (``reason`` says why) in a channel with a budget:
        an approver decides, as for one over the budget. None when the channel has no budget."""
        budget = self.budgets.for_channel(channel_id)
        if budget is None:
            return None
        return Overspend(
            channel_id=channel_id,
            spent=self._money(self.spent(team_id, channel_id, now)),
            request=None,
            budget=self._money(budget),
            unestimated=reason,
        )

    def notices(self, now: datetime) -> list[BudgetNotice]:
        """The thresholds channels reached this month and were not told of yet, claimed now so that no
        other sweep tells them again: one notice per channel (the highest threshold newly reached)."""
        if not self.budgets.enabled:
            return []
        window = month(None, now)
        totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for fact in self.costs.book.facts(team_id=None, since=window.start, until=window.end):
            if fact.rate is None or fact.rate.currency == self.costs.currency:
                totals[(fact.team_id, fact.channel_id)] += fact_cost(fact, window, now) or Decimal(0)
        out = []
        for (team_id, channel_id), spent in sorted(totals.items()):
            budget = self.budgets.for_channel(channel_id)
            claimed = [
                t
                for t in crossed(spent, budget)
                if self.costs.book.claim_notice(
                    f"budget:{window.label}:{channel_id}:{t}", team_id=team_id, at=now
                )
            ]
            if claimed and budget is not None:
                out.append(
                    BudgetNotice(
                        team_id=team_id,
                        channel_id=channel_id,
                        threshold=claimed[-1],
                        spent=self._money(spent),
                        budget=self._money(budget),
                        month=window.label,
                    )
                )
        return out

    def hosting_note(self, team_id: str, channel_id: str, per_hour: Money | None, now: datetime) -> str:
        """For the idle reminder: the channel's budget is spent and this endpoint still bills (empty
        when the channel is within its budget or has none)."""
        budget = self.budgets.for_channel(channel_id)
        if budget is None:
            return ""
        spent = self.spent(team_id, channel_id, now)
        if spent < budget:
            return ""
        burn = f" at {per_hour} an hour" if per_hour is not None else ""
        return (
            f"This channel has spent {self._money(spent)} of its {self._money(budget)} budget this month; "
            f"this endpoint keeps billing{burn} until it is torn down."
        )
