"""The scheduler: APScheduler 3 running the jobs it is given, in the scheduler process that
``ftbot serve`` starts (bot/runtime/scheduler_process.py).

The jobs themselves are registered in one place, bot/scheduling/jobs.py; here each gets its stable
id, ``replace_existing``, ``coalesce`` and ``max_instances=1``, and runs inside an error boundary so
one failure never stops the schedule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger("ftbot.scheduler")


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    func: Callable[[], object]
    seconds: float


#: told after each run of a job: its id, how many seconds late it started, whether it worked
Observer = Callable[[str, float, bool], None]


def error_boundary(
    job_id: str, func: Callable[[], object], done: Callable[[bool], None] | None = None
) -> Callable[[], None]:
    @wraps(func)
    def run() -> None:
        ok = False
        try:
            func()
            ok = True
        except Exception:
            log.exception("scheduled job %s failed; it will run again at its next tick", job_id)
        finally:
            if done is not None:
                done(ok)

    return run


class Scheduler:
    def __init__(self, jobs: list[ScheduledJob], observer: Observer | None = None) -> None:
        self._scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"misfire_grace_time": 30})
        self._observer = observer
        self._lag: dict[str, float] = {}
        if observer is not None:
            self._scheduler.add_listener(self._submitted, EVENT_JOB_SUBMITTED)
        for job in jobs:
            self._register(job)

    def _submitted(self, event: JobSubmissionEvent) -> None:
        """How late this run starts: now minus the earliest run time it stands for (coalesced runs)."""
        times = event.scheduled_run_times or [datetime.now(UTC)]
        self._lag[event.job_id] = (datetime.now(UTC) - min(times)).total_seconds()

    def _done(self, job_id: str) -> Callable[[bool], None] | None:
        observer = self._observer
        if observer is None:
            return None
        return lambda ok: observer(job_id, self._lag.get(job_id, 0.0), ok)

    def _register(self, job: ScheduledJob) -> None:
        self._scheduler.add_job(
            error_boundary(job.id, job.func, self._done(job.id)),
            "interval",
            seconds=job.seconds,
            id=job.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(UTC),  # first run at start, then every `seconds`
        )

    def wakeup(self, job_id: str) -> None:
        """Run a job now instead of at its next tick (e.g. deliver a card right after a click)."""
        if self._scheduler.running:
            try:
                self._scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
            except Exception:  # the job may be finishing a run; it will tick soon anyway
                log.debug("could not wake %s", job_id, exc_info=True)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
