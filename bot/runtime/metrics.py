"""Prometheus metrics (``FTBOT_METRICS_PORT``): ``GET /metrics`` on a port of its own, covering both
processes of one ``ftbot serve``.

prometheus-client's multiprocess mode: each process writes its counters, histograms and gauges to
memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary folder per serve start, removed
when it stops), and the web process's scrape merges them, so a counter incremented in the scheduler process
appears once at the one endpoint. What the store knows (jobs per state, jobs finished, live endpoints,
the outbox) is read at scrape time, in the metrics server's own thread, so those figures are the same
whichever replica is scraped (aggregate them with ``max``, not ``sum``).

Recording is a memory-mapped write under a per-process lock: microseconds, never I/O, so the ack path
never waits on it. Unset: nothing here runs and every ``record_*`` returns at once.

The backend families (``ftbot_backend_calls_total``, ``ftbot_backend_call_seconds``) are recorded by
``bot.backends.observed``, which ``build_backend`` applies when metrics are on.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from sqlalchemy import func, select

from bot.scheduling.oncall import service_failure
from bot.store.db import Database
from bot.store.rows import LIVE_ENDPOINT_STATES, TERMINAL_JOB_STATES
from bot.store.tables import EndpointRow, JobRow, OutboxRow
from commands.models import JobState

log = logging.getLogger("ftbot.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SURFACES = ("command", "action", "view", "options", "event", "other")
OUTCOMES = ("ok", "refused", "error")
#: ack latency buckets: Slack's deadline is 3 s; ftbot's target is well under 100 ms
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0)


class Metrics:
    """The families the web and scheduler processes record (README, "Metrics")."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.requests = Counter(
            "ftbot_requests_total", "Slack requests handled", ["surface", "outcome"], registry=registry
        )
        self.ack_seconds = Histogram(
            "ftbot_ack_seconds",
            "time from request to ack",
            ["surface"],
            buckets=ACK_BUCKETS,
            registry=registry,
        )
        self.slack_calls = Counter(
            "ftbot_slack_api_calls_total", "Web API calls made", ["method", "result"], registry=registry
        )
        self.tick_lag = Gauge(
            "ftbot_scheduler_tick_lag_seconds",
            "how late the scheduler's last tick ran",
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self.last_tick = Gauge(
            "ftbot_scheduler_last_tick_timestamp_seconds",
            "when the scheduler last finished polling jobs without an error (Unix time)",
            multiprocess_mode="mostrecent",
            registry=registry,
        )

    def request(self, surface: str, outcome: str, seconds: float) -> None:
        surface = surface if surface in SURFACES else "other"
        self.requests.labels(surface, outcome).inc()
        self.ack_seconds.labels(surface).observe(seconds)

    def slack_call(self, method: str, result: str) -> None:
        self.slack_calls.labels(method[:64], result).inc()


_active: Metrics | None = None


def active() -> Metrics | None:
    """This process's metrics, or None when FTBOT_METRICS_PORT is unset."""
    return _active


def prepare() -> Path:
    """A fresh, empty multiprocess folder for this serve (a temporary folder of its own: replicas may share
    FTBOT_DATA_DIR, and a previous run's files would count twice), named in the environment so the
    scheduler process it starts records there too."""
    folder = Path(tempfile.mkdtemp(prefix="ftbot-metrics-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def enable(folder: Path | None = None) -> Metrics:
    """Record into the multiprocess folder from now on (the web process after ``prepare``, and the
    scheduler process, which inherits the environment)."""
    global _active
    if _active is None:
        if folder is not None:
            os.environ[MULTIPROC_ENV] = str(folder)
        values.ValueClass = values.MultiProcessValue()  # prometheus_client chose at import: choose again
        _active = Metrics()
    return _active


def version() -> str:
    try:
        return importlib.metadata.version("ftbot")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class StoreCollector(Collector):
    """What the store knows, read at scrape time: jobs per state, jobs finished, live endpoints, the
    outbox, and ``ftbot_build_info``."""

    def __init__(self, database: Database, backend: str) -> None:
        self.database = database
        self.backend = backend

    def collect(self) -> Iterator[Metric]:
        build = GaugeMetricFamily("ftbot_build_info", "always 1", labels=["version"])
        build.add_metric([version()], 1)
        yield build
        try:
            figures = self._read()
        except Exception:  # the store is away: scrape the rest, say so in the log
            log.warning("metrics: could not read the store", exc_info=True)
            return
        yield from figures

    def _read(self) -> list[Metric]:
        now = datetime.now(UTC)
        with self.database.session_scope() as s:
            states = dict(s.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all())
            live = s.scalar(select(func.count()).where(EndpointRow.state.in_(LIVE_ENDPOINT_STATES)))
            errors = s.scalars(select(JobRow.error).where(JobRow.state == JobState.FAILED.value))
            by_service = sum(1 for error in errors if service_failure(error))
            pending, oldest = s.execute(
                select(func.count(), func.min(OutboxRow.created_at)).where(OutboxRow.sent_at.is_(None))
            ).one()
        jobs = GaugeMetricFamily("ftbot_jobs", "jobs per state, from the store", labels=["state"])
        for state in {s.value for s in JobState} | set(states):
            jobs.add_metric([state], int(states.get(state, 0)))
        finished = CounterMetricFamily(
            "ftbot_jobs_finished", "jobs that reached an end", labels=["backend", "state"]
        )
        for state in TERMINAL_JOB_STATES:
            finished.add_metric([self.backend, state], int(states.get(state, 0)))
        service = CounterMetricFamily(
            "ftbot_jobs_failed_by_service",
            "jobs that failed for a service reason (not the user's data or a cancel)",
            labels=["backend"],
        )
        service.add_metric([self.backend], by_service)
        endpoints = GaugeMetricFamily(
            "ftbot_endpoints_live", "live endpoints (hosting being billed)", labels=["backend"]
        )
        endpoints.add_metric([self.backend], int(live or 0))
        outbox = GaugeMetricFamily("ftbot_outbox_pending", "deliveries waiting")
        outbox.add_metric([], int(pending or 0))
        age = GaugeMetricFamily("ftbot_outbox_oldest_seconds", "age of the oldest waiting delivery")
        age.add_metric([], _age(oldest, now))
        return [jobs, finished, service, endpoints, outbox, age]


def _age(oldest: datetime | None, now: datetime) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())


class ProcessesCollector(Collector):
    """prometheus-client's ``MultiProcessCollector``, read again when a process was growing one of its
    files at that very moment (a scrape then fails with a short read)."""

    def __init__(self) -> None:
        self._inner = multiprocess.MultiProcessCollector(None)

    def collect(self) -> Iterator[Metric]:
        for attempt in range(3):
            try:
                return iter(list(self._inner.collect()))
            except Exception:
                if attempt == 2:
                    log.warning("metrics: could not read the processes' metrics", exc_info=True)
                time.sleep(0.01)
        return iter(())


class MetricsServer:
    """``GET /metrics`` on its own port, in a thread of the web process (never on the event loop)."""

    def __init__(self, host: str, port: int, database: Database, backend: str) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(ProcessesCollector())
        self.registry.register(StoreCollector(database, backend))
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        log.info("metrics on http://%s:%d/metrics", host, port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def mark_process_dead(pid: int) -> None:
    """A scheduler process that exited: drop its live gauges (its counters stay counted)."""
    if _active is not None:
        multiprocess.mark_process_dead(pid)


# --- Slack Web API calls -------------------------------------------------------------------------


def _result(response: HttpResponse | None, error: Exception | None) -> str:
    if response is not None and response.status_code == 429:
        return "rate_limited"
    if error is not None or response is None or response.status_code >= 400:
        return "error"
    body: Mapping[str, Any] = response.body or {}
    return "error" if body.get("ok") is False else "ok"


def _method(request: HttpRequest) -> str:
    return request.url.rsplit("/", 1)[-1].split("?", 1)[0] or "unknown"


class CountingRetryHandler(RetryHandler):
    """First in a WebClient's retry handlers: sees every attempt (429s the next handler retries
    included), counts it and never asks for a retry itself."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=1_000_000)
        self.metrics = metrics

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        self.metrics.slack_call(_method(request), _result(response, error))
        return False


class AsyncCountingRetryHandler(AsyncRetryHandler):
    """The same for Bolt's ``AsyncWebClient``."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=1_000_000)
        self.metrics = metrics

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        self.metrics.slack_call(_method(request), _result(response, error))
        return False


def count_slack_calls(client: Any) -> None:
    """Count a WebClient's or AsyncWebClient's calls (a no-op when metrics are off)."""
    metrics = _active
    if metrics is None or client is None:
        return
    handlers = client.retry_handlers
    if any(isinstance(h, CountingRetryHandler | AsyncCountingRetryHandler) for h in handlers):
        return
    is_async = "Async" in type(client).__name__
    handlers.insert(0, AsyncCountingRetryHandler(metrics) if is_async else CountingRetryHandler(metrics))


def tick_observer(job_id: str, lag: float, ok: bool) -> None:
    """The scheduler's report on each run of a job: how late it started, and whether polling worked."""
    metrics = _active
    if metrics is None:
        return
    if job_id in ("poll_jobs", "deliver"):
        metrics.tick_lag.set(max(0.0, lag))
    if job_id == "poll_jobs" and ok:
        metrics.last_tick.set(time.time())
