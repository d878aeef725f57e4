"""`ftbot serve`: the web process (Bolt app on uvicorn, or Socket Mode) and, beside it, the scheduler in a
process of its own, both shut down cleanly on SIGTERM.

The scheduler polls every live job and delivers to Slack; in the web process its database and backend
work would compete with the event loop for the GIL and slow every ack down. In its own process it
uses the second core instead. The web process supervises it (restarts it if it dies; /healthz says
503 while it is down); the kernel kills it if the web process dies (PR_SET_PDEATHSIG), so a crashed
serve never leaves an orphan polling behind. The web process wakes it after a click so cards move at once.

``FTBOT_ROLE`` splits the two for a cluster: ``web`` serves Slack without a scheduler process (scale it
out), ``scheduler`` runs the scheduler process and /healthz but takes no Slack requests; ``all`` (the
default) is both. With ``FTBOT_METRICS_PORT`` set, ``GET /metrics`` on that port covers both processes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.listeners.app import create_app
from bot.runtime import metrics
from bot.runtime.logs import configure_logging
from bot.runtime.scheduler_process import SchedulerProcess
from bot.runtime.server import HealthState, build_asgi, uvicorn_server
from bot.runtime.services import Services
from bot.runtime.socket_mode import ScreenedSocketModeHandler

log = logging.getLogger("ftbot.serve")


async def _keep_socket_mode_connected(handler: ScreenedSocketModeHandler, stop: asyncio.Event) -> None:
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


async def _supervise(scheduler: SchedulerProcess | None, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=5)
        except TimeoutError:
            if scheduler is not None:
                await asyncio.to_thread(scheduler.supervise)


def _start_scheduler(services: Services) -> SchedulerProcess | None:
    if services.settings.role == "web":  # the scheduler runs in a Deployment of its own
        return None
    scheduler = SchedulerProcess(services.settings, services.owner)
    scheduler.start()
    services.wake = scheduler.wake.set
    if not scheduler.wait_ready():
        log.error("the scheduler process did not start within 60 s; /healthz reports 503 until it does")
    return scheduler


def _start_metrics(services: Services, host: str) -> tuple[metrics.MetricsServer, Path] | None:
    settings = services.settings
    if settings.metrics_port is None:
        return None
    folder = metrics.prepare()
    metrics.enable()
    metrics.count_slack_calls(services.web)
    server = metrics.MetricsServer(host, settings.metrics_port, services.database, settings.backend)
    return server, folder


async def run_serve(
    services: Services, host: str, port: int, doctor: Callable[[], dict[str, Any]] | None = None
) -> None:
    settings = services.settings
    configure_logging(settings.log_level, settings.log_format)
    observed = _start_metrics(services, host)
    bolt = create_app(services)
    metrics.count_slack_calls(bolt.client)
    scheduler = await asyncio.to_thread(_start_scheduler, services)
    health = HealthState(
        services.database.ping,
        (lambda: True) if scheduler is None else (lambda: scheduler.running),
        "socket" if settings.socket_mode else "http",
    )
    health.doctor = doctor  # the start-up checks' failures, under "doctor" (never a 503)
    takes_slack = settings.role != "scheduler" and not settings.socket_mode
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    server = uvicorn_server(
        build_asgi(bolt, health, secret if takes_slack else None, [services.responder.close]), host, port
    )

    socket_handler = None
    stop = asyncio.Event()
    connector: asyncio.Task[None] | None = None
    supervisor = asyncio.create_task(_supervise(scheduler, stop))
    if settings.socket_mode and settings.slack_app_token is not None and settings.role != "scheduler":
        socket_handler = ScreenedSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
        health.socket_connected = lambda: bool(socket_handler and socket_handler.client.is_connected())
        connector = asyncio.create_task(_keep_socket_mode_connected(socket_handler, stop))

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    log.info(
        "ftbot serving on http://%s:%d (%s mode, %s backend, role %s)",
        host, port, health.mode, settings.backend, settings.role,
    )  # fmt: skip
    try:
        await server.serve()  # returns on SIGTERM / SIGINT (uvicorn installs the handlers)
    finally:
        stop.set()
        supervisor.cancel()
        if connector is not None:
            connector.cancel()
        if socket_handler is not None:
            await socket_handler.close_async()
        if scheduler is not None:
            await asyncio.to_thread(scheduler.stop)
        if observed is not None:
            observed[0].close()
            metrics.discard(observed[1])
        services.database.dispose()
        log.info("ftbot stopped")
