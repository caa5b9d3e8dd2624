"""The web app's people: users with one role each in this project, their credentials (browser sessions and API
tokens, stored as SHA-256 digests only) and the audit log of every write made through the app.

Adds three tables; nothing else changes. Downgrade drops them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ROLES = ("admin", "analyst", "agreements", "ranger", "verifier", "jurisdiction", "public")


def upgrade() -> None:
    roles = ", ".join(f"'{role}'" for role in ROLES)
    op.create_table(
        "web_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_users"),
        sa.UniqueConstraint("email", name="uq_web_users_email"),
        sa.CheckConstraint(f"role IN ({roles})", name="ck_web_users_role"),
    )
    op.create_table(
        "web_credentials",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("web_users.id", name="fk_web_credentials_user_id"),
                  nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_web_credentials"),
        sa.UniqueConstraint("token_sha256", name="uq_web_credentials_token_sha256"),
        sa.CheckConstraint("kind IN ('session', 'api')", name="ck_web_credentials_kind"),
    )
    op.create_index("ix_web_credentials_user_id", "web_credentials", ["user_id"])
    op.create_table(
        "web_audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_web_audit_log"),
    )


def downgrade() -> None:
    op.drop_table("web_audit_log")
    op.drop_index("ix_web_credentials_user_id", table_name="web_credentials")
    op.drop_table("web_credentials")
    op.drop_table("web_users")
