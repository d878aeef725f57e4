"""Where cost facts are kept (a Protocol; ``bot/store/costs.py`` implements it on SQL) and an in-memory
one for the core's tests and the offline demo."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from commands.costs.ledger import CostFact, CostKind


class CostBook(Protocol):
    """Cost facts, per workspace. Each method is its own transaction."""

    def record(self, fact: CostFact) -> bool:
        """Keep ``fact`` once per ``fact.key``. False when that key was recorded before."""
        ...

    def facts(self, *, team_id: str | None, since: datetime, until: datetime) -> list[CostFact]:
        """Facts that may cost anything in ``[since, until)``: training and inference dated inside it,
        hosting that began before ``until`` and had not ended by ``since``. ``ended_at`` of a hosting
        fact is filled from its endpoint (torn down, failed). ``team_id`` None: every workspace."""
        ...

    def facts_for_job(self, job_id: str) -> list[CostFact]: ...

    def claim_notice(self, key: str, *, team_id: str, at: datetime) -> bool:
        """Record that the one-time notice ``key`` (a budget threshold) was sent; False if it was before."""
        ...


class MemoryCostBook:
    """A ``CostBook`` in a dict. ``end_hosting`` stands in for the endpoint table's deleted_at."""

    def __init__(self) -> None:
        self._facts: dict[str, CostFact] = {}
        self._ends: dict[str, datetime] = {}
        self._notices: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def record(self, fact: CostFact) -> bool:
        with self._lock:
            if fact.key in self._facts:
                return False
            self._facts[fact.key] = fact
            return True

    def end_hosting(self, endpoint: str, at: datetime) -> None:
        self._ends[endpoint] = at

    def _filled(self, fact: CostFact) -> CostFact:
        if fact.kind is CostKind.HOSTING and fact.endpoint in self._ends and fact.ended_at is None:
            return fact.model_copy(update={"ended_at": self._ends[fact.endpoint]})
        return fact

    def facts(self, *, team_id: str | None, since: datetime, until: datetime) -> list[CostFact]:
        out = []
        for fact in map(self._filled, list(self._facts.values())):
            if team_id is not None and fact.team_id != team_id:
                continue
            if fact.kind is CostKind.HOSTING:
                if fact.at < until and (fact.ended_at is None or fact.ended_at > since):
                    out.append(fact)
            elif since <= fact.at < until:
                out.append(fact)
        return sorted(out, key=lambda f: f.at)

    def facts_for_job(self, job_id: str) -> list[CostFact]:
        return sorted(
            (self._filled(f) for f in self._facts.values() if f.job_id == job_id), key=lambda f: f.at
        )

    def claim_notice(self, key: str, *, team_id: str, at: datetime) -> bool:
        with self._lock:
            if (team_id, key) in self._notices:
                return False
            self._notices.add((team_id, key))
            return True
