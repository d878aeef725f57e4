"""`ftbot serve`: the web process (Bolt app on uvicorn, or Socket Mode) and, beside it, the scheduler in a
process of its own, both shut down cleanly on SIGTERM.

The scheduler polls every live job and delivers to Slack; in the web process its database and backend
work would compete with the event loop for the GIL and slow every ack down. In its own process it
uses the second core instead. The web process supervises it (restarts it if it dies; /healthz says
503 while it is down); the kernel kills it if the web process dies (PR_SET_PDEATHSIG), so a crashed
serve never leaves an orphan polling behind. The web process wakes it after a click so cards move at once.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import create_app
from bot.logs import SECRETS, configure_logging
from bot.scheduler import ScheduledJob, Scheduler
from bot.server import HealthState, build_asgi, uvicorn_server
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger("ftbot.serve")


def scheduled_jobs(services: Services) -> list[ScheduledJob]:
    """Everything the scheduler runs, registered in one place. Jobs are claimed by their own
    ``next_poll_at``, so ticking more often than FTBOT_POLL_SECONDS costs nothing extra."""
    poll = services.settings.poll_seconds
    tick = services.poller.tick_seconds
    return [
        ScheduledJob("poll_jobs", services.poller.poll_jobs, tick),
        ScheduledJob("poll_endpoints", services.poller.poll_endpoints, tick),
        ScheduledJob("deliver", services.delivery.tick, 1.0),
        ScheduledJob("sweep_endpoints", services.poller.sweep, max(60.0, poll)),
        # keep the base-model catalogue warm so the wizard's option loads answer from cache within 3 s
        ScheduledJob("warm_catalogue", services.backend.list_base_models, 1800.0),
    ]


async def _keep_socket_mode_connected(handler: AsyncSocketModeHandler, stop: asyncio.Event) -> None:
    delay = 1.0
    while not stop.is_set():
        try:
            await handler.connect_async()
            log.info("Socket Mode connected")
            return
        except Exception as e:
            log.warning("Socket Mode connection failed (%s); retrying in %.0fs", type(e).__name__, delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                delay = min(delay * 2, 60)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def crashed_owners(owners: set[str], me: str) -> set[str]:
    """Lease owners (``host-pid-random``, see ``Services.owner``) that were earlier processes on this host
    and are gone: their pid is dead, or is ours now (a container restarts with the same pid). Leases of
    other hosts are left to expire."""
    host = socket.gethostname()[:30]
    out = set()
    for owner in owners - {me}:
        prefix = owner.rpartition("-")[0]
        owner_host, _, pid = prefix.rpartition("-")
        if owner_host == host and pid.isdigit() and (int(pid) == os.getpid() or not _pid_alive(int(pid))):
            out.add(owner)
    return out


def reclaim_crashed_leases(services: Services) -> None:
    """After a crash (kill -9, OOM) this host's new process takes over its predecessor's leases at once,
    instead of leaving its jobs unpolled and its cards undelivered until the leases expire."""
    with services.store.transaction() as tx:
        dead = crashed_owners(tx.lease_owners(services.clock.now()), services.owner)
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


def scheduler_main(settings: Settings, parent: int, wake: EventType, ready: EventType) -> None:
    """The scheduler process (spawned by ``run_serve``)."""
    _die_with_parent()
    os.nice(SCHEDULER_NICENESS)  # background work: acks in the web process come first on a busy machine
    configure_logging(settings.log_level)
    for secret in (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token):
        if secret is not None:
            SECRETS.add(secret.get_secret_value())
    services = Services.from_settings(settings)
    reclaim_crashed_leases(services)
    scheduler = Scheduler(scheduled_jobs(services))
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

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ctx = multiprocessing.get_context("spawn")
        self.wake = self._ctx.Event()
        self._ready = self._ctx.Event()
        self._proc: BaseProcess | None = None
        self.stopping = False

    def start(self) -> None:
        self._ready.clear()
        self._proc = self._ctx.Process(
            target=scheduler_main,
            args=(self.settings, os.getpid(), self.wake, self._ready),
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


async def _supervise(scheduler: SchedulerProcess, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=5)
        except TimeoutError:
            await asyncio.to_thread(scheduler.supervise)


# Polling and delivery run at a lower CPU priority than the web process.
SCHEDULER_NICENESS = 10


async def run_serve(services: Services, host: str, port: int) -> None:
    settings = services.settings
    bolt = create_app(services)
    scheduler = SchedulerProcess(settings)
    scheduler.start()
    services.wake = scheduler.wake.set
    if not await asyncio.to_thread(scheduler.wait_ready):
        log.error("the scheduler process did not start within 60 s; /healthz reports 503 until it does")
    health = HealthState(
        services.database.ping, lambda: scheduler.running, "socket" if settings.socket_mode else "http"
    )
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    server = uvicorn_server(
        build_asgi(bolt, health, None if settings.socket_mode else secret, [services.responder.close]),
        host,
        port,
    )

    socket_handler = None
    stop = asyncio.Event()
    connector: asyncio.Task[None] | None = None
    supervisor = asyncio.create_task(_supervise(scheduler, stop))
    if settings.socket_mode and settings.slack_app_token is not None:
        socket_handler = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
        health.socket_connected = lambda: bool(socket_handler and socket_handler.client.is_connected())
        connector = asyncio.create_task(_keep_socket_mode_connected(socket_handler, stop))

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    log.info("ftbot serving on http://%s:%d (%s mode, %s backend)", host, port, health.mode, settings.backend)
    try:
        await server.serve()  # returns on SIGTERM / SIGINT (uvicorn installs the handlers)
    finally:
        stop.set()
        supervisor.cancel()
        if connector is not None:
            connector.cancel()
        if socket_handler is not None:
            await socket_handler.close_async()
        await asyncio.to_thread(scheduler.stop)
        services.database.dispose()
        log.info("ftbot stopped")
