"""The budget sweep (FTBOT_BUDGETS): end the submits held over budget that nobody decided on in time, and
tell a channel once when its spend reaches 80% and 100% of its monthly budget."""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk.errors import SlackApiError

from bot.slack.workspaces import Workspaces
from bot.ui.budgets import budget_notice
from commands.costs.budgets import BudgetGuard
from commands.lifecycle.holds import Holds
from commands.ports import Clock

log = logging.getLogger("ftbot.budgets")


class BudgetSweep:
    """One idempotent scheduled step: notices are claimed in the store before they are sent, so two
    replicas (or two ticks) never tell a channel twice."""

    def __init__(self, holds: Holds, guard: BudgetGuard, workspaces: Workspaces, clock: Clock) -> None:
        self.holds, self.guard, self.workspaces, self.clock = holds, guard, workspaces, clock

    def sweep(self) -> None:
        self.holds.expire()
        self.notify(self.clock.now())

    def notify(self, now: datetime) -> int:
        sent = 0
        for notice in self.guard.notices(now):
            web = self.workspaces.client(notice.team_id, None)
            if web is None:
                log.warning("budget notice for %s not sent: not installed there", notice.channel_id)
                continue
            text, blocks = budget_notice(notice)
            try:
                web.chat_postMessage(
                    channel=notice.channel_id, text=text, blocks=[b.to_dict() for b in blocks]
                )
            except SlackApiError as e:  # claimed already: logged, not retried (never twice)
                log.warning("budget notice for %s not sent: %s", notice.channel_id, e.response.get("error"))
                continue
            sent += 1
        return sent
