"""What a preflight run (`ftbot doctor`, `/finetune doctor`) says: one ``Check`` per prerequisite, in a fixed
order with stable names. Plain values, rendered by the CLI and by ``bot.ui.doctor``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    SKIP = "skip"  # not applicable (another backend, or a check it depends on did not pass)
    WARN = "warn"  # worth knowing, blocks no job: the run stays ok


#: how a terminal and Slack mark each status
MARKS = {Status.PASS: "✓", Status.FAIL: "✗", Status.SKIP: "—", Status.WARN: "⚠"}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": str(self.status), "detail": self.detail, "fix": self.fix}


def passed(name: str, detail: str) -> Check:
    return Check(name, Status.PASS, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.FAIL, detail, fix)


def warned(name: str, detail: str, fix: str | None = None) -> Check:
    return Check(name, Status.WARN, detail, fix)


def skipped(name: str, detail: str) -> Check:
    return Check(name, Status.SKIP, detail)


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """Every applicable check passed (a warning or a skip does not count against it)."""
        return not self.failed

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status is Status.FAIL]

    def get(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def to_json(self) -> dict[str, Any]:
        """``{"ok": bool, "checks": [{"name", "status", "detail", "fix"}]}``, as ``ftbot doctor --json``
        prints it."""
        return {"ok": self.ok, "checks": [c.to_json() for c in self.checks]}
