"""Ledger operations: issuing a monitoring period, transfers, retirements, cancellations, and reading balances.

Each write operation is one transaction: all its rows and audit entries are committed together or
not at all. Called with a session outside a transaction, it begins and commits its own; called
inside one (``with icam.store.db.session(engine) as s:``), it runs in a savepoint of the caller's
transaction, a refusal undoes only its own work, and the caller's commit makes it durable.

Every write first takes the ledger's lock (:func:`icam.ledger.audit.lock_ledger`), then reads what
it needs, so two processes writing the same ledger queue up rather than hand out the same serials.
Quantities are whole credits (1 credit = 1 tCO2e), Python ints; credits move lowest serial first.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from icam.core.errors import IcamError
from icam.ledger.audit import append, canonical_json, lock_ledger, utc_now
from icam.ledger.models import (
    BUFFER_ACCOUNT,
    Account,
    AuditEntry,
    BufferContribution,
    Cancellation,
    Issuance,
    LedgerState,
    Retirement,
    SerialBlock,
    Transfer,
    issuance_account_name,
)
from icam.ledger.serials import PROJECT_RE
from icam.ledger.serials import SerialBlock as Block

RESERVED_PREFIX = "issuance/"


@dataclass(frozen=True)
class IssuanceRecord:
    """One issued monitoring period: ``quantity`` credits to the issuance account, ``buffer_quantity`` to the buffer."""

    project: str
    period_start: dt.date
    period_end: dt.date
    vintage: int
    quantity: int
    buffer_quantity: int
    first_serial: int
    last_serial: int
    issued_at: str
    audit_seq: int

    @property
    def credit_block(self) -> Block:
        """The serials issued to the project's issuance account."""
        return Block(self.project, self.vintage, self.period_start, self.first_serial,
                     self.first_serial + self.quantity - 1)

    @property
    def buffer_block(self) -> Block | None:
        """The serials withheld into the buffer pool, or None for a zero buffer."""
        if not self.buffer_quantity:
            return None
        return Block(self.project, self.vintage, self.period_start, self.first_serial + self.quantity,
                     self.last_serial)


@dataclass(frozen=True)
class Movement:
    """A transfer, retirement or cancellation: which serial blocks left ``account`` (for ``to_account``)."""

    event: str
    account: str
    to_account: str | None
    quantity: int
    blocks: tuple[Block, ...]
    at: str
    audit_seq: int


@dataclass(frozen=True)
class AccountBalance:
    """An account's credits: ``held`` now, and those it ``retired`` or ``cancelled``."""

    name: str
    kind: str
    project: str | None
    held: int
    retired: int
    cancelled: int


@dataclass(frozen=True)
class HistoryEntry:
    """One audit-log entry as stored."""

    seq: int
    at: str
    event_type: str
    payload: dict[str, Any]
    hash: str

    def summary(self) -> str:
        """One line on what happened (the payload itself where it does not read as the event it claims)."""
        try:
            return self._summary()
        except (TypeError, ValueError, AttributeError):
            return canonical_json(self.payload)[:200]

    def _summary(self) -> str:
        p = self.payload
        if self.event_type == "account_opened":
            return f"opened {p.get('kind')} account {p.get('account')}"
        if self.event_type == "issuance":
            first, quantity = p.get("first_serial"), p.get("quantity")
            last = first + quantity - 1 if isinstance(first, int) and isinstance(quantity, int) else "?"
            return (f"issued {quantity:,} credits of {p.get('project')} {p.get('period_start')}–"
                    f"{p.get('period_end')} vintage {p.get('vintage')} to {p.get('account')}, serials {first}–{last}")
        if self.event_type == "buffer_contribution":
            return (f"withheld {p.get('quantity'):,} credits of {p.get('project')} {p.get('period_start')} into "
                    f"{p.get('account')}, serials {p.get('first_serial')}–{p.get('last_serial')}")
        if self.event_type == "transfer":
            return f"transferred {p.get('quantity'):,} credits from {p.get('from')} to {p.get('to')}"
        if self.event_type == "retirement":
            return (f"retired {p.get('quantity'):,} credits from {p.get('account')} for {p.get('beneficiary')} "
                    f"({p.get('purpose')})")
        if self.event_type == "cancellation":
            return f"cancelled {p.get('quantity'):,} credits from {p.get('account')} ({p.get('reason')})"
        return self.event_type


@contextmanager
def _unit(session: Session) -> Iterator[None]:
    """One transaction, or a savepoint of the caller's; integrity errors become an :class:`IcamError`."""
    try:
        if session.in_transaction():
            with session.begin_nested():
                yield
        else:
            with session.begin():
                yield
    except IntegrityError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise IcamError(f"the ledger database refused the write ({detail})",
                        "run icam ledger verify; nothing of this operation was written") from None


# -- checks of arguments ----------------------------------------------------------------------------------------


def _whole(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool):
        raise IcamError(f"{name} must be a whole number of credits, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise IcamError(f"{name} must be a whole number of credits (tCO2e), got {value!r}",
                        "round down to whole tCO2e before issuing") from None
    if number < minimum:
        raise IcamError(f"{name} must be at least {minimum}, got {number}")
    return number


def _date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise IcamError(f"{name} must be a date, got the date-time {value.isoformat()}")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise IcamError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from None


def _text(value: Any, name: str, limit: int) -> str:
    text = unicodedata.normalize("NFC", " ".join(str(value or "").split()))
    if not text:
        raise IcamError(f"{name} must not be empty")
    if len(text) > limit:
        raise IcamError(f"{name} is longer than {limit} characters")
    return text


def _project(value: Any) -> str:
    project = str(value or "")
    if not PROJECT_RE.match(project):
        raise IcamError(f"project id {project!r} is not usable in serial numbers",
                        "use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, "
                        "e.g. VCS944")
    return project


def _holder_name(value: Any) -> str:
    name = _text(value, "account name", 200)
    if name == BUFFER_ACCOUNT or name.startswith(RESERVED_PREFIX):
        raise IcamError(f"account name {name!r} is reserved",
                        f"{BUFFER_ACCOUNT!r} and 'issuance/<project>' are made by issuance")
    return name


# -- accounts -----------------------------------------------------------------------------------------------------


def _open(session: Session, state: LedgerState, name: str, kind: str, project: str | None, at: str) -> Account:
    entry = append(session, state, "account_opened", {"at": at, "account": name, "kind": kind, "project": project})
    account = Account(name=name, kind=kind, project=project, balance=0, opened_at=at, audit_seq=entry.seq)
    session.add(account)
    session.flush()
    return account


def _account(session: Session, name: str) -> Account | None:
    return session.scalars(select(Account).where(Account.name == name)).one_or_none()


def _existing(session: Session, name: str) -> Account:
    account = _account(session, name)
    if account is None:
        raise IcamError(f"the ledger has no account {name!r}", "open it first (open_account), or check the name")
    return account


def open_account(session: Session, name: str, *, exist_ok: bool = False) -> str:
    """Open a holder account ``name`` (a buyer, a registry, a beneficiary); returns the name."""
    name = _holder_name(name)
    with _unit(session):
        state = lock_ledger(session)
        existing = _account(session, name)
        if existing is not None:
            if exist_ok and existing.kind == "holder":
                return name
            raise IcamError(f"the ledger already has an account {name!r}")
        _open(session, state, name, "holder", None, utc_now())
    return name


# -- issuance -----------------------------------------------------------------------------------------------------


def _record(issuance: Issuance) -> IssuanceRecord:
    return IssuanceRecord(issuance.project, issuance.period_start, issuance.period_end, issuance.vintage,
                          issuance.quantity, issuance.buffer_quantity, issuance.first_serial, issuance.last_serial,
                          issuance.issued_at, issuance.audit_seq)


def issue_period(session: Session, project: str, period_start: dt.date | str, period_end: dt.date | str,
                 vintage: int, credits: int, buffer: int) -> IssuanceRecord:
    """Issue ``credits`` for ``project``'s monitoring period and withhold ``buffer`` into the buffer pool.

    One transaction writes the issuance, its serial blocks (``credits`` serials to the account
    ``issuance/<project>``, the next ``buffer`` serials to ``buffer-pool``), the buffer contribution,
    the accounts' new balances and the audit entries. A period already issued for the project, or
    overlapping one that was, is refused with an :class:`IcamError` (the database's unique constraint
    on project and period start backs the check). Quantities are whole tCO2e.
    """
    project = _project(project)
    start, end = _date(period_start, "period start"), _date(period_end, "period end")
    if end < start:
        raise IcamError(f"the monitoring period ends ({end}) before it starts ({start})")
    vintage = _whole(vintage, "vintage", 1)
    if not start.year <= vintage <= end.year:
        raise IcamError(f"vintage {vintage} is outside the monitoring period {start}–{end}",
                        "the vintage is the year the emission reductions happened")
    credits = _whole(credits, "credits", 1)
    buffer = _whole(buffer, "buffer", 0)

    with _unit(session):
        state = lock_ledger(session)
        clash = session.scalars(select(Issuance).where(Issuance.project == project, Issuance.period_start <= end,
                                                       Issuance.period_end >= start)
                                .order_by(Issuance.period_start)).first()
        if clash is not None:
            same = clash.period_start == start and clash.period_end == end
            what = ("was already issued" if same
                    else f"overlaps the issued period {clash.period_start}–{clash.period_end}")
            label = _record(clash).credit_block.label
            raise IcamError(f"monitoring period {start}–{end} of project {project} {what} "
                            f"({clash.quantity:,} credits, {label}, at {clash.issued_at})",
                            "a period is issued once; correct an issuance by cancelling credits")
        at = utc_now()
        account = _account(session, issuance_account_name(project))
        if account is None:
            account = _open(session, state, issuance_account_name(project), "issuance", project, at)
        buffer_account = None
        if buffer:
            buffer_account = _account(session, BUFFER_ACCOUNT)
            if buffer_account is None:
                buffer_account = _open(session, state, BUFFER_ACCOUNT, "buffer", None, at)
        if account.kind != "issuance" or (buffer_account is not None and buffer_account.kind != "buffer"):
            raise IcamError("the ledger's issuance or buffer account has the wrong kind", "run icam ledger verify")

        first = state.next_serial
        last = first + credits + buffer - 1
        state.next_serial = last + 1
        entry = append(session, state, "issuance", {
            "at": at, "project": project, "period_start": start.isoformat(), "period_end": end.isoformat(),
            "vintage": vintage, "quantity": credits, "buffer_quantity": buffer, "first_serial": first,
            "last_serial": last, "account": account.name})
        issuance = Issuance(project=project, period_start=start, period_end=end, vintage=vintage, quantity=credits,
                            buffer_quantity=buffer, first_serial=first, last_serial=last, account=account,
                            issued_at=at, audit_seq=entry.seq)
        session.add(issuance)
        session.flush()
        session.add(SerialBlock(issuance=issuance, account=account, first_serial=first,
                                last_serial=first + credits - 1, quantity=credits, status="held"))
        account.balance += credits
        if buffer_account is not None:
            buffer_first = first + credits
            entry = append(session, state, "buffer_contribution", {
                "at": at, "project": project, "period_start": start.isoformat(), "quantity": buffer,
                "first_serial": buffer_first, "last_serial": last, "account": buffer_account.name})
            session.add(BufferContribution(issuance=issuance, account=buffer_account, quantity=buffer,
                                           first_serial=buffer_first, last_serial=last, audit_seq=entry.seq))
            session.add(SerialBlock(issuance=issuance, account=buffer_account, first_serial=buffer_first,
                                    last_serial=last, quantity=buffer, status="held"))
            buffer_account.balance += buffer
        session.flush()
        record = _record(issuance)
    return record


# -- transfers, retirements, cancellations -----------------------------------------------------------------------


def _take(session: Session, account: Account, quantity: int, verb: str, vintage: int | None,
          project: str | None) -> list[tuple[SerialBlock, int]]:
    """The held blocks of ``account`` to take ``quantity`` credits from, lowest serial first, and how many of each."""
    query = (select(SerialBlock).join(Issuance, SerialBlock.issuance_id == Issuance.id)
             .where(SerialBlock.account_id == account.id, SerialBlock.status == "held"))
    what = ""
    if vintage is not None:
        query = query.where(Issuance.vintage == vintage)
        what += f" of vintage {vintage}"
    if project is not None:
        query = query.where(Issuance.project == project)
        what += f" of project {project}"
    blocks = session.scalars(query.order_by(SerialBlock.first_serial)).all()
    available = sum(b.quantity for b in blocks)
    if available < quantity:
        raise IcamError(f"account {account.name} holds {available:,} credits{what}, cannot {verb} {quantity:,}")
    plan, remaining = [], quantity
    for block in blocks:
        if remaining == 0:
            break
        k = min(remaining, block.quantity)
        plan.append((block, k))
        remaining -= k
    return plan


def _apply(session: Session, plan: list[tuple[SerialBlock, int]], to: Account, status: str,
           retirement: Retirement | None = None, cancellation: Cancellation | None = None) -> None:
    for block, k in plan:
        if k == block.quantity:
            block.account = to
            block.status = status
            block.retirement = retirement
            block.cancellation = cancellation
            continue
        # Split: the block keeps its upper part; the lower part becomes a new block. Flush the shrink first so
        # that the two never overlap, not even for one statement (the no-overlap constraint is immediate).
        first = block.first_serial
        block.first_serial = first + k
        block.quantity -= k
        session.flush()
        session.add(SerialBlock(issuance_id=block.issuance_id, account=to, first_serial=first,
                                last_serial=first + k - 1, quantity=k, status=status, retirement=retirement,
                                cancellation=cancellation))
    session.flush()


def _ranges(plan: list[tuple[SerialBlock, int]]) -> list[list[int]]:
    return [[block.first_serial, block.first_serial + k - 1] for block, k in plan]


def transfer(session: Session, from_account: str, to_account: str, quantity: int, *, vintage: int | None = None,
             project: str | None = None) -> Movement:
    """Move ``quantity`` credits (lowest serials first, of ``vintage``/``project`` if given) between accounts.

    The buffer pool neither sends nor receives transfers; more than the account holds is refused.
    """
    quantity = _whole(quantity, "quantity", 1)
    with _unit(session):
        state = lock_ledger(session)
        source, target = _existing(session, from_account), _existing(session, to_account)
        if source.id == target.id:
            raise IcamError(f"cannot transfer from {source.name} to itself")
        if source.kind == "buffer" or target.kind == "buffer":
            raise IcamError("the buffer pool takes credits only at issuance and gives them up only by cancellation")
        plan = _take(session, source, quantity, "transfer", vintage, project)
        ranges = _ranges(plan)
        at = utc_now()
        entry = append(session, state, "transfer", {"at": at, "from": source.name, "to": target.name,
                                                    "quantity": quantity, "blocks": ranges})
        moved = _blocks(plan, ranges)
        session.add(Transfer(from_account=source, to_account=target, quantity=quantity, blocks=canonical_json(ranges),
                             at=at, audit_seq=entry.seq))
        _apply(session, plan, target, "held")
        source.balance -= quantity
        target.balance += quantity
        session.flush()
        result = Movement("transfer", source.name, target.name, quantity, moved, at, entry.seq)
    return result


def retire(session: Session, account: str, quantity: int, beneficiary: str, purpose: str, *,
           vintage: int | None = None, project: str | None = None) -> Movement:
    """Retire ``quantity`` credits held by ``account`` on behalf of ``beneficiary`` for ``purpose``."""
    quantity = _whole(quantity, "quantity", 1)
    beneficiary = _text(beneficiary, "beneficiary", 500)
    purpose = _text(purpose, "purpose", 2000)
    return _take_out(session, "retirement", account, quantity, vintage, project,
                     {"beneficiary": beneficiary, "purpose": purpose})


def cancel(session: Session, account: str, quantity: int, reason: str, *, vintage: int | None = None,
           project: str | None = None) -> Movement:
    """Cancel ``quantity`` credits held by ``account`` (any account, the buffer pool included) for ``reason``."""
    quantity = _whole(quantity, "quantity", 1)
    reason = _text(reason, "reason", 2000)
    return _take_out(session, "cancellation", account, quantity, vintage, project, {"reason": reason})


def _take_out(session: Session, kind: str, account: str, quantity: int, vintage: int | None, project: str | None,
              fields: dict[str, str]) -> Movement:
    """Retire or cancel (``kind``): credits leave circulation, lowest serials first, in one transaction."""
    model, status, verb = ((Retirement, "retired", "retire") if kind == "retirement"
                           else (Cancellation, "cancelled", "cancel"))
    with _unit(session):
        state = lock_ledger(session)
        source = _existing(session, account)
        if kind == "retirement" and source.kind == "buffer":
            raise IcamError("credits in the buffer pool cannot be retired", "cancel them to cover a reversal")
        plan = _take(session, source, quantity, verb, vintage, project)
        ranges = _ranges(plan)
        at = utc_now()
        entry = append(session, state, kind, {"at": at, "account": source.name, "quantity": quantity, **fields,
                                              "blocks": ranges})
        moved = _blocks(plan, ranges)
        record = model(account=source, quantity=quantity, **fields, blocks=canonical_json(ranges), at=at,
                       audit_seq=entry.seq)
        session.add(record)
        session.flush()
        _apply(session, plan, source, status, **{kind: record})
        source.balance -= quantity
        session.flush()
        result = Movement(kind, source.name, None, quantity, moved, at, entry.seq)
    return result


def _blocks(plan: list[tuple[SerialBlock, int]], ranges: list[list[int]]) -> tuple[Block, ...]:
    return tuple(Block(b.issuance.project, b.issuance.vintage, b.issuance.period_start, first, last)
                 for (b, _), (first, last) in zip(plan, ranges))


# -- reading ------------------------------------------------------------------------------------------------------


def balances(session: Session) -> list[AccountBalance]:
    """Every account with its credits held, retired and cancelled, in order of opening."""
    totals: dict[tuple[int, str], int] = {
        (account_id, status): int(total) for account_id, status, total in session.execute(
            select(SerialBlock.account_id, SerialBlock.status, func.sum(SerialBlock.quantity))
            .group_by(SerialBlock.account_id, SerialBlock.status))}
    return [AccountBalance(a.name, a.kind, a.project, a.balance, totals.get((a.id, "retired"), 0),
                           totals.get((a.id, "cancelled"), 0))
            for a in session.scalars(select(Account).order_by(Account.audit_seq))]


def issuances(session: Session, project: str | None = None) -> list[IssuanceRecord]:
    """The issued monitoring periods, in order of issuance (of ``project`` only, if given)."""
    query = select(Issuance).order_by(Issuance.first_serial)
    if project is not None:
        query = query.where(Issuance.project == project)
    return [_record(i) for i in session.scalars(query)]


def history(session: Session) -> list[HistoryEntry]:
    """The audit log, oldest first."""

    return [HistoryEntry(e.seq, e.at, e.event_type, json.loads(e.payload), e.hash)
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


def head(session: Session) -> tuple[int, str]:
    """The newest audit entry's sequence number and hash: publish them to pin the log (0 and 64 zeros when empty)."""
    state = session.get(LedgerState, 1)
    if state is None:
        raise IcamError("the ledger has no state row (ledger_state id 1)", "run icam ledger verify")
    return state.last_seq, state.head_hash
