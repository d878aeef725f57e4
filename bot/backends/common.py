"""What every backend shares."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from commands.errors import InvalidInput

T = TypeVar("T")


def no_skus(kind: str, sku: str | None) -> None:
    """For a backend without deployment SKUs: refuse one, plainly."""
    if sku is not None:
        raise InvalidInput(
            f"The {kind} backend has no deployment SKUs: deploy without choosing one ({{sku}}).",
            field="sku",
            sku=sku,
        )


class TtlCache(Generic[T]):
    """``load()``'s value, kept for ``ttl_s`` (by ``clock``): at most one load per TTL, so Slack's option
    loads are answered from memory; concurrent callers wait for one load."""

    def __init__(self, load: Callable[[], T], ttl_s: float, clock: Callable[[], float]) -> None:
        self._load, self._ttl_s, self._clock = load, ttl_s, clock
        self._lock = threading.Lock()
        self._cached: tuple[float, T] | None = None

    def get(self) -> T:
        cached = self._cached
        if cached is not None and self._clock() - cached[0] < self._ttl_s:
            return cached[1]
        with self._lock:
            cached = self._cached
            if cached is not None and self._clock() - cached[0] < self._ttl_s:
                return cached[1]
            value = self._load()
            self._cached = (self._clock(), value)
            return value

    def refresh(self) -> T:
        """Drop the cached value and load again."""
        with self._lock:
            self._cached = None
        return self.get()
