"""Mapped forest loss inside parcels per monitoring period (:func:`parcel_loss`), in pixels and true hectares.

Parcels are burnt onto the project grid with the cell-centre rule (rasterio, ``all_touched=False``):
a cell belongs to a parcel when its centre lies inside it. Areas are the grid's true cell areas
(:meth:`icam.landscape.grid.Grid.cell_area_ha`). A parcel's **edge pixels** are its cells with at
least one of the 8 neighbours outside it (in another parcel, outside every parcel, or off the grid):
the ring of cells within one pixel of its boundary. Loss there is weaker evidence, since a
geolocation error of a pixel (Hansen GFC's Landsat geometry is good to about one 30 m pixel) moves a
neighbour's clearing (often the family's own farm) inside the conservation area.

Parcels may overlap (conservation areas imported with ``--allow-overlap``): they are burnt in layers of
parcels that do not overlap one another (greedy colouring of their overlap graph), so that a cell in two
parcels counts in both; a parcel's edge ring is then that of its own layer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from rasterio.features import rasterize
from scipy import ndimage

from icam.agreements.periods import full_years, optional_date, period_loss_years, year_span
from icam.core.errors import InputError
from icam.forest.change import ForestChange
from icam.landscape.grid import Grid
from icam.landscape.vector import overlapping_pairs

# overlap between two parcels smaller than this share of a cell is taken as a shared boundary's rounding
_OVERLAP_CELL_SHARE = 1e-3
LOSS_COLUMNS = ["parcel_code", "period_start", "period_end", "first_loss_year", "last_loss_year", "since", "until",
                "counted_from_year", "counted_to_year", "partial_years", "parcel_px", "parcel_ha", "nodata_px",
                "forest_start_px", "forest_start_ha", "loss_px", "loss_ha", "edge_px", "edge_ha",
                "largest_patch_px", "largest_patch_ha", "partial_px", "partial_ha"]


def _check_parcels(parcels: gpd.GeoDataFrame, grid: Grid, code_column: str) -> gpd.GeoDataFrame:
    if code_column not in parcels.columns:
        raise InputError(f"the parcels have no column {code_column!r}",
                         "name the parcel codes' column with code_column "
                         f"(columns: {', '.join(map(str, parcels.columns))})")
    codes = parcels[code_column]
    if codes.isna().any():
        raise InputError(f"{int(codes.isna().sum())} parcel(s) have no code", "give every parcel a code")
    dup = codes[codes.duplicated()].astype(str).unique().tolist()
    if dup:
        raise InputError(f"parcel code(s) {', '.join(dup[:5])} appear more than once", "give each parcel one code")
    geoms = parcels.geometry.values
    bad = np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms)
                         | ~np.isin(shapely.get_type_id(geoms), [3, 6]))
    if bad.size:
        raise InputError(f"parcel {codes.iloc[int(bad[0])]!r} has no polygon geometry", "draw its polygon")
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    if invalid.size:
        i = int(invalid[0])
        raise InputError(f"parcel {codes.iloc[i]!r} is not a valid polygon ({shapely.is_valid_reason(geoms[i])})",
                         "repair it (QGIS: Fix geometries; shapely.make_valid)")
    if parcels.crs is None:
        raise InputError("the parcels have no CRS", "set the layer's CRS (QGIS: Layer > Layer CRS > Set CRS)")
    if not parcels.crs.equals(grid.crs):
        parcels = parcels.to_crs(grid.crs)
    return parcels



def _layers(geoms: np.ndarray, cell_area_m2: float) -> list[np.ndarray]:
    """Indices of the parcels in layers whose parcels do not overlap (by more than a sliver): each parcel goes
    to the first layer holding none of the parcels it overlaps."""
    left, right, shared = overlapping_pairs(geoms)
    over = shared > _OVERLAP_CELL_SHARE * cell_area_m2
    if not over.any():
        return [np.arange(len(geoms))]
    neighbours: dict[int, list[int]] = {}
    for i, j in zip(left[over].tolist(), right[over].tolist()):
        neighbours.setdefault(j, []).append(i)  # i < j: i is placed first
    layer = np.zeros(len(geoms), dtype=np.int64)
    for j in sorted(neighbours):
        taken = {int(layer[i]) for i in neighbours[j]}
        layer[j] = next(k for k in range(len(taken) + 1) if k not in taken)
    return [np.flatnonzero(layer == k) for k in range(int(layer.max()) + 1)]


def _window(geoms: np.ndarray, grid: Grid) -> tuple[slice, slice]:
    """Rows and columns of the grid covering the parcels, one cell of margin, clipped to the grid."""
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    t = grid.transform
    c0 = math.floor((xmin - t.c) / t.a) - 1
    c1 = math.ceil((xmax - t.c) / t.a) + 1
    r0 = math.floor((ymax - t.f) / t.e) - 1
    r1 = math.ceil((ymin - t.f) / t.e) + 1
    rows = slice(min(max(r0, 0), grid.height), min(max(r1, 0), grid.height))
    cols = slice(min(max(c0, 0), grid.width), min(max(c1, 0), grid.width))
    return rows, cols


def _edge_cells(ids: np.ndarray) -> np.ndarray:
    """bool: cells of a parcel with an 8-neighbour outside it (another id, 0, or off the array)."""
    padded = np.pad(ids, 1, constant_values=0)
    h, w = ids.shape
    interior = ids > 0
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr or dc:
                interior &= padded[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w] == ids
    return (ids > 0) & ~interior


def _bincount(keys: np.ndarray, weights: np.ndarray | None, n: int) -> np.ndarray:
    return np.bincount(keys, weights=weights, minlength=n)[:n].astype(float if weights is not None else np.int64)



@dataclass
class _Tally:
    """Sums per parcel id (0: outside every parcel) and loss period (0: no loss): loss pixels and hectares, of
    which on edge pixels; the parcels' cells, cells without data and forest; the largest counted-loss patch
    per monitoring period."""

    px: np.ndarray
    ha: np.ndarray
    edge_px: np.ndarray
    edge_ha: np.ndarray
    parcel_px: np.ndarray
    parcel_ha: np.ndarray
    nodata_px: np.ndarray
    forest_px: np.ndarray
    forest_ha: np.ndarray
    patch_px: np.ndarray
    patch_ha: np.ndarray

    @classmethod
    def zeros(cls, n: int, n_lp: int, n_periods: int) -> _Tally:
        """An empty tally of ``n`` parcels, ``n_lp`` loss periods and ``n_periods`` monitoring periods."""
        ints, floats = (lambda *shape: np.zeros(shape, np.int64)), (lambda *shape: np.zeros(shape))
        return cls(ints(n + 1, n_lp), floats(n + 1, n_lp), ints(n + 1, n_lp), floats(n + 1, n_lp), ints(n + 1),
                   floats(n + 1), ints(n + 1), ints(n + 1), floats(n + 1), ints(n_periods, n + 1),
                   floats(n_periods, n + 1))


class _Cells:
    """Counts (pixels) and true areas (ha) of masked cells by key, for one window of the grid."""

    def __init__(self, cell_ha: np.ndarray, shape: tuple[int, int]) -> None:
        self.uniform = bool(np.all(cell_ha == cell_ha[0, 0]))
        self.cell_ha = float(cell_ha[0, 0])
        self.area = None if self.uniform else np.broadcast_to(cell_ha, shape)

    def count(self, mask: np.ndarray, keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(pixels, ha) of the cells of ``mask`` per value of ``keys`` (0 .. size-1)."""
        k = keys[mask]
        c = _bincount(k, None, size)
        return c, (c * self.cell_ha if self.uniform else _bincount(k, self.area[mask], size))


def _largest_patches(tally: _Tally, lost: np.ndarray, ids: np.ndarray, year: np.ndarray, lo: np.ndarray,
                     hi: np.ndarray, plan: list, cells: _Cells, n: int) -> None:
    """Largest 8-connected patch of counted loss per parcel and period: label once per period, split components
    shared by touching parcels by parcel id, keep each parcel's largest piece."""
    lo_cell, hi_cell = np.concatenate([[0], lo])[ids], np.concatenate([[0], hi])[ids]
    for k, (_, _, y0, y1) in enumerate(plan):
        counted = lost & (year >= np.maximum(lo_cell, y0)) & (year <= np.minimum(hi_cell, y1))
        if not counted.any():
            continue
        labels, _ = ndimage.label(counted, structure=np.ones((3, 3), bool))
        pieces, inverse = np.unique(labels[counted] * (n + 1) + ids[counted], return_inverse=True)
        sizes = np.bincount(inverse)
        areas = sizes * cells.cell_ha if cells.uniform else np.bincount(inverse, weights=cells.area[counted])
        owner = pieces % (n + 1)
        np.maximum.at(tally.patch_px[k], owner, sizes)
        np.maximum.at(tally.patch_ha[k], owner, areas)


def _tally_layer(tally: _Tally, geoms: np.ndarray, members: np.ndarray, grid: Grid, forest: ForestChange,
                 plan: list, lo: np.ndarray, hi: np.ndarray) -> None:
    """Burn the parcels ``members`` (which do not overlap) onto the grid's window holding them, with their ids
    (index + 1), and add their cells, forest and loss to ``tally``: one ``np.bincount`` over id × loss period."""
    n = len(geoms)
    rows, cols = _window(geoms[members], grid)
    shape = (rows.stop - rows.start, cols.stop - cols.start)
    if shape[0] <= 0 or shape[1] <= 0:
        return
    transform = grid.transform @ Affine.translation(cols.start, rows.start)
    ids = rasterize(((geoms[i], i + 1) for i in members), out_shape=shape, transform=transform, fill=0,
                    dtype="int32", all_touched=False).astype(np.int64)
    valid = forest.valid[rows, cols]
    lp = forest.loss_period[rows, cols].astype(np.int64)
    standing = forest.forest_first[rows, cols] & valid
    cells = _Cells(grid.cell_area_ha()[rows], shape)
    n_lp = forest.n_periods + 1
    inside = ids > 0
    c, a = cells.count(inside, ids, n + 1)
    tally.parcel_px += c
    tally.parcel_ha += a
    c, a = cells.count(inside & standing, ids, n + 1)
    tally.forest_px += c
    tally.forest_ha += a
    tally.nodata_px += cells.count(inside & ~valid, ids, n + 1)[0]
    key = ids * n_lp + lp
    lost = inside & standing & (lp > 0)
    for (px, ha), mask in (((tally.px, tally.ha), lost), ((tally.edge_px, tally.edge_ha), lost & _edge_cells(ids))):
        c, a = cells.count(mask, key, (n + 1) * n_lp)
        px += c.reshape(n + 1, n_lp)
        ha += a.reshape(n + 1, n_lp)
    _largest_patches(tally, lost, ids, forest.epochs[0] + lp, lo, hi, plan, cells, n)


def _limits(codes: list, since: Mapping | None, until: Mapping | None) -> list[tuple]:
    limits = []
    for code in codes:
        s = optional_date((since or {}).get(code), f"since[{code!r}]")
        u = optional_date((until or {}).get(code), f"until[{code!r}]")
        if s is not None and u is not None and u < s:
            raise InputError(f"parcel {code!r}: the term ends ({u}) before it starts ({s})", "check the dates")
        limits.append((s, u))
    return limits


def _check_forest(grid: Grid, forest: ForestChange, plan: list) -> None:
    if forest.shape != grid.shape:
        raise InputError(f"the forest data ({forest.shape[0]} x {forest.shape[1]}) is not on the grid "
                         f"({grid.height} x {grid.width})", "read the forest data onto the project grid")
    if not forest.is_annual:
        raise InputError(f"compliance needs annual forest loss; the forest data has epochs {forest.epochs}",
                         "use annual loss data (Hansen GFC lossyear, yearly maps)")
    first_data, last_data = forest.epochs[1], forest.epochs[-1]
    for start, end, y0, y1 in plan:
        if y0 < first_data or y1 > last_data:
            raise InputError(f"the period {start} – {end} needs the loss of {year_span(y0, y1)}, but the forest data "
                             f"has loss for {first_data}–{last_data} only",
                             "assess only periods that the forest data covers, or update the forest data")


def _period_rows(k: int, period: tuple, codes: list, limits: list, windows: list, tally: _Tally, cum: dict,
                 year0: int, n_lp: int) -> list[dict]:
    """The rows of monitoring period ``k`` (one per parcel) from the tally's cumulative sums over loss periods."""
    start, end, y0, y1 = period
    n = len(codes)
    idx = np.arange(1, n + 1)
    lo = np.array([w[0] for w in windows], dtype=np.int64)
    hi = np.array([w[1] for w in windows], dtype=np.int64)
    a, b = np.maximum(lo, y0), np.minimum(hi, y1)
    has = a <= b
    # cum[:, j] sums loss periods 0..j-1: years a..b (periods a-year0 .. b-year0) sum to cum[b-year0+1] - cum[a-year0]
    ca, cb = np.clip(a - year0, 0, n_lp), np.clip(b - year0 + 1, 0, n_lp)
    sums = {name: np.where(has, c[idx, cb] - c[idx, ca], 0) for name, c in cum.items()}
    before = y0 - year0  # loss periods 1 .. before-1 precede the period's first year
    forest_start_px = tally.forest_px[1:] - (cum["px"][1:, before] - cum["px"][1:, 1])
    forest_start_ha = tally.forest_ha[1:] - (cum["ha"][1:, before] - cum["ha"][1:, 1])
    out = []
    for i, code in enumerate(codes):
        partial = [y for y in windows[i][2] if y0 <= y <= y1]
        out.append({
            "parcel_code": code, "period_start": start, "period_end": end,
            "first_loss_year": y0, "last_loss_year": y1, "since": limits[i][0], "until": limits[i][1],
            "counted_from_year": int(a[i]) if has[i] else pd.NA, "counted_to_year": int(b[i]) if has[i] else pd.NA,
            "partial_years": ", ".join(map(str, partial)),
            "parcel_px": int(tally.parcel_px[i + 1]), "parcel_ha": float(tally.parcel_ha[i + 1]),
            "nodata_px": int(tally.nodata_px[i + 1]),
            "forest_start_px": int(forest_start_px[i]), "forest_start_ha": float(forest_start_ha[i]),
            "loss_px": int(sums["px"][i]), "loss_ha": float(sums["ha"][i]),
            "edge_px": int(sums["edge_px"][i]), "edge_ha": float(sums["edge_ha"][i]),
            "largest_patch_px": int(tally.patch_px[k, i + 1]), "largest_patch_ha": float(tally.patch_ha[k, i + 1]),
            "partial_px": int(sum(tally.px[i + 1, y - year0] for y in partial)),
            "partial_ha": float(sum(tally.ha[i + 1, y - year0] for y in partial)),
        })
    return out


def parcel_loss(parcels: gpd.GeoDataFrame, grid: Grid, forest: ForestChange, periods: Iterable, *,
                since: Mapping | None = None, until: Mapping | None = None,
                code_column: str = "code") -> pd.DataFrame:
    """Mapped forest loss inside each parcel, per monitoring period, in pixels and true hectares.

    ``parcels``: polygons with a code column (``code_column``); reprojected to the grid's CRS when in
    another. Overlapping parcels each count the cells they hold (module docstring).
    ``periods``: (start, end) dates, both inclusive, in order (or objects with ``start``/``end``,
    e.g. the ``[periods] monitoring`` entries of icam.toml).
    ``since`` / ``until``: parcel code → the agreement's signing date / last day of its term; loss
    is counted only in the calendar years wholly inside [since, until] (module docstring), the loss of
    the partly covered years goes to ``partial_px``. A parcel absent from the mapping (or a mapping of
    None) has no limit on that side.

    One row per parcel and period (parcels in input order, periods in date order), columns:

    - ``parcel_code``, ``period_start``, ``period_end`` (dates), ``first_loss_year``, ``last_loss_year``
      (the loss years the period holds), ``since``, ``until`` (dates or None);
    - ``counted_from_year``, ``counted_to_year`` (nullable ints): the period's loss years counted in
      ``loss_px`` (those wholly in [since, until]); missing where none is;
    - ``partial_years``: the period's loss years only partly in [since, until], e.g. ``"2013"``;
    - ``parcel_px``, ``parcel_ha``: the parcel's cells (cell-centre rule); ``nodata_px``: of which
      without valid forest data;
    - ``forest_start_px``, ``forest_start_ha``: forest in the parcel at the start of the period's first
      loss year (forest at the first epoch, less all loss before that year);
    - ``loss_px``, ``loss_ha``: loss in the counted years; ``edge_px``, ``edge_ha``: the part of it on
      the parcel's edge pixels (included in ``loss_px``);
    - ``largest_patch_px``, ``largest_patch_ha``: the largest 8-connected patch of that loss (all the
      counted years of the period together) inside the parcel: what the map's minimum mapping unit
      is compared with;
    - ``partial_px``, ``partial_ha``: loss in ``partial_years`` (not included in ``loss_px``).

    The parcels of a layer are burnt at once (ids 1..n) and the loss is aggregated with ``np.bincount``
    over parcel id × loss period; only the window of the grid that holds the parcels is read.
    """
    plan = period_loss_years(periods)
    _check_forest(grid, forest, plan)
    parcels = _check_parcels(parcels, grid, code_column)
    codes = parcels[code_column].tolist()
    geoms = parcels.geometry.values
    limits = _limits(codes, since, until)
    windows = [full_years(s, u) for s, u in limits]
    n_lp = forest.n_periods + 1  # loss_period 0 (no loss) .. n_periods; loss year of p = epochs[0] + p
    tally = _Tally.zeros(len(codes), n_lp, len(plan))
    lo = np.array([w[0] for w in windows], dtype=np.int64)
    hi = np.array([w[1] for w in windows], dtype=np.int64)
    if codes:
        for members in _layers(geoms, grid.nominal_cell_area_ha * 1e4):
            _tally_layer(tally, geoms, members, grid, forest, plan, lo, hi)
    cum = {name: np.concatenate([np.zeros((len(codes) + 1, 1), m.dtype), np.cumsum(m, axis=1)], axis=1)
           for name, m in (("px", tally.px), ("ha", tally.ha), ("edge_px", tally.edge_px),
                           ("edge_ha", tally.edge_ha))}
    out = [row for k, period in enumerate(plan)
           for row in _period_rows(k, period, codes, limits, windows, tally, cum, forest.epochs[0], n_lp)]
    table = pd.DataFrame(out, columns=LOSS_COLUMNS)
    for col in ("counted_from_year", "counted_to_year"):
        table[col] = table[col].astype("Int64")
    return table


__all__ = ["LOSS_COLUMNS", "parcel_loss"]
