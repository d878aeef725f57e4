"""The cost use cases: record a fact when something billable happens, price an estimate, say what a job
cost, add up a month. Recording never breaks the lifecycle step that calls it (a failure is logged)."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from commands.costs.book import CostBook
from commands.costs.ledger import (
    CostFact,
    CostKind,
    hosting_so_far,
    hourly,
    inference_cost,
    is_live,
    money,
    month,
    training_cost,
)
from commands.costs.prices import EMPTY, Money, PriceTable, Rate
from commands.costs.report import CostReport, build_report
from commands.models import Frozen, Usage
from commands.ports import Clock
from commands.records import EndpointRecord, JobRecord

log = logging.getLogger("ftbot.costs")
HOURS = Decimal(3600)


class JobCosts(Frozen):
    """What the job card says about money. ``training``: the actual cost once the job ended (marked
    ``estimated`` when the backend reported no trained tokens), else the estimate before it starts."""

    training: Money | None = None
    training_final: bool = False
    estimated: bool = False
    training_per_hour: Money | None = None  # the model is billed by time: no estimate before it runs
    hosting: Money | None = None  # the current endpoint: so far while live, in total after it stopped
    hosting_per_hour: Money | None = None
    hosting_live: bool = False


class Costs:
    """Prices and cost facts on one ``CostBook``. ``default_tier`` / ``default_sku``: what the backend
    uses when a job or deploy names none (the foundry settings), to look up tier overrides."""

    def __init__(
        self,
        book: CostBook,
        clock: Clock,
        prices: PriceTable = EMPTY,
        *,
        default_tier: str | None = None,
        default_sku: str | None = None,
    ) -> None:
        self.book = book
        self.clock = clock
        self.prices = prices
        self.default_tier = default_tier
        self.default_sku = default_sku

    @property
    def currency(self) -> str:
        return self.prices.currency

    # --- prices ---------------------------------------------------------------------------------

    def training_rate(self, model: str, tier: str | None) -> Rate | None:
        return self.prices.rate(model, tier or self.default_tier)

    def hosting_rate(self, model: str, sku: str | None) -> Rate | None:
        return self.prices.rate(model, sku or self.default_sku)

    def estimate_training(
        self, model: str, billed_tokens: int | None, tier: str | None = None
    ) -> Money | None:
        """The estimated training cost of ``billed_tokens`` (None: unpriced, or billed by time)."""
        rate = self.training_rate(model, tier)
        return money(training_cost(rate, billed_tokens or 0), rate) if billed_tokens else None

    def training_hourly(self, model: str, tier: str | None = None) -> Money | None:
        rate = self.training_rate(model, tier)
        if rate is None or rate.training_per_hour is None or rate.training_per_million_tokens is not None:
            return None
        return Money(amount=rate.training_per_hour, currency=rate.currency)

    def price_inference(
        self, model: str, input_tokens: int, output_tokens: int, *, sku: str | None = None
    ) -> Money | None:
        """What ``input_tokens`` in and ``output_tokens`` out cost on ``model`` at today's prices (None:
        unpriced). Evaluation runs call this for each run's token totals."""
        rate = self.hosting_rate(model, sku)
        return money(inference_cost(rate, input_tokens, output_tokens), rate)

    # --- recording ------------------------------------------------------------------------------

    def _record(self, fact: CostFact) -> None:
        try:
            self.book.record(fact)
        except Exception:  # a cost fact must never undo the state change that earned it
            log.exception("cost fact %s not recorded", fact.key)

    def training_ended(self, job: JobRecord, trained_tokens: int | None) -> None:
        """A job ended: its trained tokens (or, where the backend reports none, the estimate) at today's
        price. Cancelled or failed jobs count only what the backend says was trained."""
        estimate = job.summary.billed_tokens_estimate if job.summary else 0
        estimated = trained_tokens is None
        if estimated and job.state.value != "succeeded":
            return
        at = job.finished_at or self.clock.now()
        hours = Decimal(int((at - job.created_at).total_seconds())) / HOURS
        self._record(
            CostFact(
                key=f"training:{job.id}",
                kind=CostKind.TRAINING,
                team_id=job.team_id,
                channel_id=job.channel_id,
                user_id=job.user_id,
                job_id=job.id,
                model=job.base_model,
                tier=job.spec.training_type or self.default_tier,
                at=at,
                tokens=estimate if trained_tokens is None else trained_tokens,
                estimated=estimated,
                hours=hours,
                rate=self.training_rate(job.base_model, job.spec.training_type),
            )
        )

    def hosting_started(self, endpoint: EndpointRecord, job: JobRecord, expires_at: datetime | None) -> None:
        """An endpoint became ready: it bills by the hour from now until torn down or expired."""
        self._record(
            CostFact(
                key=f"hosting:{endpoint.name}",
                kind=CostKind.HOSTING,
                team_id=job.team_id,
                channel_id=job.channel_id,
                user_id=endpoint.requested_by,
                job_id=job.id,
                endpoint=endpoint.name,
                model=job.base_model,
                tier=endpoint.options.sku or self.default_sku,
                at=endpoint.ready_at or self.clock.now(),
                expires_at=expires_at,
                rate=self.hosting_rate(job.base_model, endpoint.options.sku),
            )
        )

    def reply(
        self, job: JobRecord, endpoint: EndpointRecord, user_id: str, usage: Usage, at: datetime
    ) -> Money | None:
        """A chat reply's tokens, kept; returns what it cost (None: unpriced)."""
        rate = self.hosting_rate(job.base_model, endpoint.options.sku)
        self._record(
            CostFact(
                key=f"inference:{endpoint.name}:{at.timestamp():.6f}:{user_id}",
                kind=CostKind.INFERENCE,
                team_id=job.team_id,
                channel_id=job.channel_id,
                user_id=user_id,
                job_id=job.id,
                endpoint=endpoint.name,
                model=job.base_model,
                tier=endpoint.options.sku or self.default_sku,
                at=at,
                input_tokens=usage.prompt_tokens,
                output_tokens=usage.completion_tokens,
                rate=rate,
            )
        )
        return money(inference_cost(rate, usage.prompt_tokens, usage.completion_tokens), rate)

    # --- reading --------------------------------------------------------------------------------

    def job_costs(self, job: JobRecord, endpoint: EndpointRecord | None, now: datetime) -> JobCosts:
        """The card's money line: from stored facts once they exist, else today's estimate."""
        facts = self.book.facts_for_job(job.id)
        training = next((f for f in facts if f.kind is CostKind.TRAINING), None)
        values: dict[str, object] = {}
        if training is not None:
            values["training"] = money(
                training_cost(training.rate, training.tokens, training.hours), training.rate
            )
            values.update(training_final=True, estimated=training.estimated)
        else:
            tokens = job.summary.billed_tokens_estimate if job.summary else 0
            values["training"] = self.estimate_training(job.base_model, tokens, job.spec.training_type)
            values["training_per_hour"] = self.training_hourly(job.base_model, job.spec.training_type)
        hosting = next(
            (f for f in facts if endpoint and f.kind is CostKind.HOSTING and f.endpoint == endpoint.name),
            None,
        )
        if hosting is not None and endpoint is not None:
            if not endpoint.live and hosting.ended_at is None:  # the store has not filled it: use the row
                end = endpoint.deleted_at or endpoint.updated_at
                hosting = hosting.model_copy(update={"ended_at": end})
            values.update(
                hosting=hosting_so_far(hosting, now),
                hosting_per_hour=hourly(hosting.rate),
                hosting_live=is_live(hosting, now),
            )
        return JobCosts.model_validate(values)

    def report(
        self, *, team_id: str | None, month_text: str | None = None, channel_id: str | None = None
    ) -> CostReport:
        now = self.clock.now()
        window = month(month_text, now)
        facts = self.book.facts(team_id=team_id, since=window.start, until=window.end)
        return build_report(facts, window, now, self.currency, channel_id=channel_id)
