"""The uncertainty of the net reductions over all monitoring periods together (docs/methods.md, "Uncertainty
over the crediting period").

Summing the periods' intervals bounds the total's, loosely: the periods share the inventory's emission
factors and the baseline's level, and their activity data come from separate samples. One Monte Carlo over
all periods draws, per draw, each stratum's emission factor once for every period, each zone's baseline
once for every period (the dynamic baseline's k and its placebo error carry from year to year; a fixed
baseline has no SE), and each period's observed areas from their own uniforms (one per zone, shared by the
strata, as :func:`icam.carbon.accounting.monte_carlo` draws them); NER = Σ_periods (BE − PE − LK), each
period's leakage clipped as its own accounting clips it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from icam.carbon.accounting import draw_inputs, interval, net_reductions_draws
from icam.carbon.period_inputs import PeriodInputs
from icam.carbon.uncertainty import UncertaintyResult, UncertaintyRule


def crediting_uncertainty(periods: Sequence[PeriodInputs], rule: UncertaintyRule, *, n_draws: int,
                          seed: int) -> UncertaintyResult:
    """The ``rule.confidence`` interval of Σ NER over ``periods`` (module docstring); reproducible by ``seed``."""
    rng = np.random.default_rng(seed)
    names = sorted({s.stratum for p in periods for s in p.strata})
    ef_uniforms = {name: rng.random(n_draws) for name in names}
    baseline = {"base": rng.random(n_draws), "belt_base": rng.random(n_draws)}
    total = np.zeros(n_draws)
    for p in sorted(periods, key=lambda p: p.period.start):
        uniforms = {**baseline, "obs": rng.random(n_draws), "belt_obs": rng.random(n_draws)}
        total += net_reductions_draws(p, draw_inputs(p, rng, n_draws, uniforms, ef_uniforms))
    return interval(total, rule, n_draws, seed)
