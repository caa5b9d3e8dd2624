"""Issuing the pipeline's accounting into the ledger: once per period, reruns skip, changes refused."""

from datetime import date

import pytest

from icam import ledger
from icam.carbon.accounting import MonitoringPeriod, PeriodInputs, StratumActivity, ex_post_table
from icam.carbon.project import issue_credits
from icam.errors import InputError
from icam.store.db import open_engine, session


def _table(observed_ha: float):
    periods = [MonitoringPeriod(date(2008, 6, 15), date(2012, 6, 14)),
               MonitoringPeriod(date(2012, 6, 15), date(2014, 6, 14))]
    inputs = [PeriodInputs(period=p, strata=(StratumActivity("forest", baseline_project_ha=100.0,
                                                             observed_project_ha=obs),),
                           emission_factors={"forest": (440.0, 0.0)}, buffer=15.0)
              for p, obs in zip(periods, (observed_ha, 100.0))]  # the second period earns nothing
    return ex_post_table(inputs, n_draws=100)


def test_issue_credits_once(tmp_path, monkeypatch):
    monkeypatch.delenv("ICAM_DATABASE_URL", raising=False)
    table = _table(40.0)
    first = table.periods[0]
    assert first.credits == 22_440 and first.buffer_credits == 3_960 and table.periods[1].credits == 0
    issued = issue_credits(tmp_path, "VCS944", table)
    assert [(r.period_start, r.vintage, r.quantity, r.buffer_quantity) for r in issued] == [
        (date(2008, 6, 15), 2012, 22_440, 3_960)]
    assert issue_credits(tmp_path, "VCS944", table) == []
    with pytest.raises(InputError, match="2008-06-15"):
        issue_credits(tmp_path, "VCS944", _table(50.0))
    engine = open_engine(tmp_path)
    with session(engine) as s:
        assert len(ledger.issuances(s)) == 1 and ledger.verify(s).ok
    engine.dispose()
