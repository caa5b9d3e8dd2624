"""Alerts remember when a patrol first checked them (``enf_alerts.visited_at``), so the days from alert to
visit count every checked alert, also one checked by an observation that is linked to a neighbouring alert.

Adds one nullable column; rows are untouched (earlier checks get NULL). Downgrade drops it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enf_alerts") as batch:
        batch.add_column(sa.Column("visited_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enf_alerts") as batch:
        batch.drop_column("visited_at")
