"""Small builders for dataset tests."""

from __future__ import annotations

import io
from typing import Any

import orjson

from commands.dataset import ValidationReport, validate_dataset


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
