"""``verify``: is the ledger what its audit log says it is?

Four checks, each listing every problem it finds (where, and what differs):

1. The chain. Entries are numbered 1, 2, 3, ... without gaps; each ``prev_hash`` is the previous
   entry's ``hash`` (64 zeros for the first); each ``hash`` is recomputed as
   SHA-256(prev_hash || payload || seq); each payload is canonical JSON whose ``event`` and ``at``
   match the entry's columns. The state row's ``last_seq`` and ``head_hash`` name the last entry.
   Hashes published earlier (``anchors``) must be in the chain.
2. The rows. Every account, issuance, buffer contribution, transfer, retirement and cancellation
   row equals, field by field, the payload of the audit entry it names (``audit_seq``), and every
   event in the log has its row.
3. The balances. Replaying the log's payloads from an empty ledger gives, per account, the serials
   held, retired (per retirement) and cancelled (per cancellation); each account's stored balance
   must equal the replayed count, and the serial-block table must hold exactly the replayed serials.
4. The serials. Issued blocks do not overlap, follow one another from serial 1, and hold
   ``quantity + buffer_quantity`` serials; the serial blocks of each issuance partition its range
   exactly and never overlap any other block.

A ledger rewritten wholesale (every row and a recomputed chain) passes 1–4: only an anchor, a head
hash published before the rewrite (e.g. in a monitoring report), exposes that.
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SAWarning
from sqlalchemy.orm import Session

from icam.ledger.audit import canonical_json, chain_hash
from icam.ledger.models import (
    GENESIS_HASH,
    Account,
    AuditEntry,
    BufferContribution,
    Cancellation,
    Issuance,
    LedgerState,
    Retirement,
    SerialBlock,
    Transfer,
)
from icam.ledger.serials import count, merge, overlaps

EVENT_TABLES = {"account_opened": "ledger_accounts", "issuance": "ledger_issuances",
                "buffer_contribution": "ledger_buffer_contributions", "transfer": "ledger_transfers",
                "retirement": "ledger_retirements", "cancellation": "ledger_cancellations"}


@dataclass(frozen=True)
class Problem:
    """Something in the ledger that does not hold: ``where`` (table and row) and ``what`` differs."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` found: the problems (empty when the ledger holds) and what it checked."""

    problems: tuple[Problem, ...]
    entries: int
    head_seq: int
    head_hash: str
    accounts: int
    issuances: int
    issued: int
    retired: int
    cancelled: int

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    @property
    def outstanding(self) -> int:
        """Credits held in accounts: issued (buffer included) − retired − cancelled."""
        return self.issued - self.retired - self.cancelled


def _fmt(ranges: Iterable[tuple[int, int]], limit: int = 4) -> str:
    ranges = list(ranges)
    text = ", ".join(f"{a}–{b}" if a != b else str(a) for a, b in ranges[:limit])
    if len(ranges) > limit:
        text += f", … ({len(ranges)} runs)"
    return text or "none"


@dataclass
class _Replay:
    """The ledger rebuilt from the audit payloads alone."""

    kinds: dict[str, tuple[str, Any]] = field(default_factory=dict)  # account -> (kind, project)
    holdings: dict[tuple[str, str, int | None], list[tuple[int, int]]] = field(
        default_factory=lambda: defaultdict(list))
    next_serial: int = 1
    pending_buffer: dict[int, tuple[str, str, int, int]] = field(default_factory=dict)  # issuance seq -> expectation
    issued: int = 0
    retired: int = 0
    cancelled: int = 0

    def held(self, account: str) -> list[tuple[int, int]]:
        return self.holdings[(account, "held", None)]

    def add(self, key: tuple[str, str, int | None], first: int, last: int) -> None:
        self.holdings[key] = merge([*self.holdings[key], (first, last)])

    def remove(self, account: str, first: int, last: int) -> bool:
        runs = self.held(account)
        for i, (a, b) in enumerate(runs):
            if a <= first and last <= b:
                rest = ([(a, first - 1)] if a < first else []) + ([(last + 1, b)] if last < b else [])
                runs[i:i + 1] = rest
                return True
        return False


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _replay_entry(replay: _Replay, seq: int, event: str, p: dict[str, Any], report: Callable[[str], None]) -> None:
    if event == "account_opened":
        name = p.get("account")
        if name in replay.kinds:
            report(f"opens account {name!r} a second time")
        replay.kinds[name] = (p.get("kind"), p.get("project"))
        return
    if event == "issuance":
        q, b, first, last = (p.get(k) for k in ("quantity", "buffer_quantity", "first_serial", "last_serial"))
        if not all(_int(v) for v in (q, b, first, last)) or q < 1 or b < 0:
            report("issuance quantities or serials are not whole numbers")
            return
        account = p.get("account")
        if replay.kinds.get(account, ("",))[0] != "issuance":
            report(f"issues into {account!r}, which the log never opened as an issuance account")
        if last - first + 1 != q + b:
            report(f"serials {first}–{last} are {last - first + 1}, not quantity + buffer = {q + b}")
        if first != replay.next_serial:
            report(f"serials start at {first}, the next free serial was {replay.next_serial}")
        replay.next_serial = max(replay.next_serial, last + 1)
        replay.add((account, "held", None), first, first + q - 1)
        replay.issued += q + b
        if b:
            replay.pending_buffer[seq] = (p.get("project"), p.get("period_start"), first + q, last)
        return
    if event == "buffer_contribution":
        expected = (p.get("project"), p.get("period_start"), p.get("first_serial"), p.get("last_serial"))
        match = next((s for s, e in replay.pending_buffer.items() if e == expected), None)
        if match is None:
            report(f"buffer contribution {_fmt([(expected[2], expected[3])])} matches no issuance's buffer block")
        else:
            del replay.pending_buffer[match]
        if p.get("quantity") != (expected[3] - expected[2] + 1 if all(_int(v) for v in expected[2:]) else None):
            report("buffer contribution quantity does not match its serials")
        if replay.kinds.get(p.get("account"), ("",))[0] != "buffer":
            report(f"contributes to {p.get('account')!r}, which the log never opened as the buffer pool")
        if all(_int(v) for v in expected[2:]):
            replay.add((p.get("account"), "held", None), expected[2], expected[3])
        return
    if event in ("transfer", "retirement", "cancellation"):
        source = p.get("from") if event == "transfer" else p.get("account")
        blocks = p.get("blocks")
        if not isinstance(blocks, list) or not all(isinstance(r, list) and len(r) == 2 and all(_int(v) for v in r)
                                                   and r[0] <= r[1] for r in blocks):
            report(f"{event} blocks are not a list of [first, last] serials")
            return
        if source not in replay.kinds:
            report(f"{event} from {source!r}, which the log never opened")
        if count(blocks) != p.get("quantity"):
            report(f"{event} of {p.get('quantity')} credits lists {count(blocks)} serials")
        key: tuple[str, str, int | None]
        if event == "transfer":
            key = (p.get("to"), "held", None)
            if p.get("to") not in replay.kinds:
                report(f"transfer to {p.get('to')!r}, which the log never opened")
        else:
            key = (source, "retired" if event == "retirement" else "cancelled", seq)
        for first, last in blocks:
            if not replay.remove(source, first, last):
                report(f"{event} takes serials {first}–{last}, which {source!r} did not hold")
            replay.add(key, first, last)
        if event == "retirement":
            replay.retired += count(blocks)
        elif event == "cancellation":
            replay.cancelled += count(blocks)
        return
    report(f"unknown event type {event!r}")


def _safe(session: Session, problems: list[Problem], table: str, load: Callable[[], list]) -> list:
    try:
        with session.begin_nested():  # a failed read must not abort the rest of the transaction (PostgreSQL)
            return load()
    except Exception as exc:  # a tampered value the driver cannot even read is a finding, not a crash
        problems.append(Problem(table, f"cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0]})"))
        return []


def _all(session: Session, query) -> list:
    """Every row of ``query`` as stored now (objects the session already holds are refreshed, not trusted)."""
    return list(session.scalars(query.execution_options(populate_existing=True)))


def _snapshot(session: Session) -> None:
    """Read the whole ledger from one snapshot, so that a concurrent writer cannot look like tampering.

    SQLite in WAL mode reads one snapshot per transaction anyway; PostgreSQL's default READ COMMITTED
    takes one per statement, so ask for REPEATABLE READ when the session has not yet connected (with
    a connection already in use the option is ignored and reads stay per statement).
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


class _Checker:
    """The checks of :func:`verify`, one method each, sharing what they read; every finding goes to ``problems``."""

    def __init__(self, session: Session):
        self.session = session
        self.problems: list[Problem] = []
        self.payloads: dict[int, dict[str, Any]] = {}
        self.by_seq: dict[int, AuditEntry] = {}
        self.rows_of: dict[str, set[int]] = defaultdict(set)
        self.replay = _Replay()

    def problem(self, where: str, what: str) -> None:
        self.problems.append(Problem(where, what))

    def load(self, table: str, query) -> list:
        return _safe(self.session, self.problems, table, lambda: _all(self.session, query))

    def chain(self) -> None:
        """1. Every entry follows the previous one: seq, prev_hash, its own hash, canonical payload."""
        self.entries = self.load("ledger_audit_log", select(AuditEntry).order_by(AuditEntry.seq))
        prev_hash, expected_seq = GENESIS_HASH, 1
        for entry in self.entries:
            where = f"ledger_audit_log seq {entry.seq}"
            self.by_seq[entry.seq] = entry
            if entry.seq != expected_seq:
                gap = (f"entry {expected_seq} is missing" if entry.seq == expected_seq + 1
                       else f"entries {expected_seq}–{entry.seq - 1} are missing")
                self.problem(where, f"expected seq {expected_seq}: {gap}" if entry.seq > expected_seq
                             else f"expected seq {expected_seq}")
            if entry.prev_hash != prev_hash:
                self.problem(where, f"prev_hash {entry.prev_hash[:16]}… is not the previous entry's hash "
                             f"{prev_hash[:16]}…")
            recomputed = chain_hash(entry.prev_hash, entry.payload, entry.seq)
            if entry.hash != recomputed:
                self.problem(where, f"stored hash {entry.hash[:16]}… differs from SHA-256(prev_hash || payload || "
                             f"seq) = {recomputed[:16]}…")
            self.payloads[entry.seq] = self._payload(where, entry)
            prev_hash, expected_seq = entry.hash, entry.seq + 1
        self.last_seq = self.entries[-1].seq if self.entries else 0
        self.head_hash = self.entries[-1].hash if self.entries else GENESIS_HASH

    def _payload(self, where: str, entry: AuditEntry) -> dict[str, Any]:
        try:
            payload = json.loads(entry.payload)
            if not isinstance(payload, dict):
                raise ValueError("not a JSON object")
            if canonical_json(payload) != entry.payload:
                self.problem(where, "payload is not in canonical form (sorted keys, no spaces, no floats)")
        except (ValueError, TypeError) as exc:
            self.problem(where, f"payload is not canonical JSON ({exc})")
            payload = {}
        if payload.get("event") != entry.event_type:
            self.problem(where, f"event_type {entry.event_type!r} differs from the payload's "
                         f"{payload.get('event')!r}")
        if payload.get("at") != entry.at:
            self.problem(where, f"at {entry.at!r} differs from the payload's {payload.get('at')!r}")
        return payload

    def state_and_anchors(self, anchors: Iterable[str]) -> None:
        """The state row names the log's head; every published hash is in the chain (at its seq)."""
        state = _safe(self.session, self.problems, "ledger_state",
                      lambda: [self.session.get(LedgerState, 1, populate_existing=True)])
        self.state = state[0] if state else None
        if self.state is None:
            self.problem("ledger_state", "the state row (id 1) is missing")
        elif (self.state.last_seq, self.state.head_hash) != (self.last_seq, self.head_hash):
            self.problem("ledger_state id 1", f"names head seq {self.state.last_seq} hash "
                         f"{self.state.head_hash[:16]}…, the log ends at seq {self.last_seq} hash "
                         f"{self.head_hash[:16]}…")
        hashes = {e.hash: e.seq for e in self.entries}
        for anchor in anchors:
            seq_text, _, wanted = anchor.strip().rpartition(":")
            wanted = wanted.lower()
            if wanted not in hashes:
                self.problem("ledger_audit_log", f"the published hash {wanted[:16]}… is not in the chain "
                             "(rewritten log?)")
            elif seq_text and seq_text.isdigit() and hashes[wanted] != int(seq_text):
                self.problem("ledger_audit_log",
                             f"the published hash {wanted[:16]}… is at seq {hashes[wanted]}, not {seq_text}")

    def replay_log(self) -> None:
        """3 (first half). Replay the log: the holdings and totals it implies."""
        for seq in sorted(self.payloads):
            _replay_entry(self.replay, seq, self.by_seq[seq].event_type, self.payloads[seq],
                          lambda what, seq=seq: self.problem(f"ledger_audit_log seq {seq}", what))
        for seq, (_, _, first, last) in self.replay.pending_buffer.items():
            self.problem(f"ledger_audit_log seq {seq}", f"issuance's buffer block {first}–{last} was never contributed")

    def against(self, table: str, row_id: Any, seq: int, event: str, fields: dict[str, Any]) -> None:
        """A row's fields equal those of the audit entry it names."""
        where = f"{table} id {row_id}"
        self.rows_of[event].add(seq)
        payload = self.payloads.get(seq)
        if payload is None or self.by_seq[seq].event_type != event:
            self.problem(where, f"names audit entry {seq}, which is not a {event} in the log")
            return
        for key, value in fields.items():
            if payload.get(key) != value:
                self.problem(where, f"{key} is {value!r}, the audit log (seq {seq}) says {payload.get(key)!r}")

    def rows(self) -> None:
        """2. Every row against the payload of its audit entry, and every entry has its row."""
        self.accounts = self.load("ledger_accounts", select(Account).order_by(Account.id))
        self.names = names = {a.id: a.name for a in self.accounts}
        for a in self.accounts:
            self.against("ledger_accounts", a.id, a.audit_seq, "account_opened",
                         {"account": a.name, "kind": a.kind, "project": a.project, "at": a.opened_at})
        self.issuances = self.load("ledger_issuances", select(Issuance).order_by(Issuance.first_serial))
        for i in self.issuances:
            self.against("ledger_issuances", i.id, i.audit_seq, "issuance", {
                "project": i.project, "period_start": i.period_start.isoformat(),
                "period_end": i.period_end.isoformat(), "vintage": i.vintage, "quantity": i.quantity,
                "buffer_quantity": i.buffer_quantity, "first_serial": i.first_serial, "last_serial": i.last_serial,
                "account": names.get(i.account_id), "at": i.issued_at})
        self.issuance_by_id = {i.id: i for i in self.issuances}
        for c in self.load("ledger_buffer_contributions", select(BufferContribution)):
            parent = self.issuance_by_id.get(c.issuance_id)
            self.against("ledger_buffer_contributions", c.id, c.audit_seq, "buffer_contribution", {
                "project": parent.project if parent else None,
                "period_start": parent.period_start.isoformat() if parent else None,
                "quantity": c.quantity, "first_serial": c.first_serial, "last_serial": c.last_serial,
                "account": names.get(c.account_id)})
        self._movements()
        for seq, entry in sorted(self.by_seq.items()):
            table = EVENT_TABLES.get(entry.event_type)
            if table and seq not in self.rows_of[entry.event_type]:
                self.problem(f"ledger_audit_log seq {seq}", f"records a {entry.event_type} that has no row in {table}")

    def _movements(self) -> None:
        names = self.names
        for t in self.load("ledger_transfers", select(Transfer)):
            self.against("ledger_transfers", t.id, t.audit_seq, "transfer", {
                "from": names.get(t.from_account_id), "to": names.get(t.to_account_id), "quantity": t.quantity,
                "blocks": _blocks_of(t.blocks), "at": t.at})
        self.retirements = self.load("ledger_retirements", select(Retirement))
        for r in self.retirements:
            self.against("ledger_retirements", r.id, r.audit_seq, "retirement", {
                "account": names.get(r.account_id), "quantity": r.quantity, "beneficiary": r.beneficiary,
                "purpose": r.purpose, "blocks": _blocks_of(r.blocks), "at": r.at})
        self.cancellations = self.load("ledger_cancellations", select(Cancellation))
        for c in self.cancellations:
            self.against("ledger_cancellations", c.id, c.audit_seq, "cancellation", {
                "account": names.get(c.account_id), "quantity": c.quantity, "reason": c.reason,
                "blocks": _blocks_of(c.blocks), "at": c.at})

    def balances(self) -> None:
        """3 (second half). Balances against the replay."""
        for a in self.accounts:
            replayed = count(self.replay.held(a.name))
            if a.balance != replayed:
                self.problem(f"ledger_accounts id {a.id}",
                             f"balance of {a.name!r} is {a.balance:,}, the audit log gives {replayed:,}")

    def serial_blocks(self) -> None:
        """3 (second half). Serial blocks: whole, inside their issuance, not overlapping, held as the log says."""
        blocks = self.load("ledger_serial_blocks", select(SerialBlock).order_by(SerialBlock.first_serial))
        event_seq = {("retired", r.id): r.audit_seq for r in self.retirements}
        event_seq.update({("cancelled", c.id): c.audit_seq for c in self.cancellations})
        stored: dict[tuple[str, str, int | None], list[tuple[int, int]]] = defaultdict(list)
        self.per_issuance: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for b in blocks:
            where = f"ledger_serial_blocks id {b.id}"
            if b.quantity != b.last_serial - b.first_serial + 1:
                self.problem(where, f"quantity {b.quantity} but serials {b.first_serial}–{b.last_serial}")
            parent = self.issuance_by_id.get(b.issuance_id)
            if parent is None:
                self.problem(where, f"belongs to issuance {b.issuance_id}, which does not exist")
            elif not parent.first_serial <= b.first_serial <= b.last_serial <= parent.last_serial:
                self.problem(where, f"serials {b.first_serial}–{b.last_serial} lie outside its issuance's "
                             f"{parent.first_serial}–{parent.last_serial}")
            self.per_issuance[b.issuance_id].append((b.first_serial, b.last_serial))
            linked = (b.retirement_id if b.status == "retired" else b.cancellation_id if b.status == "cancelled"
                      else None)
            seq_key = event_seq.get((b.status, linked)) if linked is not None else None
            if b.status != "held" and seq_key is None:
                row = "retirement" if b.status == "retired" else "cancellation"
                self.problem(where, f"is {b.status} without its {row} row")
            stored[(self.names.get(b.account_id, f"#{b.account_id}"), b.status, seq_key)].append(
                (b.first_serial, b.last_serial))
        for first, second in overlaps([(b.first_serial, b.last_serial) for b in blocks]):
            self.problem("ledger_serial_blocks", f"serials {_fmt([first])} and {_fmt([second])} overlap")
        for key in sorted(set(stored) | {k for k, v in self.replay.holdings.items() if v}, key=str):
            mine, logged = merge(stored.get(key, [])), self.replay.holdings.get(key, [])
            if mine != logged:
                account, status, seq = key
                what = f"{status} serials of {account!r}" + (f" (audit seq {seq})" if seq is not None else "")
                self.problem("ledger_serial_blocks", f"{what} are {_fmt(mine)}, the audit log gives {_fmt(logged)}")

    def issued_blocks(self) -> None:
        """4. Issued blocks: not overlapping, each the size of its credits and buffer, covered by its serial blocks."""
        for first, second in overlaps([(i.first_serial, i.last_serial) for i in self.issuances]):
            self.problem("ledger_issuances", f"serial blocks {_fmt([first])} and {_fmt([second])} overlap")
        for i in self.issuances:
            where = f"ledger_issuances id {i.id}"
            span = i.last_serial - i.first_serial + 1
            if span != i.quantity + i.buffer_quantity:
                self.problem(where, f"serials {i.first_serial}–{i.last_serial} are {span}, "
                             f"quantity + buffer is {i.quantity + i.buffer_quantity}")
            mine = self.per_issuance.get(i.id, [])
            if merge(mine) != [(i.first_serial, i.last_serial)] or count(mine) != span:
                self.problem(where, f"its serial blocks cover {_fmt(merge(mine))}, not exactly "
                             f"{i.first_serial}–{i.last_serial}")
        if self.state is not None:
            top = max((i.last_serial for i in self.issuances), default=0)
            if self.state.next_serial != top + 1:
                self.problem("ledger_state id 1", f"next_serial is {self.state.next_serial}, the last issued serial "
                             f"is {top}")


def _blocks_of(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def verify(session: Session, anchors: Iterable[str] = ()) -> VerifyReport:
    """Check the chain, the rows against the log, the balances and the serials; see the module docstring.

    ``anchors``: hashes published earlier (``HASH`` or ``SEQ:HASH``); each must be in the chain.
    Read-only: nothing is written.
    """
    _snapshot(session)
    check = _Checker(session)
    check.chain()
    check.state_and_anchors(anchors)
    check.replay_log()
    check.rows()
    check.balances()
    check.serial_blocks()
    check.issued_blocks()
    replay = check.replay
    return VerifyReport(problems=tuple(check.problems), entries=len(check.entries), head_seq=check.last_seq,
                        head_hash=check.head_hash, accounts=len(check.accounts), issuances=len(check.issuances),
                        issued=replay.issued, retired=replay.retired, cancelled=replay.cancelled)
