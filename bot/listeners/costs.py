"""Costs on the Slack surfaces: ``/finetune costs``, the estimate on the review step and the one-line
submit, and App Home's Costs section. The numbers come from ``services.costs``; rendering from
``bot.ui.costs``. (``/finetune`` itself is registered once, by ``bot.listeners.finetune``.)"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block

from bot.runtime.services import Services
from bot.ui.costs import estimate_text, home_costs_blocks, report_blocks, report_text
from bot.ui.validation import billed_estimate
from commands import grammar
from commands.dataset.report import ValidationReport
from commands.models import Hyperparameters
from commands.records import Actor, JobRecord


def answer(services: Services, actor: Actor, cmd: grammar.Costs) -> tuple[str, list[Any]]:
    """``/finetune costs``, in a worker thread: the month's report for the asker's workspace."""
    report = services.costs.report(team_id=actor.team_id, month_text=cmd.month, channel_id=cmd.channel)
    return report_text(report), report_blocks(report, services.clock.now())


def training_estimate(
    services: Services,
    model: str,
    tier: str | None,
    report: ValidationReport,
    hyperparameters: Hyperparameters,
) -> str | None:
    """The review step's cost line: the billed-token estimate × the model's training price."""
    if not report.ok:
        return None
    billed = billed_estimate(report.stats, hyperparameters.n_epochs)
    costs = services.costs
    return estimate_text(costs.estimate_training(model, billed, tier), costs.training_hourly(model, tier))


def submitted_estimate(services: Services, job: JobRecord) -> str | None:
    """The one-line submit's cost, from the estimate the job was started with."""
    billed = job.summary.billed_tokens_estimate if job.summary else None
    costs, tier = services.costs, job.spec.training_type
    return estimate_text(
        costs.estimate_training(job.base_model, billed, tier), costs.training_hourly(job.base_model, tier)
    )


def home_section(services: Services, team_id: str) -> list[Block]:
    """App Home's Costs section for the workspace, this month (in a worker thread)."""
    return home_costs_blocks(services.costs.report(team_id=team_id), services.clock.now())
