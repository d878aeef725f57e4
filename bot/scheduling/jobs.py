"""Everything the scheduler runs, registered in one place with stable ids."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from bot.scheduling.oncall import Oncall, SchedulerHealth
from bot.scheduling.scheduler import ScheduledJob
from bot.scheduling.view_states import purge_view_states

if TYPE_CHECKING:
    from bot.runtime.services import Services


def scheduled_jobs(services: Services, health: SchedulerHealth | None = None) -> list[ScheduledJob]:
    """Everything the scheduler runs, registered in one place. Jobs are claimed by their own
    ``next_poll_at``, so ticking more often than FTBOT_POLL_SECONDS costs nothing extra."""
    poll = services.settings.poll_seconds
    tick = services.poller.tick_seconds
    jobs = [
        ScheduledJob("poll_jobs", services.poller.poll_jobs, tick),
        ScheduledJob("poll_endpoints", services.poller.poll_endpoints, tick),
        ScheduledJob("deliver", services.delivery.tick, 1.0),
        ScheduledJob("sweep_endpoints", services.poller.sweep, max(60.0, poll)),
        # a launch whose process died while checking its dataset: tell the user what to run again
        ScheduledJob("answer_interrupted_launches", services.launches.sweep, 60.0),
        ScheduledJob("resume_evaluations", services.evaluations.resume, 60.0),
        # keep the base-model catalogue warm so the wizard's option loads answer from cache within 3 s
        ScheduledJob("warm_catalogue", services.backend.list_base_models, 1800.0),
        ScheduledJob("purge_view_states", partial(purge_view_states, services.store, services.clock), 3600.0),
    ]
    if services.budgets is not None:  # FTBOT_BUDGETS: expire held submits, tell channels at 80% / 100%
        from bot.scheduling.budgets import BudgetSweep

        budgets = BudgetSweep(services.lifecycle.holds, services.budgets, services.workspaces, services.clock)
        jobs.append(ScheduledJob("budgets", budgets.sweep, 60.0))
    if services.settings.oncall:  # page the on-call when the service fails (FTBOT_ONCALL)
        oncall = Oncall(
            oncall=services.settings.oncall,
            store=services.store,
            web=services.web,
            clock=services.clock,
            health=health or SchedulerHealth(),
            credential_problem=lambda: getattr(services.backend, "credential_problem", None),
            workspaces=services.workspaces,
        )
        jobs.append(ScheduledJob("oncall", oncall.sweep, tick))
    return jobs
