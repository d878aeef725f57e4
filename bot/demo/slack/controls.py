"""What a test makes the fake Slack do wrong: 429/5xx answers, ``ok: false`` refusals, rate limits."""

from __future__ import annotations

import time
from typing import Any

from bot.demo.slack.state import SlackState


class Controls(SlackState):
    def fail_next(
        self, method: str, status: int = 429, *, retry_after: float | None = 1, times: int = 1
    ) -> None:
        with self._lock:
            self._failures[method].extend([(status, retry_after)] * times)

    def refuse_next(self, method: str, error: str, *, times: int = 1) -> None:
        """The next ``times`` calls to ``method`` answer ``{"ok": false, "error": error}`` (HTTP 200)."""
        with self._lock:
            self._refusals[method].extend([error] * times)

    def rate_limit(self, method: str, per_minute: float, burst: int = 5) -> None:
        """Answer ``method`` with 429 and Retry-After once more than ``per_minute`` calls a minute (a
        token bucket of ``burst``) arrive, as Slack's per-method, per-workspace tiers do."""
        with self._lock:
            self._limits[method] = [per_minute / 60.0, float(burst), float(burst), time.monotonic()]

    def _failure_for(self, method: str) -> tuple[int, float | None] | None:
        """The HTTP status (and Retry-After) this call to ``method`` fails with, if it does."""
        with self._lock:
            failure = self._failures[method].pop(0) if self._failures.get(method) else None
            return failure or self._over_limit(method)

    def _refusal_for(self, method: str) -> dict[str, Any] | None:
        """The ``ok: false`` answer ``refuse_next`` queued for ``method``, if any."""
        if self._refusals.get(method):
            return {"ok": False, "error": self._refusals[method].pop(0)}
        return None

    def _over_limit(self, method: str) -> tuple[int, float | None] | None:
        limit = self._limits.get(method)
        if limit is None:
            return None
        rate, burst, tokens, last = limit
        now = time.monotonic()
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens >= 1:
            limit[2:] = [tokens - 1, now]
            return None
        limit[2:] = [tokens, now]
        return 429, max(1.0, (1 - tokens) / rate)
