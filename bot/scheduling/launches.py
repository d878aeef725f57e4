"""Launches cut short: a ``/finetune submit`` or a wizard's Start whose process died while it downloaded
or checked the dataset. The user was told "Checking your dataset…" and would never hear more; the next
scheduler tells them in the channel that nothing was submitted and what to run again.

A launch is answered at once when its process crashed on this host (its pid is gone, or a restarted
container reuses it), and after ``LAUNCH_TIMEOUT`` when it ran on another host (a replica that is gone
for good). A launch whose job was recorded is closed in that same transaction, so it is never answered,
and ``answer_launch`` lets exactly one replica answer each launch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import timedelta

from slack_sdk import WebClient

from bot.scheduling.owners import crashed_owners
from bot.slack.workspaces import OneWorkspace, Workspaces
from bot.ui.replies import interrupted_launch
from commands.ports import Clock, Store

log = logging.getLogger("ftbot.launches")

#: a check that has run this long on another host is taken to have died with its process
LAUNCH_TIMEOUT = timedelta(minutes=30)


class InterruptedLaunches:
    def __init__(
        self,
        *,
        store: Store,
        web: WebClient,
        clock: Clock,
        alive: Callable[[], Collection[str]],
        timeout: timedelta = LAUNCH_TIMEOUT,
        workspaces: Workspaces | None = None,
    ) -> None:
        self.store = store
        self.web = web
        self.clock = clock
        self.alive = alive
        self.timeout = timeout
        self.workspaces: Workspaces = workspaces or OneWorkspace(web)

    def sweep(self) -> int:
        """Answer every launch whose process is gone; returns how many were answered."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            checking = tx.checking_launches()
        dead = crashed_owners({launch.owner for launch in checking}, self.alive())
        answered = 0
        for launch in checking:
            if launch.owner not in dead and launch.created_at > now - self.timeout:
                continue
            with self.store.transaction() as tx:
                if not tx.answer_launch(launch.id, at=now):
                    continue  # submitted meanwhile, or another replica answered it
            answered += 1
            if not launch.channel_id:  # `ftbot submit` without --channel: no channel to tell
                log.info("launch %s (no channel) was cut short by a restart", launch.id)
                continue
            web = self.workspaces.client(launch.team_id, launch.enterprise_id)
            if web is None:  # ftbot was uninstalled there: nobody to tell
                log.info("launch %s was cut short; its workspace has no installation", launch.id)
                continue
            log.info("launch %s was cut short by a restart; telling its user", launch.id)
            web.chat_postMessage(channel=launch.channel_id, text=interrupted_launch(launch))
        return answered
