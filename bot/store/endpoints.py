"""Endpoints: one live endpoint per model (the unique ``model_slot``), moved between states only from
the state a caller saw, so concurrent clicks and polls settle on one outcome."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store import scope
from bot.store.rows import LIVE_ENDPOINT_STATES, column_value, endpoint_record, endpoint_row
from bot.store.tables import EndpointRow, JobRow
from commands.errors import Conflict, NotFound
from commands.models import EndpointState
from commands.records import EndpointRecord

_FIELDS = {
    "scoring_uri",
    "error",
    "updated_at",
    "ready_at",
    "deleted_at",
    "deleted_by",
    "last_used_at",
    "idle_reminder_at",
}


class EndpointRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def claim_endpoint(self, endpoint: EndpointRecord) -> EndpointRecord:
        row = endpoint_row(endpoint)
        owner = self.s.execute(
            select(JobRow.team_id, JobRow.enterprise_id).where(JobRow.id == endpoint.job_id)
        )
        for team_id, enterprise_id in owner:  # the endpoint belongs to its job's workspace
            row.team_id, row.enterprise_id = team_id, enterprise_id
        try:
            with self.s.begin_nested():
                self.s.add(row)
        except IntegrityError as e:
            holder = self.s.scalar(select(EndpointRow).where(EndpointRow.model_slot == endpoint.model))
            name = holder.name if holder else endpoint.name
            raise Conflict(
                "{model} is already deployed as {endpoint}.",
                existing=name,
                model=endpoint.model,
                endpoint=name,
            ) from e
        return endpoint_record(row)

    def get_endpoint(self, name: str) -> EndpointRecord:
        row = self.s.get(EndpointRow, name)
        if row is None or not scope.visible(row.team_id):
            raise NotFound(
                "There is no endpoint {endpoint}. {command} lists the live ones.",
                endpoint=name,
                command="/finetune endpoints",
            )
        return endpoint_record(row)

    def endpoints_for_job(self, job_id: str) -> list[EndpointRecord]:
        rows = self.s.scalars(
            select(EndpointRow)
            .where(EndpointRow.job_id == job_id, scope.team_clause(EndpointRow.team_id))
            .order_by(EndpointRow.created_at)
        )
        return [endpoint_record(r) for r in rows]

    def live_endpoints(self) -> list[EndpointRecord]:
        rows = self.s.scalars(
            select(EndpointRow)
            .where(EndpointRow.state.in_(LIVE_ENDPOINT_STATES), scope.team_clause(EndpointRow.team_id))
            .order_by(EndpointRow.created_at)
        )
        return [endpoint_record(r) for r in rows]

    def endpoints_to_poll(self) -> list[str]:
        """Endpoints on their way up or down, whose backend state the poller follows."""
        states = (EndpointState.CREATING.value, EndpointState.DELETING.value)
        return list(self.s.scalars(select(EndpointRow.name).where(EndpointRow.state.in_(states))))

    def transition_endpoint(
        self, name: str, from_states: tuple[EndpointState, ...], to_state: EndpointState, **changes: object
    ) -> EndpointRecord | None:
        values: dict[str, Any] = {k: column_value(v) for k, v in _known(changes).items()}
        values["state"] = to_state.value
        if to_state in (EndpointState.DELETED, EndpointState.FAILED):
            values["model_slot"] = None  # the model may be deployed again
        result = self.s.execute(
            update(EndpointRow)
            .where(
                EndpointRow.name == name,
                EndpointRow.state.in_([s.value for s in from_states]),
                scope.team_clause(EndpointRow.team_id),
            )
            .values(**values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        self.s.expire_all()
        return self.get_endpoint(name)

    def touch_endpoint(self, name: str, **changes: object) -> EndpointRecord:
        mine = scope.team_clause(EndpointRow.team_id)
        self.s.execute(update(EndpointRow).where(EndpointRow.name == name, mine).values(**_known(changes)))
        self.s.expire_all()
        return self.get_endpoint(name)


def _known(changes: dict[str, object]) -> dict[str, object]:
    unknown = set(changes) - _FIELDS
    if unknown:
        raise ValueError(f"cannot update endpoint fields {sorted(unknown)}")
    return changes
