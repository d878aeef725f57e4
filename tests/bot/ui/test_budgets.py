"""The budget lines of a held submit: over the budget (the three numbers) or with no estimate (why, and what
was spent of the budget); the card's and the decision's words for each."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.ui.budgets import budget_line, held_card_text, held_decided_text
from commands.records import ApprovalRecord, ApprovalState

NUMBERS = {"budget_spent": "USD 90.00", "budget_amount": "USD 100.00"}


def test_over_the_budget_shows_the_three_numbers() -> None:
    line = budget_line({**NUMBERS, "budget_request": "USD 20.00"})
    assert line == (
        ":moneybag: Over this channel's monthly budget: spent *USD 90.00*, this request *USD 20.00*, "
        "budget *USD 100.00*."
    )
    assert budget_line(NUMBERS) == ""  # no request and no reason: nothing to say


def test_no_estimate_says_why_escaped() -> None:
    line = budget_line({**NUMBERS, "budget_unestimated": "Not read here (<big> & more)."})
    assert line == (
        ":moneybag: Not read here (&lt;big&gt; &amp; more). This channel has a monthly budget "
        "(spent *USD 90.00* of *USD 100.00*), so an approver decides."
    )


def test_card_and_decision_words() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    approval = ApprovalRecord(
        id=7, job_id="ft-1", action="submit", state=ApprovalState.PENDING, requested_by="U1", created_at=at
    )
    assert "Held over this channel's monthly budget" in held_card_text(approval, "<@U1>")
    held = held_card_text(approval, "<@U1>", unestimated=True)
    assert held.startswith(":raised_hand: Held because its cost could not be estimated and this channel")
    assert "request #7 by <@U1>" in held
    assert held_decided_text("<@U2>", "7", True) == (
        ":white_check_mark: <@U2> approved over-budget request #7. Submitting the job."
    )
    assert held_decided_text("<@U2>", "7", False, unestimated=True) == (
        ":no_entry: <@U2> rejected request #7 (its cost could not be estimated). Nothing was submitted."
    )
