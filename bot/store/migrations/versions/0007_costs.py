"""cost facts (trained tokens, hosting, replies) with the prices of their time, and one-time notices

Revision ID: 0007_costs
Revises: 0006_workspaces
Create Date: 2026-12-14 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_costs"
down_revision = "0006_workspaces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cost_facts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fact", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("cost_facts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cost_facts_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_cost_facts_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cost_facts_team_id"), ["team_id"], unique=False)
    op.create_table(
        "cost_notices",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("cost_notices")
    with op.batch_alter_table("cost_facts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cost_facts_team_id"))
        batch_op.drop_index(batch_op.f("ix_cost_facts_job_id"))
        batch_op.drop_index(batch_op.f("ix_cost_facts_at"))
    op.drop_table("cost_facts")
