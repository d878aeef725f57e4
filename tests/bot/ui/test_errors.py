"""Errors from ``commands`` carry no Slack markup; ``bot/ui/errors`` adds code spans and mentions."""

from __future__ import annotations

from bot.ui.errors import error_text, message_text
from commands.errors import Conflict, PermissionDenied, User


def test_names_become_code_spans_and_users_mentions() -> None:
    err = PermissionDenied(
        "Only the submitter ({owner}) or an approver can cancel {job}.", owner=User("U1"), job="ft-a-1"
    )
    assert err.message == "Only the submitter (U1) or an approver can cancel ft-a-1."
    assert message_text(err) == "Only the submitter (<@U1>) or an approver can cancel `ft-a-1`."


def test_the_text_around_the_names_is_escaped() -> None:
    err = Conflict("{endpoint} is <ready> & more.", endpoint="ep<1>")
    assert error_text(err) == ":warning: `ep&lt;1&gt;` is &lt;ready&gt; &amp; more."
