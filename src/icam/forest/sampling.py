"""Sampling designs for area estimation and accuracy assessment, and their export.

A design draws sample pixels from a map so that :mod:`icam.forest.area` can estimate areas
and accuracy from their reference labels:

- :func:`stratified_design`: stratified random sampling, strata = map classes or user strata
  (e.g. a buffer stratum along the forest edge), sample size from a target standard error
  (Olofsson et al. 2014 eq. 13; Cochran 1977 eq. 5.25) and proportional, equal, Neyman
  (Cochran 1977 §5.5) or "minimum per rare stratum" allocation (Olofsson et al. 2014 §5.1.1);
- :func:`simple_random_design`: n pixels uniformly at random;
- :func:`systematic_design`: a regular grid of pixels with a random start.

Pixels are drawn without replacement, uniformly among each stratum's pixels, vectorised
(no loop over pixels); each point sits at its pixel's centre. :func:`export_points` writes
the points as ``samples.gpkg`` and ``samples.csv`` (the Collect Earth / AcATaMa layout) and
the strata table as ``strata.csv``; :mod:`icam.forest.labels` reads them back once labelled.
Formulas and file layouts: docs/methods.md, "Sampling designs".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from pyproj import CRS, Transformer

from icam.core.atomic import atomic_path, atomic_write_text
from icam.core.errors import InputError
from icam.forest import area as A
from icam.forest.classes import ranked_cells, valid_counts
from icam.landscape.grid import Grid

STRATIFIED = "stratified random"
SIMPLE = "simple random"
SYSTEMATIC = "systematic"
ALLOCATIONS = ("proportional", "equal", "neyman", "minimum")
ALL = "all"  # the single stratum of a simple random or systematic design

SAMPLE_COLUMNS = ["id", "x", "y", "lon", "lat", "stratum", "map_class", "ref_class"]
STRATA_COLUMNS = ["stratum", "mapped_px", "area_ha", "n"]
_LIST_MAX = 10


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class SampleDesign:
    """Sample points and the strata they were drawn from.

    ``points``: DataFrame id, x, y (map CRS, pixel centres), row, col, stratum, map_class.
    ``strata``: DataFrame stratum, mapped_px, area_ha (true area), n.
    ``design``: the design's name; ``seed``: the random seed; ``crs``: the map CRS (WKT).
    ``params``: the settings that produced it (allocation, spacing, sample-size target ...).
    """

    points: pd.DataFrame
    strata: pd.DataFrame
    design: str
    seed: int | None
    crs: str
    grid: Grid | None = None
    params: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.points)

    def strata_area_ha(self) -> dict:
        return dict(zip(self.strata["stratum"].tolist(), self.strata["area_ha"].astype(float).tolist()))


# --------------------------------------------------------------------------- helpers


def _grid(map_array: np.ndarray, grid: Grid | None, transform, crs) -> Grid:
    if map_array.ndim != 2:
        raise InputError(f"the map has {map_array.ndim} dimension(s)", "give a single-band (rows × cols) map")
    if grid is None:
        if transform is None or crs is None:
            raise InputError("the map has no grid", "pass grid=Grid(...) or transform= and crs=")
        crs_obj = CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
        grid = Grid(crs_obj.to_wkt(), Affine(*tuple(transform)[:6]), *map_array.shape)
    if grid.shape != map_array.shape:
        raise InputError(f"the map's shape {map_array.shape} is not the grid's {grid.shape}")
    if grid.crs.is_geographic:
        raise InputError("the map is in a geographic CRS (degrees)",
                         "warp it to a projected CRS in metres (e.g. UTM) first")
    if grid.transform.b != 0 or grid.transform.d != 0:
        raise InputError("the map is rotated (its geotransform has shear terms)", "warp it north-up first")
    return grid


def _valid(array: np.ndarray, nodata) -> np.ndarray:
    valid = ~np.ma.getmaskarray(array)
    data = np.ma.getdata(array)
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.isfinite(data)
    if nodata is not None:
        valid &= data != nodata
    return valid


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def _labels_and_counts(labels: np.ndarray, valid: np.ndarray, grid: Grid):
    """(codes, pixel counts, true areas in ha) of the labels over the valid pixels; vectorised."""
    corrected = grid.is_area_corrected
    if labels.dtype == np.uint8 and labels.ndim == 2 and not corrected:  # one compiled pass, no gathered copy
        counts = valid_counts(np.ascontiguousarray(labels), np.ascontiguousarray(valid, dtype=bool))
        codes = np.flatnonzero(counts)
        if codes.size == 0:
            raise InputError("the map holds no valid pixel", "check the map's nodata value (--nodata)")
        return [int(c) for c in codes], counts[codes].astype(int), counts[codes] * grid.nominal_cell_area_ha
    cell = grid.cell_area_ha()[:, 0]
    vals = labels[valid]
    if vals.size == 0:
        raise InputError("the map holds no valid pixel", "check the map's nodata value (--nodata)")
    rows = np.nonzero(valid)[0] if corrected else None
    if np.issubdtype(vals.dtype, np.integer) and int(vals.max()) - int(vals.min()) < 10_000_000:
        lo = int(vals.min())
        shifted = vals.astype(np.int64) - lo
        counts = np.bincount(shifted)
        codes = np.flatnonzero(counts)
        areas = (np.bincount(shifted, weights=cell[rows])[codes] if corrected
                 else counts[codes] * grid.nominal_cell_area_ha)
        return [int(c + lo) for c in codes], counts[codes].astype(int), np.asarray(areas, float)
    codes, inverse, counts = np.unique(vals, return_inverse=True, return_counts=True)
    areas = (np.bincount(inverse.ravel(), weights=cell[rows]) if corrected
             else counts * grid.nominal_cell_area_ha)
    return [_plain(c) for c in codes], counts.astype(int), np.asarray(areas, float)


def _draw(labels: np.ndarray, valid: np.ndarray, codes: list, counts: np.ndarray, alloc: dict,
          rng: np.random.Generator) -> np.ndarray:
    """The flat indices drawn: ``alloc[s]`` of stratum s's valid pixels without replacement, ascending within
    each stratum, the strata in ``codes``' order; one vectorised draw per stratum, never per pixel. The draws
    are positions among the stratum's pixels (``counts`` of them, in raster order); a uint8 map takes its
    pixels at those positions in one compiled pass for every stratum (:func:`icam.forest.classes.ranked_cells`),
    another lists each stratum's pixels."""
    drawn = [(s, np.sort(rng.choice(int(n), size=alloc[s], replace=False))) for s, n in zip(codes, counts)
             if alloc[s] > 0]
    if not drawn:
        return np.empty(0, np.int64)
    if labels.dtype == np.uint8 and labels.ndim == 2:
        starts = np.cumsum([0] + [pick.size for _, pick in drawn])
        return ranked_cells(np.ascontiguousarray(labels), np.ascontiguousarray(valid, dtype=bool),
                            np.array([s for s, _ in drawn], np.int64), np.concatenate([p for _, p in drawn]), starts)
    flat_labels, flat_valid = labels.ravel(), valid.ravel()
    return np.concatenate([np.flatnonzero((flat_labels == s) & flat_valid)[pick] for s, pick in drawn])


def _points(grid: Grid, flat: np.ndarray, map_data: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    rows, cols = np.divmod(flat, grid.width)
    t = grid.transform
    x = t.c + (cols + 0.5) * t.a
    y = t.f + (rows + 0.5) * t.e
    return pd.DataFrame({
        "id": np.arange(1, len(flat) + 1),
        "x": x, "y": y, "row": rows.astype(np.int64), "col": cols.astype(np.int64),
        "stratum": [_plain(v) for v in labels.ravel()[flat]],
        "map_class": [_plain(v) for v in map_data.ravel()[flat]],
    })


def _per_stratum(value, strata: list, what: str) -> dict:
    if isinstance(value, Mapping):
        out = {_plain(k): float(v) for k, v in value.items()}
        missing = [s for s in strata if s not in out]
        if missing:
            raise InputError(f"no {what} for stratum/strata {', '.join(map(repr, missing))}",
                             "give one for every stratum")
        return {s: out[s] for s in strata}
    return {s: float(value) for s in strata}


def _seed(seed):
    if seed is not None and (int(seed) != seed or seed < 0):
        raise InputError(f"the seed is {seed!r}", "give a whole number ≥ 0")
    return None if seed is None else int(seed)


# --------------------------------------------------------------------------- designs


def _size_from_target(weights: dict, codes, target_se, target_class, expected_class_proportion,
                      expected_users_accuracy, params: dict) -> int:
    """The sample size for a target standard error: of a class's area (Cochran 1977 eq. 5.25) or of the
    overall accuracy (Olofsson et al. 2014 eq. 13); records the target in ``params``."""
    if target_se is None:
        raise InputError("no sample size", "give the number of samples (--n) or a target standard error "
                         "(--target-se with --expected-ua)")
    if target_class is not None:
        if expected_class_proportion is None:
            raise InputError("a target SE of a class's area needs the expected class proportion per stratum")
        n_total = A.sample_size_class_area(weights, _per_stratum(expected_class_proportion, codes,
                                                                 "expected class proportion"), target_se)
        params.update(target="class area", target_class=target_class, target_se=target_se)
    else:
        if expected_users_accuracy is None:
            raise InputError("a target standard error needs the expected user's accuracy",
                             "give --expected-ua (e.g. 0.8) with --target-se")
        n_total = A.sample_size_overall_accuracy(
            weights, _per_stratum(expected_users_accuracy, codes, "expected user's accuracy"), target_se)
        params.update(target="overall accuracy", target_se=target_se)
    params["n_from_target"] = int(n_total)
    return n_total


def _allocate(allocation: str, weights: dict, codes, n_total: int, expected_users_accuracy, min_per_stratum: int,
              params: dict) -> dict:
    """Samples per stratum under ``allocation`` (proportional, equal, neyman or minimum)."""
    if allocation == "proportional":
        return A.allocate_proportional(weights, n_total)
    if allocation == "equal":
        return A.allocate_equal(codes, n_total)
    if allocation == "neyman":
        if expected_users_accuracy is None:
            raise InputError("Neyman allocation needs the expected user's accuracy of each stratum",
                             "give --expected-ua")
        U = _per_stratum(expected_users_accuracy, codes, "expected user's accuracy")
        return A.allocate_neyman(weights, {s: math.sqrt(u * (1 - u)) for s, u in U.items()}, n_total)
    params["min_per_stratum"] = int(min_per_stratum)
    return A.allocate_minimum(weights, n_total, min_per_stratum)


def stratified_design(map_array: np.ndarray, grid: Grid | None = None, *, transform=None, crs=None,
                      strata: np.ndarray | None = None, n_total: int | None = None,
                      allocation: str = "proportional", min_per_stratum: int = 50,
                      expected_users_accuracy: float | Mapping | None = None, target_se: float | None = None,
                      target_class=None, expected_class_proportion: Mapping | None = None,
                      nodata=None, strata_nodata=None, seed: int | None = None) -> SampleDesign:
    """A stratified random sample of pixels.

    ``strata`` (same shape as the map) defaults to the map classes. Without ``n_total`` the size
    comes from ``target_se``: of overall accuracy with ``expected_users_accuracy`` (one value or
    one per stratum; Olofsson et al. 2014 eq. 13), or of the area proportion of ``target_class``
    with ``expected_class_proportion`` per stratum (Cochran 1977 eq. 5.25). ``allocation``:
    proportional (n_h ∝ W_h), equal, neyman (n_h ∝ W_h S_h, S_h = √(U_h(1 − U_h)), needs
    ``expected_users_accuracy``) or minimum (proportional with at least ``min_per_stratum`` in
    every stratum whose proportional share is smaller). W_h are true stratum areas.
    """
    seed = _seed(seed)
    grid = _grid(np.ma.getdata(map_array), grid, transform, crs)
    valid = _valid(map_array, nodata)
    map_data = np.ma.getdata(map_array)
    if strata is None:
        labels = map_data
    else:
        if np.shape(strata) != map_data.shape:
            raise InputError(f"the strata raster's shape {np.shape(strata)} is not the map's {map_data.shape}",
                             "give strata on the map's grid")
        valid &= _valid(strata, strata_nodata)
        labels = np.ma.getdata(strata)
    if allocation not in ALLOCATIONS:
        raise InputError(f"unknown allocation {allocation!r}", f"use one of {', '.join(ALLOCATIONS)}")
    codes, counts, areas = _labels_and_counts(labels, valid, grid)
    weights = dict(zip(codes, areas))
    params: dict = {"allocation": allocation}

    if n_total is None:
        n_total = _size_from_target(weights, codes, target_se, target_class, expected_class_proportion,
                                    expected_users_accuracy, params)
    n_total = A._check_n(n_total)
    if n_total < 1:
        raise InputError("the sample size is 0", "give at least one sample per stratum")

    alloc = _allocate(allocation, weights, codes, n_total, expected_users_accuracy, min_per_stratum, params)
    too_many = [(s, alloc[s], int(c)) for s, c in zip(codes, counts) if alloc[s] > c]
    if too_many:
        raise InputError("stratum/strata " + ", ".join(f"{s!r} ({n} samples, {c} pixels)" for s, n, c in too_many)
                         + " hold fewer pixels than samples", "lower the sample size or the per-stratum minimum")

    flat = _draw(labels, valid, codes, counts, alloc, np.random.default_rng(seed))
    points = _points(grid, flat, map_data, labels)
    table = pd.DataFrame({"stratum": codes, "mapped_px": counts, "area_ha": areas,
                          "n": [alloc[s] for s in codes]})
    return SampleDesign(points, table, STRATIFIED, seed, grid.crs_wkt, grid, params)


def _one_stratum(grid: Grid, valid: np.ndarray, flat: np.ndarray, map_data: np.ndarray, design: str, seed,
                 params: dict) -> SampleDesign:
    points = _points(grid, flat, map_data, map_data)
    points["stratum"] = ALL  # every point is in the single stratum
    corrected = grid.is_area_corrected
    area = grid.area_ha(valid) if corrected else float(valid.sum()) * grid.nominal_cell_area_ha
    table = pd.DataFrame({"stratum": [ALL], "mapped_px": [int(valid.sum())], "area_ha": [area], "n": [len(flat)]})
    return SampleDesign(points, table, design, seed, grid.crs_wkt, grid, params)


def simple_random_design(map_array: np.ndarray, grid: Grid | None = None, *, transform=None, crs=None,
                         n: int, nodata=None, seed: int | None = None) -> SampleDesign:
    """``n`` valid pixels drawn uniformly at random without replacement; one stratum, ``"all"``."""
    seed = _seed(seed)
    grid = _grid(np.asarray(np.ma.getdata(map_array)), grid, transform, crs)
    valid = _valid(map_array, nodata)
    n = A._check_n(n)
    pix = np.flatnonzero(valid)
    if pix.size == 0:
        raise InputError("the map holds no valid pixel", "check the map's nodata value (--nodata)")
    if n > pix.size:
        raise InputError(f"{n} samples cannot be drawn from {pix.size} valid pixels", "lower the sample size")
    rng = np.random.default_rng(seed)
    flat = np.sort(pix[rng.choice(pix.size, size=n, replace=False)])
    return _one_stratum(grid, valid, flat, np.ma.getdata(map_array), SIMPLE, seed, {"n": n})


def systematic_design(map_array: np.ndarray, grid: Grid | None = None, *, transform=None, crs=None,
                      spacing_m: float | None = None, n: int | None = None, nodata=None,
                      seed: int | None = None) -> SampleDesign:
    """A square grid of pixels ``spacing_m`` apart (rounded to whole pixels) from a random start.

    With ``n`` instead of ``spacing_m`` the spacing is √(valid area / n), so that about n points
    fall on valid pixels. Points on nodata pixels are dropped.
    """
    seed = _seed(seed)
    grid = _grid(np.asarray(np.ma.getdata(map_array)), grid, transform, crs)
    valid = _valid(map_array, nodata)
    n_valid = int(valid.sum())
    if n_valid == 0:
        raise InputError("the map holds no valid pixel", "check the map's nodata value (--nodata)")
    dx, dy = abs(grid.transform.a), abs(grid.transform.e)
    if spacing_m is None:
        if n is None or n <= 0:
            raise InputError("a systematic design needs a spacing or a sample size", "give --spacing-m or --n")
        spacing_m = math.sqrt(n_valid * dx * dy / n)
    if not spacing_m > 0:
        raise InputError(f"the spacing is {spacing_m!r} m", "give a positive spacing in metres")
    step_c, step_r = max(1, round(spacing_m / dx)), max(1, round(spacing_m / dy))
    rng = np.random.default_rng(seed)
    r0, c0 = int(rng.integers(step_r)), int(rng.integers(step_c))
    rows = np.arange(r0, grid.height, step_r)
    cols = np.arange(c0, grid.width, step_c)
    flat = (rows[:, None] * grid.width + cols[None, :]).ravel()
    flat = flat[valid.ravel()[flat]]
    params = {"spacing_m": step_c * dx, "spacing_rows_m": step_r * dy, "start_row": r0, "start_col": c0}
    if n is not None:
        params["n_asked"] = int(n)
    return _one_stratum(grid, valid, flat, np.ma.getdata(map_array), SYSTEMATIC, seed, params)


# --------------------------------------------------------------------------- export


def sample_table(design: SampleDesign) -> pd.DataFrame:
    """The points in the exported layout: id, x, y, lon, lat, stratum, map_class, ref_class (empty)."""
    pts = design.points
    crs = CRS.from_wkt(design.crs)
    to_wgs84 = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    lon, lat = to_wgs84.transform(pts["x"].to_numpy(float), pts["y"].to_numpy(float))
    return pd.DataFrame({
        "id": pts["id"].astype(np.int64),
        "x": np.round(pts["x"].to_numpy(float), 3), "y": np.round(pts["y"].to_numpy(float), 3),
        "lon": np.round(np.asarray(lon, float), 8), "lat": np.round(np.asarray(lat, float), 8),
        "stratum": pts["stratum"], "map_class": pts["map_class"], "ref_class": [""] * len(pts),
    })[SAMPLE_COLUMNS]


def export_points(design: SampleDesign, folder: Path | str) -> dict[str, Path]:
    """Write ``samples.gpkg`` (layer 'samples'), ``samples.csv`` and ``strata.csv`` into ``folder``, atomically."""

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file, not a folder", "name a folder for the samples")
    folder.mkdir(parents=True, exist_ok=True)
    table = sample_table(design)
    paths = {"gpkg": folder / "samples.gpkg", "csv": folder / "samples.csv", "strata": folder / "strata.csv"}
    gdf_table = table.copy()
    for c in ("stratum", "map_class"):   # one type per GeoPackage field
        if gdf_table[c].map(type).nunique() > 1:
            gdf_table[c] = gdf_table[c].astype(str)
    gdf = gpd.GeoDataFrame(gdf_table, geometry=gpd.points_from_xy(design.points["x"], design.points["y"]),
                           crs=CRS.from_wkt(design.crs))
    with atomic_path(paths["gpkg"]) as tmp:
        gdf.to_file(tmp, layer="samples", driver="GPKG")
    atomic_write_text(paths["csv"], table.to_csv(index=False, lineterminator="\n"))
    strata = design.strata[STRATA_COLUMNS].copy()
    atomic_write_text(paths["strata"], strata.to_csv(index=False, lineterminator="\n"))
    return paths
