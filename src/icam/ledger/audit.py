"""The hash-chained audit log: canonical JSON payloads and their SHA-256 chain.

Entry ``seq`` (1, 2, 3, ...) stores ``payload``, the event as canonical JSON (keys sorted, no
whitespace, UTF-8, integers only: no floats), ``prev_hash``, the previous entry's hash (64 zeros
for the first entry), and::

    hash = SHA-256( prev_hash || payload || str(seq) )

where ``prev_hash`` is the 64 lower-case hexadecimal characters in ASCII, ``payload`` its UTF-8
bytes and ``str(seq)`` the decimal sequence number in ASCII. Changing, inserting or deleting any
entry changes every later hash; publishing the head hash (``icam ledger history`` prints it) pins
the whole log up to that point.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import unicodedata
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from icam.core.errors import IcamError
from icam.ledger.models import AuditEntry, LedgerState


def canonical_json(payload: Any) -> str:
    """``payload`` as canonical JSON: sorted keys, no whitespace, strings in NFC; floats are refused."""
    return json.dumps(_check(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _check(value: Any) -> Any:
    if isinstance(value, float):
        raise TypeError(f"the audit log holds no floats (got {value!r}): quantities are whole tCO2e")
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {str(k): _check(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_check(v) for v in value]
    if value is None or isinstance(value, (bool, int)):
        return value
    raise TypeError(f"the audit log holds JSON values only, not {type(value).__name__}")


def chain_hash(prev_hash: str, payload: str, seq: int) -> str:
    """SHA-256 of ``prev_hash || payload || seq`` as 64 hexadecimal characters."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(payload.encode("utf-8"))
    digest.update(str(int(seq)).encode("ascii"))
    return digest.hexdigest()


def utc_now() -> str:
    """The time now in UTC, ISO 8601 with microseconds: ``2024-05-01T12:00:00.123456+00:00``."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def lock_ledger(session: Session) -> LedgerState:
    """Take the ledger's write lock (update the state row first thing) and return the state row, fresh.

    PostgreSQL holds the row lock, SQLite the database write lock, until the transaction ends, so
    sequence numbers and serials are handed out by one writer at a time.
    """
    result = session.execute(update(LedgerState).where(LedgerState.id == 1)
                             .values(last_seq=LedgerState.last_seq)
                             .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise IcamError("the ledger has no state row (ledger_state id 1): it was not created by icam or was altered",
                        "run icam ledger verify")
    state = session.get(LedgerState, 1, populate_existing=True)
    assert state is not None
    return state


def append(session: Session, state: LedgerState, event_type: str, payload: dict[str, Any]) -> AuditEntry:
    """Append ``payload`` (which names its time as ``at``) to the audit log; the caller holds the lock."""
    text = canonical_json({**payload, "event": event_type})
    seq = state.last_seq + 1
    entry = AuditEntry(seq=seq, at=payload["at"], event_type=event_type, payload=text,
                       prev_hash=state.head_hash, hash=chain_hash(state.head_hash, text, seq))
    session.add(entry)
    state.last_seq = seq
    state.head_hash = entry.hash
    return entry
