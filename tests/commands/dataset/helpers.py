"""Small builders for dataset tests."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import orjson

from commands.dataset import ValidationReport, validate_dataset
from commands.dataset.rules import ExampleRules


def chat(i: int = 0, *, system: bool = True, user: bool = True, answer: str | None = None) -> dict[str, Any]:
    msgs: list[dict[str, Any]] = []
    if system:
        msgs.append({"role": "system", "content": "You are a helpful support assistant."})
    if user:
        msgs.append({"role": "user", "content": f"Question number {i}: where is my order?"})
    msgs.append(
        {"role": "assistant", "content": answer if answer is not None else f"Order {i} ships tomorrow."}
    )
    return {"messages": msgs}


def line(obj: Any) -> bytes:
    return obj if isinstance(obj, bytes) else orjson.dumps(obj)


def jsonl(objs: list[Any]) -> bytes:
    return b"".join(line(o) + b"\n" for o in objs)


def good(n: int = 10, start: int = 0) -> list[Any]:
    return [chat(i) for i in range(start, start + n)]


def run(objs: list[Any] | bytes, **kw: Any) -> ValidationReport:
    data = objs if isinstance(objs, bytes) else jsonl(objs)
    return validate_dataset(io.BytesIO(data), **kw)


def codes_at(report: ValidationReport) -> set[tuple[int | None, str]]:
    return {(i.line, i.code) for i in report.errors}


def warnings_at(report: ValidationReport) -> set[tuple[int | None, str]]:
    return {(i.line, i.code) for i in report.warnings}


class IssueRecorder:
    """The ``Issues`` a rules checker reports to, recorded as ``(kind, code, message)`` with kind E or W."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []
        self.lines: set[int | None] = set()

    def error(self, line: int | None, code: str, message: str) -> None:
        self.items.append(("E", code, message))
        self.lines.add(line)

    def warn(self, line: int | None, code: str, message: str) -> None:
        self.items.append(("W", code, message))
        self.lines.add(line)


@dataclass(frozen=True)
class Outcome:
    """What one ``ExampleRules.check`` returned, reported and left in the checker's attributes."""

    ok: bool
    issues: list[tuple[str, str, str]]
    base: int
    messages: int
    empty_reply_at: int | str
    texts: list[str]
    shared: list[Any]


def outcome(rules: ExampleRules, obj: dict[str, Any], line: int = 7) -> Outcome:
    """Check ``obj`` as line ``line``; every issue must carry that line."""
    log = rules.issues
    assert isinstance(log, IssueRecorder)
    log.items, log.lines = [], set()
    ok = rules.check(obj, line)
    assert log.lines <= {line}
    return Outcome(ok, log.items, rules.base, rules.messages, rules.empty_reply_at, rules.texts, rules.shared)
