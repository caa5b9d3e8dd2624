"""Baselines renewed at the end of their validity (docs/methods.md, "Baseline renewal").

A VM0015 baseline holds for its fixed baseline period (ten years by default: ``[baseline] years``), a VT0007
density map for ``[baseline] validity_years`` (VM0048: six); after that the baseline must be reassessed
before more credits are verified (VM0015 v1.1, the baseline's renewal every ten years; VT0007 v1.0 §5.6,
the allocated risk map's validity). Renewal k shifts every period of the baseline by k × the validity V:
the historical reference period, the risk maps' calibration and confirmation periods and the baseline
years, so that the risk maps are refitted, and the map chosen on the confirmation period, on the latest
data before the renewal, and the quantity projected from the latest historical reference period. A
renewal is made only where the forest data reach the end of its confirmation period; the years after the
last renewal's validity have no valid baseline and their periods issue nothing.

Each calendar year's baseline comes from the baseline valid that year (the first one also serves the
project's years before its validity starts); a monitoring period names every baseline it draws on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from icam.core.spilled import SpilledRaster
from icam.landscape import Landscape
from icam.pipeline.config import IcamConfig
from icam.pipeline.stages.carbon_activity import baseline_annual_ha
from icam.pipeline.stages.risk import Baseline, baseline_years, build_baseline, expected_validity_ha, risk_setting
from icam.risk.candidates import run_candidates

KINDS = {"VM0048": "VT0007 density map", "VM0015": "VM0015 allocation of the risk map"}


@dataclass(frozen=True, eq=False)
class BaselineVersion:
    """One baseline: the years it is valid for, what it was fitted on, and what the accounting reads of it
    (the VT0007 density map, ha/pixel/yr, and the VM0015 allocation in ``baseline``)."""

    valid_years: tuple[int, int]
    historical_reference: tuple[int, int]
    calibration: tuple[int, int]
    confirmation: tuple[int, int]
    chosen_model: str
    risk_ha_per_year: np.ndarray | SpilledRaster  # the risk stage keeps its map spilled (stages.risk.kept)
    baseline: Baseline

    def name(self, methodology: str) -> str:
        first, last = self.historical_reference
        return f"{KINDS[methodology]} fitted on {first}–{last}, valid {self.valid_years[0]}–{self.valid_years[1]}"

    def to_dict(self, methodology: str) -> dict:
        return {"name": self.name(methodology), "valid_years": list(self.valid_years),
                "historical_reference": list(self.historical_reference), "calibration": list(self.calibration),
                "confirmation": list(self.confirmation), "chosen_model": self.chosen_model,
                "projected_ha_by_year": {str(y): v for y, v in self.baseline.projected_ha_by_year.items()}}


def validity_years(config: IcamConfig) -> int:
    """V: the VT0007 map's validity for VM0048, the fixed baseline period's length for VM0015."""
    if config.carbon.methodology == "VM0048":
        return config.baseline.validity_years
    first, last = baseline_years(config)
    return last - first + 1


def shifted(config: IcamConfig, years: int) -> IcamConfig:
    """``config`` with the historical reference, calibration, confirmation and baseline years moved by ``years``."""
    p, b = config.periods, config.baseline
    first, last = baseline_years(config)

    def move(pair):
        return (pair[0] + years, pair[1] + years)

    periods = p.model_copy(update={"historical_reference": move(p.historical_reference),
                                   "calibration": move(p.calibration), "confirmation": move(p.confirmation)})
    baseline = b.model_copy(update={"years": (first + years, last + years)})
    return config.model_copy(update={"periods": periods, "baseline": baseline})


def version(config: IcamConfig, risk, baseline: Baseline) -> BaselineVersion:
    """The baseline of ``config`` (fitted by the risk and baseline stages) as a version with its validity."""
    first = baseline_years(config)[0]
    return BaselineVersion(valid_years=(first, first + validity_years(config) - 1),
                           historical_reference=tuple(config.periods.historical_reference),
                           calibration=tuple(config.periods.calibration),
                           confirmation=tuple(config.periods.confirmation), chosen_model=risk.chosen,
                           risk_ha_per_year=risk.risk_ha_per_year, baseline=baseline)


def renewals(config: IcamConfig, landscape: Landscape, progress: Callable[[str], None] | None = None,
             pool: Executor | None = None) -> tuple[BaselineVersion, ...]:
    """The renewed baselines the monitoring periods need (module docstring); none for the dynamic baseline,
    which is re-estimated every year. ``pool``: where the risk candidates' block-wise steps run."""
    if config.carbon is None or config.baseline is None or config.carbon.methodology == "dynamic":
        return ()
    step = validity_years(config)
    first = baseline_years(config)[0]
    last_needed = max(p.end.year for p in config.periods.monitoring)
    last_data = int(landscape.forest.epochs[-1])
    out, static = [], None
    k = 1
    while first + k * step <= last_needed:
        renewed = shifted(config, k * step)
        if renewed.periods.confirmation[1] > last_data or renewed.periods.historical_reference[1] > last_data:
            break
        if progress is not None:
            progress(f"renewing the baseline for {first + k * step}–{first + (k + 1) * step - 1}")
        setting = risk_setting(renewed, landscape, static)
        static = setting.static_covariates  # read and rasterised once for every renewal
        risk = run_candidates(setting, list(renewed.risk.models), expected_validity_ha(renewed, landscape),
                              renewed.baseline.validity_years, pool=pool)
        out.append(version(renewed, risk, build_baseline(renewed, landscape, risk)))
        k += 1
    return tuple(out)


def _serves(versions: Sequence[BaselineVersion], i: int, year: int) -> bool:
    """Version i serves ``year``: from its first valid year (the first version: from any year) to the year
    before the next version's (the last version: to any year, valid or not)."""
    after_start = i == 0 or year >= versions[i].valid_years[0]
    before_next = i == len(versions) - 1 or year < versions[i + 1].valid_years[0]
    return after_start and before_next


def annual_by_version(source: str, versions: Sequence[BaselineVersion], landscape: Landscape, mask: np.ndarray,
                      years: Sequence[int]) -> dict[int, float]:
    """Baseline deforestation (ha) per calendar year inside ``mask``, each year from the version that serves
    it (:func:`_serves`): the first one also before its validity, the last one also after its own."""
    annual = {}
    for i, v in enumerate(versions):
        served = [y for y in years if _serves(versions, i, y)]
        if served:
            annual.update(baseline_annual_ha(source, v, v.baseline, landscape, mask, served))
    return annual


def period_baselines(years: Sequence[int], versions: Sequence[BaselineVersion],
                     methodology: str) -> tuple[bool, str]:
    """Whether a period's years all have a valid baseline (those before the first validity count as the first
    baseline's: the project starts before it), and the names of the baselines it draws on."""
    used = [v.name(methodology) for i, v in enumerate(versions) if any(_serves(versions, i, y) for y in years)]
    return max(years) <= versions[-1].valid_years[1], " + ".join(used)
