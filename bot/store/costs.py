"""``commands.costs.CostBook`` on SQL: cost facts kept whole (JSON) with the columns a month's query needs.
A hosting fact's end is read from its endpoint row (torn down: ``deleted_at``; failed: when it failed),
so no second write is needed when an endpoint stops billing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.tables import CostFactRow, CostNoticeRow, EndpointRow
from commands.costs.ledger import CostFact, CostKind
from commands.models import EndpointState

STOPPED = (EndpointState.DELETED.value, EndpointState.FAILED.value)


class SqlCostBook:
    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self.database.session_scope() as session:
            yield session

    def record(self, fact: CostFact) -> bool:
        try:
            with self._session() as session:
                session.add(
                    CostFactRow(
                        key=fact.key,
                        kind=fact.kind.value,
                        team_id=fact.team_id,
                        enterprise_id=fact.enterprise_id,
                        channel_id=fact.channel_id,
                        user_id=fact.user_id,
                        job_id=fact.job_id,
                        endpoint=fact.endpoint,
                        at=fact.at,
                        expires_at=fact.expires_at,
                        fact=fact.model_dump(mode="json"),
                    )
                )
        except IntegrityError:
            return False
        return True

    def _facts(self, session: Session, rows: list[CostFactRow]) -> list[CostFact]:
        names = {r.endpoint for r in rows if r.kind == CostKind.HOSTING.value and r.endpoint}
        ends: dict[str, datetime] = {}
        if names:
            for ep in session.scalars(select(EndpointRow).where(EndpointRow.name.in_(names))):
                if ep.state in STOPPED:
                    ends[ep.name] = ep.deleted_at or ep.updated_at
        out = []
        for row in rows:
            fact = CostFact.model_validate(row.fact)
            if fact.kind is CostKind.HOSTING and fact.endpoint in ends and fact.ended_at is None:
                fact = fact.model_copy(update={"ended_at": ends[fact.endpoint]})
            out.append(fact)
        return out

    def facts(self, *, team_id: str | None, since: datetime, until: datetime) -> list[CostFact]:
        with self._session() as session:
            query = select(CostFactRow).where(
                CostFactRow.at < until,
                or_(CostFactRow.at >= since, CostFactRow.kind == CostKind.HOSTING.value),
            )
            if team_id is not None:
                query = query.where(CostFactRow.team_id == team_id)
            rows = list(session.scalars(query.order_by(CostFactRow.at, CostFactRow.id)))
            facts = self._facts(session, rows)
        return [
            f
            for f in facts
            if f.kind is not CostKind.HOSTING
            or f.hosting_end(datetime.max.replace(tzinfo=since.tzinfo)) > since
        ]

    def facts_for_job(self, job_id: str) -> list[CostFact]:
        with self._session() as session:
            rows = list(
                session.scalars(
                    select(CostFactRow)
                    .where(CostFactRow.job_id == job_id)
                    .order_by(CostFactRow.at, CostFactRow.id)
                )
            )
            return self._facts(session, rows)

    def claim_notice(self, key: str, *, team_id: str, at: datetime) -> bool:
        try:
            with self._session() as session:
                session.add(CostNoticeRow(team_id=team_id, key=key, created_at=at))
        except IntegrityError:
            return False
        return True
