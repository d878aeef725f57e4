"""Launches in progress (check, submit, start): a launch whose process died while it checked the dataset
is answered once, by one replica, so the user is never left waiting on nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.rows import launch_record, launch_row
from bot.store.tables import LaunchRow
from commands.errors import Conflict, NotFound
from commands.records import LaunchRecord, LaunchState


class LaunchRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def begin_launch(self, launch: LaunchRecord) -> None:
        try:
            with self.s.begin_nested():
                self.s.add(launch_row(launch))
        except IntegrityError as e:
            raise Conflict(
                "A launch {launch} is already under way.", existing=launch.id, launch=launch.id
            ) from e

    def get_launch(self, launch_id: str) -> LaunchRecord:
        row = self.s.get(LaunchRow, launch_id)
        if row is None:
            raise NotFound("There is no launch {launch}.", launch=launch_id)
        return launch_record(row)

    def finish_launch(self, launch_id: str, job_id: str, *, at: datetime) -> None:
        """checking → submitted, naming the job (in the job insert's transaction). ``Conflict`` when the
        launch was answered meanwhile: the caller's transaction then rolls the job back too."""
        result = self.s.execute(
            update(LaunchRow)
            .where(LaunchRow.id == launch_id, LaunchRow.state == LaunchState.CHECKING.value)
            .values(state=LaunchState.SUBMITTED.value, job_id=job_id, updated_at=at)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            current = self.get_launch(launch_id)
            raise Conflict(
                "The launch {launch} was {state} already.", launch=launch_id, state=current.state.value
            )

    def checking_launches(self) -> list[LaunchRecord]:
        rows = self.s.scalars(
            select(LaunchRow)
            .where(LaunchRow.state == LaunchState.CHECKING.value)
            .order_by(LaunchRow.created_at)
        )
        return [launch_record(r) for r in rows]

    def answer_launch(self, launch_id: str, *, at: datetime) -> bool:
        result = self.s.execute(
            update(LaunchRow)
            .where(LaunchRow.id == launch_id, LaunchRow.state == LaunchState.CHECKING.value)
            .values(state=LaunchState.ANSWERED.value, updated_at=at)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]
