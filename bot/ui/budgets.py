"""Budgets in words (FTBOT_BUDGETS): the numbers on an over-budget approval request, the lines a held
submit's thread and card show, and the channel message at 80% and 100% of a budget."""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.models.blocks import Block

from bot.ui.blocks import section
from bot.ui.ids import Block as B
from bot.ui.text import code, escape_clip, mention
from commands.costs.budgets import BudgetNotice
from commands.records import ApprovalRecord

SUBMIT = "submit"  # an approval request's action for a submit held over budget


def _amount(data: Mapping[str, object], key: str) -> str | None:
    value = data.get(key)
    return escape_clip(value, 40) if isinstance(value, str) and value else None


def budget_line(data: Mapping[str, object]) -> str:
    """``:moneybag: Over this channel's monthly budget: spent USD 90.00, this request USD 20.00, budget
    USD 100.00.``; for a request whose cost could not be estimated, why, and what was spent of the budget
    (empty when the post carries no budget numbers)."""
    spent, request, budget = (_amount(data, k) for k in ("budget_spent", "budget_request", "budget_amount"))
    why = data.get("budget_unestimated")
    if spent and budget and isinstance(why, str) and why:  # no estimate: nothing to compare
        return (
            f":moneybag: {escape_clip(why, 300)} This channel has a monthly budget (spent *{spent}* of "
            f"*{budget}*), so an approver decides."
        )
    if not (spent and request and budget):
        return ""
    return (
        f":moneybag: Over this channel's monthly budget: spent *{spent}*, this request *{request}*, "
        f"budget *{budget}*."
    )


def held_submit_text(asker: str, job_id: str, approval_id: int, data: Mapping[str, object]) -> str:
    """The head of a held submit's approval request (``asker`` is already a mention)."""
    hours = data.get("hold_hours")
    wait = f" No decision within {hours} hours cancels it." if isinstance(hours, int) else ""
    return (
        f":raised_hand: {asker}'s job {code(job_id)} is held before it is submitted "
        f"(request #{approval_id}). "
        f"{budget_line(data)}\nApprove submits it; Reject cancels it and nothing is submitted.{wait}"
    )


def held_decided_text(by: str, approval_id: str, approved: bool, *, unestimated: bool = False) -> str:
    """The thread line when an approver decided on a held submit (``by`` is already a mention);
    ``unestimated``: it was held because its cost could not be estimated."""
    what = f"over-budget request #{approval_id}"
    if unestimated:
        what = f"request #{approval_id} (its cost could not be estimated)"
    if approved:
        return f":white_check_mark: {by} approved {what}. Submitting the job."
    return f":no_entry: {by} rejected {what}. Nothing was submitted."


def held_cancelled_text(by: str | None, reason: str) -> str:
    """The thread line when a held submit ends: rejected, withdrawn (``by``) or undecided in time."""
    who = f" by {mention(by)}" if by else ""
    return f":no_entry_sign: Job cancelled{who}. {escape_clip(reason, 500)}"


def held_card_text(approval: ApprovalRecord, requester: str, *, unestimated: bool = False) -> str:
    """The card's line while a submit waits for an approver (``requester`` is already a mention);
    ``unestimated``: its cost could not be estimated in a channel that has a budget."""
    why = (
        "Held because its cost could not be estimated and this channel has a monthly budget"
        if unestimated
        else "Held over this channel's monthly budget"
    )
    return (
        f":raised_hand: {why}: waiting for an approver "
        f"(request #{approval.id} by {requester}). Nothing has been submitted."
    )


def budget_notice(notice: BudgetNotice) -> tuple[str, list[Block]]:
    """The one channel message when its spend reaches 80% or 100% of its monthly budget."""
    if notice.threshold >= 100:
        head = f":rotating_light: This channel has used its whole monthly budget for {notice.month}"
        tail = (
            "New submits and deploys now need an approver's click; live endpoints keep billing until "
            "they are torn down."
        )
    else:
        head = f":warning: This channel has used {notice.threshold}% of its monthly budget for {notice.month}"
        tail = "Past the budget, submits and deploys need an approver's click."
    text = f"{head}: spent *{notice.spent}* of *{notice.budget}*. {tail}"
    return text, [section(B.BUDGET_NOTICE, text)]
