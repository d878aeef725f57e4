"""evaluation checkpoints: an evaluation remembers which checkpoint its endpoint served

Revision ID: 0010_evaluation_checkpoints
Revises: 0009_reruns
Create Date: 2026-12-15 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_evaluation_checkpoints"
down_revision = "0009_reruns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checkpoint", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_column("checkpoint")
