"""Emission reductions to credits (icam.carbon.accounting): VM0015 v1.1 Part 3, worked by hand."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.carbon.accounting import (
    PeriodInputs,
    StratumActivity,
    account_period,
    ex_ante_table,
    ex_post_table,
    monte_carlo,
)
from icam.carbon.buffer import BufferResult
from icam.carbon.emissions import EmissionFactor
from icam.carbon.periods import MonitoringPeriod, prorate_annual, split_whole
from icam.carbon.uncertainty import ART_TREES_2_0, EXCESS_OVER_THRESHOLD, VCS_MR_4_4, UncertaintyRule
from icam.core.errors import InputError

P1 = MonitoringPeriod(date(2008, 6, 15), date(2012, 6, 14))
KEYS = {"start", "end", "baseline_emissions_tco2e", "project_emissions_tco2e", "leakage_tco2e",
        "uncertainty_deduction_tco2e", "buffer_tco2e", "credits", "vintages"}


def two_strata(**kw) -> PeriodInputs:
    """Montane forest (EF 500) and premontane (EF 300); by hand:
    BE = 100×500 + 40×300 = 62000; PE = 20×500 + 10×300 = 13000;
    leakage belt: A +10 ha → 5000, B as its baseline → 0; market 0.1 × (62000 − 13000) = 4900;
    LK = 9900; NER = 39100."""
    strata = (
        StratumActivity("montane", baseline_project_ha=100, observed_project_ha=20,
                        baseline_belt_ha=50, observed_belt_ha=60),
        StratumActivity("premontane", baseline_project_ha=40, observed_project_ha=10,
                        baseline_belt_ha=30, observed_belt_ha=30),
    )
    args = dict(period=P1, strata=strata, emission_factors={"montane": 500.0, "premontane": (300.0, 0.0)},
                buffer=20.0, market_leakage_factor=0.1)
    args.update(kw)
    return PeriodInputs(**args)


def test_period_worked_by_hand_without_uncertainty():
    r = account_period(two_strata())
    assert r.baseline_emissions_tco2e == pytest.approx(62000)
    assert r.project_emissions_tco2e == pytest.approx(13000)
    assert r.activity_shifting_leakage_tco2e == pytest.approx(5000)
    assert r.market_leakage_tco2e == pytest.approx(4900)
    assert r.leakage_tco2e == pytest.approx(9900)
    assert r.net_reductions_tco2e == pytest.approx(39100)
    assert r.uncertainty_deduction_tco2e == 0  # every SE is 0: no Monte Carlo, U = 0
    assert r.uncertainty.source.startswith("exact")
    assert r.buffer_tco2e == pytest.approx(7820)  # 20 % × 39100
    assert r.buffer_credits == 7820
    assert r.credits == 31280  # 39100 − 7820
    d = r.to_dict()
    assert set(d) == KEYS
    assert isinstance(d["credits"], int)
    assert d["start"] == "2008-06-15" and d["end"] == "2012-06-14"
    assert sum(v["credits"] for v in d["vintages"]) == 31280


def test_belt_excess_clipped_in_total():
    """The belt's excess is summed over the strata before it is clipped at 0 (by hand: montane +10 ha × 500
    = 5,000, premontane −5 ha × 300 = −1,500: leakage 3,500, all of it montane's; with premontane −20 ha,
    −6,000: the sum is negative and the leakage 0)."""
    def belt(premontane_observed_ha):
        strata = (StratumActivity("montane", 100, 20, baseline_belt_ha=50, observed_belt_ha=60),
                  StratumActivity("premontane", 40, 10, baseline_belt_ha=30, observed_belt_ha=premontane_observed_ha))
        return account_period(two_strata(strata=strata, market_leakage_factor=0.0))

    r = belt(25)
    assert r.activity_shifting_leakage_tco2e == pytest.approx(3500)
    by = r.details()["by_stratum"]
    assert by["montane"]["activity_shifting_leakage_tco2e"] == pytest.approx(3500)
    assert by["premontane"]["activity_shifting_leakage_tco2e"] == 0
    assert r.net_reductions_tco2e == pytest.approx(62000 - 13000 - 3500)
    assert belt(10).activity_shifting_leakage_tco2e == 0


def test_hectares_beside_the_tonnes():
    """The areas of two_strata come back per stratum and summed, and each stratum's tonnes are its
    areas times its emission factor (by hand: montane 100 ha × 500 = 50,000; premontane 40 ha × 300)."""
    r = account_period(two_strata())
    d = r.details()
    montane, premontane = d["by_stratum"]["montane"], d["by_stratum"]["premontane"]
    assert (montane["baseline_project_ha"], montane["observed_project_ha"]) == (100, 20)
    assert (premontane["baseline_belt_ha"], premontane["observed_belt_ha"]) == (30, 30)
    assert montane["baseline_emissions_tco2e"] == pytest.approx(100 * 500)
    assert premontane["project_emissions_tco2e"] == pytest.approx(10 * 300)
    assert d["areas_ha"] == {"baseline_project_ha": 140, "observed_project_ha": 30, "baseline_belt_ha": 80,
                             "observed_belt_ha": 90}


def test_nothing_is_issued_beyond_the_baselines_validity():
    """The same period as two_strata (31,280 credits by hand), measured against an expired baseline: its
    reductions are still computed and reported, but it issues no credit and withholds no buffer."""
    name = "VT0007 density map fitted on 2000–2008, valid 2009–2011"
    r = account_period(two_strata(baseline=name, baseline_valid=False))
    assert r.net_reductions_tco2e == pytest.approx(39100)
    assert (r.credits, r.buffer_credits, r.buffer_tco2e) == (0, 0, 0)
    assert all(v.credits == 0 and v.buffer_credits == 0 for v in r.vintages)
    d = r.details()
    assert d["baseline"] == name and d["baseline_valid"] is False
    valid = account_period(two_strata(baseline=name))
    assert valid.credits == 31280 and valid.details()["baseline_valid"] is True


def test_period_worked_by_hand_with_uncertainty_deduction():
    # U = 25 % > 10 %: d = (25 − 10)/100 = 0.15; UD = 0.15 × 39100 = 5865; B = 33235;
    # buffer 20 % = 6647; credits = 33235 − 6647 = 26588.
    r = account_period(two_strata(), EXCESS_OVER_THRESHOLD, half_width_pct=25.0)
    assert r.uncertainty.deduction_fraction == pytest.approx(0.15)
    assert r.uncertainty_deduction_tco2e == pytest.approx(5865)
    assert r.buffer_tco2e == pytest.approx(6647)
    assert r.credits == 26588
    # vintages by days (200, 365, 365, 365, 166 of 1461): 26588 × d / 1461 =
    # 3639.69, 6642.52 (×3), 3020.96 → floors 3639, 6642, 6642, 6642, 3020 (Σ 26585); the
    # 3 left go to the largest remainders: 2012 (.96), 2008 (.69), then the tie .52 → 2011.
    assert {v.year: v.credits for v in r.vintages} == {2008: 3640, 2009: 6642, 2010: 6642, 2011: 6643, 2012: 3021}


def test_rule_forms_by_hand():
    assert EXCESS_OVER_THRESHOLD.fraction(10.0) == 0.0  # at the threshold: no deduction
    assert EXCESS_OVER_THRESHOLD.fraction(12.5) == pytest.approx(0.025)
    assert EXCESS_OVER_THRESHOLD.fraction(100.5) == 1.0  # above 100 %: ineligible
    assert ART_TREES_2_0.fraction(20.0) == pytest.approx(0.524417 * 0.20 / 1.645006)
    assert VCS_MR_4_4.fraction(25.0) == pytest.approx(0.0654599, abs=1e-7)  # 0.4307 × 0.25 / 1.6449
    assert VCS_MR_4_4.fraction(0.0) == 0.0 and VCS_MR_4_4.fraction(100.5) == 1.0
    custom = UncertaintyRule(name="15 % at 95 %", confidence=0.95, threshold_pct=15.0)
    assert custom.fraction(15.0) == 0.0 and custom.fraction(20.0) == pytest.approx(0.05)


def test_vintage_split_by_days_2008_2012():
    assert P1.days == 1461
    # 2008-06-15..12-31: 16 + 31 + 31 + 30 + 31 + 30 + 31 = 200; 2012-01-01..06-14: 31+29+31+30+31+14 = 166
    assert P1.days_by_year() == {2008: 200, 2009: 365, 2010: 365, 2011: 365, 2012: 166}
    assert split_whole(1461, P1.days_by_year()) == {2008: 200, 2009: 365, 2010: 365, 2011: 365, 2012: 166}
    assert split_whole(10, P1.days_by_year()) == {2008: 1, 2009: 2, 2010: 3, 2011: 3, 2012: 1}
    # 10 × d/1461: 1.37, 2.50, 2.50, 2.50, 1.14 → floors 1,2,2,2,1 (8); 2 left: the three tied
    # remainders .498 beat .37 and .14, and ties go to the later years: 2011, then 2010.


def test_prorate_annual_by_days():
    annual = {y: 365.0 for y in range(2008, 2013)}
    # 2008 and 2012 are leap years: 365 × 200/366 + 3 × 365 + 365 × 166/366
    assert prorate_annual(annual, P1) == pytest.approx(365 * 366 / 366 + 3 * 365)
    with pytest.raises(InputError, match="2012"):
        prorate_annual({2008: 1, 2009: 1, 2010: 1, 2011: 1}, P1)


def uncertain(se_area: float, se_ef: float) -> PeriodInputs:
    return two_strata(
        strata=(StratumActivity("montane", 100, 20, observed_project_se_ha=se_area, baseline_belt_ha=50,
                                observed_belt_ha=60, observed_belt_se_ha=se_area),
                StratumActivity("premontane", 40, 10, observed_project_se_ha=se_area)),
        emission_factors={"montane": EmissionFactor("m", "p", ("above_ground",), 500.0, se_ef),
                          "premontane": (300.0, se_ef)})


def test_monte_carlo_reproducible_and_shrinks():
    a = monte_carlo(uncertain(8.0, 60.0), n_draws=5000, seed=7)
    b = monte_carlo(uncertain(8.0, 60.0), n_draws=5000, seed=7)
    c = monte_carlo(uncertain(8.0, 60.0), n_draws=5000, seed=8)
    assert a == b and a.half_width_pct != c.half_width_pct
    small = monte_carlo(uncertain(2.0, 15.0), n_draws=5000, seed=7)
    assert 0 < small.half_width_pct < a.half_width_pct
    assert small.lower_tco2e < small.mean_tco2e < small.upper_tco2e
    r = account_period(uncertain(8.0, 60.0), n_draws=5000, seed=7)
    assert r.uncertainty.half_width_pct == a.half_width_pct
    assert r.uncertainty_deduction_tco2e == pytest.approx(a.deduction_fraction * r.net_reductions_tco2e)
    # 95 % is wider than 90 % on the same draws
    wide = monte_carlo(uncertain(8.0, 60.0), UncertaintyRule(confidence=0.95), n_draws=5000, seed=7)
    assert wide.half_width_pct > a.half_width_pct


def test_buffer_from_nprt_and_minimum():
    ok = BufferResult("AFOLU Non-Permanence Risk Tool v4.2", {}, 5, 0, 3, 8, 12.0, True)
    assert account_period(two_strata(buffer=ok)).buffer_pct == 12.0
    assert account_period(two_strata(buffer=8.0, minimum_buffer_pct=12.0)).buffer_pct == 12.0
    failed = BufferResult("AFOLU Non-Permanence Risk Tool v4.2", {}, 50, 20, 0, 70, None, False, ("too risky",))
    with pytest.raises(InputError, match="fails"):
        two_strata(buffer=failed)


def test_project_above_baseline_gives_no_credits():
    strata = (StratumActivity("montane", baseline_project_ha=10, observed_project_ha=30),)
    r = account_period(PeriodInputs(P1, strata, {"montane": 500.0}, buffer=15))
    assert r.net_reductions_tco2e == 0 and r.shortfall_tco2e == pytest.approx(10000)
    assert r.credits == 0 and r.buffer_tco2e == 0 and all(v.credits == 0 for v in r.vintages)


def test_ex_ante_alto_mayo_crediting_period():
    cp = MonitoringPeriod(date(2008, 6, 15), date(2028, 6, 14))
    base = {"montane": {y: 1000.0 for y in range(2008, 2029)}}
    t = ex_ante_table(cp, base, {"montane": (500.0, 0.0)}, effectiveness=0.6, buffer=20,
                      baseline_belt_ha_by_year={"montane": {y: 200.0 for y in range(2008, 2029)}},
                      displacement_share=0.1)
    assert t.kind == "ex-ante" and len(t.periods) == 21
    full = t.periods[1]  # 2009: 1000 ha baseline, 400 ha project, 60 ha shifted to the belt
    assert (full.start, full.end) == (date(2009, 1, 1), date(2009, 12, 31))
    assert full.baseline_emissions_tco2e == pytest.approx(500_000)
    assert full.project_emissions_tco2e == pytest.approx(200_000)
    assert full.leakage_tco2e == pytest.approx(30_000)
    assert full.credits == 216_000  # (500000 − 200000 − 30000) × 0.8
    assert t.totals["credits"] == sum(p.credits for p in t.periods)
    assert [p.to_dict()["vintages"][0]["year"] for p in t.periods] == list(range(2008, 2029))


def test_ex_post_table_alto_mayo_periods():
    periods = [MonitoringPeriod(date(2008, 6, 15), date(2012, 6, 14)),
               MonitoringPeriod(date(2012, 6, 15), date(2014, 6, 14)),
               MonitoringPeriod(date(2014, 6, 15), date(2016, 6, 14))]
    rows = [two_strata(period=p) for p in reversed(periods)]
    t = ex_post_table(rows)
    assert [p.start for p in t.periods] == [p.start for p in periods]
    assert set(t.to_dict()) == {"kind", "periods", "totals"}
    with pytest.raises(InputError, match="overlap"):
        ex_post_table([two_strata(period=periods[0]),
                       two_strata(period=MonitoringPeriod(date(2012, 6, 14), date(2013, 1, 1)))])


@pytest.mark.parametrize("make", [
    lambda: MonitoringPeriod(date(2012, 6, 14), date(2008, 6, 15)),
    lambda: MonitoringPeriod("2012-13-01", date(2013, 1, 1)),
    lambda: StratumActivity("montane", baseline_project_ha=-1, observed_project_ha=0),
    lambda: StratumActivity("montane", baseline_project_ha=1, observed_project_ha=2, observed_project_se_ha=-0.1),
    lambda: StratumActivity("montane", baseline_project_ha=float("nan"), observed_project_ha=0),
    lambda: two_strata(buffer=-1),
    lambda: two_strata(buffer=100.5),
    lambda: two_strata(market_leakage_factor=1.5),
    lambda: two_strata(emission_factors={"montane": 500.0}),
    lambda: two_strata(emission_factors={"montane": -5.0, "premontane": 300.0}),
    lambda: UncertaintyRule(confidence=1.0),
    lambda: monte_carlo(uncertain(1, 1), n_draws=10),
])
def test_bad_inputs_raise_input_error(make):
    with pytest.raises(InputError):
        make()


areas = st.floats(0, 5000, allow_nan=False)
ses = st.floats(0, 500, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    strata=st.lists(st.tuples(areas, areas, ses, areas, areas, ses, st.floats(0, 1500), st.floats(0, 300)),
                    min_size=1, max_size=3),
    market=st.floats(0, 1), buffer=st.floats(0, 100), minimum=st.floats(0, 100),
    base=st.sampled_from(["reductions", "baseline"]),
    rule=st.sampled_from([EXCESS_OVER_THRESHOLD, ART_TREES_2_0, VCS_MR_4_4]),
    start=st.dates(date(2000, 1, 1), date(2030, 1, 1)), length=st.integers(0, 2000),
)
def test_properties(strata, market, buffer, minimum, base, rule, start, length):
    acts = tuple(StratumActivity(f"s{i}", b, o, ose, lb, lo, lse) for i, (b, o, ose, lb, lo, lse, _, _) in
                 enumerate(strata))
    efs = {f"s{i}": (ef, ef_se) for i, (*_, ef, ef_se) in enumerate(strata)}
    period = MonitoringPeriod(start, date.fromordinal(start.toordinal() + length))
    inputs = PeriodInputs(period, acts, efs, buffer=buffer, minimum_buffer_pct=minimum,
                          market_leakage_factor=market, market_leakage_base=base)
    r = account_period(inputs, rule, n_draws=200, seed=1)
    tol = 1e-6 * (1 + r.baseline_emissions_tco2e)
    assert r.credits <= r.net_reductions_tco2e + tol
    assert r.net_reductions_tco2e <= r.baseline_emissions_tco2e + tol
    for k in ("baseline_emissions_tco2e", "project_emissions_tco2e", "leakage_tco2e",
              "uncertainty_deduction_tco2e", "buffer_tco2e", "credits"):
        assert getattr(r, k) >= 0, k
    assert r.buffer_credits >= 0 and all(v.credits >= 0 and v.buffer_credits >= 0 for v in r.vintages)
    assert sum(v.credits for v in r.vintages) <= r.credits
    assert sum(v.days for v in r.vintages) == period.days
    base_b = r.net_reductions_tco2e - r.uncertainty_deduction_tco2e
    assert r.buffer_tco2e >= minimum / 100 * base_b - tol  # never below the tool's minimum
    assert r.buffer_pct >= minimum
    assert r.credits + r.buffer_credits <= base_b + tol  # whole credits never exceed the reductions
    assert isinstance(r.to_dict()["credits"], int) and set(r.to_dict()) == KEYS
    assert math.isfinite(r.buffer_tco2e)


def test_monte_carlo_strata_of_a_zone_err_together():
    """Two strata whose observed loss comes from one zone's sample adjustment (50 ± 5 ha each, baseline 100 ha,
    EF 100, exact) err together: NER = Σ (100 − A_obs) × 100 has an SD of (5 + 5) × 100 = 1,000 tCO2e, not
    √2 × 500 = 707 as independent draws would give; the 90 % half-width is 1.6449 × 1,000."""
    strata = tuple(StratumActivity(name, baseline_project_ha=100, observed_project_ha=50, observed_project_se_ha=5)
                   for name in ("montane", "premontane"))
    inputs = PeriodInputs(period=P1, strata=strata, emission_factors={"montane": 100.0, "premontane": 100.0},
                          buffer=0.0)
    u = monte_carlo(inputs, VCS_MR_4_4, n_draws=40_000, seed=3)
    assert (u.upper_tco2e - u.lower_tco2e) / 2 == pytest.approx(1.6449 * 1000, rel=0.02)
    assert u.mean_tco2e == pytest.approx(10_000, rel=0.01)


def test_monte_carlo_baseline_is_lognormal_about_its_estimate():
    """A baseline of 100 ± 100 ha (the dynamic baseline's relative SE of 100 %), observed 0, EF 100, exact:
    NER = 100 × B with B = 100 e^(Z) (log SD 100/100 = 1), so its 5th and 95th percentiles are 100 × 100 ×
    e^(∓1.6449) = 1,931 and 51,803 tCO2e and its mean 10,000 × e^(1/2) = 16,487; never negative (a normal
    of the same SE would be below 0 in 16 % of the draws)."""
    stratum = StratumActivity("forest", baseline_project_ha=100, observed_project_ha=0, baseline_project_se_ha=100)
    inputs = PeriodInputs(period=P1, strata=(stratum,), emission_factors={"forest": 100.0}, buffer=0.0)
    u = monte_carlo(inputs, VCS_MR_4_4, n_draws=40_000, seed=5)
    assert u.lower_tco2e == pytest.approx(1e4 * math.exp(-1.6449), rel=0.03)
    assert u.upper_tco2e == pytest.approx(1e4 * math.exp(1.6449), rel=0.03)
    assert u.mean_tco2e == pytest.approx(1e4 * math.exp(0.5), rel=0.03)


def test_crediting_period_interval_shares_the_baseline_and_factors_not_the_samples():
    """Two periods, each NER = EF × (300 − A_obs), A_obs 200 ± 30 ha (separate samples), EF 100 ± 10 (one
    inventory): Σ NER = EF × R, R = 600 − A1 − A2 (mean 200 ha, variance 1,800); mean 20,000 tCO2e and
    variance ≈ 100² × 1,800 + 200² × 10² = 22 × 10⁶ (the shared EF's term is R² × SE², not Σ (R_p² × SE²) =
    2 × 10⁶ as independent factors would give)."""
    from icam.carbon.crediting import crediting_uncertainty

    def period(start, end):
        s = StratumActivity("forest", baseline_project_ha=300, observed_project_ha=200, observed_project_se_ha=30)
        return PeriodInputs(period=MonitoringPeriod(start, end), strata=(s,),
                            emission_factors={"forest": (100.0, 10.0)}, buffer=0.0)

    periods = [period(date(2008, 1, 1), date(2009, 12, 31)), period(date(2010, 1, 1), date(2011, 12, 31))]
    u = crediting_uncertainty(periods, VCS_MR_4_4, n_draws=40_000, seed=2)
    assert u.mean_tco2e == pytest.approx(20_000, rel=0.01)
    sd = (u.upper_tco2e - u.lower_tco2e) / 2 / 1.6449
    assert sd == pytest.approx(np.sqrt(100 ** 2 * 1800 + 200 ** 2 * 100), rel=0.03)
    assert u.half_width_pct == pytest.approx(100 * 1.6449 * sd / u.mean_tco2e, rel=0.01)
