"""A project's risk map and baseline: from ``icam.toml`` and the landscape to maps and tables.

The risk stage assembles the candidates' inputs (:class:`icam.risk.candidates.RiskSetting`) from
the configured zone, the forest at the calibration and confirmation dates, the administrative
units and the covariates; the baseline stage projects the quantity of deforestation (VM0015
v1.1 step 4.1) and places it with the chosen map, year by year (VM0015 step 4.2) and as a VT0007
density (VM0048 v1.0), per zone.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from icam.core.errors import InputError
from icam.core.forked import map_shared
from icam.core.spilled import SpilledRaster
from icam.forest.change import ForestChange
from icam.forest.classes import area_by_code
from icam.landscape import Landscape
from icam.landscape.grid import Grid
from icam.landscape.raster import read_onto_grid, write_cog
from icam.landscape.vector import read_features
from icam.pipeline.config import IcamConfig
from icam.pipeline.inputs import file_stamp
from icam.risk import allocate as al
from icam.risk.candidates import RiskResult, RiskSetting
from icam.risk.covariates import distance_to_features_m, slope_deg

BASELINE_ZONES = ("project_area", "leakage_belt")


def zone_mask(landscape: Landscape, zone: str, key: str) -> np.ndarray:
    """The cells of ``zone`` (a zone of [boundaries], or "grid": every cell with data); ``key`` names it in errors."""
    if zone == "grid":
        return landscape.forest.valid.copy()
    masks = landscape.zones.masks()
    if zone not in masks:
        raise InputError(f"{key} = {zone!r} but boundaries.{zone} is not configured",
                         f"add boundaries.{zone} to icam.toml or choose another zone")
    return masks[zone] & landscape.forest.valid


def _epoch_forest(forest: ForestChange, year: int, key: str) -> np.ndarray:
    if year not in forest.epochs:
        raise InputError(f"{key}: {year} is not a date of the forest data ({forest.epochs[0]}–{forest.epochs[-1]})",
                         "choose periods whose years the forest source covers")
    return forest.forest_in(year)


def _vector_distance_km(path: Path, grid: Grid, key: str, out: SpilledRaster) -> None:
    """log1p(distance in km) to the features of ``path``, written into ``out``."""
    geoms = read_features(path, grid.crs, key)
    try:
        distance = distance_to_features_m(geoms, grid)
    except InputError as exc:
        raise InputError(f"{key}: {path}: {exc.message}", exc.hint) from None
    # in the distance's own float32 buffer: a jurisdiction's 61 Mpx took 0.6–1.8 s more in two fresh copies
    distance /= 1000.0
    out.write(np.log1p(distance, out=distance))


def _terrain(path: Path, grid: Grid, elevation_km: SpilledRaster, slope: SpilledRaster) -> None:
    """The elevation (km) and the slope (degrees) from the DEM at ``path``, written into the two rasters, NaN
    where the elevation has no data."""
    dem = read_onto_grid(path, grid, what="risk.covariates.elevation", allow_reproject=True, categorical=False)
    elevation = dem.astype(np.float32).filled(np.nan)
    del dem
    filled = np.where(np.isnan(elevation), np.nanmean(elevation), elevation)
    values = slope_deg(filled, grid)
    del filled
    values[np.isnan(elevation)] = np.nan
    slope.write(values)
    np.divide(elevation, 1000.0, out=elevation)
    elevation_km.write(elevation)


_last_static: list = []  # [(key, layers)]: the last static covariates computed in this process


def static_covariates(config: IcamConfig, grid: Grid) -> dict[str, SpilledRaster]:
    """log1p(distance in km) to roads, settlements and rivers; elevation (km) and slope (degrees), each a
    float32 :class:`SpilledRaster` (read at the cells a step needs, or whole with ``np.asarray``).

    The risk, renewal, accounting and counterfactual stages of a run all read them: the last ones computed are
    kept and handed out again while the covariate files (path, size, time) and the grid are the same, which
    saves 2 s a stage on the demo."""
    cov = config.risk.covariates
    key = (cov.model_dump_json(), grid, tuple(file_stamp(p) for p in _covariate_files(cov)))
    if _last_static and _last_static[0][0] == key:
        return dict(_last_static[0][1])
    layers = _static_covariates(cov, grid)
    _last_static[:] = [(key, layers)]
    return dict(layers)


def _covariate_files(cov) -> list[Path]:
    return [p for p in (cov.roads, cov.settlements, cov.rivers, cov.elevation) if p is not None]


def _static_covariates(cov, grid: Grid) -> dict[str, SpilledRaster]:
    """The distances to the vector layers, the elevation (km) and the slope, NaN where the elevation has no data.

    Each layer (the DEM's two together) in a forked worker, on every core, written into a temporary file this
    process shares with them: a jurisdiction's five took 8.5 s on one core while the other waited. Not in
    threads: they read and rasterise with GDAL, and the run forks its background stage right after them (a fork
    soon after a GDAL thread exits can copy a lock PROJ holds); the workers are gone by then. In files, not in
    memory: the 1.2 GB of a jurisdiction's stayed resident in the run and its background process to the end."""
    given = [task for task in _COVARIATE_LAYERS if getattr(cov, task) is not None]
    # the layers in this order: the models' and the matching's columns follow it
    layers = {name: SpilledRaster(grid.shape, np.float32) for task in given for name in _COVARIATE_LAYERS[task]}
    tasks = sorted(((t,) for t in given), key=lambda t: t != ("elevation",))
    workers = None if grid.height * grid.width >= FORK_MIN_PX else 1
    map_shared(_covariate_task, (cov, grid, layers), tasks, workers=workers)
    return layers


FORK_MIN_PX = 2_000_000  # below, the layers take less time than forking the workers (a test's small grids)


# each task's layers; the DEM's (its read and the slope) take the longest and are handed out first
_COVARIATE_LAYERS = {"roads": ("roads_log1p_km",), "settlements": ("settlements_log1p_km",),
                     "rivers": ("rivers_log1p_km",), "elevation": ("elevation_km", "slope_deg")}


def _covariate_task(shared: tuple, task: str) -> None:
    """One task of :func:`_static_covariates` (a task of :func:`map_shared`): its layers into their arrays."""
    cov, grid, layers = shared
    path = getattr(cov, task)
    if task == "elevation":
        _terrain(path, grid, layers["elevation_km"], layers["slope_deg"])
    else:
        _vector_distance_km(path, grid, f"risk.covariates.{task}", layers[f"{task}_log1p_km"])


def risk_units(zone: np.ndarray, admin_id: np.ndarray | None) -> np.ndarray:
    """The candidates' units: 0 outside ``zone``, else the administrative unit's id + 1 (1 without units), in the
    smallest unsigned type that holds them (a jurisdiction's: uint8, 61 MB through the risk stage, not 245 of
    int32; every reader casts before it multiplies: :func:`icam.risk.benchmark.modelling_regions`), added in
    int64 (uint8 ids of 255 would wrap)."""
    largest = 1 if admin_id is None or admin_id.size == 0 else int(admin_id.max()) + 1
    units = np.zeros(zone.shape, np.min_scalar_type(largest))
    np.add(0 if admin_id is None else admin_id, 1, out=units, where=zone, dtype=np.int64, casting="unsafe")
    return units


def risk_setting(config: IcamConfig, landscape: Landscape, static: dict[str, np.ndarray] | None = None) -> RiskSetting:
    """The candidates' inputs from the configuration and the landscape; ``static``: the static covariates where
    they are already computed (they do not change with the periods, e.g. from one baseline renewal to the next)."""
    r, p = config.risk, config.periods
    zone = zone_mask(landscape, r.zone, "risk.zone")
    t1, t2 = p.calibration
    t3 = p.confirmation[1]
    forest = tuple(_epoch_forest(landscape.forest, y, key) & zone for y, key in
                   ((t1, "periods.calibration"), (t2, "periods.calibration"), (t3, "periods.confirmation")))
    units = risk_units(zone, landscape.zones.admin_id)
    if static is None:
        static = static_covariates(config, landscape.grid) if r.models and r.models != ["local_rate"] else {}
    static = {name: np.asarray(a) for name, a in static.items()}  # the models read them whole
    missing = [name for name, a in static.items() if np.isnan(a[zone]).any()]
    if missing:
        raise InputError(f"risk.covariates: {', '.join(missing)} have no data in part of the {r.zone}",
                         "give covariates that cover the whole zone")
    return RiskSetting(grid=landscape.grid, forest=forest, years=(t1, t2, t3), units=units,
                       assessment_cell_ha=r.assessment_cell_ha, static_covariates=static,
                       project=landscape.zones.project, sample_per_class=r.sample_per_class,
                       spatial_cell_km=r.spatial_cell_km, local_rate_window_px=r.local_rate_window_px, seed=r.seed)


# --------------------------------------------------------------------------- baseline

def kept(risk: RiskResult) -> RiskResult:
    """What the pipeline keeps of the risk stage's result, in memory and in the cache: every figure of
    results.json and the report, and the maps later stages read (the risk map, the chosen candidate's
    score at t3, the benchmark's classes). Not kept: the benchmark's score (:class:`icam.risk.workflow.ClassScore`)
    and near-edge masks (the local rate's, read in the stage), and, where another candidate is chosen, its risk
    map (its total stays in results.json), which nothing after the stage reads (a jurisdiction's float32 map is
    234 MB); the candidates' per-pixel densities are not kept past their tests either
    (:func:`icam.risk.candidates.run_candidates`; the candidates not chosen have no score at t3).

    The risk map and the chosen score are kept in temporary files (:class:`SpilledRaster`), read whole by the
    stages that need them, one at a time: held in memory they were 0.49 GB of a jurisdiction's run from the risk
    stage to its end, beside the accounting and the background stages."""
    risk_map = risk.risk_ha_per_year  # the benchmark's is spilled already (icam.risk.candidates.run_candidates)
    risk_map = risk_map if isinstance(risk_map, SpilledRaster) else SpilledRaster.of(risk_map)
    candidates = [c if c.score_t3 is None else replace(c, score_t3=SpilledRaster.of(c.score_t3))
                  for c in risk.candidates]
    bench_map = risk_map if risk.chosen == "benchmark" else None
    return replace(risk, risk_ha_per_year=risk_map, candidates=candidates,
                   benchmark=replace(risk.benchmark, risk_score=None, risk_ha_per_year=bench_map, near_edge=None))


def historical_annual_loss_ha(forest: ForestChange, grid: Grid, zone: np.ndarray,
                              years: tuple[int, int]) -> dict[int, float]:
    """Loss in the zone per year of the historical reference period (ha/yr); a multi-year period's loss
    is spread evenly over its years."""
    per_period = area_by_code(forest.loss_period, zone, grid.cell_area_ha(), len(forest.epochs))
    annual: dict[int, float] = {}
    for p in range(1, len(forest.epochs)):
        start, end = forest.epochs[p - 1], forest.epochs[p]
        if years[0] <= start and end <= years[1]:
            for year in range(start + 1, end + 1):
                annual[year] = float(per_period[p]) / (end - start)
    if len(annual) != years[1] - years[0]:
        raise InputError(f"periods.historical_reference {list(years)} does not fall on dates of the forest data "
                         f"{list(forest.epochs)}", "choose a period whose start and end are dates of the data")
    return annual


@dataclass(frozen=True, eq=False)
class Baseline:
    """Projected quantity and its location: VM0015 annual allocation and VT0007 density, per zone."""

    zone: str
    quantity_method: str
    historical_ha_by_year: dict[int, float]
    projected_ha_by_year: dict[int, float]
    allocation: al.AnnualAllocation
    by_zone_vm0015: dict[str, dict[int, float]]
    vt0007: al.ZoneBaseline

    def to_dict(self) -> dict:
        def years(d):
            return {str(k): v for k, v in d.items()}

        return {"zone": self.zone, "quantity_method": self.quantity_method,
                "historical_ha_by_year": years(self.historical_ha_by_year),
                "projected_ha_by_year": years(self.projected_ha_by_year),
                "vm0015": {**self.allocation.to_dict(),
                           "by_zone": {z: years(v) for z, v in self.by_zone_vm0015.items()}},
                "vt0007": self.vt0007.to_dict()}

    def rows(self) -> list[dict]:
        """One row per zone and year: VM0015 and VT0007 baseline deforestation (ha)."""
        vt = self.vt0007.by_year
        return [{"zone": z, "year": y, "vm0015_ha": round(self.by_zone_vm0015[z].get(y, 0.0), 4),
                 "vt0007_ha": round(vt[z][y], 4) if z in vt and y in vt[z] else ""}
                for z in self.by_zone_vm0015 for y in self.allocation.years]


def baseline_years(config: IcamConfig) -> tuple[int, int]:
    """[baseline] years, else the ten years after the historical reference period."""
    if config.baseline.years is not None:
        return config.baseline.years
    end = config.periods.historical_reference[1]
    return end + 1, end + 10


def _quantities(config: IcamConfig, landscape: Landscape, zone: np.ndarray) -> tuple[dict, dict]:
    """(historical annual loss of the zone, its projection over the baseline years), ha/yr by year."""
    historical = historical_annual_loss_ha(landscape.forest, landscape.grid, zone,
                                           config.periods.historical_reference)
    first, last = baseline_years(config)
    return historical, al.projected_quantities(historical, list(range(first, last + 1)), config.baseline.quantity)


def expected_validity_ha(config: IcamConfig, landscape: Landscape) -> float:
    """Deforestation expected in the zone over the VT0007 validity period: Σ of the projected years (ha)."""
    _, projected = _quantities(config, landscape, zone_mask(landscape, config.risk.zone, "risk.zone"))
    first = min(projected)
    return float(sum(v for y, v in projected.items() if y < first + config.baseline.validity_years))


def build_baseline(config: IcamConfig, landscape: Landscape, risk: RiskResult) -> Baseline:
    """The baseline stage: projected quantity, VM0015 allocation and VT0007 density per zone and year."""
    zone = zone_mask(landscape, config.risk.zone, "risk.zone")
    area = landscape.grid.cell_area_ha()
    historical, projected = _quantities(config, landscape, zone)
    forest_t3 = risk.benchmark.risk_classes > 0  # every forest pixel of the zone at t3 has a class ≥ 1
    allocation = al.allocate_by_risk(np.asarray(risk.chosen_candidate.score_t3), forest_t3, area, projected)
    masks = landscape.zones.masks()
    zones = {name: masks[name] for name in BASELINE_ZONES if name in masks}
    zones[config.risk.zone] = zone
    first = min(projected)
    vt = al.density_baseline(np.asarray(risk.risk_ha_per_year), zones, first,
                             first + config.baseline.validity_years - 1)
    by_zone = al.zone_annual_totals(allocation.year_map, area, zones, allocation.years)
    # the year map serves the outputs, and a VM0015 accounting's sums: in a file meanwhile (0.12 GB at a jurisdiction)
    allocation = replace(allocation, year_map=SpilledRaster.of(allocation.year_map))
    return Baseline(zone=config.risk.zone, quantity_method=config.baseline.quantity,
                    historical_ha_by_year=historical, projected_ha_by_year=projected, allocation=allocation,
                    by_zone_vm0015=by_zone, vt0007=vt)


# --------------------------------------------------------------------------- outputs

def _write_rows(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_risk_outputs(risk: RiskResult, baseline: Baseline | None, grid: Grid, zone: np.ndarray,
                       out_dir: Path) -> dict[str, list[str]]:
    """Risk and baseline rasters (COG) and tables (CSV) under ``out_dir``; returns the names written."""

    (out_dir / "rasters").mkdir(parents=True, exist_ok=True)
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    # each raster made as it is written (the three at once were 0.43 GB at a jurisdiction)
    rasters = {"rasters/risk_ha_per_year.tif": (lambda: np.where(zone, risk.risk_ha_per_year, np.float32(-1)),
                                                -1.0, False),
               "rasters/vulnerability_classes.tif": (lambda: np.where(zone, risk.benchmark.risk_classes, 255), 255,
                                                     True)}
    for candidate in risk.candidates:
        for assessment in (candidate.calibration, candidate.confirmation):
            residuals, coarse = assessment.residual_raster(grid)
            write_cog(out_dir / f"rasters/residuals_{candidate.name}_{assessment.name}_ha.tif", residuals, coarse,
                      float("nan"), categorical=False)
    if baseline is not None:
        rasters["rasters/baseline_year.tif"] = (
            lambda: np.where(zone, np.asarray(baseline.allocation.year_map), 65535), 65535, True)
    for name, (make, nodata, categorical) in rasters.items():
        write_cog(out_dir / name, make(), grid, nodata, categorical=categorical)
    residual_names = [f"rasters/residuals_{c.name}_{a}_ha.tif" for c in risk.candidates
                      for a in ("calibration", "confirmation")]
    tables = {"tables/risk_classes.csv": [{"period": fit.name, **row} for fit in
                                          (risk.benchmark.calibration, risk.benchmark.historical)
                                          for row in fit.class_table()],
              "tables/risk_validation.csv": _validation_rows(risk)}
    if baseline is not None:
        tables["tables/baseline.csv"] = baseline.rows()
    for name, rows in tables.items():
        _write_rows(out_dir / name, rows)
    return {"rasters": list(rasters) + residual_names, "tables": list(tables)}


def _validation_rows(risk: RiskResult) -> list[dict]:
    rows = []
    for c in risk.candidates:
        for period, assessment in (("calibration", c.calibration), ("confirmation", c.confirmation)):
            m = assessment.metrics()
            rows.append({"model": c.name, "period": period, "chosen": c.name == risk.chosen,
                         **{k: m[k] for k in ("medae_ha", "mae_ha", "r2", "iou", "weighted_rmse_ha", "n_cells")},
                         "auc": c.auc_confirmation if period == "confirmation" else "",
                         "figure_of_merit": c.fom_confirmation if period == "confirmation" else ""})
    return rows


def risk_summary_json(risk: RiskResult, baseline: Baseline | None) -> str:
    """The risk and baseline results as JSON text."""
    return json.dumps({"risk": risk.to_dict(), "baseline": baseline.to_dict() if baseline else None})
