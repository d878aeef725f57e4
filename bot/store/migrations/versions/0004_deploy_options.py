"""deploy requests kept whole: the options of a deploy (checkpoint, SKU) on its approval and its endpoint

Revision ID: 0004_deploy_options
Revises: 0004 (delivery attempts)
Create Date: 2026-12-20 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_deploy_options"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deploy_options", sa.JSON(), nullable=True))
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deploy_options", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.drop_column("deploy_options")
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_column("deploy_options")
