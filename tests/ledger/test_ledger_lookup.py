"""One serial's story (icam.ledger.lookup.find_serial) against a model that follows every serial by hand:
random transfers and retirements, lowest serials first, then every serial's holder, status and history
compared with what the ledger says."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from icam import ledger
from icam.ledger.lookup import find_serial
from icam.ledger.models import BUFFER_ACCOUNT
from icam.store.db import session

CREDITS, BUFFER = (60, 25), (6, 4)  # two issuances: 60 + 6 buffer, then 25 + 4 buffer
HOLDERS = ("Coop A", "Buyer B")
ISSUANCE = ledger.issuance_account_name("P")
TABLES = ("ledger_serial_blocks", "ledger_cancellations", "ledger_retirements", "ledger_transfers",
          "ledger_buffer_contributions", "ledger_issuances", "ledger_accounts", "ledger_audit_log")

operations = st.lists(st.tuples(st.sampled_from(["transfer", "retire"]), st.sampled_from((ISSUANCE, *HOLDERS)),
                                st.sampled_from(HOLDERS), st.integers(1, 30)), max_size=12)


class Model:
    """Each serial's holder, status and events, moved lowest serials first as the ledger's rules say."""

    def __init__(self) -> None:
        total = sum(CREDITS) + sum(BUFFER)
        self.holder = np.empty(total + 1, dtype=object)
        self.status = np.full(total + 1, "held", dtype=object)
        self.events: list[list[str]] = [[] for _ in range(total + 1)]
        first = 1
        for credits, buffer in zip(CREDITS, BUFFER):
            for s in range(first, first + credits):
                self.holder[s], self.events[s] = ISSUANCE, ["issuance"]
            for s in range(first + credits, first + credits + buffer):
                self.holder[s], self.events[s] = BUFFER_ACCOUNT, ["buffer_contribution"]
            first += credits + buffer

    def take(self, account: str, quantity: int) -> list[int] | None:
        held = [s for s in range(1, len(self.holder)) if self.holder[s] == account and self.status[s] == "held"]
        return held[:quantity] if len(held) >= quantity else None


def _reset(engine) -> None:
    with engine.begin() as connection:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text(f"UPDATE ledger_state SET next_serial = 1, last_seq = 0, head_hash = '{'0' * 64}'"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_every_serials_holder_status_and_history_follow_the_operations(engine, ops):
    _reset(engine)
    model = Model()
    with session(engine) as s:
        ledger.issue_period(s, "P", "2008-06-15", "2012-06-14", vintage=2012, credits=CREDITS[0], buffer=BUFFER[0])
        ledger.issue_period(s, "P", "2012-06-15", "2014-06-14", vintage=2014, credits=CREDITS[1], buffer=BUFFER[1])
        for name in HOLDERS:
            ledger.open_account(s, name)
    for verb, source, target, quantity in ops:
        taken = model.take(source, quantity)
        if taken is None or (verb == "transfer" and source == target):
            continue
        with session(engine) as s:
            if verb == "transfer":
                ledger.transfer(s, source, target, quantity)
            else:
                ledger.retire(s, source, quantity, "Someone", "claims")
        for serial in taken:
            model.events[serial].append("transfer" if verb == "transfer" else "retirement")
            if verb == "transfer":
                model.holder[serial] = target
            else:
                model.status[serial] = "retired"
    with session(engine) as s:
        for serial in range(1, len(model.holder)):
            record = find_serial(s, serial)
            assert record.first_serial <= serial <= record.last_serial
            assert (record.account, record.status) == (model.holder[serial], model.status[serial]), serial
            assert [e.event for e in record.history] == model.events[serial], serial
            assert record.vintage == (2012 if serial <= CREDITS[0] + BUFFER[0] else 2014)
        assert find_serial(s, len(model.holder)) is None and find_serial(s, 0) is None
