"""The uncertainty of net emission reductions and its deduction (docs/methods.md, "Emission reductions
and credits"): the deduction rules, with every number a parameter, and the Monte Carlo's result.

The rules built in and their sources are stated at each constant; :mod:`icam.carbon.accounting` runs the
Monte Carlo over a period's inputs and applies the rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import ndtr, ndtri

from icam.carbon.emissions import number
from icam.core.errors import InputError


def _num(value, what: str, *, minimum: float | None = 0.0, maximum: float | None = None) -> float:
    return number(value, what, minimum=minimum, maximum=maximum)


@dataclass(frozen=True)
class UncertaintyRule:
    """How the uncertainty of net reductions becomes a deduction; every number a parameter.

    U = half-width of the ``confidence`` interval of the net reductions, % of their mean.
    U ≤ ``threshold_pct``: no deduction. Otherwise d = min(1, (U − threshold)/100) for
    ``form="excess"``, d = min(1, scale × (U/100) / z) for ``form="scaled"``. U above
    ``ineligible_above_pct`` (None: never): d = 1 (nothing is credited).
    """

    name: str = "excess over 10 % at 90 % (unverified)"
    confidence: float = 0.90
    threshold_pct: float = 10.0
    form: Literal["excess", "scaled"] = "excess"
    scale: float = 1.0
    z: float = 1.0
    ineligible_above_pct: float | None = 100.0

    def __post_init__(self) -> None:
        _num(self.confidence, "the confidence level", minimum=None)
        if not 0 < self.confidence < 1:
            raise InputError(f"the confidence level must lie in (0, 1), got {self.confidence}", "e.g. 0.90")
        _num(self.threshold_pct, "the uncertainty threshold (%)")
        _num(self.scale, "the uncertainty scale")
        if _num(self.z, "the uncertainty z value") <= 0:
            raise InputError("the uncertainty z value must be > 0")
        if self.form not in ("excess", "scaled"):
            raise InputError(f"unknown uncertainty deduction form {self.form!r}", "use 'excess' or 'scaled'")
        if self.ineligible_above_pct is not None:
            _num(self.ineligible_above_pct, "the ineligibility limit (%)")

    def fraction(self, half_width_pct: float) -> float:
        """The share d(U) of the net reductions deducted for a half-width U (% of the mean)."""
        u = float(half_width_pct)
        if math.isnan(u) or u < 0:
            raise InputError(f"the uncertainty half-width must be ≥ 0 %, got {half_width_pct}")
        if self.ineligible_above_pct is not None and u > self.ineligible_above_pct:
            return 1.0
        if u <= self.threshold_pct:
            return 0.0
        d = (u - self.threshold_pct) / 100.0 if self.form == "excess" else self.scale * (u / 100.0) / self.z
        return min(1.0, d)

    def to_dict(self) -> dict:
        return {"name": self.name, "confidence": self.confidence, "threshold_pct": self.threshold_pct,
                "form": self.form, "scale": self.scale, "z": self.z,
                "ineligible_above_pct": self.ineligible_above_pct}


# The brief's form: no deduction while the 90 % half-width is ≤ 10 % of the mean, else the excess.
# Not verified against the VCS text.
EXCESS_OVER_THRESHOLD = UncertaintyRule()
# VCS Methodology Requirements v4.4 §2.4 as quoted by secondary sources (the project's domain brief):
# deduction = U/1.6449 × 0.4307 of the 90 % half-width U (% of the mean); above 100 % nothing is credited.
VCS_MR_4_4 = UncertaintyRule(name="VCS Methodology Requirements v4.4 §2.4 (secondary sources)", confidence=0.90,
                             threshold_pct=0.0, form="scaled", scale=0.4307, z=1.6449, ineligible_above_pct=100.0)
# ART TREES v2.0 (August 2021) eq. 10-11 as quoted by github.com/seamusrobertmurphy/monte-carlo-trees:
# UA = 0.524417 × HW90% / 1.645006, applied to the gross reductions (no threshold is stated there).
ART_TREES_2_0 = UncertaintyRule(name="ART TREES v2.0 eq. 11", confidence=0.90, threshold_pct=0.0, form="scaled",
                                scale=0.524417, z=1.645006, ineligible_above_pct=None)


@dataclass(frozen=True)
class UncertaintyResult:
    """The Monte Carlo (or given) uncertainty of the net reductions and its deduction share."""

    rule: UncertaintyRule
    half_width_pct: float
    deduction_fraction: float
    n_draws: int = 0
    seed: int | None = None
    mean_tco2e: float | None = None
    lower_tco2e: float | None = None
    upper_tco2e: float | None = None
    source: str = "monte carlo"

    def to_dict(self) -> dict:
        return {"rule": self.rule.to_dict(),
                "half_width_pct": self.half_width_pct if math.isfinite(self.half_width_pct) else None,
                "deduction_fraction": self.deduction_fraction, "n_draws": self.n_draws, "seed": self.seed,
                "mean_tco2e": self.mean_tco2e, "lower_tco2e": self.lower_tco2e, "upper_tco2e": self.upper_tco2e,
                "source": self.source}


def truncated_normal(rng: np.random.Generator, mean: float, se: float, n: int,
                     uniform: np.ndarray | None = None) -> np.ndarray:
    """n draws of N(mean, se) truncated to [0, ∞) by inverse CDF (one uniform per draw; ``uniform`` gives
    them, so that quantities drawn from the same uniforms err together)."""
    if se == 0:
        return np.full(n, mean)
    lo = float(ndtr(-mean / se))  # P(X < 0)
    u = lo + (1.0 - lo) * (rng.random(n) if uniform is None else uniform)
    return np.maximum(mean + se * ndtri(u), 0.0)
