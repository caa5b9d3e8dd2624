"""The credit ledger: issuance per monitoring period and vintage, serial blocks, the buffer pool,
transfers, retirements, cancellations, and a hash-chained audit log that :func:`verify` checks.

Stored through SQLAlchemy (:mod:`icam.store.db`): a SQLite file ``PROJECT/.icam/ledger.sqlite`` by
default, PostgreSQL by URL. Quantities are whole credits, 1 credit = 1 tCO2e::

    from icam.store.db import open_session
    from icam import ledger

    with open_session(project_dir, create=True) as s:
        ledger.issue_period(s, "VCS944", "2008-06-15", "2012-06-14", vintage=2012, credits=120_000, buffer=18_000)
    with open_session(project_dir) as s:
        assert ledger.verify(s).ok
"""

from icam.ledger.audit import canonical_json, chain_hash
from icam.ledger.models import BUFFER_ACCOUNT, GENESIS_HASH, issuance_account_name
from icam.ledger.operations import (
                                    AccountBalance,
                                    HistoryEntry,
                                    IssuanceRecord,
                                    Movement,
                                    balances,
                                    cancel,
                                    head,
                                    history,
                                    issuances,
                                    issue_period,
                                    open_account,
                                    retire,
                                    transfer,
)
from icam.ledger.serials import SerialBlock, block_label, parse_label
from icam.ledger.verify import Problem, VerifyReport, verify

__all__ = ["AccountBalance", "BUFFER_ACCOUNT", "GENESIS_HASH", "HistoryEntry", "IssuanceRecord", "Movement", "Problem",
           "SerialBlock", "VerifyReport", "balances", "block_label", "cancel", "canonical_json", "chain_hash", "head",
           "history", "issuance_account_name", "issuances", "issue_period", "open_account", "parse_label", "retire",
           "transfer", "verify"]
