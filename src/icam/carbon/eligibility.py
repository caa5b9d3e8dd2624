"""Why a period's uncertainty makes it ineligible, and how many more reference samples would fix it
(docs/methods.md, "Uncertainty budget and the samples a period needs").

For a period whose half-width U exceeds the rule's limit, the Monte Carlo of
:func:`icam.carbon.accounting.monte_carlo` is rerun with one source of error at a time (activity data: the
observed areas' SEs; emission factors; baselines), which gives each source's U alone, and with the activity
data's SEs divided by √m, since an error-adjusted area's SE falls as one over the square root of the sample
size for a sample m times as large with the same allocation (Olofsson et al. 2014, *Remote Sensing of
Environment* 148:42–57, eq. 10: each stratum's variance term has n_h − 1 in its denominator). The smallest m
that brings U under the limit is found by bisection on log m up to ``max_factor``; where U stays above the
limit with exact activity data, no sample fixes the period and the report says which source does not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from icam.carbon.accounting import monte_carlo
from icam.carbon.period_inputs import PeriodInputs
from icam.carbon.uncertainty import UncertaintyRule

SOURCES = {"activity_data": ("observed_project_se_ha", "observed_belt_se_ha"),
           "baseline": ("baseline_project_se_ha", "baseline_belt_se_ha")}


def _scaled(inputs: PeriodInputs, factors: dict[str, float], ef_factor: float) -> PeriodInputs:
    """``inputs`` with each SE field times its factor (1 where not named) and the EFs' SEs times ``ef_factor``."""
    strata = tuple(replace(s, **{f: getattr(s, f) * k for f, k in factors.items()}) for s in inputs.strata)
    efs = {name: (ef, se * ef_factor) for name, (ef, se) in inputs.emission_factors.items()}
    return replace(inputs, strata=strata, emission_factors=efs)


def _only(inputs: PeriodInputs, source: str) -> PeriodInputs:
    """``inputs`` with every source of error but ``source`` set to 0."""
    fields = {f: float(name == source) for name, group in SOURCES.items() for f in group}
    return _scaled(inputs, fields, float(source == "emission_factors"))


def half_width_with_samples(inputs: PeriodInputs, rule: UncertaintyRule, m: float, *, n_draws: int,
                            seed: int) -> float:
    """The period's half-width U (%) with a reference sample ``m`` times as large (the activity data's SEs / √m;
    ``m`` = inf: exact activity data)."""
    scaled = _scaled(inputs, dict.fromkeys(SOURCES["activity_data"], 1 / math.sqrt(m)), 1.0)
    return monte_carlo(scaled, rule, n_draws=n_draws, seed=seed).half_width_pct


def sample_factor(inputs: PeriodInputs, rule: UncertaintyRule, target_pct: float, *, n_draws: int, seed: int,
                  max_factor: float = 1024.0, known: Mapping[float, float] | None = None) -> float | None:
    """The smallest factor m (1 ≤ m ≤ ``max_factor``) on the reference sample's size that brings the period's
    half-width U to ``target_pct`` or under (module docstring: the activity data's SEs / √m); 1 where U is
    already there, None where exact activity data, or ``max_factor``, would not. ``known``: m → U the caller
    has already computed with :func:`half_width_with_samples` (the same draws), not computed again."""
    known = dict(known or {})

    def with_samples(m: float) -> float:
        if m not in known:
            known[m] = half_width_with_samples(inputs, rule, m, n_draws=n_draws, seed=seed)
        return known[m]

    if with_samples(1.0) <= target_pct:
        return 1.0
    if not with_samples(math.inf) <= target_pct or not with_samples(max_factor) <= target_pct:
        return None
    lo, hi = 0.0, math.log(max_factor)  # log m: U(1) is above the target, U(max_factor) under it
    for _ in range(20):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if with_samples(math.exp(mid)) <= target_pct else (mid, hi)
    return math.exp(hi)


def explain(inputs: PeriodInputs, rule: UncertaintyRule, *, n_draws: int, seed: int,
            max_factor: float = 1024.0) -> dict:
    """Each source's half-width alone and the factor on the reference sample's size that brings U under the
    rule's limit (None where exact activity data would not)."""

    def half_width(inp: PeriodInputs) -> float:
        return monte_carlo(inp, rule, n_draws=n_draws, seed=seed).half_width_pct

    limit = rule.ineligible_above_pct
    alone = {s: half_width(_only(inputs, s)) for s in ("activity_data", "emission_factors", "baseline")}
    out = {"limit_pct": limit, "half_width_pct_by_source": {s: _finite(u) for s, u in alone.items()},
           "sample_factor": None, "half_width_pct_exact_activity_data": None}
    if limit is None:
        return out
    exact = half_width_with_samples(inputs, rule, math.inf, n_draws=n_draws, seed=seed)
    out["half_width_pct_exact_activity_data"] = _finite(exact)
    out["sample_factor"] = sample_factor(inputs, rule, limit, n_draws=n_draws, seed=seed, max_factor=max_factor,
                                         known={math.inf: exact})
    return out


def _finite(u: float) -> float | None:
    return u if math.isfinite(u) else None
