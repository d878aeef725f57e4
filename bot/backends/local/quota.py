"""Per-deployment quotas as Azure's serverless endpoints apply them: tokens per minute and requests per
minute over a sliding 60-second window. A request is admitted against its estimate (prompt tokens +
``max_tokens``) and settled with what it really used once the reply is known."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 60.0


@dataclass
class _Entry:
    at: float
    tokens: int


@dataclass(frozen=True)
class Refusal:
    reason: str  # "requests" or "tokens"
    retry_after: float  # seconds until the request would be admitted

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


class RateLimiter:
    def __init__(
        self, *, tokens_per_minute: int, requests_per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if tokens_per_minute < 1 or requests_per_minute < 1:
            raise ValueError("quotas must be at least 1")
        self.tokens_per_minute = tokens_per_minute
        self.requests_per_minute = requests_per_minute
        self._clock = clock
        self._entries: deque[_Entry] = deque()
        self._tokens = 0
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._entries and self._entries[0].at <= now - WINDOW_S:
            self._tokens -= self._entries.popleft().tokens

    def acquire(self, estimated_tokens: int) -> _Entry | Refusal:
        """Admit a request (returns its entry, to ``settle`` later) or say when to retry."""
        estimated = max(0, estimated_tokens)
        with self._lock:
            now = self._clock()
            self._expire(now)
            if len(self._entries) >= self.requests_per_minute:
                return Refusal("requests", self._entries[0].at + WINDOW_S - now)
            # A request larger than the whole quota is admitted into an empty window, never refused forever.
            if self._tokens + estimated > self.tokens_per_minute and self._tokens > 0:
                need = self._tokens + estimated - self.tokens_per_minute
                freed = 0
                wait = WINDOW_S
                for e in self._entries:
                    freed += e.tokens
                    if freed >= need:
                        wait = e.at + WINDOW_S - now
                        break
                return Refusal("tokens", wait)
            entry = _Entry(now, estimated)
            self._entries.append(entry)
            self._tokens += estimated
            return entry

    def settle(self, entry: _Entry, used_tokens: int) -> None:
        """Replace a request's estimate with the tokens it really used."""
        with self._lock:
            if any(e is entry for e in self._entries):
                self._tokens += used_tokens - entry.tokens
            entry.tokens = used_tokens

    @property
    def tokens_in_window(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return self._tokens
