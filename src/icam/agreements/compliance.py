"""Compliance of conservation agreements from the forest monitoring, the benefits due, and their delivery.

Four steps, each a function from tables to a table (pandas), with no database:

1. :func:`parcel_loss`: the mapped forest loss inside each parcel per monitoring period (pixels and
   true hectares), with the loss on the parcel's boundary pixels apart;
2. :func:`assess_compliance`: a status per agreement and period (``compliant``, ``to_verify``,
   ``breach``, ``not_in_force``) and the reason for it, from the loss, the agreement's tolerance,
   the map's stated error (:class:`MapError`) and the field verifications;
3. :func:`benefits_due`: the benefits promised per agreement, year and item, and what is due once a
   breach's sanction is applied;
4. :func:`delivery_balance`: due, delivered and outstanding per agreement and item.

Dates
-----
Monitoring periods and agreement terms are date ranges with both ends inclusive (as in
``[periods] monitoring`` of icam.toml). Forest loss comes by calendar year (Hansen GFC's lossyear
and other annual maps), so two conventions tie the two together:

- **a loss year belongs to the monitoring period that holds more than half of its days** (its
  strict majority). With the Alto Mayo periods (15 June to 14 June) the period 2012-06-15 –
  2014-06-14 holds 200 of 2012's 366 days and all of 2013, and 165 of 2014's 365 days: its loss
  years are 2012 and 2013, and 2014 belongs to the next period. Each year is counted in one period
  at most, and the whole year's loss is counted there: splitting a year's loss pro rata between two
  periods (as the carbon accounting does with areas) would dilute a clearing into two amounts that
  may each stay under the tolerance. A period that holds the majority of no year (shorter than about
  half a year) is refused.
- **a loss year counts against an agreement only if the agreement was in force on every one of
  its days** (signed on or before 1 January and ending on or after 31 December). Annual data cannot
  tell whether the clearing of the signing year came before or after the signature (clearing just
  before signing is a known pattern, and it is no breach), nor whether that of the term's last year
  came after it ended. The loss of these partly covered years is reported apart (``partial_px``,
  ``partial_ha``) as weaker evidence: it can send an agreement to field verification, never make a
  breach on its own (see :class:`ComplianceRule`).

Pixels
------
Parcels are burnt onto the project grid with the cell-centre rule (rasterio, ``all_touched=False``):
a cell belongs to a parcel when its centre lies inside it. Areas are the grid's true cell areas
(:meth:`icam.landscape.grid.Grid.cell_area_ha`). A parcel's **edge pixels** are its cells with at
least one of the 8 neighbours outside it (in another parcel, outside every parcel, or off the grid):
the ring of cells within one pixel of its boundary. Loss there is weaker evidence, since a
geolocation error of a pixel (Hansen GFC's Landsat geometry is good to about one 30 m pixel) moves a
neighbour's clearing (often the family's own farm) inside the conservation area.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from rasterio.features import rasterize
from scipy import ndimage

from icam.core.errors import InputError
from icam.forest.change import ForestChange
from icam.landscape.grid import Grid
from icam.landscape.vector import overlapping_pairs

STATUSES = ("compliant", "to_verify", "breach", "not_in_force")
FINDINGS = ("cleared", "not_cleared", "could_not_access")
SANCTIONS = ("suspend_next_period", "reduce_half", "none")

# areas are sums of cell areas in floating point: compare with this slack, ha
_EPS_HA = 1e-9
# overlap between two parcels smaller than this share of a cell is taken as a shared boundary's rounding
_OVERLAP_CELL_SHARE = 1e-3


# ------------------------------------------------------------------------------------------- dates


def _to_date(value, what: str) -> dt.date:
    """A date from a date, datetime, pandas Timestamp or ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        ts = pd.NaT
    if ts is pd.NaT or pd.isna(ts):
        raise InputError(f"{what}: {value!r} is not a date", "write dates as YYYY-MM-DD")
    return ts.date()


def _optional_date(value, what: str) -> dt.date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
        return None
    return _to_date(value, what)


def _days_in_year(year: int) -> int:
    return 366 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 365


def _overlap_days(start: dt.date, end: dt.date, year: int) -> int:
    first, last = max(start, dt.date(year, 1, 1)), min(end, dt.date(year, 12, 31))
    return max((last - first).days + 1, 0)


def _as_period(period, i: int) -> tuple[dt.date, dt.date]:
    start, end = (period.start, period.end) if hasattr(period, "start") else tuple(period)
    start, end = _to_date(start, f"period {i + 1} start"), _to_date(end, f"period {i + 1} end")
    if end < start:
        raise InputError(f"period {i + 1} ({start} – {end}) ends before it starts", "swap its dates")
    return start, end


def period_loss_years(periods: Iterable) -> list[tuple[dt.date, dt.date, int, int]]:
    """``(start, end, first_year, last_year)`` of each period: the calendar years whose strict majority
    of days the period holds (module docstring). Periods (start, end inclusive; tuples or objects with
    ``start`` and ``end``) must be in order and must not overlap."""
    out = []
    parsed = [_as_period(p, i) for i, p in enumerate(periods)]
    if not parsed:
        raise InputError("no monitoring period given", "give at least one (start, end) period")
    for i, (start, end) in enumerate(parsed):
        if i and start <= parsed[i - 1][1]:
            raise InputError(f"period {i + 1} ({start} – {end}) starts before the previous one ends "
                             f"({parsed[i - 1][1]})", "give periods in date order, without overlaps")
        years = [y for y in range(start.year, end.year + 1) if 2 * _overlap_days(start, end, y) > _days_in_year(y)]
        if not years:
            raise InputError(f"period {i + 1} ({start} – {end}) holds more than half of no calendar year, so no "
                             "year of annual loss data can be assigned to it",
                             "use monitoring periods of at least a year with annual loss data")
        out.append((start, end, years[0], years[-1]))
    return out


def _full_years(since: dt.date | None, until: dt.date | None) -> tuple[int, int, list[int]]:
    """First and last calendar year wholly inside [since, until], and the partly covered years."""
    lo, hi, partial = -(10**6), 10**6, []
    if since is not None:
        lo = since.year if (since.month, since.day) == (1, 1) else since.year + 1
        if lo != since.year:
            partial.append(since.year)
    if until is not None:
        hi = until.year if (until.month, until.day) == (12, 31) else until.year - 1
        if hi != until.year and until.year not in partial:
            partial.append(until.year)
    return lo, hi, partial


def _year_span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}–{last}"


# ------------------------------------------------------------------------------------------- parcel loss


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


def _refuse_overlaps(geoms: np.ndarray, codes: list, cell_area_m2: float) -> None:
    """Parcels must not overlap: a cell can be burnt with one parcel id only."""
    left, right, shared = overlapping_pairs(geoms)
    overlapping = np.flatnonzero(shared > _OVERLAP_CELL_SHARE * cell_area_m2)
    if overlapping.size:
        pairs = [f"{codes[left[k]]} and {codes[right[k]]} ({shared[k] / 1e4:.3g} ha)" for k in overlapping[:3]]
        more = f" and {overlapping.size - 3} more pair(s)" if overlapping.size > 3 else ""
        raise InputError(f"parcels overlap: {'; '.join(pairs)}{more}; a pixel cannot be counted in two parcels",
                         "fix the boundaries so that the parcels (e.g. conservation areas of different households) "
                         "do not overlap, or pass overlapping parcels in separate calls")


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


def parcel_loss(parcels: gpd.GeoDataFrame, grid: Grid, forest: ForestChange, periods: Iterable, *,
                since: Mapping | None = None, until: Mapping | None = None,
                code_column: str = "code") -> pd.DataFrame:
    """Mapped forest loss inside each parcel, per monitoring period, in pixels and true hectares.

    ``parcels``: polygons with a code column (``code_column``); reprojected to the grid's CRS when in
    another. They must not overlap (refused: a pixel is counted in one parcel only).
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

    All parcels are burnt at once (ids 1..n) and the loss is aggregated with ``np.bincount`` over
    parcel id × loss period; only the window of the grid that holds the parcels is read.
    """
    if forest.shape != grid.shape:
        raise InputError(f"the forest data ({forest.shape[0]} x {forest.shape[1]}) is not on the grid "
                         f"({grid.height} x {grid.width})", "read the forest data onto the project grid")
    if not forest.is_annual:
        raise InputError(f"compliance needs annual forest loss; the forest data has epochs {forest.epochs}",
                         "use annual loss data (Hansen GFC lossyear, yearly maps)")
    plan = period_loss_years(periods)
    first_data, last_data = forest.epochs[1], forest.epochs[-1]
    for start, end, y0, y1 in plan:
        if y0 < first_data or y1 > last_data:
            raise InputError(f"the period {start} – {end} needs the loss of {_year_span(y0, y1)}, but the forest data "
                             f"has loss for {first_data}–{last_data} only",
                             "assess only periods that the forest data covers, or update the forest data")
    parcels = _check_parcels(parcels, grid, code_column)
    codes = parcels[code_column].tolist()
    n = len(codes)
    geoms = parcels.geometry.values
    limits = []
    for code in codes:
        s = _optional_date((since or {}).get(code), f"since[{code!r}]")
        u = _optional_date((until or {}).get(code), f"until[{code!r}]")
        if s is not None and u is not None and u < s:
            raise InputError(f"parcel {code!r}: the term ends ({u}) before it starts ({s})", "check the dates")
        limits.append((s, u))

    n_lp = forest.n_periods + 1  # loss_period 0 (no loss) .. n_periods; loss year of p = epochs[0] + p
    px = np.zeros((n + 1, n_lp), np.int64)
    ha = np.zeros((n + 1, n_lp))
    edge_px, edge_ha = np.zeros_like(px), np.zeros_like(ha)
    parcel_px, nodata_px, forest_px = (np.zeros(n + 1, np.int64) for _ in range(3))
    parcel_ha, forest_ha = np.zeros(n + 1), np.zeros(n + 1)
    windows = [_full_years(s, u) for s, u in limits]
    lo = np.array([w[0] for w in windows], dtype=np.int64)
    hi = np.array([w[1] for w in windows], dtype=np.int64)
    year0 = forest.epochs[0]
    patch_px = np.zeros((len(plan), n + 1), np.int64)
    patch_ha = np.zeros((len(plan), n + 1))
    if n:
        _refuse_overlaps(geoms, codes, grid.nominal_cell_area_ha * 1e4)
        rows, cols = _window(geoms, grid)
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        if shape[0] > 0 and shape[1] > 0:
            transform = grid.transform @ Affine.translation(cols.start, rows.start)
            ids = rasterize(((g, i) for i, g in enumerate(geoms, start=1)), out_shape=shape, transform=transform,
                            fill=0, dtype="int32", all_touched=False).astype(np.int64)
            edge = _edge_cells(ids)
            valid = forest.valid[rows, cols]
            lp = forest.loss_period[rows, cols].astype(np.int64)
            standing = forest.forest_first[rows, cols] & valid
            cell_ha = grid.cell_area_ha()[rows]
            uniform = bool(np.all(cell_ha == cell_ha[0, 0]))
            area = None if uniform else np.broadcast_to(cell_ha, shape)

            def count(mask, keys, size):
                k = keys[mask]
                c = _bincount(k, None, size)
                a = c * float(cell_ha[0, 0]) if uniform else _bincount(k, area[mask], size)
                return c, a

            inside = ids > 0
            parcel_px[:], parcel_ha[:] = count(inside, ids, n + 1)
            nodata_px[:] = count(inside & ~valid, ids, n + 1)[0]
            forest_px[:], forest_ha[:] = count(inside & standing, ids, n + 1)
            key = ids * n_lp + lp
            lost = inside & standing & (lp > 0)
            c, a = count(lost, key, (n + 1) * n_lp)
            px[:], ha[:] = c.reshape(n + 1, n_lp), a.reshape(n + 1, n_lp)
            c, a = count(lost & edge, key, (n + 1) * n_lp)
            edge_px[:], edge_ha[:] = c.reshape(n + 1, n_lp), a.reshape(n + 1, n_lp)
            # largest 8-connected patch of counted loss per parcel and period: label once per period, split
            # components shared by touching parcels by parcel id, take each parcel's largest piece
            year = year0 + lp
            lo_cell = np.concatenate([[0], lo])[ids]
            hi_cell = np.concatenate([[0], hi])[ids]
            for k, (_, _, y0, y1) in enumerate(plan):
                counted = lost & (year >= np.maximum(lo_cell, y0)) & (year <= np.minimum(hi_cell, y1))
                if not counted.any():
                    continue
                labels, _ = ndimage.label(counted, structure=np.ones((3, 3), bool))
                pieces, inverse = np.unique(labels[counted] * (n + 1) + ids[counted], return_inverse=True)
                sizes = np.bincount(inverse)
                areas = sizes * float(cell_ha[0, 0]) if uniform else np.bincount(inverse, weights=area[counted])
                owner = pieces % (n + 1)
                np.maximum.at(patch_px[k], owner, sizes)
                np.maximum.at(patch_ha[k], owner, areas)

    cum = {name: np.concatenate([np.zeros((n + 1, 1), m.dtype), np.cumsum(m, axis=1)], axis=1)
           for name, m in (("px", px), ("ha", ha), ("edge_px", edge_px), ("edge_ha", edge_ha))}
    idx = np.arange(1, n + 1)
    out = []
    for k, (start, end, y0, y1) in enumerate(plan):
        a = np.maximum(lo, y0)
        b = np.minimum(hi, y1)
        has = a <= b
        # cum[:, j] sums loss periods 0..j-1: years a..b (periods a-year0 .. b-year0) sum to
        # cum[b-year0+1] - cum[a-year0]
        ca = np.clip(a - year0, 0, n_lp)
        cb = np.clip(b - year0 + 1, 0, n_lp)
        sums = {name: np.where(has, c[idx, cb] - c[idx, ca], 0) for name, c in cum.items()}
        before = y0 - year0  # loss periods 1 .. before-1 precede the period's first year
        forest_start_px = forest_px[1:] - (cum["px"][1:, before] - cum["px"][1:, 1])
        forest_start_ha = forest_ha[1:] - (cum["ha"][1:, before] - cum["ha"][1:, 1])
        for i, code in enumerate(codes):
            partial = [y for y in windows[i][2] if y0 <= y <= y1]
            p_px = int(sum(px[i + 1, y - year0] for y in partial))
            p_ha = float(sum(ha[i + 1, y - year0] for y in partial))
            out.append({
                "parcel_code": code, "period_start": start, "period_end": end,
                "first_loss_year": y0, "last_loss_year": y1, "since": limits[i][0], "until": limits[i][1],
                "counted_from_year": int(a[i]) if has[i] else pd.NA, "counted_to_year": int(b[i]) if has[i] else pd.NA,
                "partial_years": ", ".join(map(str, partial)),
                "parcel_px": int(parcel_px[i + 1]), "parcel_ha": float(parcel_ha[i + 1]),
                "nodata_px": int(nodata_px[i + 1]),
                "forest_start_px": int(forest_start_px[i]), "forest_start_ha": float(forest_start_ha[i]),
                "loss_px": int(sums["px"][i]), "loss_ha": float(sums["ha"][i]),
                "edge_px": int(sums["edge_px"][i]), "edge_ha": float(sums["edge_ha"][i]),
                "largest_patch_px": int(patch_px[k, i + 1]), "largest_patch_ha": float(patch_ha[k, i + 1]),
                "partial_px": p_px, "partial_ha": p_ha,
            })
    table = pd.DataFrame(out, columns=_LOSS_COLUMNS)
    for col in ("counted_from_year", "counted_to_year"):
        table[col] = table[col].astype("Int64")
    return table


_LOSS_COLUMNS = ["parcel_code", "period_start", "period_end", "first_loss_year", "last_loss_year", "since", "until",
                 "counted_from_year", "counted_to_year", "partial_years", "parcel_px", "parcel_ha", "nodata_px",
                 "forest_start_px", "forest_start_ha", "loss_px", "loss_ha", "edge_px", "edge_ha",
                 "largest_patch_px", "largest_patch_ha", "partial_px", "partial_ha"]


# ------------------------------------------------------------------------------------------- compliance


@dataclass(frozen=True)
class MapError:
    """The stated error of the forest-loss map, as the compliance rule uses it.

    users_accuracy: user's accuracy of the loss class, 0 < UA ≤ 1: the share of the mapped loss that
        is true loss (1 − UA is its commission error), from the accuracy assessment of the activity
        data (Olofsson et al. 2014, Remote Sensing of Environment 148:42–57: Û_i = p̂_ii / p̂_i·).
        Give the UA of the stratum the parcels lie in (icam's activity data can be stratified by map
        class × zone), not the landscape's: the share of mapped loss that is real falls with the share of
        forest that is really cleared (a base-rate effect), so it is lowest in protected parcels. In the
        simulated project (small scale, seed 7) the loss class's UA is 0.96 over the whole grid, 0.71 in the project
        area, and 0.16 inside the conservation areas under agreement (20 true of 123 mapped pixels).
    min_mapping_unit_ha: the smallest area the map claims to resolve, ha (icam.toml
        ``[forest] min_mapping_unit_ha``).
    pixel_size_m: the map's cell side, m; the edge ring of :func:`parcel_loss` is one such pixel wide.
    """

    users_accuracy: float
    min_mapping_unit_ha: float
    pixel_size_m: float

    def __post_init__(self) -> None:
        if not 0 < self.users_accuracy <= 1:
            raise InputError(f"the user's accuracy of the loss class is {self.users_accuracy}, not in (0, 1]",
                             "give it as a share, e.g. 0.9 for 90 %")
        if not self.min_mapping_unit_ha >= 0:
            raise InputError(f"the minimum mapping unit is {self.min_mapping_unit_ha} ha", "give an area ≥ 0 ha")
        if not self.pixel_size_m > 0:
            raise InputError(f"the pixel size is {self.pixel_size_m} m", "give the map's cell side in metres (> 0)")


@dataclass(frozen=True)
class ComplianceRule:
    """How the mapped loss of an agreement's conservation parcel in a period becomes a status.

    For an agreement in force in the period, with, from :func:`parcel_loss`,

    - L = ``loss_ha``, the loss in the period's loss years wholly inside the term,
    - E = ``edge_ha``, the part of L on the parcel's edge pixels,
    - P = ``largest_patch_ha``, the largest connected patch of L,
    - W = ``partial_ha``, the loss of the partly covered years (signing year, term's last year),

    the agreement's tolerance T = ``tolerance_ha`` and the map's user's accuracy UA and minimum
    mapping unit MMU (:class:`MapError`), the *map status* is:

    1. L ≤ T: ``compliant``; but ``to_verify`` when L + W > T, W reaches the minimum mapping unit
       and ``partial_years == "verify"`` (a clearing the map resolves, in a year the agreement covers
       only in part: before or after signing?);
    2. L > T but the excess is explainable by the map's stated error: ``within_error``, by default
       ``compliant`` with the basis saying so (a field office cannot visit every speck of a noisy
       map: on the simulated project, 816 complying households, 674 would otherwise be sent to
       verification at least once), or ``to_verify`` to list them:
       a. L − E ≤ T (``edge_is_weak``): beyond the tolerance only on the boundary pixels, where a
          one-pixel geolocation error moves a neighbour's clearing inside;
       b. P < MMU (``below_mmu_is_weak``), P = ``largest_patch_ha``, the largest 8-connected patch of
          the counted loss: no mapped clearing reaches the map's minimum mapping unit. The test is on
          patches, not on L: a map's false alarms come as scattered specks (icam's simulated map: pairs
          of cells in random years), which add up over a period to more than the MMU without any of
          them being a clearing the map claims to resolve;
       c. L × UA ≤ T (``use_users_accuracy``): the expected true loss, the mapped loss times the share
          of mapped loss that is real (Olofsson et al. 2014), is within the tolerance. It can only
          matter when T > 0, and UA must be that of the parcels' stratum (see :class:`MapError`);
    3. otherwise the map is evidence of a breach: ``breach`` when the agreement's
       ``needs_field_verification`` is false, else ``to_verify`` ("awaiting field verification").

    A period that none of the term covers (no loss year of the period overlaps [signed, term_end])
    is ``not_in_force``. A parcel with no cell centre on the grid (``parcel_px`` = 0) or without
    forest data in all its cells is ``to_verify``: the map cannot see it.

    Field verifications then override the map status (:func:`assess_compliance`).
    """

    edge_is_weak: bool = True
    below_mmu_is_weak: bool = True
    use_users_accuracy: bool = True
    partial_years: Literal["verify", "ignore"] = "verify"
    within_error: Literal["compliant", "to_verify"] = "compliant"

    def __post_init__(self) -> None:
        if self.partial_years not in ("verify", "ignore"):
            raise InputError(f"partial_years is {self.partial_years!r}", "use 'verify' or 'ignore'")
        if self.within_error not in ("compliant", "to_verify"):
            raise InputError(f"within_error is {self.within_error!r}", "use 'compliant' or 'to_verify'")

    def map_status(self, loss_ha: float, edge_ha: float, largest_patch_ha: float, partial_ha: float,
                   tolerance_ha: float, needs_field_verification: bool, map_error: MapError) -> tuple[str, str]:
        """(status, basis) of one agreement and period from the map alone (class docstring)."""
        L, E, P, W, T = loss_ha, edge_ha, largest_patch_ha, partial_ha, tolerance_ha
        ua, mmu = map_error.users_accuracy, map_error.min_mapping_unit_ha
        inside = max(L - E, 0.0)
        if L <= T + _EPS_HA:
            if W > 0 and L + W > T + _EPS_HA and W >= mmu - _EPS_HA and self.partial_years == "verify":
                return "to_verify", (f"mapped loss {L:.2f} ha ≤ tolerance {T:g} ha in the years wholly under the "
                                     f"agreement, but {W:.2f} ha more in a year it covers only in part (before signing "
                                     "or after the term?)")
            note = f" (+{W:.2f} ha in a partly covered year)" if W > 0 else ""
            return "compliant", f"mapped loss {L:.2f} ha ≤ tolerance {T:g} ha{note}"
        within = self.within_error
        if self.edge_is_weak and inside <= T + _EPS_HA:
            return within, (f"within the map's error: mapped loss {L:.2f} ha > tolerance {T:g} ha, but only {inside:.2f} ha away from the "
                                 f"boundary pixels ({E:.2f} ha within one {map_error.pixel_size_m:g} m pixel of the "
                                 "boundary: geolocation error?)")
        if self.below_mmu_is_weak and P < mmu - _EPS_HA:
            return within, (f"within the map's error: mapped loss {L:.2f} ha > tolerance {T:g} ha, but in patches below the map's "
                                 f"minimum mapping unit (largest {P:.2f} ha < {mmu:g} ha)")
        if self.use_users_accuracy and L * ua <= T + _EPS_HA:
            return within, (f"within the map's error: mapped loss {L:.2f} ha > tolerance {T:g} ha, but the expected true loss "
                                 f"{L:.2f} × UA {ua:g} = {L * ua:.2f} ha is within it")
        basis = (f"mapped loss {L:.2f} ha > tolerance {T:g} ha ({inside:.2f} ha off the boundary pixels, largest "
                 f"patch {P:.2f} ha (MMU {mmu:g} ha), expected true loss {L * ua:.2f} ha at UA {ua:g})")
        if needs_field_verification:
            return "to_verify", basis + "; awaiting field verification"
        return "breach", basis


_AGREEMENT_COLUMNS = ("code", "parcel_code", "tolerance_ha", "needs_field_verification", "signed", "term_end")


def _same_date(a, b) -> bool:
    a = None if a is None or (not isinstance(a, str) and pd.isna(a)) else _to_date(a, "date")
    b = None if b is None or (not isinstance(b, str) and pd.isna(b)) else _to_date(b, "date")
    return a == b


def _check_verifications(verifications: pd.DataFrame | None) -> dict[str, list[tuple]]:
    """agreement → [(visited_on, finding, cleared_ha or None)] in date order."""
    if verifications is None or len(verifications) == 0:
        return {}
    missing = [c for c in ("agreement", "visited_on", "finding") if c not in verifications.columns]
    if missing:
        raise InputError(f"the field verifications have no column(s) {', '.join(missing)}",
                         "give agreement, visited_on, finding (and optionally cleared_ha)")
    out: dict[str, list[tuple]] = {}
    has_area = "cleared_ha" in verifications.columns
    for k, row in enumerate(verifications.itertuples(index=False)):
        finding = str(row.finding).strip()
        if finding not in FINDINGS:
            raise InputError(f"field verification {k + 1} ({row.agreement}) has finding {finding!r}",
                             f"use one of {', '.join(FINDINGS)}")
        area = row.cleared_ha if has_area else None
        area = None if area is None or pd.isna(area) else float(area)
        out.setdefault(row.agreement, []).append((_to_date(row.visited_on, f"field verification {k + 1} visited_on"),
                                                  finding, area))
    for visits in out.values():
        visits.sort(key=lambda v: v[0])
    return out


def _apply_visits(rows: list[dict], visits: list[tuple], tolerance: float) -> None:
    """Field visits (date order) override the map statuses of one agreement's periods, in place
    (rules in :func:`assess_compliance`)."""
    settled: set[int] = set()
    flagged = [k for k, r in enumerate(rows) if r["map_status"] in ("to_verify", "breach")]

    def note(k: int, status: str, day: dt.date, finding: str, text: str) -> None:
        rows[k].update(status=status, verified_on=day, finding=finding)
        rows[k]["basis"] += f"; {text}"

    for day, finding, area in visits:
        open_ = [k for k in flagged if k not in settled and rows[k]["_start"] <= day]
        if finding == "not_cleared":
            for k in open_:
                if rows[k]["_loss_end"] < day:
                    settled.add(k)
                    note(k, "compliant", day, finding, f"field verification on {day} found no clearing (map error)")
        elif finding == "could_not_access":
            for k in open_:
                note(k, "to_verify", day, finding, f"field visit on {day} could not access the area")
        else:  # cleared: one clearing settles one period, the flagged one with the most mapped loss (latest on ties)
            found = f" ({area:g} ha)" if area is not None else ""
            if open_:
                k = max(open_, key=lambda j: (rows[j]["loss_ha"] + rows[j]["partial_ha"], rows[j]["_start"]))
                settled.add(k)
                if area is not None and area <= tolerance + _EPS_HA:
                    note(k, "compliant", day, finding, f"field verification on {day} found {area:g} ha cleared, "
                                                        "within the tolerance")
                else:
                    note(k, "breach", day, finding, f"field verification on {day} found clearing{found}")
                continue
            # no flagged period waits for it: clearing the map missed, in the period the visit falls in
            within = [k for k, r in enumerate(rows) if r["_start"] <= day <= r["_end"]
                      and r["status"] == "compliant" and k not in settled]
            if within and (area is None or area > tolerance + _EPS_HA):
                settled.add(within[0])
                note(within[0], "breach", day, finding, f"but field verification on {day} found clearing{found} "
                                                         "that the map missed")


def assess_compliance(loss_table: pd.DataFrame, agreements: pd.DataFrame, map_error: MapError,
                      verifications: pd.DataFrame | None = None, *,
                      rule: ComplianceRule | None = None) -> pd.DataFrame:
    """Status of every agreement in every monitoring period of ``loss_table``.

    ``loss_table``: :func:`parcel_loss` of the conservation parcels, computed with ``since`` = the
    agreements' signing dates and ``until`` = their term ends (refused otherwise: loss before the
    signature would count as a breach).
    ``agreements``: columns ``code``, ``parcel_code`` (its conservation parcel), ``tolerance_ha``
    (loss the agreement tolerates per period, ha; 0 for "no clearing"), ``needs_field_verification``
    (bool: a breach becomes final only after a field visit), ``signed`` (date), ``term_end`` (last
    day in force, date; empty for open-ended).
    ``verifications``: columns ``agreement``, ``visited_on`` (date), ``finding`` (``cleared``,
    ``not_cleared``, ``could_not_access``), optionally ``cleared_ha``.

    The map status follows ``rule`` (:class:`ComplianceRule`, formulas there). Field visits then
    override it; each visit, in date order, speaks for the periods that started on or before it
    (visits dated within or after a period):

    - ``cleared``: one clearing settles one period: of the agreement's flagged periods (map status
      ``to_verify`` or ``breach``) not yet settled, the one with the most mapped loss becomes
      ``breach`` (``compliant`` when the visit's ``cleared_ha`` is given and within the tolerance);
      the other flags stay as they are. With no flagged period waiting, the clearing is one the map
      missed: the map-``compliant`` period the visit falls in becomes ``breach``;
    - ``not_cleared``: every flagged period not yet settled whose last loss year ended before the
      visit becomes ``compliant`` (the mapped loss was a map error); a visit before the end of a
      period's last loss year cannot rule out a clearing later that year and leaves it as it is;
    - ``could_not_access``: flagged periods not yet settled stay ``to_verify``, with the visit noted;
    - ``not_in_force`` is never overridden.

    One row per agreement and period, columns: ``agreement``, ``parcel_code``, ``period_start``,
    ``period_end``, ``loss_ha``, ``edge_ha``, ``largest_patch_ha``, ``partial_ha``, ``tolerance_ha``,
    ``expected_true_loss_ha`` (loss_ha × UA), ``map_status``, ``status``, ``basis``,
    ``verified_on`` (date of the deciding visit or None), ``finding``.
    """
    rule = rule or ComplianceRule()
    missing = [c for c in _AGREEMENT_COLUMNS if c not in agreements.columns]
    if missing:
        raise InputError(f"the agreements have no column(s) {', '.join(missing)}",
                         f"give {', '.join(_AGREEMENT_COLUMNS)}")
    needed = ["parcel_code", "period_start", "period_end", "last_loss_year", "since", "until", "parcel_px",
              "nodata_px", "loss_ha", "edge_ha", "largest_patch_ha", "partial_ha", "first_loss_year"]
    missing = [c for c in needed if c not in loss_table.columns]
    if missing:
        raise InputError(f"the loss table has no column(s) {', '.join(missing)}", "compute it with parcel_loss")
    dup = agreements["code"][agreements["code"].duplicated()].astype(str).unique().tolist()
    if dup:
        raise InputError(f"agreement code(s) {', '.join(dup[:5])} appear more than once", "give each agreement one row")
    visits = _check_verifications(verifications)
    by_parcel = {code: group for code, group in loss_table.groupby("parcel_code", sort=False)}
    out = []
    for a in agreements.itertuples(index=False):
        code, parcel = a.code, a.parcel_code
        if parcel not in by_parcel:
            raise InputError(f"agreement {code}: its conservation parcel {parcel!r} is not in the loss table",
                             "include every agreement's parcel in parcel_loss")
        signed = _to_date(a.signed, f"agreement {code} signed")
        term_end = _optional_date(a.term_end, f"agreement {code} term_end")
        tolerance = float(a.tolerance_ha)
        if not tolerance >= 0:
            raise InputError(f"agreement {code} has tolerance {a.tolerance_ha} ha", "give a tolerance ≥ 0 ha")
        group = by_parcel[parcel].sort_values("period_start")
        first = group.iloc[0]
        if not (_same_date(first["since"], signed) and _same_date(first["until"], term_end)):
            raise InputError(f"agreement {code}: the loss of parcel {parcel} was counted from {first['since']} to "
                             f"{first['until']}, but the agreement runs from {signed} to {term_end}",
                             "compute parcel_loss with since = signing dates and until = term ends")
        needs_visit = bool(a.needs_field_verification)
        rows = []
        for p in group.itertuples(index=False):
            y0, y1 = int(p.first_loss_year), int(p.last_loss_year)
            in_force = signed <= dt.date(y1, 12, 31) and (term_end is None or term_end >= dt.date(y0, 1, 1))
            L, E, W = float(p.loss_ha), float(p.edge_ha), float(p.partial_ha)
            if not in_force:
                status = "not_in_force"
                basis = (f"the agreement ({signed} – {term_end or 'open'}) covers no loss year of the period "
                         f"({_year_span(y0, y1)})")
            elif p.parcel_px == 0:
                status, basis = "to_verify", "the parcel holds no cell centre of the grid: the map cannot see it"
            elif p.nodata_px >= p.parcel_px:
                status, basis = "to_verify", "no forest data in the parcel"
            else:
                status, basis = rule.map_status(L, E, float(p.largest_patch_ha), W, tolerance, needs_visit, map_error)
                if p.nodata_px:
                    basis += f"; {int(p.nodata_px)} of its {int(p.parcel_px)} px have no forest data"
            rows.append({"agreement": code, "parcel_code": parcel, "period_start": p.period_start,
                         "period_end": p.period_end, "loss_ha": L, "edge_ha": E,
                         "largest_patch_ha": float(p.largest_patch_ha), "partial_ha": W,
                         "tolerance_ha": tolerance, "expected_true_loss_ha": L * map_error.users_accuracy,
                         "map_status": status, "status": status, "basis": basis,
                         "verified_on": None, "finding": None,
                         "_start": _to_date(p.period_start, "period start"),
                         "_end": _to_date(p.period_end, "period end"),
                         "_loss_end": dt.date(y1, 12, 31)})
        if visits.get(code):
            _apply_visits(rows, visits[code], tolerance)
        out.extend(rows)
    columns = ["agreement", "parcel_code", "period_start", "period_end", "loss_ha", "edge_ha", "largest_patch_ha",
               "partial_ha", "tolerance_ha", "expected_true_loss_ha", "map_status", "status", "basis", "verified_on",
               "finding"]
    return pd.DataFrame(out, columns=columns)


# ------------------------------------------------------------------------------------------- benefits


def _sanction_years(statuses: pd.DataFrame) -> dict[str, dict[int, str]]:
    """agreement → {year: the breach period that sanctions it}: the loss years of the period after each
    breach period (the next period in ``statuses``; after the last one, a period of the same length
    starting the day after it ends)."""
    periods = sorted({(_to_date(s, "period_start"), _to_date(e, "period_end"))
                      for s, e in zip(statuses["period_start"], statuses["period_end"])})
    nxt = {}
    for i, (s, e) in enumerate(periods):
        if i + 1 < len(periods):
            nxt[(s, e)] = periods[i + 1]
        else:
            nxt[(s, e)] = (e + dt.timedelta(days=1), e + (e - s) + dt.timedelta(days=1))
    out: dict[str, dict[int, str]] = {}
    for row in statuses[statuses["status"] == "breach"].itertuples(index=False):
        key = (_to_date(row.period_start, "period_start"), _to_date(row.period_end, "period_end"))
        ns, ne = nxt[key]
        years = [y for y in range(ns.year, ne.year + 1) if 2 * _overlap_days(ns, ne, y) > _days_in_year(y)]
        for y in years:
            out.setdefault(row.agreement, {}).setdefault(y, f"{key[0]} – {key[1]}")
    return out


def benefits_due(schedule: pd.DataFrame, statuses: pd.DataFrame,
                 rules: Mapping[str, str] | str = "suspend_next_period") -> pd.DataFrame:
    """Benefits promised per agreement, year and item, and what is due after the breach sanctions.

    ``schedule``: columns ``agreement``, ``item``, ``quantity_per_year``, ``unit_cost_usd``,
    ``first_year``, ``last_year`` (both inclusive): the package the agreement promises each year.
    ``statuses``: :func:`assess_compliance`'s table (``agreement``, ``period_start``, ``period_end``,
    ``status``).
    ``rules``: the sanction of a breach, one for all or per agreement (missing: ``none``):

    - ``suspend_next_period``: nothing is due in the sanctioned years (factor 0);
    - ``reduce_half``: half of each item is due in them (factor 0.5; an indivisible item's half is
      an entitlement to half its value);
    - ``none``: the breach costs no benefit (factor 1).

    A breach in monitoring period P (final status ``breach`` only: a ``to_verify`` costs nothing
    until settled) sanctions the years of the next period, P+1, that is the calendar years whose
    majority of days P+1 holds (the same rule as the loss years); after the last period of
    ``statuses``, P+1 is a period of P's length starting the day after P ends. With the Alto Mayo
    periods a breach in 2014-06-15 – 2016-06-14 sanctions 2016 and 2017. A year sanctioned by two
    breaches is sanctioned once.

    One row per agreement, year and item: ``agreement``, ``year``, ``item``, ``quantity_promised``,
    ``value_promised_usd`` (= quantity × unit cost), ``factor``, ``quantity_due``, ``value_due_usd``
    (= promised × factor), ``sanction`` (the breach period, or empty).
    """
    missing = [c for c in ("agreement", "item", "quantity_per_year", "unit_cost_usd", "first_year", "last_year")
               if c not in schedule.columns]
    if missing:
        raise InputError(f"the benefit schedule has no column(s) {', '.join(missing)}",
                         "give agreement, item, quantity_per_year, unit_cost_usd, first_year, last_year")
    if isinstance(rules, str):
        rule_of = {a: rules for a in schedule["agreement"].unique()}
    else:
        rule_of = dict(rules)
    bad = {r for r in rule_of.values() if r not in SANCTIONS}
    if bad:
        raise InputError(f"unknown breach rule(s) {', '.join(sorted(bad))}", f"use one of {', '.join(SANCTIONS)}")
    qty = schedule["quantity_per_year"].astype(float).to_numpy()
    cost = schedule["unit_cost_usd"].astype(float).to_numpy()
    first = schedule["first_year"].astype(int).to_numpy()
    last = schedule["last_year"].astype(int).to_numpy()
    if (qty < 0).any() or (cost < 0).any():
        raise InputError("the benefit schedule has a negative quantity or unit cost", "give quantities and costs ≥ 0")
    if (last < first).any():
        k = int(np.flatnonzero(last < first)[0])
        raise InputError(f"benefit schedule row {k + 1} ends ({last[k]}) before it starts ({first[k]})",
                         "check first_year and last_year")
    n_years = last - first + 1
    rep = np.repeat(np.arange(len(schedule)), n_years)
    years = first[rep] + (np.arange(rep.size) - np.repeat(np.cumsum(n_years) - n_years, n_years))
    agreements = schedule["agreement"].to_numpy()[rep]
    sanctions = _sanction_years(statuses) if len(statuses) else {}
    factor_of = {"suspend_next_period": 0.0, "reduce_half": 0.5, "none": 1.0}
    factor = np.ones(rep.size)
    sanction = np.full(rep.size, "", dtype=object)
    for k, (a, y) in enumerate(zip(agreements, years)):
        period = sanctions.get(a, {}).get(int(y))
        if period is not None:
            r = rule_of.get(a, "none")
            factor[k] = factor_of[r]
            if r != "none":
                sanction[k] = f"{r.replace('_', ' ')}: breach in {period}"
    out = pd.DataFrame({"agreement": agreements, "year": years.astype(int), "item": schedule["item"].to_numpy()[rep],
                        "quantity_promised": qty[rep], "value_promised_usd": qty[rep] * cost[rep], "factor": factor})
    out["quantity_due"] = out["quantity_promised"] * factor
    out["value_due_usd"] = out["value_promised_usd"] * factor
    out["sanction"] = sanction
    return out.sort_values(["agreement", "year", "item"], kind="stable").reset_index(drop=True)


def delivery_balance(due: pd.DataFrame, deliveries: pd.DataFrame, *, as_of: dt.date | str | None = None
                     ) -> pd.DataFrame:
    """Due, delivered and outstanding benefits per agreement and item.

    ``due``: :func:`benefits_due`'s table. ``deliveries``: columns ``agreement``, ``item``,
    ``delivered_on`` (date), ``quantity``, ``value_usd``. ``as_of`` (optional): count only the years up
    to its year and the deliveries up to that day.

    One row per agreement and item (those due, then those delivered but never due), columns:
    ``agreement``, ``item``, ``quantity_due``, ``value_due_usd``, ``quantity_delivered``,
    ``value_delivered_usd``, ``quantity_outstanding`` = max(due − delivered, 0),
    ``value_outstanding_usd`` = max(due − delivered, 0) (never negative), ``quantity_over_delivered``
    = max(delivered − due, 0), ``value_over_delivered_usd`` likewise: over-delivery is reported apart,
    never netted against another item or agreement. So delivered + outstanding ≥ due always.
    """
    missing = [c for c in ("agreement", "item", "delivered_on", "quantity", "value_usd") if c not in deliveries.columns]
    if missing:
        raise InputError(f"the deliveries have no column(s) {', '.join(missing)}",
                         "give agreement, item, delivered_on, quantity, value_usd")
    deliveries = deliveries.copy()
    days = [_to_date(v, f"delivery {k + 1} delivered_on") for k, v in enumerate(deliveries["delivered_on"])]
    deliveries["delivered_on"] = days
    deliveries["quantity"] = deliveries["quantity"].astype(float)
    deliveries["value_usd"] = deliveries["value_usd"].astype(float)
    if (deliveries["quantity"] < 0).any() or (deliveries["value_usd"] < 0).any():
        raise InputError("a delivery has a negative quantity or value", "record returns as corrections, not negatives")
    due = due.copy()
    if as_of is not None:
        as_of = _to_date(as_of, "as_of")
        due = due[due["year"] <= as_of.year]
        deliveries = deliveries[deliveries["delivered_on"] <= as_of]
    d = due.groupby(["agreement", "item"], sort=False)[["quantity_due", "value_due_usd"]].sum()
    g = deliveries.groupby(["agreement", "item"], sort=False)[["quantity", "value_usd"]].sum()
    g.columns = ["quantity_delivered", "value_delivered_usd"]
    out = d.join(g, how="outer", sort=False).fillna(0.0)
    order = list(d.index) + [k for k in g.index if k not in d.index]
    out = out.loc[order] if order else out
    out["quantity_outstanding"] = (out["quantity_due"] - out["quantity_delivered"]).clip(lower=0)
    out["value_outstanding_usd"] = (out["value_due_usd"] - out["value_delivered_usd"]).clip(lower=0)
    out["quantity_over_delivered"] = (out["quantity_delivered"] - out["quantity_due"]).clip(lower=0)
    out["value_over_delivered_usd"] = (out["value_delivered_usd"] - out["value_due_usd"]).clip(lower=0)
    out = out.reset_index()
    return out[["agreement", "item", "quantity_due", "value_due_usd", "quantity_delivered", "value_delivered_usd",
                "quantity_outstanding", "value_outstanding_usd", "quantity_over_delivered", "value_over_delivered_usd"]]
