"""The credit ledger's tables (SQLAlchemy 2 typed models); migration 0001 creates them.

Quantities are whole credits, one credit = one tonne of CO2 equivalent (tCO2e), stored as
integers; serial numbers are integers unique in the whole ledger (see :mod:`icam.ledger.serials`).
Every row that records an event carries ``audit_seq``, the sequence number of its entry in
``ledger_audit_log``; :func:`icam.ledger.verify.verify` checks each row against that entry's payload.
``audit_seq`` is deliberately not a foreign key: the audit log is evidence, and a row deleted from
it must be reported by ``verify``, not made impossible by the schema it is checking.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from icam.store.db import Base

GENESIS_HASH = "0" * 64
BUFFER_ACCOUNT = "buffer-pool"
ACCOUNT_KINDS = ("issuance", "buffer", "holder")
BLOCK_STATUSES = ("held", "retired", "cancelled")


def issuance_account_name(project: str) -> str:
    """The name of ``project``'s issuance account: credits are issued into it."""
    return f"issuance/{project}"


class LedgerState(Base):
    """One row (id 1): the next free serial number and the head of the audit chain.

    Every write transaction first updates this row, which serialises writers: a PostgreSQL row lock,
    SQLite's database write lock.
    """

    __tablename__ = "ledger_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    next_serial: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("id = 1", name="ck_ledger_state_one_row"),
                      CheckConstraint("next_serial >= 1", name="ck_ledger_state_next_serial"))


class AuditEntry(Base):
    """One event of the hash-chained audit log: ``hash = SHA-256(prev_hash || payload || seq)``."""

    __tablename__ = "ledger_audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))  # UTC, ISO 8601, e.g. 2024-05-01T12:00:00.000000+00:00
    event_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON: sorted keys, no floats
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Account(Base):
    """An account holding credits: a project's issuance account, the buffer pool, or a holder."""

    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    project: Mapped[str | None] = mapped_column(String(64))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)  # credits held now
    opened_at: Mapped[str] = mapped_column(String(40))
    audit_seq: Mapped[int] = mapped_column(Integer, unique=True)

    __table_args__ = (CheckConstraint("kind IN ('issuance', 'buffer', 'holder')", name="ck_ledger_accounts_kind"),
                      CheckConstraint("balance >= 0", name="ck_ledger_accounts_balance"))


class Issuance(Base):
    """Credits issued for one monitoring period of one project.

    Serials ``first_serial .. first_serial + quantity - 1`` go to the project's issuance account,
    ``first_serial + quantity .. last_serial`` (``buffer_quantity`` of them) to the buffer pool.
    """

    __tablename__ = "ledger_issuances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    vintage: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(BigInteger)
    buffer_quantity: Mapped[int] = mapped_column(BigInteger)
    first_serial: Mapped[int] = mapped_column(BigInteger)
    last_serial: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    issued_at: Mapped[str] = mapped_column(String(40))
    audit_seq: Mapped[int] = mapped_column(Integer, unique=True)

    account: Mapped[Account] = relationship()

    __table_args__ = (
        UniqueConstraint("project", "period_start", name="uq_ledger_issuances_period"),
        CheckConstraint("period_end >= period_start", name="ck_ledger_issuances_period"),
        CheckConstraint("quantity >= 1 AND buffer_quantity >= 0", name="ck_ledger_issuances_quantity"),
        CheckConstraint("first_serial >= 1 AND last_serial - first_serial + 1 = quantity + buffer_quantity",
                        name="ck_ledger_issuances_block"),
        Index("ix_ledger_issuances_first_serial", "first_serial"),
    )


class BufferContribution(Base):
    """The part of an issuance withheld into the buffer pool (non-permanence risk)."""

    __tablename__ = "ledger_buffer_contributions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuance_id: Mapped[int] = mapped_column(ForeignKey("ledger_issuances.id"), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    first_serial: Mapped[int] = mapped_column(BigInteger)
    last_serial: Mapped[int] = mapped_column(BigInteger)
    audit_seq: Mapped[int] = mapped_column(Integer, unique=True)

    issuance: Mapped[Issuance] = relationship()
    account: Mapped[Account] = relationship()

    __table_args__ = (CheckConstraint("quantity >= 1 AND last_serial - first_serial + 1 = quantity",
                                      name="ck_ledger_buffer_contributions_block"),)


class Transfer(Base):
    """Credits moved from one account to another; ``blocks`` is the canonical JSON ``[[first, last], ...]``."""

    __tablename__ = "ledger_transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    to_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    blocks: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(String(40))
    audit_seq: Mapped[int] = mapped_column(Integer, unique=True)

    from_account: Mapped[Account] = relationship(foreign_keys=[from_account_id])
    to_account: Mapped[Account] = relationship(foreign_keys=[to_account_id])

    __table_args__ = (CheckConstraint("quantity >= 1", name="ck_ledger_transfers_quantity"),)


class Retirement(Base):
    """Credits retired (used up) on behalf of a beneficiary, for a stated purpose."""

    __tablename__ = "ledger_retirements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    beneficiary: Mapped[str] = mapped_column(String(500))
    purpose: Mapped[str] = mapped_column(Text)
    blocks: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(String(40))
    audit_seq: Mapped[int] = mapped_column(Integer, unique=True)

    account: Mapped[Account] = relationship()

    __table_args__ = (CheckConstraint("quantity >= 1", name="ck_ledger_retirements_quantity"),)


class Cancellation(Base):
    """Credits taken out of circulation without a beneficiary (a reversal, a correction)."""

    __tablename__ = "ledger_cancellations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    blocks: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(String(40))
    audit_seq: Mapped[int] = mapped_column(Integer, unique=True)

    account: Mapped[Account] = relationship()

    __table_args__ = (CheckConstraint("quantity >= 1", name="ck_ledger_cancellations_quantity"),)


class SerialBlock(Base):
    """Who holds which serials now: a contiguous run of one issuance's serials, held, retired or cancelled.

    The blocks of an issuance partition its serial range; no two blocks in the ledger overlap (an
    exclusion constraint on PostgreSQL, triggers on SQLite). A transfer, retirement or cancellation
    of part of a block splits it in two.
    """

    __tablename__ = "ledger_serial_blocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuance_id: Mapped[int] = mapped_column(ForeignKey("ledger_issuances.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    first_serial: Mapped[int] = mapped_column(BigInteger)
    last_serial: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="held")
    retirement_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_retirements.id"))
    cancellation_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_cancellations.id"))

    issuance: Mapped[Issuance] = relationship()
    account: Mapped[Account] = relationship()
    retirement: Mapped[Retirement | None] = relationship()
    cancellation: Mapped[Cancellation | None] = relationship()

    __table_args__ = (
        CheckConstraint("first_serial >= 1 AND last_serial - first_serial + 1 = quantity AND quantity >= 1",
                        name="ck_ledger_serial_blocks_block"),
        CheckConstraint("status IN ('held', 'retired', 'cancelled')", name="ck_ledger_serial_blocks_status"),
        CheckConstraint("(status = 'retired') = (retirement_id IS NOT NULL) AND "
                        "(status = 'cancelled') = (cancellation_id IS NOT NULL)",
                        name="ck_ledger_serial_blocks_event"),
        Index("ix_ledger_serial_blocks_first_serial", "first_serial"),
        Index("ix_ledger_serial_blocks_account", "account_id", "status", "first_serial"),
        Index("ix_ledger_serial_blocks_issuance", "issuance_id"),
    )
