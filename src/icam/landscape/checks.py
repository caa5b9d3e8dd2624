"""Plausibility checks of a landscape's inputs: each finding is one :class:`~icam.core.errors.InputError`.

They catch what reads without error but would give a wrong number: a map that is all no data over
a zone (0 ha of forest), forest and nodata codes swapped, a leakage belt that overlaps the project
area (its cells counted twice), a grid CRS that distorts areas beyond what icam corrects. Formats
and conventions: docs/data.md; areas: docs/methods.md ("Areas").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer

from icam.core.errors import InputError
from icam.landscape.grid import M2_PER_HA, MAX_AREAL_SCALE_ERROR, Grid

# share of a zone that must have forest data; the rest allows for cells cut by a reprojected footprint's edge
MIN_COVERAGE = 0.99
# a map with no forest code whose nodata covers at least this share of its cells has its codes swapped
SWAPPED_NODATA_SHARE = 0.5


def _label(name: str) -> str:
    return name.replace("_", " ")


@dataclass(frozen=True, eq=False)
class Focus:
    """Where a map's codes are checked: a zone's cells (``mask``) and its name in messages."""

    name: str
    mask: np.ndarray


def check_coverage(name: str, zone: np.ndarray | None, covered: np.ndarray) -> None:
    """The forest rasters' footprint ``covered`` holds at least :data:`MIN_COVERAGE` of the zone."""
    if zone is None:
        return
    n_zone = int(np.count_nonzero(zone))
    if n_zone == 0:
        raise InputError(f"boundaries.{name}: the {_label(name)} lies outside the grid",
                         "check grid.bounds and the boundary file's CRS")
    share = np.count_nonzero(zone & covered) / n_zone
    if share == 0:
        raise InputError(f"the {_label(name)} lies outside the forest rasters",
                         "check that the forest files and boundaries cover the same place (CRS, extent)")
    if share < MIN_COVERAGE:
        raise InputError(f"only {math.floor(share * 100)}% of the {_label(name)} has forest data",
                         "add the missing tiles or maps to [forest] in icam.toml, or shrink the boundary")


def check_valid_data(name: str, zone: np.ndarray, valid: np.ndarray) -> None:
    """Some cell of the zone holds data (not nodata): an all-nodata zone would count 0 ha of forest."""
    if not np.any(zone & valid):
        raise InputError(f"the forest data holds only no data in the {_label(name)} ({np.count_nonzero(zone):,} "
                         "cells)", "check the nodata value (forest.nodata_value or the file's nodata tag) and that "
                         "the maps hold data there")


def check_some_forest(name: str, zone: np.ndarray, forest: np.ndarray, year: int) -> None:
    """The zone holds forest at the first epoch: with none, every REDD+ figure would be 0."""
    if not np.any(zone & forest):
        raise InputError(f"the forest data shows no forest anywhere in the {_label(name)} in {year}",
                         "check the forest codes under [forest] (forest_value, forest_codes, forest_classes or "
                         "canopy_cover_min_pct)")


def check_coding(what: str, path: Path, focus: Focus, covered: np.ndarray, forest: np.ndarray, nodata: np.ndarray,
                 forest_label: str, nodata_label: str, keys: str) -> None:
    """A map whose forest code is absent from ``focus`` where its nodata covers most of it has the codes swapped
    (or mislabelled); one that is no data all over ``focus`` is refused too.

    ``forest`` and ``nodata``: bool masks of the cells holding the forest code(s) and no data; ``covered``:
    the map's footprint on the grid; ``keys``: the configuration keys to fix, for the hint.
    """
    covered = covered & focus.mask
    n = int(np.count_nonzero(covered))
    if n == 0 or np.any(forest & covered):
        return
    share = np.count_nonzero(nodata & covered) / n
    if share == 1:
        raise InputError(f"{what}: {path.name} holds only no data ({nodata_label}) in the {focus.name}",
                         f"check that the map covers it, {keys} under [forest] (swapped?) and the file's nodata tag")
    if share >= SWAPPED_NODATA_SHARE:
        raise InputError(f"{what}: {path.name} holds no forest ({forest_label}) and {share:.0%} no data "
                         f"({nodata_label}) in the {focus.name}: the forest and nodata codes look swapped",
                         f"set {keys} under [forest] to the map's codes, or fix its nodata tag (gdal_edit.py)")


def nodata_label(key: str, value, tag) -> str:
    """How a map's no data is coded, for messages: the configured code and the file's nodata tag."""
    parts = [f"{key} = {value:g}"] if value is not None else []
    if tag is not None and tag != value:
        parts.append(f"its nodata tag {tag:g}")
    return " or ".join(parts) or "no nodata value"


def check_belt_outside_project(project, belt, project_mask: np.ndarray, belt_mask: np.ndarray,
                               grid: Grid) -> np.ndarray:
    """The leakage belt's mask without the project's cells; a belt overlapping the project is refused.

    VM0015 (Step 1.1.3) draws the leakage belt outside the project area: cells in both would be counted
    twice. An overlap smaller than one cell (a digitising sliver) is accepted, its cells left to the project.
    ``project`` and ``belt``: the polygons (GeoDataFrames in the grid CRS).
    """
    overlap = shapely.intersection(shapely.union_all(project.geometry.values),
                                   shapely.union_all(belt.geometry.values))
    overlap_m2 = float(shapely.area(overlap))
    cell_m2 = grid.nominal_cell_area_ha * M2_PER_HA
    if overlap_m2 >= cell_m2:
        raise InputError(f"boundaries.leakage_belt overlaps the project area by {overlap_m2 / M2_PER_HA:,.1f} ha "
                         "(cells counted in both zones)", "cut the project area out of the leakage belt, which "
                         "lies outside it in VM0015 (QGIS: Vector > Geoprocessing > Difference)")
    return belt_mask & ~project_mask


def check_areal_scale(grid: Grid, crs_text: str) -> None:
    """The grid's uncorrected areal scale stays within :data:`MAX_AREAL_SCALE_ERROR` of 1 everywhere."""
    lo, hi = grid.areal_scale_range()
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"the grid reaches beyond the area grid.crs = {crs_text} can express",
                         "check grid.crs, grid.bounds and the boundaries' CRS")
    error = max(hi - 1, 1 - lo)
    if error > MAX_AREAL_SCALE_ERROR:
        raise InputError(f"grid.crs = {crs_text} misstates areas by up to {error:.1%} over the grid (areal scale "
                         f"{lo:.4f} to {hi:.4f})", f"use a CRS made for the place: {_suggest_crs(grid)}")


def _suggest_crs(grid: Grid) -> str:
    """The UTM zone of the grid's centre, or any equal-area CRS."""
    xmin, ymin, xmax, ymax = grid.bounds
    crs = grid.crs
    lon, lat = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform((xmin + xmax) / 2,
                                                                                     (ymin + ymax) / 2)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return "its UTM zone or an equal-area CRS"
    zone = int((lon + 180) // 6) % 60 + 1
    epsg = (32700 if lat < 0 else 32600) + zone
    name = CRS.from_epsg(epsg).name
    return f"its UTM zone (EPSG:{epsg}, {name}) or an equal-area CRS"
