"""The objects a running ftbot is built from, made once in ``bot/cli.py`` (or a test) and handed to
``create_app`` and the scheduler. No work happens at import time."""

from __future__ import annotations

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

from bot.settings import Settings
from bot.store.db import Database

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

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings=settings, database=Database(settings.resolved_database_url))

    @property
    def backend(self) -> FineTuningBackend:
        if self._backend is None:
            from bot.foundry import build_backend

            self._backend = build_backend(self.settings)
        return self._backend

    @cached_property
    def web(self) -> WebClient:
        return scheduler_web_client(self.settings)
