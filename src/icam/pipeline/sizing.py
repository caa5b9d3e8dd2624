"""How large a reference sample must be for the net reductions of the monitoring periods it serves to reach
a target half-width (``icam area design --project DIR --period A-B --target-er-half-width U``; docs/methods.md,
"Uncertainty budget and the samples a period needs").

It reads what a finished run published (``outputs/results.json``), not the cache: each period's hectares and
their standard errors per stratum and zone, the emission factors with theirs, the market-leakage factor and
the uncertainty rule, rebuilt into :class:`icam.carbon.period_inputs.PeriodInputs`; then
:func:`icam.carbon.eligibility.sample_factor` finds the factor m on the assessment's sample size that brings
every period of the assessment's years to the target (the activity data's SEs fall as 1/√m for a sample m
times as large with the same allocation). The new sample size is ⌈m × n⌉, n the size of the sample the
run used for those years.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

from icam.carbon.eligibility import half_width_with_samples, sample_factor
from icam.carbon.period_inputs import AREA_FIELDS, PeriodInputs, StratumActivity
from icam.carbon.periods import MonitoringPeriod
from icam.carbon.uncertainty import UncertaintyRule
from icam.core.errors import InputError
from icam.pipeline.config import load_config
from icam.pipeline.project import RESULTS_NAME
from icam.pipeline.runner import OUTPUTS_DIR


@dataclass(frozen=True)
class PeriodSize:
    """One monitoring period: its half-width now and with exact activity data (%, inf where the mean net
    reduction is ≤ 0) and the factor on the sample's size that reaches the target (None where none does)."""

    start: dt.date
    end: dt.date
    half_width_pct: float
    exact_half_width_pct: float
    factor: float | None


@dataclass(frozen=True)
class SampleSizing:
    """The sample that serves ``start_year``–``end_year``: its size in the last run (``n_now``), the periods it
    serves and the size that brings them all to ``target_pct`` (None where some period cannot get there)."""

    start_year: int
    end_year: int
    target_pct: float
    n_now: int
    periods: tuple[PeriodSize, ...]

    @property
    def factor(self) -> float | None:
        factors = [p.factor for p in self.periods]
        return None if any(f is None for f in factors) else max(factors)

    @property
    def n_needed(self) -> int | None:
        return None if self.factor is None else math.ceil(self.factor * self.n_now)


def read_results(project: Path) -> dict:
    """The last run's results.json of ``project`` (an InputError where there is none)."""
    path = Path(project) / OUTPUTS_DIR / RESULTS_NAME
    if not path.is_file():
        raise InputError(f"{path} does not exist: the project has not been run",
                         f"run `icam run {project}` first, then size its sample")
    return json.loads(path.read_text(encoding="utf-8"))


def period_inputs(results: dict, market_leakage_factor: float) -> list[PeriodInputs]:
    """The ex-post periods' accounting inputs as the run published them (hectares, SEs, emission factors)."""
    accounting = results.get("accounting") or {}
    factors = {ef["forest_class"]: (ef["ef_tco2e_ha"], ef["se_tco2e_ha"])
               for ef in accounting.get("emission_factors") or []}
    out = []
    for p in accounting.get("periods") or []:
        strata = tuple(StratumActivity(name, **{f: float(row[f]) for f in AREA_FIELDS})
                       for name, row in p["by_stratum"].items())
        out.append(PeriodInputs(
            period=MonitoringPeriod(dt.date.fromisoformat(p["start"]), dt.date.fromisoformat(p["end"])),
            strata=strata, emission_factors={s.stratum: factors[s.stratum] for s in strata},
            buffer=float(p["buffer_pct"]), market_leakage_factor=market_leakage_factor,
            other_leakage_tco2e=float(p.get("other_leakage_tco2e") or 0.0)))
    return out


def _rule(results: dict) -> UncertaintyRule:
    """The uncertainty rule the run applied (as results.json records it)."""
    return UncertaintyRule(**results["accounting"]["uncertainty_rule"])


def _sample_size(results: dict, start_year: int, end_year: int) -> int:
    for a in (results.get("activity_data") or {}).get("assessments") or []:
        if (a.get("start_year"), a.get("end_year")) == (start_year, end_year):
            return int(a["n"])
    raise InputError(f"the last run has no reference sample for {start_year}-{end_year}",
                     "give --period as one of the [activity_data] assessments' START-END years, or --n")


def size_sample(project: Path, start_year: int, end_year: int, target_pct: float) -> SampleSizing:
    """How many reference samples ``start_year``–``end_year`` needs for every monitoring period within those
    years to have a half-width of the net reductions of ``target_pct`` or less (module docstring)."""
    if not (isinstance(target_pct, (int, float)) and math.isfinite(target_pct) and target_pct > 0):
        raise InputError(f"--target-er-half-width must be a percentage above 0, got {target_pct!r}",
                         "give e.g. 50 for ±50 % of the net reductions")
    config = load_config(project)
    results = read_results(project)
    carbon = config.carbon
    if carbon is None or not results.get("accounting"):
        raise InputError(f"{project} has no carbon accounting to size a sample for",
                         "add [carbon] to its icam.toml and run it, or give --n")
    n_now = _sample_size(results, start_year, end_year)
    inputs = [i for i in period_inputs(results, carbon.market_leakage_factor)
              if i.period.start.year >= start_year and i.period.end.year <= end_year]
    if not inputs:
        raise InputError(f"no monitoring period of the last run lies within {start_year}-{end_year}",
                         "give --period as the years of a sample that serves a monitoring period")
    rule, draws = _rule(results), {"n_draws": carbon.uncertainty_draws, "seed": carbon.seed}
    sizes = tuple(_period_size(p, rule, target_pct, draws) for p in inputs)
    return SampleSizing(start_year, end_year, float(target_pct), n_now, sizes)


def _period_size(inputs: PeriodInputs, rule: UncertaintyRule, target_pct: float, draws: dict) -> PeriodSize:
    """One period's half-widths now and with exact activity data, and its sample factor (which reuses them)."""
    now = half_width_with_samples(inputs, rule, 1.0, **draws)
    exact = half_width_with_samples(inputs, rule, math.inf, **draws)
    factor = sample_factor(inputs, rule, target_pct, **draws, known={1.0: now, math.inf: exact})
    return PeriodSize(inputs.period.start, inputs.period.end, now, exact, factor)
