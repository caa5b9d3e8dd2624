"""Publishing a run: credits issued once per period (reruns skip, changes refused), a killed run tidied, Ctrl-C
held from the swap to the commit."""

import os
import signal
import time
from datetime import date

import pytest

from icam import ledger
from icam.carbon.accounting import PeriodInputs, StratumActivity, ex_post_table
from icam.carbon.periods import MonitoringPeriod
from icam.core.errors import InputError, Terminated
from icam.pipeline.interrupts import Interrupts
from icam.pipeline.publish import issue_credits, recover
from icam.store.db import open_session


def _table(observed_ha: float):
    periods = [MonitoringPeriod(date(2008, 6, 15), date(2012, 6, 14)),
               MonitoringPeriod(date(2012, 6, 15), date(2014, 6, 14))]
    inputs = [PeriodInputs(period=p, strata=(StratumActivity("forest", baseline_project_ha=100.0,
                                                             observed_project_ha=obs),),
                           emission_factors={"forest": (440.0, 0.0)}, buffer=15.0)
              for p, obs in zip(periods, (observed_ha, 100.0))]  # the second period earns nothing
    return ex_post_table(inputs, n_draws=100)


def _issue(project_dir, table):
    with open_session(project_dir, create=True) as s:
        return issue_credits(s, "VCS944", table)


def test_issue_credits_once(tmp_path, monkeypatch):
    monkeypatch.delenv("ICAM_DATABASE_URL", raising=False)
    table = _table(40.0)
    first = table.periods[0]
    assert first.credits == 22_440 and first.buffer_credits == 3_960 and table.periods[1].credits == 0
    issued = _issue(tmp_path, table)
    # one block per vintage: 200, 365, 365, 365 and 166 of the period's 1,461 days; the floors of
    # 22,440 × d/1,461 leave 2 credits for the largest remainders (2008: .87, 2012: .65), the floors
    # of 3,960 × d/1,461 leave 2 buffer credits (2012: .97, then 2011 of the three tied .32s: the later)
    assert [(r.period_start, r.period_end, r.vintage, r.quantity, r.buffer_quantity) for r in issued] == [
        (date(2008, 6, 15), date(2008, 12, 31), 2008, 3_072, 542),
        (date(2009, 1, 1), date(2009, 12, 31), 2009, 5_606, 989),
        (date(2010, 1, 1), date(2010, 12, 31), 2010, 5_606, 989),
        (date(2011, 1, 1), date(2011, 12, 31), 2011, 5_606, 990),
        (date(2012, 1, 1), date(2012, 6, 14), 2012, 2_550, 450)]
    assert _issue(tmp_path, table) == []
    with pytest.raises(InputError, match="2008-06-15"):
        _issue(tmp_path, _table(50.0))
    with open_session(tmp_path) as s:
        assert len(ledger.issuances(s)) == 5 and ledger.verify(s).ok


def test_domain_loss_standard_error_by_hand():
    """Stehman's total of y = [reference is loss and the point is in the domain], worked by hand:
    stratum 1 (100 ha, 4 points, y = 1, 0, 0, 0) and stratum 2 (10 ha, 2 points, y = 1, 0):
    total = 100 × 1/4 + 10 × 1/2 = 30 ha; variance = 100² × 0.25/4 + 10² × 0.5/2 = 650 ha²."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from icam.pipeline.stages.carbon_activity import domain_estimate

    samples = pd.DataFrame({"stratum": [1, 1, 1, 1, 2, 2], "map_class": [1, 1, 1, 1, 2, 2],
                            "ref_class": [2, 2, 1, 1, 2, 2]})
    in_domain = np.array([True, False, True, False, True, False])  # the second loss point lies outside
    assessment = SimpleNamespace(strata_area_ha={1: 100.0, 2: 10.0})
    assert domain_estimate(assessment, samples, in_domain) == pytest.approx((30.0, 650 ** 0.5))
    assert domain_estimate(assessment, samples, np.zeros(6, dtype=bool)) is None  # no point in the domain


def test_a_domain_corrected_below_zero_is_clipped_and_keeps_its_error():
    """A small project: 115 points in 10,000 ha of mapped stable forest, none labelled loss, and 25 loss labels
    of 100 points in 30 ha of mapped loss; e = 0.002 (y = (label − 0.001) / 0.997). The correction takes the
    total to 10,000 × −0.001003 + 30 × 0.249749 = −2.54 ha: the loss is 0 (not the whole zone's ratio), and
    its SE, with Jeffreys' variance for the stable stratum, stays: SE² = 10,000² × q(1 − q)/0.997²/115 +
    30² × s²/100, q = 0.5/116, over the 30 ha mapped."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from icam.carbon.periods import MonitoringPeriod
    from icam.pipeline.stages.carbon_activity import _Sample, error_adjustment

    table = pd.DataFrame({"stratum": [11] * 115 + [12] * 100,
                          "ref_class": [1] * 115 + [2] * 25 + [1] * 75})
    table["map_class"] = table["stratum"] - 10
    assessment = SimpleNamespace(name="monitoring 2014-2016", start_year=2014, end_year=2016,
                                 strata_area_ha={11: 10_000.0, 12: 30.0})
    sample = _Sample(assessment, table, np.zeros(215, int), np.arange(215), 0.002)
    period = MonitoringPeriod(date(2014, 6, 15), date(2016, 6, 14))
    adj = error_adjustment([sample], period, [("project area", np.ones((1, 215), bool), {2015: 10.0, 2016: 20.0})])
    y12 = (np.array([1.0] * 25 + [0.0] * 75) - 0.001) / 0.997
    q = 0.5 / 116
    se = np.sqrt(10_000.0 ** 2 * q * (1 - q) / 0.997 ** 2 / 115 + 30.0 ** 2 * np.var(y12, ddof=1) / 100)
    assert adj.ratio == 0.0 and adj.sampled
    assert adj.ratio_se == pytest.approx(se / 30.0)
    assert "below 0" in adj.source


def test_strata_raster_must_cover_the_project_forest(tmp_path):
    """A forest cell of the project area outside every stratum's range is refused by name."""
    from icam.pipeline.config import load_config
    from icam.pipeline.stages.carbon import stratum_masks
    from icam.pipeline.stages.landscape import load_landscape
    from icam.simulate.scenario import simulate

    simulate(tmp_path / "p", scale="small", seed=3)
    config = load_config(tmp_path / "p")
    strata = config.carbon.strata[:1]  # lowland–premontane only: the forest above 1,500 m is in no stratum
    narrow = config.model_copy(update={"carbon": config.carbon.model_copy(update={"strata": strata})})
    landscape = load_landscape(narrow)
    with pytest.raises(InputError, match="forest cells of the project area fall in no stratum"):
        stratum_masks(narrow, landscape, [s.name for s in strata])


def test_recover_puts_back_the_outputs_a_killed_run_had_moved_aside(tmp_path):
    """A run killed between moving the old outputs aside and moving the new ones in left no outputs folder:
    the next run puts the old ones back; a killed run's staging folder and cache entry being written go."""
    previous = tmp_path / ".outputs-previous-4242"
    (previous / "tables").mkdir(parents=True)
    (previous / "results.json").write_text('{"credits": 1}')
    (tmp_path / ".outputs-staging-0a1b" / "rasters").mkdir(parents=True)
    (tmp_path / ".icam" / "cache" / ".tmp-risk-0a1b").mkdir(parents=True)
    recover(tmp_path)
    assert (tmp_path / "outputs" / "results.json").read_text() == '{"credits": 1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == [".icam", "outputs"]
    assert list((tmp_path / ".icam" / "cache").iterdir()) == []
    # with outputs in place, a leftover previous folder is only debris
    previous.mkdir()
    recover(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".icam", "outputs"]


@pytest.mark.parametrize(("signum", "raised"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)])
def test_ctrl_c_and_sigterm_are_held_from_the_swap_to_the_commit(signum, raised):
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(raised), Interrupts():
        os.kill(os.getpid(), signum)  # before the swap: stops publishing as anywhere else
        time.sleep(1)
    with Interrupts() as held:
        held.critical = True
        os.kill(os.getpid(), signum)
        time.sleep(0.05)  # the handler runs between bytecodes: it has run by now, and only noted it
    assert held.pending and held.terminated == (signum == signal.SIGTERM)
    assert {s: signal.getsignal(s) for s in handlers} == handlers
