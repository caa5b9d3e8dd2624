"""One serial's story: the block that holds it now, the issuance it came from, and every event that moved it.

What registry users ask for most (the UNDP carbon registry's users: serial-block search and per-serial
history). Events are read from the ledger's own tables, whose ``blocks`` hold the serial ranges each
transfer, retirement and cancellation moved (the same ranges the audit chain records).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from icam.ledger.models import BufferContribution, Cancellation, Issuance, Retirement, SerialBlock, Transfer
from icam.ledger.serials import block_label


@dataclass(frozen=True)
class SerialEvent:
    """Something that happened to a serial: ``event`` (issuance, buffer_contribution, transfer, retirement,
    cancellation), when (UTC, ISO 8601), the accounts involved, and the audit log's sequence number."""

    event: str
    at: str
    audit_seq: int
    from_account: str | None = None
    to_account: str | None = None
    beneficiary: str | None = None
    purpose: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class SerialRecord:
    """Where serial ``serial`` is: its current block (label, range, holder, status), its issuance's project,
    vintage and period, and its history oldest first."""

    serial: int
    block_label: str
    first_serial: int
    last_serial: int
    quantity: int
    status: str
    account: str
    project: str
    vintage: int
    period_start: str
    period_end: str
    history: tuple[SerialEvent, ...]


def _contains(blocks_json: str, serial: int) -> bool:
    return any(first <= serial <= last for first, last in json.loads(blocks_json))


def _history(session: Session, serial: int, issuance: Issuance) -> list[SerialEvent]:
    buffer = session.scalar(select(BufferContribution).where(BufferContribution.issuance_id == issuance.id))
    if buffer is not None and buffer.first_serial <= serial <= buffer.last_serial:
        events = [SerialEvent("buffer_contribution", issuance.issued_at, buffer.audit_seq,
                              to_account=buffer.account.name)]
    else:
        events = [SerialEvent("issuance", issuance.issued_at, issuance.audit_seq, to_account=issuance.account.name)]
    for t in session.scalars(select(Transfer).order_by(Transfer.audit_seq)):
        if _contains(t.blocks, serial):
            events.append(SerialEvent("transfer", t.at, t.audit_seq, t.from_account.name, t.to_account.name))
    for r in session.scalars(select(Retirement)):
        if _contains(r.blocks, serial):
            events.append(SerialEvent("retirement", r.at, r.audit_seq, r.account.name, beneficiary=r.beneficiary,
                                      purpose=r.purpose))
    for c in session.scalars(select(Cancellation)):
        if _contains(c.blocks, serial):
            events.append(SerialEvent("cancellation", c.at, c.audit_seq, c.account.name, reason=c.reason))
    return sorted(events, key=lambda e: e.audit_seq)


def find_serial(session: Session, serial: int) -> SerialRecord | None:
    """The record of ``serial`` (a whole number), or None where no block holds it."""
    block = session.scalar(select(SerialBlock).where(SerialBlock.first_serial <= serial,
                                                     SerialBlock.last_serial >= serial))
    if block is None:
        return None
    issuance = block.issuance
    label = block_label(issuance.project, issuance.vintage, issuance.period_start, block.first_serial,
                        block.last_serial)
    return SerialRecord(serial, label, block.first_serial, block.last_serial, block.quantity, block.status,
                        block.account.name, issuance.project, issuance.vintage, issuance.period_start.isoformat(),
                        issuance.period_end.isoformat(), tuple(_history(session, serial, issuance)))


__all__ = ["SerialEvent", "SerialRecord", "find_serial"]
