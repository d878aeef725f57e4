"""Imports point one way: bot -> commands. commands/ imports no bot, Slack, Azure, SQL or torch code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = (
    "bot",
    "slack_bolt",
    "slack_sdk",
    "azure",
    "sqlalchemy",
    "alembic",
    "torch",
    "transformers",
    "peft",
)


def test_commands_imports_nothing_from_the_outside() -> None:
    offenders = []
    for path in sorted((ROOT / "commands").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in FORBIDDEN:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert offenders == []
