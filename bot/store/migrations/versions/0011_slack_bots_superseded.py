"""slack_bots: drop the bot rows a token rotation superseded

Before slack_sdk's own ``SQLAlchemyInstallationStore`` read and wrote these tables, ftbot saved a refreshed
bot token as a new row with its install's ``installed_at`` and told the rows apart by id. slack_sdk's
store updates that row in place instead, and finds a workspace's bot by ``installed_at`` alone: among two
rows with the same one it could return the token the rotation replaced. For each install (client,
enterprise, team, installed_at) only the newest row, the one with the highest id, is kept.

Revision ID: 0011_slack_bots_superseded
Revises: 0010_evaluation_checkpoints
Create Date: 2026-12-16 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_slack_bots_superseded"
down_revision = "0010_evaluation_checkpoints"
branch_labels = None
depends_on = None

_bots = sa.table(
    "slack_bots",
    sa.column("id", sa.Integer()),
    sa.column("client_id", sa.String()),
    sa.column("enterprise_id", sa.String()),
    sa.column("team_id", sa.String()),
    sa.column("installed_at", sa.DateTime()),
)


def upgrade() -> None:
    newer = _bots.alias("newer")
    superseded = (
        sa.select(newer.c.id)
        .where(
            newer.c.client_id == _bots.c.client_id,
            newer.c.enterprise_id.is_not_distinct_from(_bots.c.enterprise_id),
            newer.c.team_id.is_not_distinct_from(_bots.c.team_id),
            newer.c.installed_at == _bots.c.installed_at,
            newer.c.id > _bots.c.id,
        )
        .exists()
    )
    op.execute(sa.delete(_bots).where(superseded))


def downgrade() -> None:
    """Nothing to restore: the rows dropped held tokens their rotation had already replaced."""
