"""Waiting on a condition instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(
    check: Callable[[], object],
    timeout: float = 10,
    what: str = "the condition",
    *,
    interval: float = 0.02,
    between: Callable[[], object] | None = None,
) -> None:
    """Call ``check`` until it is truthy; fail naming ``what`` after ``timeout`` seconds.

    ``between`` runs before each check (e.g. a scheduler tick the test drives itself)."""
    deadline = time.monotonic() + timeout
    while True:
        if between is not None:
            between()
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
