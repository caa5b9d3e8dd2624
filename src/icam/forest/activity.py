"""Activity data with uncertainty: the map of one period's change, stratified by its classes, and the
sample-based estimate of each class's area (Olofsson et al. 2014), side by side with the pixel counts.

The map of a period t_a → t_b has three classes over the valid cells of a zone:
1 stable forest (forest at t_a and t_b), 2 forest loss (forest at t_a, lost by t_b), 3 non-forest
(non-forest at t_a). These are the strata of the reference sample (strata = map classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.transform import rowcol

from icam.core.errors import InputError
from icam.forest.area import AreaEstimate, stratified_estimate
from icam.forest.change import ForestChange
from icam.forest.classes import period_classes, row_counts
from icam.forest.labels import read_labels
from icam.landscape.grid import Grid

OUTSIDE, STABLE_FOREST, FOREST_LOSS, NON_FOREST = 0, 1, 2, 3
CLASS_NAMES = {STABLE_FOREST: "stable forest", FOREST_LOSS: "forest loss", NON_FOREST: "non-forest"}
ZONE_CODES = {1: "project_area", 2: "leakage_belt"}  # strata by zone: class + 10 × code


def activity_map(forest: ForestChange, zone: np.ndarray, start_year: int, end_year: int) -> np.ndarray:
    """uint8 map of the period start_year → end_year (classes above; 0 outside the zone or without data)."""
    for year in (start_year, end_year):
        if year not in forest.epochs:
            raise InputError(f"activity data: {year} is not a year of the forest data ({forest.epochs[0]}–"
                             f"{forest.epochs[-1]}, epochs {list(forest.epochs)})",
                             "set the assessment's start_year and end_year to years the forest maps cover")
    classes = np.empty(forest.shape, dtype=np.uint8)
    return period_classes(forest.forest_first, forest.loss_period, forest.valid, np.asarray(zone, dtype=bool),
                          forest.epochs.index(start_year), forest.epochs.index(end_year),
                          OUTSIDE, STABLE_FOREST, FOREST_LOSS, NON_FOREST, classes)


def activity_zone(zones, shape: tuple[int, int], zone_name: str) -> np.ndarray:
    """The mask of the zone named in ``[activity_data] zone`` ('grid' = every cell)."""
    if zone_name == "grid":
        return np.ones(shape, dtype=bool)
    masks = zones.masks()
    if zone_name not in masks:
        raise InputError(f"activity_data.zone = '{zone_name}' but boundaries.{zone_name} is not configured",
                         "add the boundary or choose another zone")
    return masks[zone_name]


def zone_codes(zones, shape: tuple[int, int]) -> np.ndarray:
    """uint8 z of every cell: 1 in the project area, 2 in the leakage belt, 0 elsewhere (:data:`ZONE_CODES`)."""
    masks = zones.masks()
    z = np.zeros(shape, dtype=np.uint8)
    for code, name in ZONE_CODES.items():
        if name in masks:
            z[masks[name]] = code
    return z


def strata_by_zone(classes: np.ndarray, zones) -> np.ndarray:
    """Strata = map class + 10 × z (:func:`zone_codes`), 0 outside the zone: a sample can then be denser where
    the project's own figures come from."""
    return np.where(classes > 0, classes + 10 * zone_codes(zones, classes.shape), 0).astype(np.uint8)


def stratum_name(code: int) -> str:
    """'forest loss', or 'forest loss in the project area' for a stratum by zone."""
    zone = ZONE_CODES.get(code // 10)
    return CLASS_NAMES[code % 10] + (f" in the {zone.replace('_', ' ')}" if zone else "")


def stratum_areas(strata: np.ndarray, grid: Grid) -> tuple[dict[int, int], dict[int, float]]:
    """Pixel counts and true areas (ha) of each stratum code present (0 = outside is left out)."""
    strata = np.asarray(strata, dtype=np.uint8)
    # every code's rows counted in one pass, then those present kept: no bincount of the whole raster first (it
    # widens each pixel to an index: 0.2 s a period at a jurisdiction)
    every_code = row_counts(strata, np.arange(1, 256, dtype=np.int64))
    present = np.flatnonzero(every_code.any(axis=1))
    codes = [int(c) for c in present + 1]
    per_row = every_code[present]
    area = per_row @ grid.cell_area_ha()[:, 0]
    return ({k: int(per_row[i].sum()) for i, k in enumerate(codes)}, {k: float(a) for k, a in zip(codes, area)})


def mapped_areas(classes: np.ndarray, grid: Grid) -> tuple[dict[int, int], dict[int, float]]:
    """Pixel counts and true areas (ha) of each map class."""
    per_row = row_counts(np.asarray(classes, dtype=np.uint8), np.array(list(CLASS_NAMES), dtype=np.int64))
    area = per_row @ grid.cell_area_ha()[:, 0]
    return ({k: int(n) for k, n in zip(CLASS_NAMES, per_row.sum(axis=1))},
            {k: float(a) for k, a in zip(CLASS_NAMES, area)})


@dataclass(frozen=True)
class ActivityAssessment:
    """One period's activity data: mapped pixel counts and areas, and the sample-based estimate."""

    name: str
    start_year: int
    end_year: int
    zone: str
    mapped_px: dict[int, int]
    mapped_area_ha: dict[int, float]
    estimate: AreaEstimate
    samples_file: str
    strata_area_ha: dict[int, float]

    def to_dict(self) -> dict:
        estimate = self.estimate.to_dict()
        return {
            "name": self.name,
            "start_year": self.start_year,
            "end_year": self.end_year,
            "zone": self.zone,
            "samples_file": self.samples_file,
            "class_names": {str(k): v for k, v in CLASS_NAMES.items()},
            "mapped_px": {str(k): v for k, v in self.mapped_px.items()},
            "mapped_area_ha": {str(k): v for k, v in self.mapped_area_ha.items()},
            **estimate,
        }


def _check_at_points(samples, column: str, raster: np.ndarray, grid: Grid, path: Path) -> None:
    """Each sample's ``column`` (map_class, stratum) must be the raster's value at its point: else the
    sample was designed on another map."""
    if not {"x", "y"} <= set(samples.columns):
        return
    rows, cols = rowcol(grid.transform, samples["x"].to_numpy(float), samples["y"].to_numpy(float))
    at_point = raster[np.asarray(rows), np.asarray(cols)]
    wrong = np.flatnonzero(at_point != samples[column].to_numpy())
    if wrong.size:
        ids = samples["id"].iloc[wrong[:10]].tolist() if "id" in samples else wrong[:10].tolist()
        more = f" and {wrong.size - 10} more" if wrong.size > 10 else ""
        raise InputError(f"{path}: {wrong.size} sample(s) have a {column} that differs from the map at their point "
                         f"(ids {', '.join(map(str, ids))}{more})",
                         "the sample was designed on another map, period or strata: design it on this run's map "
                         "(`icam area design`) or fix start_year/end_year and activity_data.strata")


def assess(name: str, start_year: int, end_year: int, samples_path: Path, forest: ForestChange, grid: Grid,
           zone_name: str, zone: np.ndarray, zones=None) -> ActivityAssessment:
    """Map the period, read its labelled sample, and estimate the class areas with 95 % CIs.

    Strata are the map classes (Olofsson et al. 2014), or with ``zones`` the map classes by zone
    (:func:`strata_by_zone`; Stehman 2014's estimators, which equal Olofsson's for map-class strata).
    """
    classes = activity_map(forest, zone, start_year, end_year)
    px, area = mapped_areas(classes, grid)
    samples = read_labels(samples_path, known_classes=set(CLASS_NAMES), map_extent=grid)
    strata = classes if zones is None else strata_by_zone(classes, zones)
    if zones is None and not (samples["stratum"] == samples["map_class"]).all():
        raise InputError(f"{samples_path}: stratum differs from map_class for some samples",
                         "set activity_data.strata = \"map_classes_by_zone\" for strata by zone, or use "
                         "`icam area estimate` for other strata")
    _check_at_points(samples, "map_class", classes, grid, samples_path)
    _check_at_points(samples, "stratum", strata, grid, samples_path)
    _, strata_area = stratum_areas(strata, grid)
    sampled = set(samples["stratum"])
    unsampled = [stratum_name(k) for k, a in strata_area.items() if a > 0 and k not in sampled]
    if unsampled:
        raise InputError(f"{samples_path}: no sample in the mapped class(es) {', '.join(unsampled)}",
                         "every mapped stratum must be sampled (at least 2 points each) for an unbiased estimate")
    estimate = stratified_estimate(samples, strata_area)
    return ActivityAssessment(name, start_year, end_year, zone_name, px, area, estimate, str(samples_path),
                              strata_area)
