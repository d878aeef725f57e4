"""The serve process: Bolt app, scheduler, HTTP server (and Socket Mode), shut down cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import create_app
from bot.scheduler import ScheduledJob, Scheduler
from bot.server import HealthState, build_asgi, uvicorn_server
from bot.services import Services

log = logging.getLogger("ftbot.serve")


def scheduled_jobs(services: Services) -> list[ScheduledJob]:
    """Everything the scheduler runs, registered in one place. Jobs are claimed by their own
    ``next_poll_at``, so ticking more often than FTBOT_POLL_SECONDS costs nothing extra."""
    poll = services.settings.poll_seconds
    tick = min(poll, 5.0)
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


async def run_serve(services: Services, host: str, port: int) -> None:
    settings = services.settings
    bolt = create_app(services)
    await asyncio.to_thread(reclaim_crashed_leases, services)
    scheduler = Scheduler(scheduled_jobs(services))
    services.wake = lambda: scheduler.wakeup("deliver")
    scheduler.start()
    health = HealthState(
        services.database.ping, lambda: scheduler.running, "socket" if settings.socket_mode else "http"
    )
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    server = uvicorn_server(build_asgi(bolt, health, None if settings.socket_mode else secret), host, port)

    socket_handler = None
    stop = asyncio.Event()
    connector: asyncio.Task[None] | None = None
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
        if connector is not None:
            connector.cancel()
        if socket_handler is not None:
            await socket_handler.close_async()
        await asyncio.to_thread(scheduler.shutdown)
        services.poller.close()
        services.database.dispose()
        log.info("ftbot stopped")
