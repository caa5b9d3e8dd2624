"""Ingestion: the project's forest data and boundaries read onto its grid.

:func:`load_landscape` derives the grid, rasterises the boundaries into
:class:`~icam.landscape.Zones`, reads the forest (:func:`icam.landscape.loaders.load_forest`, one
reader per source kind) and checks the whole (:mod:`icam.landscape.checks`): the forest data
covers the project area, leakage belt and reference region, holds data and forest there, the belt
lies outside the project and the grid's CRS counts areas right. Formats and conventions are
documented in docs/data.md; areas in docs/methods.md ("Areas").
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import CRS

from icam.core.errors import InputError
from icam.forest.change import ForestChange
from icam.landscape import Landscape, Zones, checks
from icam.landscape.grid import Grid
from icam.landscape.loaders import Progress, load_forest, read_forest, remove_small_patches
from icam.landscape.raster import expand_paths, open_raster, raster_bounds, same_cell_size, same_crs
from icam.landscape.sources import BoundaryFiles, ForestSource, GridSpec
from icam.landscape.vector import rasterize_ids, rasterize_mask, read_polygons

__all__ = ["MAX_GRID_PX", "MIN_COVERAGE", "Progress", "derive_grid", "load_forest", "load_landscape",
           "remove_small_patches"]

MIN_COVERAGE = checks.MIN_COVERAGE
# more cells than this do not fit in memory as the arrays of a landscape (docs/scale.md: ~100 M in memory)
MAX_GRID_PX = 2_000_000_000


def _first_forest_files(source: ForestSource) -> tuple[list[Path], str]:
    """The files of the first forest layer (all tiles of treecover2000, the first year's map...) and its key."""
    if source.kind == "hansen":
        key, paths = "forest.treecover2000", source.treecover2000
    elif source.kind == "forest_maps":
        year = min(source.maps)
        key, paths = f"forest.maps.{year}", source.maps[year]
    elif source.kind == "loss_year":
        key, paths = "forest.forest_start", source.forest_start
    else:
        key, paths = "forest.file", source.file
    return expand_paths(paths, key), key


def _snap(low: float, high: float, res: float, anchor: float) -> tuple[float, float]:
    lo = anchor + math.floor((low - anchor) / res + 1e-9) * res
    hi = anchor + math.ceil((high - anchor) / res - 1e-9) * res
    return lo, max(hi, lo + res)


def derive_grid(spec: GridSpec, source: ForestSource, polygons: dict) -> tuple[Grid, str]:
    """The project grid and where its extent came from.

    Extent: grid.bounds, else the reference region's bounds, else the project area's, else the first forest
    layer's bounds in the grid CRS (the union of its tiles). The extent is snapped outwards to the cell size:
    onto the first forest raster's pixel lattice when it shares the grid's CRS and cell size (to 0.01 %, so
    that it is read without resampling), else to multiples of the cell size (:meth:`Grid.from_bounds`).
    """
    crs = spec.crs
    res = spec.resolution_m
    paths, key = _first_forest_files(source)
    if spec.bounds is not None:
        bounds, origin = tuple(spec.bounds), "grid.bounds"
    elif polygons.get("reference_region") is not None:
        bounds, origin = tuple(polygons["reference_region"].total_bounds), "boundaries.reference_region"
    elif polygons.get("project_area") is not None:
        bounds, origin = tuple(polygons["project_area"].total_bounds), "boundaries.project_area"
    else:
        each = np.array([raster_bounds(p, key, crs) for p in paths])
        bounds, origin = (each[:, 0].min(), each[:, 1].min(), each[:, 2].max(), each[:, 3].max()), key
    with open_raster(paths[0], key) as src:
        t = src.transform
        aligned = same_crs(src.crs, crs) and same_cell_size(t.a, res) and same_cell_size(t.e, res)
    if not aligned:
        return Grid.from_bounds(crs, bounds, res), origin
    xmin, xmax = _snap(bounds[0], bounds[2], res, t.c)
    ymin, ymax = _snap(bounds[1], bounds[3], res, t.f)
    width, height = int(round((xmax - xmin) / res)), int(round((ymax - ymin) / res))
    return Grid(CRS.from_user_input(crs).to_wkt(), Affine(res, 0, xmin, 0, -res, ymax), height, width), origin


def _check_grid(grid: Grid, origin: str, crs_text: str) -> None:
    """A grid that can be held in memory and whose areas are right to 1 % (docs/methods.md, "Areas")."""
    if grid.n_px == 0:
        raise InputError(f"the grid derived from {origin} is empty", "check grid.bounds and grid.resolution_m")
    if grid.n_px > MAX_GRID_PX:
        raise InputError(f"the grid derived from {origin} would hold {grid.n_px:,} cells ({grid.width:,} x "
                         f"{grid.height:,})", "check grid.bounds, grid.resolution_m and the CRS of the boundaries")
    checks.check_areal_scale(grid, crs_text)


def _read_boundaries(spec: GridSpec, b: BoundaryFiles, progress: Progress) -> dict:
    """Zone name → its polygons in the grid CRS (None where the zone is not configured)."""
    polygons: dict = {}
    for name in ("project_area", "leakage_belt", "reference_region", "admin_units"):
        path = getattr(b, name)
        if path is None:
            polygons[name] = None
            continue
        progress(f"reading boundaries.{name}")
        field = b.admin_unit_field if name == "admin_units" else None
        polygons[name] = read_polygons(path, spec.crs, f"boundaries.{name}", field,
                                       field_key="boundaries.admin_unit_field")
    return polygons


def _admin_units(gdf, field: str, grid: Grid) -> tuple[np.ndarray, tuple[str, ...]]:
    """(admin_id, names): polygons sharing a name form one unit; 0 = in no unit. The ids in the smallest unsigned
    type that holds them: a jurisdiction's provinces as uint8, a raster the run holds from the landscape to its
    end (61 MB at 61 Mpx, not 245)."""
    row_ids = rasterize_ids(gdf, grid)
    names = [str(v) for v in gdf[field].tolist()]
    unique = list(dict.fromkeys(names))
    to_unit = np.zeros(len(names) + 1, dtype=np.min_scalar_type(len(unique)))
    to_unit[1:] = [unique.index(n) + 1 for n in names]
    return to_unit[row_ids], tuple(unique)


def _check_forest(forest: ForestChange, covered: np.ndarray, masks: dict, spec: GridSpec, origin: str,
                  grid: Grid) -> None:
    """The forest data covers every zone, holds data in each, and some forest in the project area."""
    for name in ("project_area", "leakage_belt", "reference_region"):
        checks.check_coverage(name, masks[name], covered)
    if not covered.any():
        raise InputError(f"the forest rasters do not overlap the grid (derived from {origin})",
                         "check that the forest files and the grid or boundaries cover the same place (CRS, extent)")
    if spec.bounds is not None and masks["reference_region"] is None:
        share = np.count_nonzero(covered) / grid.n_px
        if share < MIN_COVERAGE:
            raise InputError(f"the forest rasters cover only {math.floor(share * 100)}% of the grid (grid.bounds)",
                             "shrink grid.bounds to the data, or add the missing tiles or maps to [forest]")
    zones = {name: mask for name, mask in masks.items() if mask is not None} or {"grid": covered}
    for name, zone in zones.items():
        checks.check_valid_data(name, zone, forest.valid)
    name = "project_area" if masks["project_area"] is not None else next(iter(zones))
    checks.check_some_forest(name, zones[name], forest.forest_first, forest.epochs[0])


def load_landscape(spec: GridSpec, boundaries: BoundaryFiles, source: ForestSource,
                   progress: Progress | None = None) -> Landscape:
    """Grid, zones and forest of a project from its grid, boundary files and forest source.

    ``progress`` (optional) is called with a short message before each file is read. Besides each file's
    own checks, the landscape is refused where the grid's CRS misstates areas by more than 1 %, the leakage
    belt overlaps the project area, a zone lacks forest data or holds only no data, or the project area
    holds no forest (:mod:`icam.landscape.checks`).
    """
    progress = progress or (lambda _: None)
    polygons = _read_boundaries(spec, boundaries, progress)
    grid, origin = derive_grid(spec, source, polygons)
    _check_grid(grid, origin, spec.crs)
    masks = {name: (rasterize_mask(polygons[name], grid) if polygons[name] is not None else None)
             for name in ("project_area", "leakage_belt", "reference_region")}
    if masks["project_area"] is not None and masks["leakage_belt"] is not None:
        masks["leakage_belt"] = checks.check_belt_outside_project(
            polygons["project_area"], polygons["leakage_belt"], masks["project_area"], masks["leakage_belt"], grid)
    admin_id, admin_names = None, ()
    if polygons["admin_units"] is not None:
        admin_id, admin_names = _admin_units(polygons["admin_units"], boundaries.admin_unit_field, grid)
    zones = Zones(project=masks["project_area"], leakage_belt=masks["leakage_belt"],
                  reference_region=masks["reference_region"], admin_id=admin_id, admin_names=admin_names)
    focus = next((checks.Focus(name.replace("_", " "), masks[name]) for name in ("project_area", "reference_region")
                  if masks[name] is not None), None)
    forest, covered = read_forest(source, grid, progress, focus)
    _check_forest(forest, covered, masks, spec, origin, grid)
    return Landscape(grid=grid, zones=zones, forest=forest)
