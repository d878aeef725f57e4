"""Which workspace a Slack request speaks for, so every query it makes sees only that workspace's rows.

In OAuth mode (one ftbot, many workspaces) a Bolt middleware enters ``within(Workspace(team, enterprise))``
around each request; the repositories read ``current()`` and add ``team_id = …`` to what they select, and
stamp the workspace on what they insert. A row of another workspace is then ``NotFound``, exactly as a
row that does not exist, whatever id is guessed. Outside a request (the scheduler, the CLI, single-workspace
mode) there is no scope and nothing is filtered. The scope is a context variable, so it follows the request
into ``asyncio.to_thread`` workers and tasks, and never leaks to another request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, true


@dataclass(frozen=True)
class Workspace:
    """A Slack workspace (``team_id``), and the Enterprise Grid org it belongs to, if any."""

    team_id: str
    enterprise_id: str | None = None


_CURRENT: ContextVar[Workspace | None] = ContextVar("ftbot_workspace", default=None)


def current() -> Workspace | None:
    return _CURRENT.get()


@contextmanager
def within(workspace: Workspace | None) -> Iterator[None]:
    token = _CURRENT.set(workspace)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def team_clause(column: Any) -> ColumnElement[bool]:
    """``column = <the current team>`` inside a request's scope; always true outside one."""
    workspace = current()
    return true() if workspace is None else column == workspace.team_id


def visible(team_id: str) -> bool:
    """Whether a row of ``team_id`` may be shown in the current scope."""
    workspace = current()
    return workspace is None or workspace.team_id == team_id
