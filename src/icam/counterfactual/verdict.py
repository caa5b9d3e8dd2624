"""Is this baseline over-crediting? The baseline's avoided loss in the project set against each independent
method's estimate (docs/methods.md, "Counterfactual checks: the verdict").

    ratio_m  = A_baseline / A_m                   A: avoided loss in the project over the monitoring periods (ha)
    flag     = A_baseline > (1 + margin) × max_m U_m     U_m: method m's upper 90 % bound; margin 0.5 by default

A method's yearly estimates are prorated to the monitoring periods by their days in each calendar year, as
the accounting prorates its annual baselines (docs/methods.md, "Period, pro-rating and vintages"). A method
the baseline itself rests on (pixel matching under the dynamic baseline, which is built from matched
controls) is reported but left out of the verdict: a check cannot confirm what it shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from icam.carbon.periods import MonitoringPeriod, days_in_year


@dataclass(frozen=True)
class MethodEstimate:
    """One method's answer: avoided loss (ha) per calendar year and in total over the monitoring periods,
    with its 90 % interval; ``annual``: year → project and counterfactual loss (ha); ``diagnostics``: what
    the method checks of itself (balance, parallel trends, placebos)."""

    name: str
    avoided_ha: float | None  # None: the method could not estimate it (its diagnostics say why)
    ci90_ha: tuple[float, float] | None
    annual: Mapping[int, Mapping[str, float]] = field(default_factory=dict)
    diagnostics: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"avoided_ha": self.avoided_ha, "ci90_ha": None if self.ci90_ha is None else list(self.ci90_ha),
                "annual": {str(y): dict(v) for y, v in self.annual.items()}, "diagnostics": dict(self.diagnostics)}


def year_weights(periods: Iterable[MonitoringPeriod]) -> dict[int, float]:
    """Per calendar year, the share of its days inside ``periods``: the weights that prorate a method's yearly
    estimates to the monitoring periods."""
    weights: dict[int, float] = {}
    for period in periods:
        for year, days in period.days_by_year().items():
            weights[year] = weights.get(year, 0.0) + days / days_in_year(year)
    return weights


def verdict(baseline_avoided_ha: float, estimates: Sequence[MethodEstimate], excluded: Iterable[str] = (),
            margin: float = 0.5) -> dict:
    """The ratios of the baseline's avoided loss to each method's, and the over-crediting flag over the
    methods not ``excluded`` that could estimate (None, with the reason, where none is left)."""
    excluded = set(excluded)
    used = [e for e in estimates if e.name not in excluded and e.avoided_ha is not None]
    ratios = {e.name: baseline_avoided_ha / e.avoided_ha if (e.avoided_ha or 0) > 0 else None for e in estimates}
    out = {"baseline_avoided_ha": baseline_avoided_ha, "ratio_to_baseline": ratios,
           "methods_in_verdict": [e.name for e in used], "methods_left_out": sorted(excluded), "margin": margin}
    if not used:
        return {**out, "over_crediting_flag": None, "largest_upper_ha": None,
                "verdict": "no independent method: the checks left are the ones the baseline rests on, or could "
                           "not estimate"}
    upper = max(e.ci90_ha[1] for e in used)
    flag = baseline_avoided_ha > (1 + margin) * upper
    bound = f"{1 + margin:.1f} × the largest upper bound of the independent methods ({upper:,.0f} ha)"
    sentence = (f"over-crediting: the baseline avoids {baseline_avoided_ha:,.0f} ha, more than {bound}" if flag else
                f"no over-crediting found: the baseline avoids {baseline_avoided_ha:,.0f} ha, within {bound}")
    return {**out, "over_crediting_flag": bool(flag), "largest_upper_ha": upper, "verdict": sentence}
