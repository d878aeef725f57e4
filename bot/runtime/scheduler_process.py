"""The scheduler process of ``ftbot serve``: spawned and supervised by the web process, killed by the
kernel if the web process dies (PR_SET_PDEATHSIG), so polling and delivery never compete with acks for
the GIL and a crashed serve never leaves an orphan polling behind."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType

from bot.runtime import metrics
from bot.runtime.logs import SECRETS, configure_logging
from bot.runtime.services import Services
from bot.runtime.settings import Settings
from bot.scheduling.jobs import scheduled_jobs
from bot.scheduling.oncall import SchedulerHealth
from bot.scheduling.owners import crashed_owners
from bot.scheduling.scheduler import Scheduler

log = logging.getLogger("ftbot.serve")

# Polling and delivery run at a lower CPU priority than the web process.
SCHEDULER_NICENESS = 10


def reclaim_crashed_leases(services: Services) -> None:
    """After a crash (kill -9, OOM) this host's new process takes over its predecessor's leases at once,
    instead of leaving its jobs unpolled and its cards undelivered until the leases expire."""
    with services.store.transaction() as tx:
        dead = crashed_owners(tx.lease_owners(services.clock.now()), services.alive_owners())
        tx.expire_leases(dead)
    if dead:
        log.info("took over the leases of %d crashed process(es) on this host", len(dead))


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this process when its parent dies (as a crash would kill both)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        log.debug("PR_SET_PDEATHSIG unavailable; the scheduler watches its parent instead")


def scheduler_main(
    settings: Settings, parent: int, parent_owner: str, wake: EventType, ready: EventType
) -> None:
    """The scheduler process (spawned by ``run_serve``; ``parent_owner`` is the web process's name)."""
    _die_with_parent()
    os.nice(SCHEDULER_NICENESS)  # background work: acks in the web process come first on a busy machine
    configure_logging(settings.log_level, settings.log_format)
    for secret in settings.secret_values():
        SECRETS.add(secret)
    if settings.metrics_port is not None:  # the folder the web process made, named in our environment
        metrics.enable()
    services = Services.from_settings(settings)
    services.peers = (parent_owner,)
    metrics.count_slack_calls(services.web)
    reclaim_crashed_leases(services)
    health = SchedulerHealth()

    def observe(job_id: str, lag: float, ok: bool) -> None:
        health.observe(job_id, lag, ok)
        metrics.tick_observer(job_id, lag, ok)

    scheduler = Scheduler(scheduled_jobs(services, health), observer=observe)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the web process, which stops us
    scheduler.start()
    ready.set()
    while not stop.is_set():
        if wake.wait(timeout=1.0):
            wake.clear()
            scheduler.wakeup("deliver")
        if os.getppid() != parent:  # orphaned (no PR_SET_PDEATHSIG): stop like a crash would
            break
    scheduler.shutdown()
    services.poller.close()
    services.database.dispose()


class SchedulerProcess:
    """Starts, supervises and stops the scheduler process."""

    def __init__(self, settings: Settings, parent_owner: str) -> None:
        self.settings = settings
        self.parent_owner = parent_owner
        self._ctx = multiprocessing.get_context("spawn")
        self.wake = self._ctx.Event()
        self._ready = self._ctx.Event()
        self._proc: BaseProcess | None = None
        self.stopping = False

    def start(self) -> None:
        self._ready.clear()
        self._proc = self._ctx.Process(
            target=scheduler_main,
            args=(self.settings, os.getpid(), self.parent_owner, self.wake, self._ready),
            name="ftbot-scheduler",
            daemon=False,
        )
        self._proc.start()

    def wait_ready(self, timeout: float = 60) -> bool:
        return self._ready.wait(timeout)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.is_alive() and self._ready.is_set()

    def supervise(self) -> None:
        """Restart the scheduler if it died (called periodically by the web process)."""
        if not self.stopping and self._proc is not None and not self._proc.is_alive():
            log.error("the scheduler process exited (code %s); starting a new one", self._proc.exitcode)
            if self._proc.pid is not None:
                metrics.mark_process_dead(self._proc.pid)
            self.start()

    def stop(self, timeout: float = 30) -> None:
        self.stopping = True
        if self._proc is None:
            return
        if self._proc.is_alive():
            self._proc.terminate()  # SIGTERM: finish the tick, hand the leases back
            self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
