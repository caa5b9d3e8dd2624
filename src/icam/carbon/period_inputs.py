"""What one monitoring period's accounting takes in (:mod:`icam.carbon.accounting`): each stratum's baseline
and observed areas with their standard errors in the project area and the leakage belt, the emission
factors, the buffer and the leakage parameters, each checked as it is built (one clear error per bad value).

Units: areas ha, emission factors tCO2e/ha, the buffer in %.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from icam.carbon.buffer import BufferResult
from icam.carbon.emissions import EmissionFactor, number
from icam.carbon.periods import MonitoringPeriod
from icam.core.errors import InputError

# --------------------------------------------------------------------------- checks

def _num(value, what: str, *, minimum: float | None = 0.0, maximum: float | None = None) -> float:
    """A finite number, non-negative unless ``minimum`` says otherwise."""
    return number(value, what, minimum=minimum, maximum=maximum)


# --------------------------------------------------------------------------- inputs

# a stratum's hectares and their SEs, in the order results.json and the CSVs give them
AREA_FIELDS = ("baseline_project_ha", "baseline_project_se_ha", "observed_project_ha", "observed_project_se_ha",
               "baseline_belt_ha", "baseline_belt_se_ha", "observed_belt_ha", "observed_belt_se_ha")


@dataclass(frozen=True)
class StratumActivity:
    """Activity data of one forest stratum over a period (ha).

    baseline_project_ha: baseline deforestation in the project area (e.g. :func:`prorate_annual`
    of the baseline's annual values). observed_project_ha, observed_project_se_ha: the project's
    observed deforestation and its standard error (e.g. a sample-based estimate, see
    :func:`from_area_estimate`; 0 when taken as exact). baseline_belt_ha, observed_belt_ha,
    observed_belt_se_ha: the same in the leakage belt. baseline_project_se_ha: the baseline's
    own standard error, 0 by default (VM0015 fixes the baseline ex ante).
    """

    stratum: str
    baseline_project_ha: float
    observed_project_ha: float
    observed_project_se_ha: float = 0.0
    baseline_belt_ha: float = 0.0
    observed_belt_ha: float = 0.0
    observed_belt_se_ha: float = 0.0
    baseline_project_se_ha: float = 0.0
    baseline_belt_se_ha: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.stratum, str) or not self.stratum.strip():
            raise InputError(f"a stratum needs a non-empty name, got {self.stratum!r}")
        for name in AREA_FIELDS:
            what = f"{name.replace('_', ' ').replace(' ha', '')} of stratum '{self.stratum}' (ha)"
            object.__setattr__(self, name, _num(getattr(self, name), what))


def from_area_estimate(estimate, loss_class) -> tuple[float, float]:
    """(area_ha, se_ha) of ``loss_class`` in an :class:`icam.forest.area.AreaEstimate`."""
    if loss_class not in estimate.area_ha:
        raise InputError(f"class {loss_class!r} is not in the area estimate",
                         f"its classes are {', '.join(map(repr, estimate.classes))}")
    return (_num(estimate.area_ha[loss_class], f"the estimated area of class {loss_class!r}"),
            _num(estimate.se_ha[loss_class], f"the standard error of class {loss_class!r}"))


def _factor(value, stratum: str) -> tuple[float, float]:
    if isinstance(value, EmissionFactor):
        ef, se = value.ef_tco2e_ha, value.se_tco2e_ha
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        ef, se = value
    else:
        ef, se = value, 0.0
    return (_num(ef, f"the emission factor of stratum '{stratum}' (tCO2e/ha)"),
            _num(se, f"the emission factor's standard error of stratum '{stratum}' (tCO2e/ha)"))


@dataclass(frozen=True)
class PeriodInputs:
    """Everything one monitoring period's accounting needs.

    strata: the :class:`StratumActivity` of each forest stratum. emission_factors: stratum →
    :class:`~icam.carbon.emissions.EmissionFactor`, (ef, se) or ef, in tCO2e/ha.
    market_leakage_factor: f_m in [0, 1]; market_leakage_base: "reductions" (f_m × (BE − PE))
    or "baseline" (f_m × BE). other_leakage_tco2e: leakage computed elsewhere (e.g. emissions of
    leakage-prevention activities), added. buffer: the buffer % in [0, 100] or a passing
    :class:`~icam.carbon.buffer.BufferResult`; minimum_buffer_pct: the tool's minimum, the buffer
    never goes below it.
    """

    period: MonitoringPeriod
    strata: tuple[StratumActivity, ...]
    emission_factors: Mapping[str, object]
    buffer: float | BufferResult
    market_leakage_factor: float = 0.0
    market_leakage_base: Literal["reductions", "baseline"] = "reductions"
    other_leakage_tco2e: float = 0.0
    minimum_buffer_pct: float = 0.0
    baseline: str = ""  # which baseline the period is measured against (its name, fit and validity)
    baseline_valid: bool = True  # False: the period lies beyond that baseline's validity; nothing is issued

    def __post_init__(self) -> None:
        if not isinstance(self.period, MonitoringPeriod):
            raise InputError(f"period must be a MonitoringPeriod, got {type(self.period).__name__}")
        strata = tuple(self.strata)
        if not strata:
            raise InputError("no forest stratum given", "pass one StratumActivity per stratum")
        names = [s.stratum for s in strata]
        if len(set(names)) != len(names):
            raise InputError(f"a stratum is listed twice in {names}")
        factors = {}
        for s in names:
            if s not in self.emission_factors:
                raise InputError(f"no emission factor for stratum '{s}'")
            factors[s] = _factor(self.emission_factors[s], s)
        object.__setattr__(self, "strata", strata)
        object.__setattr__(self, "emission_factors", factors)
        _num(self.market_leakage_factor, "the market-leakage factor", maximum=1.0)
        if self.market_leakage_base not in ("reductions", "baseline"):
            raise InputError(f"unknown market-leakage base {self.market_leakage_base!r}",
                             "use 'reductions' or 'baseline'")
        _num(self.other_leakage_tco2e, "the other leakage (tCO2e)")
        minimum = _num(self.minimum_buffer_pct, "the minimum buffer %", maximum=100.0)
        if isinstance(self.buffer, BufferResult):
            if not self.buffer.passes or self.buffer.buffer_pct is None:
                raise InputError(f"the project fails the non-permanence risk assessment "
                                 f"({'; '.join(self.buffer.reasons) or 'no buffer %'})",
                                 "a failing project cannot be verified or issued credits")
            pct = self.buffer.buffer_pct
        else:
            pct = self.buffer
        pct = _num(pct, "the buffer %", maximum=100.0)
        object.__setattr__(self, "buffer", max(pct, minimum))

    @property
    def buffer_pct(self) -> float:
        return float(self.buffer)
