"""The accounting's baseline under ``methodology = "dynamic"``: each zone's baseline per stratum and calendar
year from matched controls outside the project area and its leakage belt (:mod:`icam.risk.dynamic`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from icam.core.errors import InputError
from icam.landscape import Landscape
from icam.pipeline.config import IcamConfig
from icam.pipeline.stages.risk import static_covariates, zone_mask
from icam.risk.dynamic import MatchedControlBaseline
from icam.risk.matching_landscape import MatchingLandscape

ZONES = ("project_area", "leakage_belt")


@dataclass(frozen=True)
class DynamicZone:
    """One zone's dynamic baseline: per stratum, year → (ha, SE ha); k and the matching's balance."""

    zone: str
    baseline_ha: dict[str, dict[int, float]]
    se_ha: dict[str, dict[int, float]]
    k: float
    k_se: float
    observed_hrp_ha: float
    expected_hrp_ha: float
    hrp_years: tuple[int, ...]
    balance: list
    placebo: dict  # the placebo tiles (icam.risk.placebo) and their relative error per year, as applied

    def to_dict(self) -> dict:
        return {"zone": self.zone, "relative_hazard_k": self.k, "relative_hazard_k_se": self.k_se,
                "historical_years": list(self.hrp_years), "observed_historical_loss_ha": self.observed_hrp_ha,
                "expected_historical_loss_ha": self.expected_hrp_ha, "balance": self.balance,
                "placebo": self.placebo}


def _loss_year(landscape: Landscape) -> np.ndarray:
    forest = landscape.forest
    years = np.asarray(forest.epochs, dtype=np.int16)
    loss_year = years[forest.loss_period]
    loss_year[forest.loss_period == 0] = 0
    return loss_year


def control_mask(config: IcamConfig, landscape: Landscape) -> np.ndarray:
    """The dynamic baseline's control area: the risk zone outside the project area and the leakage belt."""
    zones = landscape.zones.masks()
    control = zone_mask(landscape, config.risk.zone, "risk.zone")
    for z in ZONES:
        if z in zones:
            control &= ~zones[z]
    return control


def matching_landscape(config: IcamConfig, landscape: Landscape, strata: Mapping[str, np.ndarray]) -> MatchingLandscape:
    """The dynamic baseline's view of the landscape: controls are the risk zone's cells outside the project
    area and the leakage belt; strata numbered in order (cells in none are never matched)."""
    control = control_mask(config, landscape)
    ids = np.zeros(landscape.grid.shape, dtype=np.min_scalar_type(len(strata)))  # uint8: 61 MB at a jurisdiction
    for i, mask in enumerate(strata.values(), start=1):
        ids[mask & (ids == 0)] = i
    forest = landscape.forest
    return MatchingLandscape(loss_year=_loss_year(landscape), forest_first=forest.forest_first & forest.valid,
                             first_year=int(forest.epochs[0]), control=control, strata=ids,
                             strata_names=tuple(strata), static=static_covariates(config, landscape.grid),
                             cell_size_m=landscape.grid.resolution_m,
                             cell_area_ha=float(np.mean(landscape.grid.cell_area_ha())))


# the matching landscape built before the counterfactual estimates fork: [(landscape, sections, MatchingLandscape)]
_prepared: list[tuple[Landscape, tuple[str, str], MatchingLandscape]] = []


def _sections(config: IcamConfig) -> tuple[str, str]:
    return config.carbon.model_dump_json(), config.risk.model_dump_json()


def prepare_matching_landscape(config: IcamConfig, landscape: Landscape, strata: Mapping[str, np.ndarray]) -> None:
    """Build the matching landscape now, for :func:`shared_matching_landscape`. The run calls it before the
    counterfactual estimates fork when the accounting's dynamic baseline reads it too: their process and the
    accounting then share one, where each built its own (0.3 GB more beside the estimates at a jurisdiction)."""
    _prepared[:] = [(landscape, _sections(config), matching_landscape(config, landscape, strata))]


def shared_matching_landscape(config: IcamConfig, landscape: Landscape,
                              strata: Callable[[], Mapping[str, np.ndarray]], last_use: bool) -> MatchingLandscape:
    """The matching landscape prepared for this landscape and these sections (:func:`prepare_matching_landscape`),
    forgotten here at its ``last_use``; else one built from ``strata()``."""
    if _prepared and _prepared[0][0] is landscape and _prepared[0][1] == _sections(config):
        land = _prepared[0][2]
        if last_use:
            _prepared.clear()
        return land
    return matching_landscape(config, landscape, strata())


def historical_years(config: IcamConfig) -> list[int]:
    """The historical reference period's loss years before the project-start year (the start year is part
    with and part without the project)."""
    first, last = config.periods.historical_reference
    return list(range(first + 1, min(last, config.periods.project_start.year - 1) + 1))


def dynamic_baselines(config: IcamConfig, landscape: Landscape, zones: Mapping[str, np.ndarray],
                      strata: Mapping[str, np.ndarray], years: Sequence[int],
                      historical: Mapping[str, object], control_ratio: Mapping[int, float]) -> dict[str, DynamicZone]:
    """Per zone: the baseline of every year of ``years`` the forest data cover; years after the data take the
    zone's historical average rate × its forest at the end of the data (the ex-ante projection).

    ``historical``: per zone, the sample's adjustment of its mapped loss over the historical reference period
    (``ratio``, ``relative_se``): k is fitted to the adjusted loss, so the baseline is error-adjusted like the
    monitored loss it is compared with (a map's false loss is not proportional to a protected forest's
    clearing, so adjusting a baseline fitted to the map by the period's own correction would not do).
    ``control_ratio``: per calendar year, the sample's adjustment of the control area's mapped loss."""
    land = shared_matching_landscape(config, landscape, lambda: strata, last_use=True)
    hrp = historical_years(config)
    last_data = int(landscape.forest.epochs[-1])
    observed_years = [y for y in years if y <= last_data]
    for z, mask in zones.items():
        if not np.any(mask & land.forest_first):
            raise InputError(f"the dynamic baseline: the {z.replace('_', ' ')} has no forest")
    adjustments = {z: (a.ratio, a.relative_se) for z, a in historical.items()}
    model = MatchedControlBaseline(seed=config.carbon.seed).fit(land, zones, hrp, adjustments, control_ratio)
    predicted = model.predict(observed_years)
    out = {}
    for z, mask in zones.items():
        base = {s: {y: v.baseline_ha for y, v in by_year.items()} for s, by_year in predicted[z].items()}
        se = {s: {y: v.se_ha for y, v in by_year.items()} for s, by_year in predicted[z].items()}
        _extend_ex_ante(base, se, land, mask, hrp, [y for y in years if y > last_data], last_data,
                        adjustments.get(z, (1.0, 0.0))[0])
        placebo = {**model.placebo_[z], "relative_error_by_year": {
            str(y): float(np.sqrt(v * model.drift_scale(z))) for y, v in model.drift_var_[z].items()}}
        out[z] = DynamicZone(z, base, se, model.k_[z], model.k_se_[z], model.observed_hrp_ha_[z],
                             model.expected_hrp_ha_[z], tuple(hrp), model.balance_[z], placebo)
    return out


def _extend_ex_ante(base: dict, se: dict, land: MatchingLandscape, mask: np.ndarray, hrp: Sequence[int],
                    future: Sequence[int], last_data: int, ratio: float) -> None:
    """Years beyond the data: the zone's average historical rate (loss over forest-years, × the sample's
    ``ratio`` of its historical loss, as k is fitted to) × its forest at the end of the data."""
    if not future:
        return
    n = len(land.strata_names) + 1

    def per_stratum(cells: np.ndarray) -> np.ndarray:
        return np.bincount(land.strata[cells], minlength=n)

    forest_years = sum(per_stratum(mask & land.forest_at(y - 1)) for y in hrp)
    lost = per_stratum(mask & land.forest_first & (land.loss_year >= hrp[0]) & (land.loss_year <= hrp[-1]))
    forest_ha = per_stratum(mask & land.forest_at(last_data)) * land.cell_area_ha
    for i, name in enumerate(land.strata_names, start=1):
        rate = lost[i] * ratio / forest_years[i] if forest_years[i] else 0.0
        for y in future:
            base[name][y] = rate * forest_ha[i]
            se[name][y] = 0.0
