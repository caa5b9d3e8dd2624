"""Emission reductions to credits, per monitoring period and vintage (VM0015 v1.1 Part 3).

For one monitoring period and forest strata s, with EF_s the emission factor (tCO2e/ha,
:mod:`icam.carbon.emissions`) and areas in ha over the period:

    BE  = Σ_s A_base,s × EF_s                       baseline emissions, project area
    PE  = Σ_s A_obs,s × EF_s                        project (actual) emissions, project area
    LKas = max(0, Σ_s (L_obs,s − L_base,s) × EF_s)  activity-shifting leakage, leakage belt
    LKm = f_m × max(0, BE − PE)   (or f_m × BE)     market leakage
    LK  = LKas + LKm + other leakage (e.g. leakage-prevention emissions, entered)
    NER = max(0, BE − PE − LK)                      net emission reductions
    UD  = d(U) × NER                                uncertainty deduction
    B   = NER − UD                                  the base of the buffer
    buffer_tco2e = buffer% / 100 × B ;  buffer credits = min(⌈buffer_tco2e⌉, ⌊B⌋)
    credits = ⌊B⌋ − buffer credits                  whole tCO2e, ≥ 0, ≤ ⌊B − buffer_tco2e⌋

Sources and decisions (docs/methods.md, "Emission reductions and credits"):

- VM0015 v1.1 (3 December 2012) Part 3: baseline carbon-stock changes are area × stock
  difference per class (Part 2 step 6 gives the factor; Part 3 step 7 the ex-ante project
  scenario, step 8 leakage, with activity-displacement leakage measured in the leakage belt as
  the observed deforestation in excess of its baseline, a decrease counting 0; step 9 the net
  anthropogenic reductions = baseline − project − leakage). The step numbers follow the
  project's notes and the existing modules; the methodology's text could not be read here (see
  "Not verified from a source" in the methods).
- Activity-shifting leakage is the belt's excess over its baseline summed over the strata, then clipped
  at 0 (clipping each stratum charged the noise of every stratum whose loss happened to exceed its
  baseline: measured against the simulator's truth it was a bias, not a safety margin).
- Market leakage: VM0015 v1.1 (unplanned deforestation) has none; the VCS AFOLU requirements
  apply a market-leakage discount to REDD projects that reduce timber or commodity supply. The
  factor f_m is a parameter (0 by default) applied to the gross reductions in the project area.
- Uncertainty: Monte Carlo over the observed areas (normal), the baselines (lognormal about the estimate)
  and the emission factors (normal, truncated at 0; the same EF draw is used for baseline, project and
  leakage of a stratum in a draw, since it is one quantity; each area of a zone takes one uniform per draw
  for all strata, since its error is the zone's), U = half-width of the confidence interval of NER as % of
  the draws' mean.
  The deduction d(U) is a :class:`UncertaintyRule` whose threshold, confidence and form are
  parameters: the VCS text itself (VCS Methodology Requirements; VM0048/VMD0055) could not be read
  here. Built in: :data:`VCS_MR_4_4` (d = 0.4307 × U/100 / 1.6449, U > 100 % ineligible: VCS
  Methodology Requirements v4.4 §2.4 as quoted by secondary sources; the pipeline's default),
  :data:`EXCESS_OVER_THRESHOLD` (no deduction while U ≤ 10 % at 90 %, otherwise the excess,
  d = (U − 10)/100, *unverified*) and :data:`ART_TREES_2_0` (d = 0.524417 × U/100 / 1.645006,
  ART TREES v2.0 eq. 10–11 as quoted by a secondary source).
- Buffer: withheld on the net change in carbon stocks after the uncertainty deduction (VCS
  Standard v4.7 §3.2.10 as quoted by secondary sources); the percentage is the AFOLU
  Non-Permanence Risk Tool's (:mod:`icam.carbon.buffer`), never below ``minimum_buffer_pct``.
  Buffer credits are rounded up and credits down, so credits + buffer credits ≤ B.
- Baseline validity: a period that ends after the last year of its baseline's validity (VM0015: 10 years;
  VT0007's density map: its validity period) is computed and reported but issues nothing: the baseline
  must be renewed first (the pipeline renews it where the data allow: icam.pipeline.stages.renewal).
  Each period names the baseline(s) it is measured against.
- Vintages: the period's days are split by calendar year (both end dates inclusive); vintage y
  gets ⌊credits × d_y / D⌋ and the few credits left (fewer than the number of vintages) go one
  each to the largest remainders, ties to the later year (Hamilton's rule), so Σ vintages =
  period credits exactly; the same for buffer credits.

Units: areas ha, emissions tCO2e, dates ``datetime.date``. Pure functions: no file I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
from scipy.special import ndtri

from icam.carbon.buffer import BufferResult
from icam.carbon.emissions import number
from icam.carbon.period_inputs import AREA_FIELDS, PeriodInputs, StratumActivity
from icam.carbon.periods import MonitoringPeriod, check_no_overlap, prorate_annual, split_whole
from icam.carbon.uncertainty import (
    EXCESS_OVER_THRESHOLD,
    UncertaintyResult,
    UncertaintyRule,
    truncated_normal,
)
from icam.core.errors import InputError

_EPS = 1e-9  # float sums such as 7820.000000001 still round to 7820 whole credits


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Vintage:
    """One calendar year's share of a period: its days, credits and buffer credits."""

    year: int
    days: int
    credits: int
    buffer_credits: int

    def to_dict(self) -> dict:
        return {"year": self.year, "days": self.days, "credits": self.credits, "buffer_credits": self.buffer_credits}


@dataclass(frozen=True)
class PeriodResult:
    """One period's accounting. ``to_dict`` gives the monitoring-report keys; ``details`` all."""

    start: date
    end: date
    baseline_emissions_tco2e: float
    project_emissions_tco2e: float
    activity_shifting_leakage_tco2e: float
    market_leakage_tco2e: float
    other_leakage_tco2e: float
    leakage_tco2e: float
    net_reductions_tco2e: float
    shortfall_tco2e: float
    uncertainty: UncertaintyResult
    uncertainty_deduction_tco2e: float
    buffer_pct: float
    buffer_tco2e: float
    buffer_credits: int
    credits: int
    vintages: tuple[Vintage, ...]
    by_stratum: dict = field(default_factory=dict)
    baseline: str = ""
    baseline_valid: bool = True
    # the period's baseline and observed areas, summed over the strata (their SEs are per stratum only: the
    # strata's estimates share one sample, so they do not add in quadrature)
    areas_ha: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "baseline_emissions_tco2e": self.baseline_emissions_tco2e,
            "project_emissions_tco2e": self.project_emissions_tco2e,
            "leakage_tco2e": self.leakage_tco2e,
            "uncertainty_deduction_tco2e": self.uncertainty_deduction_tco2e,
            "buffer_tco2e": self.buffer_tco2e,
            "credits": int(self.credits),
            "vintages": [v.to_dict() for v in self.vintages],
        }

    def details(self) -> dict:
        out = self.to_dict()
        out.update({
            "activity_shifting_leakage_tco2e": self.activity_shifting_leakage_tco2e,
            "market_leakage_tco2e": self.market_leakage_tco2e,
            "other_leakage_tco2e": self.other_leakage_tco2e,
            "net_reductions_tco2e": self.net_reductions_tco2e,
            "shortfall_tco2e": self.shortfall_tco2e,
            "uncertainty": self.uncertainty.to_dict(),
            "buffer_pct": self.buffer_pct,
            "buffer_credits": int(self.buffer_credits),
            "by_stratum": {k: dict(v) for k, v in self.by_stratum.items()},
            "areas_ha": dict(self.areas_ha),
            "baseline": self.baseline,
            "baseline_valid": self.baseline_valid,
        })
        return out


@dataclass(frozen=True)
class AccountingTable:
    """An ex-ante or ex-post table: one :class:`PeriodResult` per row, in date order."""

    kind: Literal["ex-ante", "ex-post"]
    periods: tuple[PeriodResult, ...]

    @property
    def totals(self) -> dict:
        keys = ("baseline_emissions_tco2e", "project_emissions_tco2e", "leakage_tco2e",
                "uncertainty_deduction_tco2e", "buffer_tco2e")
        out = {k: float(sum(getattr(p, k) for p in self.periods)) for k in keys}
        out["credits"] = int(sum(p.credits for p in self.periods))
        out["buffer_credits"] = int(sum(p.buffer_credits for p in self.periods))
        return out

    def to_dict(self) -> dict:
        return {"kind": self.kind, "periods": [p.to_dict() for p in self.periods], "totals": self.totals}


# --------------------------------------------------------------------------- computation

def _emissions(inputs: PeriodInputs, draws: Mapping[str, dict] | None = None):
    """BE, PE, LKas, LKm, LK and NER (before clipping), from point values or per-draw arrays."""
    be = pe = excess = positive = 0.0
    by = {}
    for s in inputs.strata:
        v = draws[s.stratum] if draws is not None else {
            "ef": inputs.emission_factors[s.stratum][0], "base": s.baseline_project_ha,
            "obs": s.observed_project_ha, "belt_obs": s.observed_belt_ha, "belt_base": s.baseline_belt_ha}
        b, p = v["base"] * v["ef"], v["obs"] * v["ef"]
        d = (v["belt_obs"] - v["belt_base"]) * v["ef"]
        be, pe, excess, positive = be + b, pe + p, excess + d, positive + np.maximum(0.0, d)
        by[s.stratum] = (b, p, np.maximum(0.0, d))
    # the belt's excess clipped at 0 in total, then shared among the strata in excess
    lk_as = np.maximum(0.0, excess)
    share = np.divide(lk_as, positive, out=np.zeros_like(np.asarray(positive, dtype=np.float64)),
                      where=np.asarray(positive) > 0)
    by = {name: (b, p, la * share) for name, (b, p, la) in by.items()}
    reductions = be - pe
    if inputs.market_leakage_base == "baseline":
        lk_m = inputs.market_leakage_factor * be
    else:
        lk_m = inputs.market_leakage_factor * np.maximum(0.0, reductions)
    lk = lk_as + lk_m + inputs.other_leakage_tco2e
    return be, pe, lk_as, lk_m, lk, be - pe - lk, by


def monte_carlo(inputs: PeriodInputs, rule: UncertaintyRule = EXCESS_OVER_THRESHOLD, *, n_draws: int = 10_000,
                seed: int = 0) -> UncertaintyResult:
    """Monte Carlo uncertainty of the net reductions of one period.

    Per draw: each stratum's emission factor ~ N(EF, SE) truncated at 0, the observed areas (project area,
    leakage belt) ~ N(A, SE) and the baselines with an SE lognormal (median A, log SD SE / A), one uniform
    per zone and area for all strata (:func:`draw_inputs`); NER = BE − PE − LK as in :func:`account_period`
    (not clipped). The ``rule.confidence`` interval is read from the draws' quantiles; U = 100 × half-width /
    mean. Reproducible:
    ``numpy.random.default_rng(seed)``, draws taken in a fixed order.
    """
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 100:
        raise InputError(f"n_draws must be a whole number ≥ 100, got {n_draws!r}")
    rng = np.random.default_rng(seed)
    # one uniform per draw for each area of a zone, shared by the strata: an area's error is the zone's
    # (the sample's adjustment ratio, the baseline's level), so the strata err together
    shared = {k: rng.random(n_draws) for k in AREA_DRAWS}
    ner = net_reductions_draws(inputs, draw_inputs(inputs, rng, n_draws, shared))
    return interval(ner, rule, n_draws, seed)


AREA_DRAWS = ("base", "obs", "belt_obs", "belt_base")


def draw_inputs(inputs: PeriodInputs, rng: np.random.Generator, n_draws: int, uniforms: Mapping[str, np.ndarray],
                ef_uniforms: Mapping[str, np.ndarray] | None = None) -> dict[str, dict]:
    """Per stratum, ``n_draws`` of its emission factor (a normal truncated at 0, from ``ef_uniforms[stratum]``
    where given, else from ``rng``) and of its areas, from ``uniforms`` (:data:`AREA_DRAWS`). Observed areas
    are normals, not truncated: an area estimated near 0 with a large SE, as a small domain's sample gives,
    would have its draws' mean pushed up by the truncation, and the estimator itself is unbiased, negative
    values and all. A positive baseline with an SE is lognormal with its median at the estimate and a log
    SD of its relative SE: its error is a factor (the dynamic baseline's k, a standardised incidence ratio,
    and its placebo error), whose limits are taken on the log scale (Breslow & Day 1987, §2.3); a normal
    with a relative SE of 50–100 % would draw a negative baseline in a sixth to a third of the draws and
    cut the upper tail short."""
    def area(mean: float, se: float, key: str) -> np.ndarray:
        return mean + se * ndtri(uniforms[key]) if se > 0 else np.full(n_draws, mean)

    def baseline(mean: float, se: float, key: str) -> np.ndarray:
        return mean * np.exp(se / mean * ndtri(uniforms[key])) if se > 0 and mean > 0 else area(mean, se, key)

    draws = {}
    for s in inputs.strata:
        ef, ef_se = inputs.emission_factors[s.stratum]
        draws[s.stratum] = {
            "ef": truncated_normal(rng, ef, ef_se, n_draws, (ef_uniforms or {}).get(s.stratum)),
            "base": baseline(s.baseline_project_ha, s.baseline_project_se_ha, "base"),
            "obs": area(s.observed_project_ha, s.observed_project_se_ha, "obs"),
            "belt_obs": area(s.observed_belt_ha, s.observed_belt_se_ha, "belt_obs"),
            "belt_base": baseline(s.baseline_belt_ha, s.baseline_belt_se_ha, "belt_base"),
        }
    return draws


def net_reductions_draws(inputs: PeriodInputs, draws: Mapping[str, dict]) -> np.ndarray:
    """NER = BE − PE − LK per draw (not clipped)."""
    return np.asarray(_emissions(inputs, draws)[5], dtype=np.float64)


def interval(ner: np.ndarray, rule: UncertaintyRule, n_draws: int, seed: int) -> UncertaintyResult:
    """The ``rule.confidence`` interval of the draws of NER, U and its deduction share."""
    alpha = 1.0 - rule.confidence
    lower, upper = (float(q) for q in np.quantile(ner, [alpha / 2, 1 - alpha / 2]))
    mean = float(ner.mean())
    half = (upper - lower) / 2
    u = 100.0 * half / mean if mean > 0 else math.inf
    return UncertaintyResult(rule=rule, half_width_pct=u, deduction_fraction=rule.fraction(u), n_draws=int(n_draws),
                             seed=seed, mean_tco2e=mean, lower_tco2e=lower, upper_tco2e=upper)


def _has_uncertainty(inputs: PeriodInputs) -> bool:
    return any(s.observed_project_se_ha or s.observed_belt_se_ha or s.baseline_project_se_ha or s.baseline_belt_se_ha
               or inputs.emission_factors[s.stratum][1] for s in inputs.strata)


def _areas_ha(activity: StratumActivity) -> dict[str, float]:
    """The hectares behind a stratum's tonnes: baseline and observed loss in the project area and the belt."""
    return {key: float(getattr(activity, key)) for key in AREA_FIELDS}


def account_period(inputs: PeriodInputs, rule: UncertaintyRule = EXCESS_OVER_THRESHOLD, *, n_draws: int = 10_000,
                   seed: int = 0, half_width_pct: float | None = None) -> PeriodResult:
    """Credits of one monitoring period (formulas in the module docstring).

    The uncertainty is the Monte Carlo of :func:`monte_carlo` (skipped, U = 0, when every
    standard error is 0), or ``half_width_pct`` when given (e.g. from the project's own
    analysis). The deduction applies to the point estimate of the net reductions.
    """
    if not isinstance(inputs, PeriodInputs):
        raise InputError(f"inputs must be PeriodInputs, got {type(inputs).__name__}")
    be, pe, lk_as, lk_m, lk, ner_raw, by = _emissions(inputs)
    be, pe, lk_as, lk_m, lk, ner_raw = (float(x) for x in (be, pe, lk_as, lk_m, lk, ner_raw))
    ner = max(0.0, ner_raw)
    if half_width_pct is not None:
        u = number(half_width_pct, "the uncertainty half-width (%)", minimum=0.0)
        unc = UncertaintyResult(rule=rule, half_width_pct=u, deduction_fraction=rule.fraction(u), source="given")
    elif not _has_uncertainty(inputs):
        unc = UncertaintyResult(rule=rule, half_width_pct=0.0, deduction_fraction=rule.fraction(0.0),
                                source="exact: every standard error is 0")
    else:
        unc = monte_carlo(inputs, rule, n_draws=n_draws, seed=seed)
    ud = unc.deduction_fraction * ner
    # a period beyond its baseline's validity is reported but issues nothing (VM0015 v1.1 and VT0007 §5.6:
    # the baseline is reassessed at the end of its validity period before further credits are verified)
    base = max(0.0, ner - ud) if inputs.baseline_valid else 0.0
    pct = inputs.buffer_pct
    buffer_tco2e = pct / 100.0 * base
    issuable = math.floor(base + _EPS)
    buffer_credits = min(math.ceil(buffer_tco2e - _EPS), issuable) if buffer_tco2e > 0 else 0
    credits = issuable - buffer_credits
    days = inputs.period.days_by_year()
    cv, bv = split_whole(credits, days), split_whole(buffer_credits, days)
    vintages = tuple(Vintage(year=y, days=d, credits=cv[y], buffer_credits=bv[y]) for y, d in days.items())
    areas = {s.stratum: _areas_ha(s) for s in inputs.strata}
    by_stratum = {k: {**areas[k], "baseline_emissions_tco2e": float(b), "project_emissions_tco2e": float(p),
                      "activity_shifting_leakage_tco2e": float(la)} for k, (b, p, la) in by.items()}
    return PeriodResult(
        start=inputs.period.start, end=inputs.period.end,
        baseline_emissions_tco2e=be, project_emissions_tco2e=pe,
        activity_shifting_leakage_tco2e=lk_as, market_leakage_tco2e=lk_m,
        other_leakage_tco2e=float(inputs.other_leakage_tco2e), leakage_tco2e=lk,
        net_reductions_tco2e=ner, shortfall_tco2e=max(0.0, -ner_raw),
        uncertainty=unc, uncertainty_deduction_tco2e=ud,
        buffer_pct=pct, buffer_tco2e=buffer_tco2e, buffer_credits=int(buffer_credits), credits=int(credits),
        vintages=vintages, by_stratum=by_stratum, baseline=inputs.baseline, baseline_valid=inputs.baseline_valid,
        areas_ha={key: float(sum(a[key] for a in areas.values())) for key in AREA_FIELDS if not key.endswith("_se_ha")},
    )


def ex_post_table(periods: Sequence[PeriodInputs], rule: UncertaintyRule = EXCESS_OVER_THRESHOLD, *,
                  n_draws: int = 10_000, seed: int = 0) -> AccountingTable:
    """The ex-post table: :func:`account_period` for each monitoring period, in date order.
    Periods may not overlap; period i's Monte Carlo uses seed ``(seed, i)``."""
    if not periods:
        raise InputError("no monitoring period given")
    check_no_overlap(p.period for p in periods)
    ordered = sorted(periods, key=lambda p: p.period.start)
    rows = tuple(account_period(p, rule, n_draws=n_draws,
                                seed=int(np.random.SeedSequence([seed, i]).generate_state(1)[0]))
                 for i, p in enumerate(ordered))
    return AccountingTable(kind="ex-post", periods=rows)


def ex_ante_table(crediting_period: MonitoringPeriod, baseline_ha_by_year: Mapping[str, Mapping[int, float]],
                  emission_factors: Mapping[str, object], *, effectiveness: float, buffer: float | BufferResult,
                  baseline_belt_ha_by_year: Mapping[str, Mapping[int, float]] | None = None,
                  displacement_share: float = 0.0, market_leakage_factor: float = 0.0,
                  minimum_buffer_pct: float = 0.0, rule: UncertaintyRule = EXCESS_OVER_THRESHOLD,
                  periods: Sequence[MonitoringPeriod] | None = None, n_draws: int = 10_000,
                  seed: int = 0) -> AccountingTable:
    """The ex-ante table of a crediting period (VM0015 v1.1 Part 3, ex-ante estimation).

    Rows: the crediting period cut at each 1 January, or ``periods`` (inside it, not
    overlapping). Per row and stratum s: baseline A_base = :func:`prorate_annual` of
    ``baseline_ha_by_year[s]``; expected project deforestation A_obs = (1 − effectiveness) ×
    A_base; leakage belt: L_base prorated from ``baseline_belt_ha_by_year[s]`` (0 if absent) and
    L_obs = L_base + displacement_share × (A_base − A_obs), the assumed share of the avoided
    deforestation shifted to the belt. Areas have no standard error ex ante; the emission
    factors' SEs still enter the Monte Carlo.
    """
    eff = number(effectiveness, "the project effectiveness", minimum=0.0, maximum=1.0)
    disp = number(displacement_share, "the displacement share", minimum=0.0, maximum=1.0)
    if not baseline_ha_by_year:
        raise InputError("no baseline given", "pass stratum → {year: ha}")
    belt = baseline_belt_ha_by_year or {}
    unknown = sorted(set(belt) - set(baseline_ha_by_year))
    if unknown:
        raise InputError(f"leakage-belt baseline for unknown strata {unknown}")
    rows = list(periods) if periods is not None else crediting_period.split_by_year()
    for p in rows:
        if p.start < crediting_period.start or p.end > crediting_period.end:
            raise InputError(f"the period {p.start} – {p.end} lies outside the crediting period "
                             f"{crediting_period.start} – {crediting_period.end}")
    inputs = []
    for p in rows:
        strata = []
        for s, annual in baseline_ha_by_year.items():
            a_base = prorate_annual(annual, p)
            a_obs = (1.0 - eff) * a_base
            l_base = prorate_annual(belt[s], p) if s in belt else 0.0
            strata.append(StratumActivity(s, baseline_project_ha=a_base, observed_project_ha=a_obs,
                                          baseline_belt_ha=l_base, observed_belt_ha=l_base + disp * (a_base - a_obs)))
        inputs.append(PeriodInputs(period=p, strata=tuple(strata), emission_factors=emission_factors, buffer=buffer,
                                   market_leakage_factor=market_leakage_factor, minimum_buffer_pct=minimum_buffer_pct))
    table = ex_post_table(inputs, rule, n_draws=n_draws, seed=seed)
    return AccountingTable(kind="ex-ante", periods=table.periods)
