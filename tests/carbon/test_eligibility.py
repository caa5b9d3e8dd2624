"""Why a period is ineligible and how many more samples would fix it (icam.carbon.eligibility), by hand."""

import math
from datetime import date

import pytest

from icam.carbon.accounting import PeriodInputs, StratumActivity, monte_carlo
from icam.carbon.eligibility import explain
from icam.carbon.periods import MonitoringPeriod
from icam.carbon.uncertainty import VCS_MR_4_4

P1 = MonitoringPeriod(date(2008, 6, 15), date(2012, 6, 14))


def _inputs(observed_se_ha: float, baseline_se_ha: float = 0.0, ef_se: float = 0.0) -> PeriodInputs:
    """Baseline 300 ha, observed 200 ha, EF 100 tCO2e/ha: NER = (300 − A_obs) × 100, mean 10,000 tCO2e."""
    stratum = StratumActivity("forest", baseline_project_ha=300, observed_project_ha=200,
                              observed_project_se_ha=observed_se_ha, baseline_project_se_ha=baseline_se_ha)
    return PeriodInputs(period=P1, strata=(stratum,), emission_factors={"forest": (100.0, ef_se)}, buffer=0.0)


def test_samples_needed_when_the_activity_data_dominate():
    """SE 80 ha: U = 1.6449 × 80 × 100 / 10,000 = 131.6 %; U falls as 1/√m, under 100 % from m = 1.316² = 1.73."""
    inputs = _inputs(80.0)
    u = monte_carlo(inputs, VCS_MR_4_4, n_draws=20_000, seed=1).half_width_pct
    assert u == pytest.approx(131.6, rel=0.03)
    out = explain(inputs, VCS_MR_4_4, n_draws=20_000, seed=1)
    assert out["sample_factor"] == pytest.approx((u / 100) ** 2, rel=0.03)
    assert out["half_width_pct_by_source"]["activity_data"] == pytest.approx(u, rel=1e-9)
    assert out["half_width_pct_by_source"]["baseline"] == 0.0
    assert out["half_width_pct_exact_activity_data"] == 0.0


def test_no_sample_fixes_a_baseline_that_is_too_uncertain():
    """Baseline 300 ha, SE 70 ha alone, lognormal (log SD σ = 70/300): its 90 % limits 300 e^(±1.6449σ) =
    204.3 and 440.4 ha, mean 300 e^(σ²/2) = 308.3 ha; U = (440.4 − 204.3) / 2 / (308.3 − 200) = 109 % > 100 %,
    whatever the sample."""
    sigma = 70.0 / 300.0
    low, high = 300 * math.exp(-1.6449 * sigma), 300 * math.exp(1.6449 * sigma)
    u = 100 * (high - low) / 2 / (300 * math.exp(sigma ** 2 / 2) - 200)
    assert u == pytest.approx(109.0, abs=0.1)
    out = explain(_inputs(10.0, baseline_se_ha=70.0), VCS_MR_4_4, n_draws=20_000, seed=1)
    assert out["sample_factor"] is None
    assert out["half_width_pct_by_source"]["baseline"] == pytest.approx(u, rel=0.03)
    assert out["half_width_pct_exact_activity_data"] == pytest.approx(u, rel=0.03)
    assert out["limit_pct"] == 100.0


def test_sample_factor_for_a_target_half_width():
    """SE 80 ha: U = 131.6 % now and 131.6 / √m with a sample m times as large, so ±50 % needs m = (131.6/50)² =
    6.93; a target already met needs m = 1; ±10 % cannot be had where the EFs' error alone is above it (EF SE
    8 tCO2e/ha: 1.6449 × 100 ha × 8 / 10,000 tCO2e = 13.2 %)."""
    from icam.carbon.eligibility import half_width_with_samples, sample_factor

    inputs = _inputs(80.0)
    u = half_width_with_samples(inputs, VCS_MR_4_4, 1.0, n_draws=20_000, seed=1)
    m = sample_factor(inputs, VCS_MR_4_4, 50.0, n_draws=20_000, seed=1)
    assert m == pytest.approx((u / 50.0) ** 2, rel=0.02) and m == pytest.approx(6.93, rel=0.05)
    assert half_width_with_samples(inputs, VCS_MR_4_4, m, n_draws=20_000, seed=1) <= 50.0
    assert sample_factor(inputs, VCS_MR_4_4, 200.0, n_draws=20_000, seed=1) == 1.0
    with_ef = _inputs(80.0, ef_se=8.0)
    exact = half_width_with_samples(with_ef, VCS_MR_4_4, math.inf, n_draws=20_000, seed=1)
    assert exact == pytest.approx(13.2, rel=0.05)
    assert sample_factor(with_ef, VCS_MR_4_4, 10.0, n_draws=20_000, seed=1) is None
