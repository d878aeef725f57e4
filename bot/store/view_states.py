"""View state kept server-side: wizard state that might outgrow a view's 3,000-character
``private_metadata`` lives here under a key the view's metadata carries, until it expires."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.tables import ViewStateRow
from commands.errors import Conflict
from commands.records import ViewStateRecord


class ViewStateRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def put_view_state(self, record: ViewStateRecord) -> None:
        record.check_storable()
        values = record.model_dump()
        row = self.s.get(ViewStateRow, record.key)
        if row is None:
            try:
                with self.s.begin_nested():
                    self.s.add(ViewStateRow(**values))
                return
            except IntegrityError:  # another request inserted the key meanwhile: replace it
                row = self.s.get(ViewStateRow, record.key, populate_existing=True)
                if row is None:
                    raise
        if row.team_id != record.team_id:
            raise Conflict("The form state {key} belongs to another workspace.", key=record.key)
        for name, value in values.items():
            setattr(row, name, value)
        self.s.flush()

    def get_view_state(self, key: str, *, team_id: str, now: datetime) -> ViewStateRecord | None:
        row = self.s.get(ViewStateRow, key)
        if row is None or row.team_id != team_id or row.expires_at <= now:
            return None
        return ViewStateRecord(
            key=row.key,
            team_id=row.team_id,
            enterprise_id=row.enterprise_id,
            user_id=row.user_id,
            payload=row.payload,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    def purge_view_states(self, now: datetime) -> int:
        result = self.s.execute(
            delete(ViewStateRow)
            .where(ViewStateRow.expires_at <= now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
