"""Money in Slack: the card's cost line, the review's estimate, ``/finetune costs`` and App Home's Costs
section. Pure builders: amounts come computed (``commands.costs``); nothing here prices anything."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block, DividerBlock

from bot.ui.blocks import context, section
from bot.ui.ids import SLASH_COMMAND
from bot.ui.ids import Block as B
from bot.ui.text import channel_mention, clip, code, escape, mention
from commands.costs.prices import Money
from commands.costs.recorder import JobCosts
from commands.costs.report import CostReport, Spend

MAX_ROWS = 10
NO_PRICES = "No prices are set for these models (FTBOT_PRICES): token counts only."


def estimate_text(estimate: Money | None, per_hour: Money | None = None) -> str | None:
    """The training cost next to the billed-token estimate (None: unpriced, say nothing)."""
    if estimate is not None:
        return f"Estimated training cost ≈ {estimate}"
    if per_hour is not None:
        return f"Training is billed by the hour: {per_hour} per hour"
    return None


def card_costs_text(costs: JobCosts) -> str | None:
    """The card's money line: training (actual once ended, "estimated" where the backend reported no
    trained tokens), and the current endpoint's hosting (so far and per hour while live, total after)."""
    return " · ".join(parts) if (parts := card_costs_parts(costs)) else None


def card_costs_parts(costs: JobCosts) -> list[str]:
    """The card's money line, part by part (empty: no price known)."""
    parts = []
    if costs.training is not None:
        if costs.training_final:
            label = "Training cost (estimated)" if costs.estimated else "Training cost"
            parts.append(f"*{label}:* {costs.training}")
        else:
            parts.append(f"*Estimated training cost:* ≈ {costs.training}")
    elif costs.training_per_hour is not None:
        parts.append(f"*Training:* billed {costs.training_per_hour} per hour")
    if costs.hosting is not None:
        if costs.hosting_live:
            hourly = f" ({costs.hosting_per_hour} per hour)" if costs.hosting_per_hour else ""
            parts.append(f"*Hosting so far:* {costs.hosting}{hourly}")
        else:
            parts.append(f"*Hosting in total:* {costs.hosting}")
    return parts


def _spend_line(label: str, spend: Spend, report: CostReport) -> str:
    m = report.money
    return (
        f"{label}: *{m(spend.total)}* (training {m(spend.training)}, hosting {m(spend.hosting)}, "
        f"inference {m(spend.inference)})"
    )


def _rows(title: str, spends: tuple[Spend, ...], report: CostReport, label: type | object) -> str:
    if not spends:
        return f"*{title}*\nNothing spent."
    render = channel_mention if label == "channel" else mention if label == "user" else _job
    lines = [_spend_line(render(s.key), s, report) for s in spends[:MAX_ROWS]]
    more = f"\n… and {len(spends) - MAX_ROWS} more" if len(spends) > MAX_ROWS else ""
    return clip(f"*{title}*\n" + "\n".join(lines) + more, 2900)


def _job(job_id: str) -> str:
    return code(clip(job_id, 100))


def live_text(report: CostReport, now: datetime) -> str:
    if not report.live:
        return "*Live endpoints*\nNone: nothing is billing by the hour."
    lines = []
    for e in report.live[:MAX_ROWS]:
        hourly = f"{e.per_hour} per hour" if e.per_hour else "no hourly price"
        so_far = f", {e.so_far} so far" if e.so_far else ""
        lines.append(f"{code(clip(e.endpoint, 100))} in {channel_mention(e.channel_id)}: {hourly}{so_far}")
    burn = report.money(report.burn_per_hour)
    return clip(f"*Live endpoints* burning {burn} per hour\n" + "\n".join(lines), 2900)


def report_blocks(report: CostReport, now: datetime) -> list[Block]:
    """``/finetune costs``: the month's total, by channel and by user, live endpoints, the top jobs."""
    where = f" in {channel_mention(report.channel_filter)}" if report.channel_filter else ""
    blocks: list[Block] = [
        section(
            B.COSTS_TITLE, f"*Costs for {escape(report.window.label)}*{where}: {report.money(report.total)}"
        ),
        section(B.COSTS_CHANNELS, _rows("By channel", report.channels, report, "channel")),
        section(B.COSTS_USERS, _rows("By user", report.users, report, "user")),
        section(B.COSTS_LIVE, live_text(report, now)),
        section(B.COSTS_JOBS, _rows("Top jobs", report.jobs, report, "job")),
    ]
    notes = ["Hosting is billed by the hour from deploy to tear down, whether the endpoint is used or not."]
    if report.unpriced:
        notes.append(f"{report.unpriced} item(s) have no price in FTBOT_PRICES and count as nothing.")
    if report.other_currency:
        notes.append(f"{report.other_currency} item(s) were priced in another currency and are left out.")
    blocks.append(context(B.COSTS_NOTE, " ".join(notes)))
    return blocks


def report_text(report: CostReport) -> str:
    return f"Costs for {report.window.label}: {report.money(report.total)}"


def home_costs_blocks(report: CostReport, now: datetime) -> list[Block]:
    """App Home's Costs section: the month by channel and by user, live endpoints' burn, top jobs."""
    return [
        DividerBlock(),
        section(
            B.HOME_COSTS,
            f"*Costs this month ({escape(report.window.label)})*: {report.money(report.total)} · "
            f"`{SLASH_COMMAND} costs` for another month or one channel",
        ),
        section(f"{B.HOME_COSTS}.channels", _rows("By channel", report.channels, report, "channel")),
        section(f"{B.HOME_COSTS}.users", _rows("By user", report.users, report, "user")),
        section(f"{B.HOME_COSTS}.live", live_text(report, now)),
        section(f"{B.HOME_COSTS}.jobs", _rows("Top jobs", report.jobs, report, "job")),
    ]
