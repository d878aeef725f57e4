"""The objects a running ftbot is built from, made once in ``bot/cli.py`` (or a test) and handed to
``create_app`` and the scheduler. No work happens at import time."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.datasets.fetcher import Downloader
from bot.datasets.intake import Intake
from bot.runtime.settings import Settings
from bot.scheduling.launches import InterruptedLaunches
from bot.scheduling.poller import Poller
from bot.slack.approvers import SlackApprovers
from bot.slack.delivery import Delivery
from bot.slack.replies import Responder
from bot.store.db import Database
from bot.store.repo import SqlStore
from commands.lifecycle import Lifecycle
from commands.ports import ApproverDirectory

if TYPE_CHECKING:
    from commands.ports import FineTuningBackend


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def scheduler_web_client(settings: Settings) -> WebClient:
    """The Web API client for work off the ack path: it waits out 429s (Retry-After) and retries 5xx."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: SystemClock = field(default_factory=SystemClock)
    _backend: FineTuningBackend | None = None
    wake: Callable[[], None] | None = None
    #: the other live processes of this serve (the scheduler process's web process)
    peers: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings=settings, database=Database(settings.resolved_database_url))

    @property
    def backend(self) -> FineTuningBackend:
        if self._backend is None:
            from bot.backends import build_backend

            self._backend = build_backend(self.settings)
        return self._backend

    @cached_property
    def web(self) -> WebClient:
        return scheduler_web_client(self.settings)

    @cached_property
    def owner(self) -> str:
        """This process's name in leases (host, pid and a random part)."""
        return f"{socket.gethostname()[:30]}-{os.getpid()}-{secrets.token_hex(3)}"

    def alive_owners(self) -> set[str]:
        """The owners in the store that are this serve's live processes."""
        return {self.owner, *self.peers}

    @cached_property
    def responder(self) -> Responder:
        return Responder()

    @cached_property
    def store(self) -> SqlStore:
        return SqlStore(self.database)

    @cached_property
    def approvers(self) -> ApproverDirectory:
        return SlackApprovers(self.settings.approvers, self.web)

    @cached_property
    def downloader(self) -> Downloader:
        return Downloader.from_settings(self.settings)

    @cached_property
    def intake(self) -> Intake:
        return Intake(self.downloader, self.settings.data_dir / "datasets")

    @cached_property
    def lifecycle(self) -> Lifecycle:
        return Lifecycle(
            backend=self.backend,
            store=self.store,
            clock=self.clock,
            approvers=self.approvers,
            work_dir=self.settings.data_dir / "jobs-input",
            idle_hours=self.settings.endpoint_idle_hours,
            ttl_hours=self.settings.endpoint_ttl_hours,
            on_change=self.wake_delivery,
            owner=self.owner,
        )

    @cached_property
    def delivery(self) -> Delivery:
        return Delivery(
            store=self.store,
            lifecycle=self.lifecycle,
            web=self.web,
            approvers=self.approvers,
            clock=self.clock,
            owner=self.owner,
            updates_per_minute=self.settings.slack_updates_per_minute,
        )

    @cached_property
    def launches(self) -> InterruptedLaunches:
        return InterruptedLaunches(store=self.store, web=self.web, clock=self.clock, alive=self.alive_owners)

    @cached_property
    def poller(self) -> Poller:
        return Poller(
            store=self.store,
            lifecycle=self.lifecycle,
            clock=self.clock,
            owner=self.owner,
            poll_seconds=self.settings.poll_seconds,
        )

    def wake_delivery(self) -> None:
        """Deliver soon rather than at the next tick (set by the runtime once the scheduler runs)."""
        if self.wake is not None:
            self.wake()
