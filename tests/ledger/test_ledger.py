"""The credit ledger: serial blocks worked by hand, refusals, random sequences of operations, tampering,
migrations and the ``icam ledger`` commands.

Every test runs on SQLite (a file in tmp_path) and on PostgreSQL when $ICAM_TEST_POSTGRES_URL names a
server (each test in its own schema, dropped afterwards).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from conftest import run_cli
from icam import ledger
from icam.core.errors import IcamError
from icam.ledger.models import Account, AuditEntry, BufferContribution, LedgerState, SerialBlock
from icam.ledger.serials import merge
from icam.store.db import Base, current_revision, downgrade, head_revision, make_engine, session, upgrade

P1 = ("2008-06-15", "2012-06-14")
P2 = ("2012-06-15", "2014-06-14")
P3 = ("2014-06-15", "2016-06-14")
LEDGER_TABLES = ("ledger_serial_blocks", "ledger_cancellations", "ledger_retirements", "ledger_transfers",
                 "ledger_buffer_contributions", "ledger_issuances", "ledger_accounts", "ledger_audit_log")


def _reset(engine) -> None:
    """Empty every ledger table (faster than a new database per hypothesis example)."""
    with engine.begin() as connection:
        for table in LEDGER_TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text(f"UPDATE ledger_state SET next_serial = 1, last_seq = 0, head_hash = '{'0' * 64}'"))


def _blocks(engine) -> list[tuple[str, int, int, str]]:
    with session(engine) as s:
        rows = s.execute(select(Account.name, SerialBlock.first_serial, SerialBlock.last_serial, SerialBlock.status)
                         .join(Account, SerialBlock.account_id == Account.id).order_by(SerialBlock.first_serial))
        return [tuple(r) for r in rows]


def _verify(engine, anchors=()):
    with session(engine) as s:
        return ledger.verify(s, anchors)


def _entries(engine) -> int:
    with session(engine) as s:
        return s.scalar(select(func.count()).select_from(AuditEntry))


# -- the audit chain and serial labels ----------------------------------------------------------------------------


def test_chain_hash_and_canonical_json_by_hand():
    payload = ledger.canonical_json({"quantity": 5, "at": "2024-01-01T00:00:00.000000+00:00", "b": [1, "é"]})
    assert payload == '{"at":"2024-01-01T00:00:00.000000+00:00","b":[1,"é"],"quantity":5}'
    expected = hashlib.sha256(("0" * 64 + payload + "1").encode("utf-8")).hexdigest()
    assert ledger.chain_hash("0" * 64, payload, 1) == expected
    with pytest.raises(TypeError, match="no floats"):
        ledger.canonical_json({"quantity": 1.5})


def test_serial_labels_round_trip():
    label = ledger.block_label("alto-mayo.2", 2012, dt.date(2008, 6, 15), 1, 120_000)
    assert label == "ICAM-alto-mayo.2-2012-20080615-000000001-000120000"
    block = ledger.parse_label(label)
    assert (block.project, block.vintage, block.period_start, block.first, block.last, block.quantity) == \
        ("alto-mayo.2", 2012, dt.date(2008, 6, 15), 1, 120_000, 120_000)
    assert ledger.parse_label("ICAM-P-2030-20300101-1234567890-1234567899").quantity == 10
    with pytest.raises(ValueError):
        ledger.parse_label("ICAM-P-2012-20080615-000000005-000000001")


# -- migrations ---------------------------------------------------------------------------------------------------


def test_migrations_run_from_empty_to_head(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import icam.ledger.models  # noqa: F401 - the models must match what the migration made
    import icam.web.accounts  # noqa: F401 - and the web app's users (0005)

    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        # 0001 ledger, 0002 agreements, 0003-0004 enforcement, 0005 the web app's users
        assert current_revision(engine) == head_revision() == "0005"
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert diff == [], diff
            state = connection.execute(select(LedgerState.next_serial, LedgerState.last_seq,
                                              LedgerState.head_hash)).one()
            assert tuple(state) == (1, 0, "0" * 64)
        upgrade(engine)  # at head: nothing to do
        assert _verify(engine).ok
        downgrade(engine, "base")  # and back down to nothing, and up again
        assert current_revision(engine) is None
        upgrade(engine)
        with session(engine) as s:
            ledger.issue_period(s, "P", *P1, 2012, 10, 1)
        assert _verify(engine).ok
    finally:
        engine.dispose()


# -- issuance -----------------------------------------------------------------------------------------------------


def test_issuance_makes_the_serial_blocks_worked_by_hand(engine):
    with session(engine) as s:
        first = ledger.issue_period(s, "P", *P1, 2012, 100, 15)
    # Serials 1-100 to issuance/P, the next 15 (101-115) to the buffer pool.
    assert (first.first_serial, first.last_serial) == (1, 115)
    assert first.credit_block.label == "ICAM-P-2012-20080615-000000001-000000100"
    assert first.buffer_block.label == "ICAM-P-2012-20080615-000000101-000000115"
    with session(engine) as s:
        second = ledger.issue_period(s, "P", *P2, 2014, 50, 0)  # no buffer: no contribution, no buffer block
        other = ledger.issue_period(s, "Q-2", *P1, 2010, 7, 3)
    assert (second.first_serial, second.last_serial, second.buffer_block) == (116, 165, None)
    assert second.credit_block.label == "ICAM-P-2014-20120615-000000116-000000165"
    assert other.credit_block.label == "ICAM-Q-2-2010-20080615-000000166-000000172"
    assert other.buffer_block.label == "ICAM-Q-2-2010-20080615-000000173-000000175"
    assert _blocks(engine) == [("issuance/P", 1, 100, "held"), ("buffer-pool", 101, 115, "held"),
                               ("issuance/P", 116, 165, "held"), ("issuance/Q-2", 166, 172, "held"),
                               ("buffer-pool", 173, 175, "held")]
    with session(engine) as s:
        held = {b.name: b.held for b in ledger.balances(s)}
        assert s.scalar(select(func.count()).select_from(BufferContribution)) == 2
        assert [e.event_type for e in ledger.history(s)] == [
            "account_opened", "account_opened", "issuance", "buffer_contribution", "issuance",
            "account_opened", "issuance", "buffer_contribution"]
        assert [i.project for i in ledger.issuances(s)] == ["P", "P", "Q-2"]
    assert held == {"issuance/P": 150, "buffer-pool": 18, "issuance/Q-2": 7}
    assert _verify(engine).ok


def test_transfers_retirements_and_cancellations_split_blocks_worked_by_hand(engine):
    with session(engine) as s:
        ledger.issue_period(s, "P", *P1, 2012, 100, 15)   # 1-100, buffer 101-115
        ledger.issue_period(s, "P", *P2, 2014, 50, 5)     # 116-165, buffer 166-170
        ledger.open_account(s, "buyer")
        ledger.open_account(s, "broker")
    with session(engine) as s:
        moved = ledger.transfer(s, "issuance/P", "buyer", 30)
    assert [b.label for b in moved.blocks] == ["ICAM-P-2012-20080615-000000001-000000030"]
    with session(engine) as s:  # 80 more: the rest of the first issuance (31-100) and 116-125 of the second
        moved = ledger.transfer(s, "issuance/P", "buyer", 80)
    assert [(b.first, b.last, b.vintage) for b in moved.blocks] == [(31, 100, 2012), (116, 125, 2014)]
    with session(engine) as s:
        ledger.retire(s, "buyer", 35, "Municipalidad de Moyobamba", "offsetting 2023 emissions")
        ledger.transfer(s, "buyer", "broker", 10, vintage=2014)   # 116-125: the only 2014 credits buyer holds
        ledger.cancel(s, "buffer-pool", 3, "reversal: 2019 fire")
    assert _blocks(engine) == [
        ("buyer", 1, 30, "retired"), ("buyer", 31, 35, "retired"), ("buyer", 36, 100, "held"),
        ("buffer-pool", 101, 103, "cancelled"), ("buffer-pool", 104, 115, "held"),
        ("broker", 116, 125, "held"), ("issuance/P", 126, 165, "held"), ("buffer-pool", 166, 170, "held")]
    with session(engine) as s:
        got = {b.name: (b.held, b.retired, b.cancelled) for b in ledger.balances(s)}
    assert got == {"issuance/P": (40, 0, 0), "buffer-pool": (17, 0, 3), "buyer": (65, 35, 0), "broker": (10, 0, 0)}
    report = _verify(engine)
    assert report.ok, report.problems
    assert (report.issued, report.retired, report.cancelled, report.outstanding) == (170, 35, 3, 132)


def test_moving_more_than_an_account_holds_is_refused_and_writes_nothing(engine):
    with session(engine) as s:
        ledger.issue_period(s, "P", *P1, 2012, 100, 15)
        ledger.open_account(s, "buyer")
    before = _entries(engine)
    with pytest.raises(IcamError, match="holds 100 credits, cannot transfer 101"):
        with session(engine) as s:
            ledger.transfer(s, "issuance/P", "buyer", 101)
    with pytest.raises(IcamError, match="holds 0 credits of vintage 2013, cannot retire 1"):
        with session(engine) as s:
            ledger.retire(s, "issuance/P", 1, "x", "y", vintage=2013)
    with pytest.raises(IcamError, match="buffer pool"):
        with session(engine) as s:
            ledger.transfer(s, "buffer-pool", "buyer", 1)
    with pytest.raises(IcamError, match="no account 'nobody'"):
        with session(engine) as s:
            ledger.transfer(s, "issuance/P", "nobody", 1)
    with pytest.raises(IcamError, match="whole number"):
        with session(engine) as s:
            ledger.transfer(s, "issuance/P", "buyer", 1.5)
    # A refusal inside a caller's transaction undoes only itself: the transfer before it commits.
    with session(engine) as s:
        ledger.transfer(s, "issuance/P", "buyer", 10)
        with pytest.raises(IcamError):
            ledger.cancel(s, "buyer", 11, "too many")
    assert _entries(engine) == before + 1
    assert _verify(engine).ok


def test_issuing_a_period_twice_is_refused(engine):
    with session(engine) as s:
        ledger.issue_period(s, "P", *P1, 2012, 100, 15)
    before = _entries(engine)
    with pytest.raises(IcamError, match="2008-06-15–2012-06-14 of project P was already issued"):
        with session(engine) as s:
            ledger.issue_period(s, "P", *P1, 2012, 100, 15)
    with pytest.raises(IcamError, match="overlaps the issued period 2008-06-15–2012-06-14"):
        with session(engine) as s:
            ledger.issue_period(s, "P", "2012-01-01", "2013-12-31", 2012, 5, 1)
    with pytest.raises(IcamError, match="vintage 2020 is outside"):
        with session(engine) as s:
            ledger.issue_period(s, "P", *P2, 2020, 5, 1)
    with pytest.raises(IcamError, match="project id"):
        with session(engine) as s:
            ledger.issue_period(s, "Alto Mayo", *P2, 2013, 5, 1)
    assert _entries(engine) == before
    with session(engine) as s:  # the same period of another project is another issuance
        ledger.issue_period(s, "Q", *P1, 2012, 10, 1)
    # The database refuses a second row for the period even where the check is bypassed.
    with pytest.raises(IntegrityError):
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO ledger_issuances (project, period_start, period_end, vintage, quantity, buffer_quantity, "
                "first_serial, last_serial, account_id, issued_at, audit_seq) SELECT project, period_start, "
                "period_end, vintage, 1, 0, 1000, 1000, account_id, issued_at, 999 FROM ledger_issuances "
                "WHERE project = 'P'"))
    assert _verify(engine).ok


@pytest.mark.parametrize("table", ["ledger_issuances", "ledger_serial_blocks"])
def test_the_database_refuses_overlapping_serial_blocks(engine, table):
    with session(engine) as s:
        ledger.issue_period(s, "P", *P1, 2012, 100, 15)
        ledger.issue_period(s, "P", *P2, 2014, 50, 5)
    with engine.begin() as connection:
        issuance_id, account_id = connection.execute(text("SELECT id, account_id FROM ledger_issuances "
                                                          "ORDER BY id")).first()
    statements = {
        "ledger_issuances": "INSERT INTO ledger_issuances (project, period_start, period_end, vintage, quantity, "
                            "buffer_quantity, first_serial, last_serial, account_id, issued_at, audit_seq) VALUES "
                            f"('Q', '2008-06-15', '2012-06-14', 2012, 10, 0, 160, 169, {account_id}, 'x', 999)",
        "ledger_serial_blocks": "INSERT INTO ledger_serial_blocks (issuance_id, account_id, first_serial, "
                                f"last_serial, quantity, status) VALUES ({issuance_id}, {account_id}, 100, 100, 1, "
                                "'held')"}
    with pytest.raises(IntegrityError, match="overlap|exclusion"):
        with engine.begin() as connection:
            connection.execute(text(statements[table]))
    with pytest.raises(IntegrityError, match="overlap|exclusion"):  # moving a block onto another
        with engine.begin() as connection:
            connection.execute(text(f"UPDATE {table} SET last_serial = last_serial + 1, quantity = quantity + 1 "
                                    f"WHERE first_serial = 1"))
    assert _verify(engine).ok


def test_concurrent_writers_queue_up_and_readers_see_a_consistent_ledger(engine):
    """Two threads issue and transfer at once (the ledger lock serialises them) while a third verifies
    again and again: a verify that ran during writes must not report them as tampering."""
    errors: list[BaseException] = []
    writing = threading.Event()
    reports = []

    def check() -> None:
        while writing.is_set():
            reports.append(_verify(engine))

    def work(project: str) -> None:
        try:
            for k in range(6):
                with session(engine) as s:
                    ledger.issue_period(s, project, f"{2000 + k}-01-01", f"{2000 + k}-12-31", 2000 + k, 10 + k, 2)
                with session(engine) as s:
                    ledger.open_account(s, f"buyer-{project}", exist_ok=True)
                    ledger.transfer(s, f"issuance/{project}", f"buyer-{project}", 3)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    writing.set()
    checker = threading.Thread(target=check)
    checker.start()
    threads = [threading.Thread(target=work, args=(p,)) for p in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writing.clear()
    checker.join()
    assert not errors, errors
    assert reports and all(r.ok for r in reports), [r.problems for r in reports if not r.ok][:1]
    report = _verify(engine)
    assert report.ok, report.problems
    assert report.issuances == 12


# -- random sequences of operations -------------------------------------------------------------------------------

HOLDERS = ("issuance/P", "issuance/Q", "a", "b")
OPERATION = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(("P", "Q")), st.integers(1, 40), st.integers(0, 9)),
    st.tuples(st.just("transfer"), st.sampled_from(HOLDERS), st.sampled_from(HOLDERS), st.integers(1, 50),
              st.sampled_from((None, None, 2000, 2001))),
    st.tuples(st.just("retire"), st.sampled_from(HOLDERS), st.integers(1, 50), st.sampled_from((None, 2000))),
    st.tuples(st.just("cancel"), st.sampled_from((*HOLDERS, "buffer-pool")), st.integers(1, 30)),
)


class _Model:
    """The ledger in memory: which serials each account holds, lowest first, and the totals."""

    def __init__(self) -> None:
        self.held: dict[str, list[tuple[int, int, int]]] = {}  # account -> [(first, last, vintage)]
        self.next_serial, self.periods = 1, {"P": 0, "Q": 0}
        self.issued = self.retired = self.cancelled = 0

    def holding(self, account, vintage=None):
        return sum(b - a + 1 for a, b, v in self.held.get(account, []) if vintage in (None, v))

    def take(self, account, quantity, vintage=None):
        taken, keep, left = [], [], quantity
        for a, b, v in sorted(self.held.get(account, [])):
            if left and vintage in (None, v):
                k = min(left, b - a + 1)
                taken.append((a, a + k - 1, v))
                if k < b - a + 1:
                    keep.append((a + k, b, v))
                left -= k
            else:
                keep.append((a, b, v))
        self.held[account] = keep
        return taken


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(OPERATION, min_size=1, max_size=14))
def test_random_operations_keep_balances_serials_and_the_chain(engine, operations):
    _reset(engine)
    model = _Model()
    with session(engine) as s:
        ledger.open_account(s, "a")
        ledger.open_account(s, "b")
    for op in operations:
        kind = op[0]
        if kind == "issue":
            _, project, credits, buffer = op
            k = model.periods[project]
            vintage = 2000 + k
            with session(engine) as s:
                ledger.issue_period(s, project, f"{vintage}-01-01", f"{vintage}-12-31", vintage, credits, buffer)
            first = model.next_serial
            model.held.setdefault(f"issuance/{project}", []).append((first, first + credits - 1, vintage))
            if buffer:
                model.held.setdefault("buffer-pool", []).append(
                    (first + credits, first + credits + buffer - 1, vintage))
            model.next_serial += credits + buffer
            model.periods[project] += 1
            model.issued += credits + buffer
            continue
        if kind == "transfer":
            _, source, target, quantity, vintage = op
            allowed = source != target and model.holding(source, vintage) >= quantity
            call = functools.partial(ledger.transfer, from_account=source, to_account=target, quantity=quantity,
                                     vintage=vintage)
        elif kind == "retire":
            _, source, quantity, vintage = op
            allowed = model.holding(source, vintage) >= quantity
            call = functools.partial(ledger.retire, account=source, quantity=quantity, beneficiary="beneficiary",
                                     purpose="purpose", vintage=vintage)
        else:
            _, source, quantity = op
            vintage, target = None, None
            allowed = model.holding(source) >= quantity
            call = functools.partial(ledger.cancel, account=source, quantity=quantity, reason="reason")
        exists = source in model.held or source in ("a", "b")
        if kind == "transfer":
            exists = exists and (target in model.held or target in ("a", "b"))
        if not (allowed and exists):
            before = _entries(engine)
            with pytest.raises(IcamError):
                with session(engine) as s:
                    call(s)
            assert _entries(engine) == before
            continue
        with session(engine) as s:
            movement = call(s)
        taken = model.take(source, quantity, vintage)
        assert [(b.first, b.last) for b in movement.blocks] == [(a, b) for a, b, _ in taken]
        if kind == "transfer":
            model.held.setdefault(target, []).extend(taken)
        elif kind == "retire":
            model.retired += quantity
        else:
            model.cancelled += quantity

    with session(engine) as s:
        held = {b.name: b.held for b in ledger.balances(s)}
    for account in set(held) | set(model.held):
        assert held.get(account, 0) == model.holding(account), account
    assert sum(held.values()) == model.issued - model.retired - model.cancelled
    blocks = _blocks(engine)
    spans = sorted((a, b) for _, a, b, _ in blocks)
    assert all(prev[1] < nxt[0] for prev, nxt in zip(spans, spans[1:])), "serial blocks overlap"
    assert merge(spans) == ([(1, model.next_serial - 1)] if model.issued else [])
    for account in model.held:
        mine = merge((a, b) for name, a, b, status in blocks if name == account and status == "held")
        assert mine == merge((a, b) for a, b, _ in model.held[account]), account
    report = _verify(engine)
    assert report.ok, report.problems
    assert report.outstanding == sum(held.values())


# -- tampering ----------------------------------------------------------------------------------------------------


def _populated(engine) -> None:
    with session(engine) as s:
        ledger.issue_period(s, "P", *P1, 2012, 100, 15)
        ledger.issue_period(s, "P", *P2, 2014, 50, 5)
        ledger.open_account(s, "Acme SA")
        ledger.transfer(s, "issuance/P", "Acme SA", 40)
        ledger.retire(s, "Acme SA", 25, "Acme SA", "offsetting 2023 emissions")
        ledger.cancel(s, "buffer-pool", 2, "reversal")
        ledger.issue_period(s, "P", *P3, 2016, 30, 4)


TAMPERING = {
    "issuance quantity": ("UPDATE ledger_issuances SET quantity = quantity + 10, last_serial = last_serial + 10 "
                          "WHERE first_serial = (SELECT MAX(first_serial) FROM ledger_issuances)",
                          "quantity is 40, the audit log"),
    "issuance vintage": ("UPDATE ledger_issuances SET vintage = 2013 WHERE vintage = 2014", "vintage is 2013"),
    "retirement beneficiary": ("UPDATE ledger_retirements SET beneficiary = 'Someone Else'",
                               "beneficiary is 'Someone Else', the audit log"),
    "audit payload": ("UPDATE ledger_audit_log SET payload = REPLACE(payload, 'Acme SA', 'Evil Corp') "
                      "WHERE event_type = 'retirement'", "stored hash"),
    "stored hash": (f"UPDATE ledger_audit_log SET hash = '{'ab' * 32}' WHERE seq = 4", "stored hash"),
    "deleted audit row": ("DELETE FROM ledger_audit_log WHERE seq = 5", "entry 5 is missing"),
    "deleted last audit row": ("DELETE FROM ledger_audit_log WHERE seq = (SELECT MAX(seq) FROM ledger_audit_log)",
                               "the log ends at"),
    "account balance": ("UPDATE ledger_accounts SET balance = balance + 5 WHERE name = 'Acme SA'",
                        "balance of 'Acme SA' is 20"),
    "serial block owner": ("UPDATE ledger_serial_blocks SET account_id = (SELECT id FROM ledger_accounts WHERE "
                           "name = 'Acme SA') WHERE account_id = (SELECT id FROM ledger_accounts WHERE "
                           "name = 'issuance/P')", "held serials of 'Acme SA'"),
    "transfer destination": ("UPDATE ledger_transfers SET to_account_id = (SELECT id FROM ledger_accounts WHERE "
                             "name = 'buffer-pool')", "to is 'buffer-pool'"),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_altering_any_ledger_row_makes_verify_fail(engine, db_url, tampering):
    _populated(engine)
    assert _verify(engine).ok
    code, output = run_cli("ledger", "verify", "--url", db_url)
    assert code == 0 and "Chain, balances and serial blocks hold" in output, output
    statement, expected = TAMPERING[tampering]
    with engine.begin() as connection:
        assert connection.execute(text(statement)).rowcount >= 1
    report = _verify(engine)
    assert not report.ok
    assert any(expected in str(p) for p in report.problems), [str(p) for p in report.problems]
    code, output = run_cli("ledger", "verify", "--url", db_url)
    assert code == 1, output
    assert expected in output
    assert "ledger verification FAILED" in output


def test_an_issuance_altered_around_the_check_constraints_is_found(tmp_path):
    """SQLite can be told to ignore CHECK constraints: verify does not rely on them."""
    engine = make_engine(tmp_path / "ledger.sqlite")
    upgrade(engine)
    _populated(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        connection.exec_driver_sql("UPDATE ledger_issuances SET quantity = quantity + 1000 WHERE vintage = 2012")
    problems = [str(p) for p in _verify(engine).problems]
    engine.dispose()
    assert any("quantity + buffer is 1115" in p for p in problems), problems
    assert any("quantity is 1100, the audit log" in p for p in problems), problems


def test_a_rewritten_chain_is_caught_by_a_published_anchor(engine, db_url):
    _populated(engine)
    with session(engine) as s:
        seq, published = ledger.head(s)
    assert _verify(engine, [published]).ok
    assert _verify(engine, [f"{seq}:{published}"]).ok
    # Rewrite the whole chain consistently after changing a retirement: only the anchor exposes it.
    with session(engine) as s:
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        prev = "0" * 64
        for entry in entries:
            entry.payload = entry.payload.replace("Acme SA", "Acme Corp")
            entry.prev_hash, entry.hash = prev, ledger.chain_hash(prev, entry.payload, entry.seq)
            prev = entry.hash
        s.flush()
        s.execute(text("UPDATE ledger_retirements SET beneficiary = 'Acme Corp'"))
        s.execute(text("UPDATE ledger_accounts SET name = 'Acme Corp' WHERE name = 'Acme SA'"))
        s.execute(text("UPDATE ledger_state SET head_hash = :h"), {"h": prev})
    assert _verify(engine).ok
    report = _verify(engine, [published])
    assert [p.what for p in report.problems] == [f"the published hash {published[:16]}… is not in the chain "
                                                 "(rewritten log?)"]
    code, output = run_cli("ledger", "verify", "--url", db_url, "--anchor", published)
    assert code == 1 and "not in the chain" in output


# -- the command line ---------------------------------------------------------------------------------------------


def test_cli_issue_balances_history_verify(db_url, tmp_path, monkeypatch):
    monkeypatch.delenv("ICAM_DATABASE_URL", raising=False)
    args = ["--project", "VCS944", "--period-start", "2008-06-15", "--period-end", "2012-06-14", "--vintage", "2012",
            "--credits", "120000", "--buffer", "18000", "--url", db_url]
    code, output = run_cli("ledger", "issue", tmp_path, *args)
    assert code == 0, output
    assert "ICAM-VCS944-2012-20080615-000000001-000120000 (120,000)" in output
    assert "ICAM-VCS944-2012-20080615-000120001-000138000 (18,000)" in output
    code, output = run_cli("ledger", "issue", tmp_path, *args)
    assert code == 2 and output.startswith("error: monitoring period 2008-06-15–2012-06-14 of project VCS944 was "
                                           "already issued"), output
    assert len(output.strip().splitlines()) == 1
    code, output = run_cli("ledger", "transfer", "--url", db_url, "--from", "issuance/VCS944", "--to", "Acme SA",
                           "--quantity", "5000")
    assert code == 0 and "ICAM-VCS944-2012-20080615-000000001-000005000" in output, output
    code, output = run_cli("ledger", "retire", "--url", db_url, "--account", "Acme SA", "--quantity", "1000",
                           "--beneficiary", "Acme SA", "--purpose", "2023 emissions")
    assert code == 0 and "ICAM-VCS944-2012-20080615-000000001-000001000" in output, output
    code, output = run_cli("ledger", "retire", "--url", db_url, "--account", "Acme SA", "--quantity", "5000",
                           "--beneficiary", "Acme SA", "--purpose", "too many")
    assert code == 2 and "holds 4,000 credits, cannot retire 5,000" in output, output
    code, output = run_cli("ledger", "cancel", "--url", db_url, "--account", "buffer-pool", "--quantity", "100",
                           "--reason", "reversal")
    assert code == 0, output
    code, output = run_cli("ledger", "balances", "--url", db_url)
    assert code == 0, output
    assert "115,000" in output and "17,900" in output and "4,000" in output
    assert "136,900 held, 1,000 retired, 100 cancelled" in " ".join(output.split())
    code, output = run_cli("ledger", "history", "--url", db_url)
    assert code == 0 and "Head: seq 8 hash" in output, output
    code, output = run_cli("ledger", "verify", "--url", db_url)
    assert code == 0 and "8 audit entries" in output, output


def test_cli_uses_the_project_folder_and_reports_a_missing_ledger(tmp_path, monkeypatch):
    monkeypatch.delenv("ICAM_DATABASE_URL", raising=False)
    code, output = run_cli("ledger", "verify", tmp_path)
    assert code == 2 and output.startswith("error: no ledger at"), output
    code, output = run_cli("ledger", "issue", tmp_path, "--project", "P", "--period-start", "2008-06-15",
                           "--period-end", "2012-06-14", "--vintage", "2012", "--credits", "10", "--buffer", "2")
    assert code == 0, output
    assert (tmp_path / ".icam" / "ledger.sqlite").is_file()
    code, output = run_cli("ledger", "verify", tmp_path)
    assert code == 0, output
    monkeypatch.setenv("ICAM_DATABASE_URL", str(tmp_path / "elsewhere.sqlite"))  # the environment names another
    code, output = run_cli("ledger", "verify", tmp_path)
    assert code == 2 and "elsewhere.sqlite" in output, output
    code, output = run_cli("ledger", "verify", "--url", "postgresql+psycopg://nobody:x@127.0.0.1:1/none")
    assert code == 2 and output.startswith("error: cannot open the ledger database") and "x@" not in output, output
    code, output = run_cli("ledger", "verify", "--help")
    assert code == 0 and "exit 1" in " ".join(output.split())
