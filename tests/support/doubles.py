"""Stand-ins for the core's small ports: clocks and the approver directory."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

APPROVER = "UAPPROVER1"


class Clock:
    """A fake clock that starts at a fixed moment, moves 1 ms per reading (so every reading is distinct)
    and jumps when the test calls ``advance``."""

    def __init__(self) -> None:
        self.t = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            self.t += timedelta(milliseconds=1)
            return self.t

    def advance(self, **kw: float) -> None:
        with self._lock:
            self.t += timedelta(**kw)


class WallClock:
    """Real time, plus an offset a benchmark or test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.offset += timedelta(seconds=seconds)


class Approvers:
    """An approver directory holding the given user ids (by default the one test approver)."""

    def __init__(self, ids: Iterable[str] = (APPROVER,)) -> None:
        self.ids = list(ids)

    def is_approver(self, user_id: str) -> bool:
        return user_id in self.ids

    def approvers(self) -> list[str]:
        return list(self.ids)
