"""The credit ledger: accounts, issuances, buffer contributions, transfers, retirements, cancellations,
serial blocks, the hash-chained audit log and the ledger state row.

Serial blocks never overlap: an exclusion constraint over ``int8range(first_serial, last_serial, '[]')``
on PostgreSQL, BEFORE INSERT / UPDATE triggers on SQLite (which has no exclusion constraints).

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
BLOCK_TABLES = ("ledger_issuances", "ledger_serial_blocks")


def _event_columns() -> list[sa.Column]:
    return [sa.Column("at", sa.String(40), nullable=False), sa.Column("audit_seq", sa.Integer(), nullable=False)]


def upgrade() -> None:
    state = op.create_table(
        "ledger_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("next_serial", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_state"),
        sa.CheckConstraint("id = 1", name="ck_ledger_state_one_row"),
        sa.CheckConstraint("next_serial >= 1", name="ck_ledger_state_next_serial"),
    )
    op.create_table(
        "ledger_audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_ledger_audit_log"),
        sa.UniqueConstraint("hash", name="uq_ledger_audit_log_hash"),
    )
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("project", sa.String(64), nullable=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", sa.String(40), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_accounts"),
        sa.UniqueConstraint("name", name="uq_ledger_accounts_name"),
        sa.UniqueConstraint("audit_seq", name="uq_ledger_accounts_audit_seq"),
        sa.CheckConstraint("kind IN ('issuance', 'buffer', 'holder')", name="ck_ledger_accounts_kind"),
        sa.CheckConstraint("balance >= 0", name="ck_ledger_accounts_balance"),
    )
    op.create_table(
        "ledger_issuances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("buffer_quantity", sa.BigInteger(), nullable=False),
        sa.Column("first_serial", sa.BigInteger(), nullable=False),
        sa.Column("last_serial", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.String(40), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_issuances"),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"], name="fk_ledger_issuances_account_id"),
        sa.UniqueConstraint("project", "period_start", name="uq_ledger_issuances_period"),
        sa.UniqueConstraint("audit_seq", name="uq_ledger_issuances_audit_seq"),
        sa.CheckConstraint("period_end >= period_start", name="ck_ledger_issuances_period"),
        sa.CheckConstraint("quantity >= 1 AND buffer_quantity >= 0", name="ck_ledger_issuances_quantity"),
        sa.CheckConstraint("first_serial >= 1 AND last_serial - first_serial + 1 = quantity + buffer_quantity",
                           name="ck_ledger_issuances_block"),
    )
    op.create_index("ix_ledger_issuances_first_serial", "ledger_issuances", ["first_serial"])
    op.create_table(
        "ledger_buffer_contributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuance_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("first_serial", sa.BigInteger(), nullable=False),
        sa.Column("last_serial", sa.BigInteger(), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_buffer_contributions"),
        sa.ForeignKeyConstraint(["issuance_id"], ["ledger_issuances.id"],
                                name="fk_ledger_buffer_contributions_issuance_id"),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"],
                                name="fk_ledger_buffer_contributions_account_id"),
        sa.UniqueConstraint("issuance_id", name="uq_ledger_buffer_contributions_issuance_id"),
        sa.UniqueConstraint("audit_seq", name="uq_ledger_buffer_contributions_audit_seq"),
        sa.CheckConstraint("quantity >= 1 AND last_serial - first_serial + 1 = quantity",
                           name="ck_ledger_buffer_contributions_block"),
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_account_id", sa.Integer(), nullable=False),
        sa.Column("to_account_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("blocks", sa.Text(), nullable=False),
        *_event_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_transfers"),
        sa.ForeignKeyConstraint(["from_account_id"], ["ledger_accounts.id"],
                                name="fk_ledger_transfers_from_account_id"),
        sa.ForeignKeyConstraint(["to_account_id"], ["ledger_accounts.id"], name="fk_ledger_transfers_to_account_id"),
        sa.UniqueConstraint("audit_seq", name="uq_ledger_transfers_audit_seq"),
        sa.CheckConstraint("quantity >= 1", name="ck_ledger_transfers_quantity"),
    )
    op.create_table(
        "ledger_retirements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("beneficiary", sa.String(500), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("blocks", sa.Text(), nullable=False),
        *_event_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_retirements"),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"], name="fk_ledger_retirements_account_id"),
        sa.UniqueConstraint("audit_seq", name="uq_ledger_retirements_audit_seq"),
        sa.CheckConstraint("quantity >= 1", name="ck_ledger_retirements_quantity"),
    )
    op.create_table(
        "ledger_cancellations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("blocks", sa.Text(), nullable=False),
        *_event_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_cancellations"),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"], name="fk_ledger_cancellations_account_id"),
        sa.UniqueConstraint("audit_seq", name="uq_ledger_cancellations_audit_seq"),
        sa.CheckConstraint("quantity >= 1", name="ck_ledger_cancellations_quantity"),
    )
    op.create_table(
        "ledger_serial_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuance_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("first_serial", sa.BigInteger(), nullable=False),
        sa.Column("last_serial", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("retirement_id", sa.Integer(), nullable=True),
        sa.Column("cancellation_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_serial_blocks"),
        sa.ForeignKeyConstraint(["issuance_id"], ["ledger_issuances.id"], name="fk_ledger_serial_blocks_issuance_id"),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"], name="fk_ledger_serial_blocks_account_id"),
        sa.ForeignKeyConstraint(["retirement_id"], ["ledger_retirements.id"],
                                name="fk_ledger_serial_blocks_retirement_id"),
        sa.ForeignKeyConstraint(["cancellation_id"], ["ledger_cancellations.id"],
                                name="fk_ledger_serial_blocks_cancellation_id"),
        sa.CheckConstraint("first_serial >= 1 AND last_serial - first_serial + 1 = quantity AND quantity >= 1",
                           name="ck_ledger_serial_blocks_block"),
        sa.CheckConstraint("status IN ('held', 'retired', 'cancelled')", name="ck_ledger_serial_blocks_status"),
        sa.CheckConstraint("(status = 'retired') = (retirement_id IS NOT NULL) AND "
                           "(status = 'cancelled') = (cancellation_id IS NOT NULL)",
                           name="ck_ledger_serial_blocks_event"),
    )
    op.create_index("ix_ledger_serial_blocks_first_serial", "ledger_serial_blocks", ["first_serial"])
    op.create_index("ix_ledger_serial_blocks_account", "ledger_serial_blocks", ["account_id", "status", "first_serial"])
    op.create_index("ix_ledger_serial_blocks_issuance", "ledger_serial_blocks", ["issuance_id"])

    dialect = op.get_bind().dialect.name
    for table in BLOCK_TABLES:
        if dialect == "postgresql":
            # Range exclusion needs no extension: GiST indexes int8range natively.
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT ex_{table}_serials "
                       f"EXCLUDE USING gist (int8range(first_serial, last_serial, '[]') WITH &&)")
        else:
            overlap = (f"SELECT 1 FROM {table} o WHERE o.first_serial <= NEW.last_serial "
                       f"AND o.last_serial >= NEW.first_serial")
            op.execute(f"CREATE TRIGGER tr_{table}_no_overlap_insert BEFORE INSERT ON {table} "
                       f"WHEN EXISTS ({overlap}) "
                       f"BEGIN SELECT RAISE(ABORT, 'serial block overlaps another block of {table}'); END")
            op.execute(f"CREATE TRIGGER tr_{table}_no_overlap_update BEFORE UPDATE OF first_serial, last_serial "
                       f"ON {table} WHEN EXISTS ({overlap} AND o.id <> NEW.id) "
                       f"BEGIN SELECT RAISE(ABORT, 'serial block overlaps another block of {table}'); END")

    op.bulk_insert(state, [{"id": 1, "next_serial": 1, "last_seq": 0, "head_hash": GENESIS_HASH}])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect != "postgresql":
        for table in BLOCK_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS tr_{table}_no_overlap_insert")
            op.execute(f"DROP TRIGGER IF EXISTS tr_{table}_no_overlap_update")
    for table in ("ledger_serial_blocks", "ledger_cancellations", "ledger_retirements", "ledger_transfers",
                  "ledger_buffer_contributions", "ledger_issuances", "ledger_accounts", "ledger_audit_log",
                  "ledger_state"):
        op.drop_table(table)
