"""Deforestation alerts: alert pixels on the project grid, clustered into events, described and ranked.

Alert layers
------------
An :class:`AlertRaster` is a sub-annual alert layer on the project grid, shaped like the GLAD
(Hansen et al. 2016, *Environ. Res. Lett.* 11 034008) and RADD (Reiche et al. 2021, *Environ. Res.
Lett.* 16 024005) alerts: ``date_days`` (int32) is the date of the alert in **days since
ALERT_EPOCH = 2015-01-01** (0 = no alert; so 2015-01-01 itself cannot be told from "no alert", and
alerts start on 2015-01-02, day 1), ``confidence`` (uint8) is 1 (low / nominal), 2 (high) or 3
(highest), 0 where there is no alert. :meth:`AlertRaster.from_annual_loss` makes one from an annual
loss map (Hansen GFC's lossyear): the date is 1 July of the year (the middle of the year: annual
maps do not say when), the confidence 2.

Events
------
:func:`cluster_alerts` groups alert pixels into **events**, one per clearing as a ranger would
visit it. Pixels closer than ``max_gap_m`` are joined: the alert mask is dilated by a disk of radius
r = max_gap_m / (2 · resolution) pixels (the offsets (di, dj) with di² + dj² ≤ r²), the dilated mask
is labelled with 8-connectivity (``scipy.ndimage.label``), and each alert pixel takes the label of
the dilated component it lies in. Two alert pixels on one row or column with g non-alert pixels
between them join when g ≤ 2·⌊r⌋: with 30 m pixels, a gap of 60 m (2 pixels) joins at
max_gap_m = 60 and stays apart at max_gap_m = 20 (r < 1, no dilation: plain 8-connectivity).
Diagonal gaps join a little further (the dilated disks may touch by a corner).

Per event (vectorised with ``np.bincount`` and ``scipy.ndimage``): ``n_px``, ``area_ha`` (the grid's
true cell areas, :meth:`icam.landscape.grid.Grid.cell_area_ha`), ``first_days`` / ``last_days`` and
``first_date`` / ``last_date``, ``max_confidence`` / ``mean_confidence``, the area-weighted centroid of
the pixel centres ``x`` / ``y`` (grid CRS, m) and ``lon`` / ``lat`` (WGS84, degrees), the bounding box
``xmin, ymin, xmax, ymax`` (pixel edges, grid CRS) and a stable ``alert_id``: the first date as
YYYYMMDD, a dash, and 6 hexadecimal characters of the SHA-1 of the centroid rounded to the metre
(``"20230415-3fa2c1"``). The same input gives the same ids on every run, so an alert already sent to
the field is recognised (:func:`new_alerts`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from rasterio.features import shapes
from scipy import ndimage

from icam.core.errors import InputError
from icam.landscape.grid import Grid
from icam.landscape.vector import rasterize_ids

ALERT_EPOCH = dt.date(2015, 1, 1)
"""Day 0 of ``date_days``; 0 also means "no alert"."""

CONFIDENCE_NAMES = {1: "low", 2: "high", 3: "highest"}


def date_to_days(date: dt.date | str | int) -> int:
    """Days since :data:`ALERT_EPOCH` of a date (or ISO string); an int is returned as is."""
    if isinstance(date, (int, np.integer)):
        return int(date)
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date)
        except ValueError:
            raise InputError(f"{date!r} is not a date", "write dates as YYYY-MM-DD") from None
    if isinstance(date, dt.datetime):
        date = date.date()
    return (date - ALERT_EPOCH).days


def days_to_date(days: int) -> dt.date:
    """The date ``days`` days after :data:`ALERT_EPOCH`."""
    return ALERT_EPOCH + dt.timedelta(days=int(days))


# ------------------------------------------------------------------------------------------- alert layer


@dataclass(frozen=True, eq=False)
class AlertRaster:
    """Alert dates (int32, days since :data:`ALERT_EPOCH`, 0 = none) and confidence (uint8, 0 none, 1–3)."""

    date_days: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        date, conf = np.asarray(self.date_days), np.asarray(self.confidence)
        if date.ndim != 2 or conf.shape != date.shape:
            raise InputError(f"alert dates {date.shape} and confidence {conf.shape} are not two arrays of one shape",
                             "give both layers on the same grid")
        for name, arr in (("dates", date), ("confidence", conf)):
            if not np.issubdtype(arr.dtype, np.integer):
                raise InputError(f"alert {name} are {arr.dtype}, not integers", "read the layer as integers")
        if date.size and date.min() < 0:
            r, c = np.unravel_index(int(np.argmin(date)), date.shape)
            raise InputError(f"alert dates hold a negative value ({int(date[r, c])} at row {r}, column {c})",
                             f"dates are days since {ALERT_EPOCH.isoformat()}, 0 where there is no alert")
        if date.size and date.max() > np.iinfo(np.int32).max:
            raise InputError("alert dates do not fit int32", "dates are days since 2015-01-01")
        alert = date > 0
        bad = (conf > 3) | (conf < 0) | (alert & (conf == 0))
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputError(f"alert confidence {int(conf[r, c])} at row {r}, column {c} (date {int(date[r, c])}) "
                             "is not 1, 2 or 3", "use 1 (low), 2 (high), 3 (highest) on alert pixels, 0 elsewhere")
        object.__setattr__(self, "date_days", date.astype(np.int32, copy=False))
        confidence = conf.astype(np.uint8)  # 1–3 (checked above): no int32 temporary of the grid
        confidence[~alert] = 0
        object.__setattr__(self, "confidence", confidence)

    @property
    def shape(self) -> tuple[int, int]:
        return self.date_days.shape

    @classmethod
    def from_annual_loss(cls, loss_year_array: np.ndarray, year: int) -> "AlertRaster":
        """Alerts from an annual loss map: the pixels lost in ``year``, dated 1 July of it, confidence 2.

        ``loss_year_array``: calendar years (values ≥ 1000) or Hansen GFC's ``lossyear`` encoding
        (year − 2000, 1–99); 0 = no loss. ``year`` must be 2015 or later (the alert epoch).
        """
        loss = np.asarray(loss_year_array)
        if loss.ndim != 2:
            raise InputError(f"the annual loss map has {loss.ndim} dimensions, not 2", "give one band")
        if year < ALERT_EPOCH.year:
            raise InputError(f"loss year {year} is before the alert epoch {ALERT_EPOCH.isoformat()}",
                             "alerts start in 2015; use the annual loss maps for earlier years")
        code = year if loss.size and loss.max() >= 1000 else year - 2000
        lost = loss == code
        day = date_to_days(dt.date(year, 7, 1))
        return cls(np.where(lost, np.int32(day), np.int32(0)), np.where(lost, np.uint8(2), np.uint8(0)))  # no int64


# ------------------------------------------------------------------------------------------- events


@dataclass(frozen=True, eq=False)
class Events:
    """Alert events: ``table`` (one row per event, columns in the module docstring) and ``labels``.

    ``labels``: int32 (rows, cols), the event number (``table.event``) of each alert pixel kept, 0
    elsewhere; None once :meth:`without_labels` dropped them. Filtering rows (:func:`new_alerts`) or adding
    columns (:func:`describe`, :meth:`PriorityRule.apply`) keeps ``labels``: the ``event`` column ties the two.
    """

    table: pd.DataFrame
    labels: np.ndarray | None
    grid: Grid
    params: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def alert_ids(self) -> list[str]:
        return self.table["alert_id"].tolist()

    def with_table(self, table: pd.DataFrame) -> "Events":
        return replace(self, table=table.reset_index(drop=True))

    def without_labels(self) -> "Events":
        """The events without their pixels' raster, for what reads only the table (the registry, the report)."""
        return replace(self, labels=None)

    def points(self) -> gpd.GeoDataFrame:
        """The events' centroids as points in the grid CRS, with every column of ``table``."""
        geom = shapely.points(self.table["x"].to_numpy(float), self.table["y"].to_numpy(float))
        return gpd.GeoDataFrame(self.table.copy(), geometry=geom, crs=self.grid.crs)

    def footprints(self) -> gpd.GeoDataFrame:
        """The events' pixels as (multi)polygons in the grid CRS, with every column of ``table``."""
        keep = np.isin(self.labels, self.table["event"].to_numpy())
        values, rings = [], []
        for geom, value in shapes(np.where(keep, self.labels, 0).astype(np.int32, copy=False), mask=keep,
                                  transform=self.grid.transform, connectivity=8):
            values.append(int(value))
            rings.append(geom["coordinates"])
        parts: dict[int, list] = {}
        for value, polygon in zip(values, _polygons(rings)):
            parts.setdefault(value, []).append(polygon)
        # an event of one polygon is that polygon (GEOS's union of one returns it as it is, vertex for vertex)
        polys = [p[0] if len(p) == 1 else shapely.union_all(p) for p in (parts[int(e)] for e in self.table["event"])]
        return gpd.GeoDataFrame(self.table.copy(), geometry=polys, crs=self.grid.crs)


def _polygons(rings: list[list]) -> np.ndarray:
    """Shapely polygons of GeoJSON-like coordinates (each polygon a list of rings, the shell first), built all at
    once from flat arrays: one ``shapely.geometry.shape`` per polygon took 2.3 s of a jurisdiction's 27,000
    alert events."""
    if not rings:
        return np.empty(0, dtype=object)
    coords = [np.asarray(ring, dtype=np.float64) for polygon in rings for ring in polygon]
    ring_offsets = np.concatenate([[0], np.cumsum([len(c) for c in coords])])
    polygon_offsets = np.concatenate([[0], np.cumsum([len(polygon) for polygon in rings])])
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, np.concatenate(coords),
                                     (ring_offsets, polygon_offsets))


def _disk(radius_px: float) -> np.ndarray:
    n = int(math.floor(radius_px))
    di, dj = np.mgrid[-n:n + 1, -n:n + 1]
    return di * di + dj * dj <= radius_px * radius_px + 1e-9


def _alert_id(first_days: np.ndarray, x: np.ndarray, y: np.ndarray) -> list[str]:
    ids = []
    for d, xi, yi in zip(first_days, x, y):
        digest = hashlib.sha1(f"{int(round(xi))}:{int(round(yi))}".encode()).hexdigest()[:6]
        ids.append(f"{days_to_date(d):%Y%m%d}-{digest}")
    return ids


def _dilate(mask: np.ndarray, structure: np.ndarray) -> np.ndarray:
    """``ndimage.binary_dilation(mask, structure)`` (outside the grid counts as no alert).

    For small structures (the disks of max_gap_m up to a few pixels) an OR of shifted copies of the
    mask, a few passes over the grid, is several times faster than scipy's general dilation.
    """
    offsets = np.argwhere(structure) - np.array(structure.shape) // 2
    if len(offsets) > 25 or structure.shape[0] != structure.shape[1] or structure.shape[0] % 2 != 1:
        return ndimage.binary_dilation(mask, structure=structure)
    out = np.zeros_like(mask, dtype=bool)
    h, w = mask.shape
    for di, dj in offsets:  # out[i + di, j + dj] |= mask[i, j] (the disk is symmetric: reflection changes nothing)
        if abs(di) >= h or abs(dj) >= w:
            continue
        out[max(di, 0):h + min(di, 0), max(dj, 0):w + min(dj, 0)] |= \
            mask[max(-di, 0):h + min(-di, 0), max(-dj, 0):w + min(-dj, 0)]
    return out


def cluster_alerts(alerts: AlertRaster, grid: Grid, *, max_gap_m: float = 60.0,
                   since_days: int | dt.date | None = None, until_days: int | dt.date | None = None,
                   min_confidence: int = 1) -> Events:
    """Alert pixels grouped into events (module docstring: the dilation, the columns, the ids).

    Only pixels with ``since_days ≤ date ≤ until_days`` (both inclusive, days since
    :data:`ALERT_EPOCH` or dates; None = no limit) and ``confidence ≥ min_confidence`` are kept.
    Events are numbered 1… in the order of their first date, then of their alert id.
    """
    if alerts.shape != grid.shape:
        raise InputError(f"the alert layer is {alerts.shape[0]} × {alerts.shape[1]} pixels but the grid is "
                         f"{grid.height} × {grid.width}", "read the alerts onto the project grid first")
    if grid.crs.is_geographic:
        raise InputError("the grid's CRS is geographic (degrees)", "use a projected grid in metres (e.g. UTM)")
    if not max_gap_m >= 0:
        raise InputError(f"max_gap_m = {max_gap_m} is negative", "give a distance in metres, 0 or more")
    if min_confidence not in (1, 2, 3):
        raise InputError(f"min_confidence = {min_confidence} is not 1, 2 or 3", "use 1 (low), 2 (high) or 3")
    date = alerts.date_days
    mask = (date > 0) & (alerts.confidence >= min_confidence)
    if since_days is not None:
        mask &= date >= date_to_days(since_days)
    if until_days is not None:
        mask &= date <= date_to_days(until_days)

    radius_px = max_gap_m / (2.0 * grid.resolution_m)
    joined = _dilate(mask, _disk(radius_px)) if radius_px >= 1 else mask
    comp, n = ndimage.label(joined, structure=np.ones((3, 3), dtype=bool))
    rows, cols = np.nonzero(mask)
    lab = comp[rows, cols]
    del comp, joined, mask  # the grid's labels (0.25 GB at a jurisdiction) are in ``lab`` now, at the alerts

    cell_ha = grid.cell_area_ha()[:, 0]
    t = grid.transform
    px_area = cell_ha[rows]
    xc, yc = t.c + t.a * (cols + 0.5), t.f + t.e * (rows + 0.5)
    size = n + 1
    n_px = np.bincount(lab, minlength=size)
    area = np.bincount(lab, weights=px_area, minlength=size)
    index = np.arange(1, size)
    d, conf = date[rows, cols], alerts.confidence[rows, cols].astype(np.int64)
    if n:
        first = np.asarray(ndimage.minimum(d, lab, index), dtype=np.int64)
        last = np.asarray(ndimage.maximum(d, lab, index), dtype=np.int64)
        max_conf = np.asarray(ndimage.maximum(conf, lab, index), dtype=np.int64)
        rmin = np.asarray(ndimage.minimum(rows, lab, index), dtype=np.int64)
        rmax = np.asarray(ndimage.maximum(rows, lab, index), dtype=np.int64)
        cmin = np.asarray(ndimage.minimum(cols, lab, index), dtype=np.int64)
        cmax = np.asarray(ndimage.maximum(cols, lab, index), dtype=np.int64)
    else:
        first = last = max_conf = rmin = rmax = cmin = cmax = np.zeros(0, dtype=np.int64)
    n_px, area = n_px[1:], area[1:]
    mean_conf = np.bincount(lab, weights=conf, minlength=size)[1:] / np.maximum(n_px, 1)
    x = np.bincount(lab, weights=xc * px_area, minlength=size)[1:] / np.where(area > 0, area, 1)
    y = np.bincount(lab, weights=yc * px_area, minlength=size)[1:] / np.where(area > 0, area, 1)
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(x, y)
    xs = (t.c + t.a * cmin, t.c + t.a * (cmax + 1))
    ys = (t.f + t.e * rmin, t.f + t.e * (rmax + 1))

    table = pd.DataFrame({
        "label": index, "alert_id": _alert_id(first, x, y), "n_px": n_px.astype(np.int64), "area_ha": area,
        "first_days": first, "last_days": last,
        "first_date": [days_to_date(v) for v in first], "last_date": [days_to_date(v) for v in last],
        "max_confidence": max_conf, "mean_confidence": mean_conf,
        "x": x, "y": y, "lon": np.asarray(lon, float), "lat": np.asarray(lat, float),
        "xmin": np.minimum(*xs), "ymin": np.minimum(*ys), "xmax": np.maximum(*xs), "ymax": np.maximum(*ys),
    })
    table = table.sort_values(["first_days", "alert_id"], kind="stable").reset_index(drop=True)
    # renumber so that event numbers follow the table's order and do not depend on the scan order
    renumber = np.zeros(size, dtype=np.int32)
    renumber[table["label"].to_numpy()] = np.arange(1, n + 1, dtype=np.int32)
    labels = np.zeros(grid.shape, dtype=np.int32)
    labels[rows, cols] = renumber[lab]
    table.insert(0, "event", np.arange(1, n + 1, dtype=np.int64))
    table = table.drop(columns="label")
    params = {"max_gap_m": max_gap_m, "since_days": since_days, "until_days": until_days,
              "min_confidence": min_confidence, "dilation_radius_px": radius_px}
    return Events(table, labels, grid, params)


def new_alerts(events: Events, seen_ids: set[str]) -> Events:
    """The events whose ``alert_id`` is not in ``seen_ids`` (alerts already raised are not raised again)."""
    keep = ~events.table["alert_id"].isin(set(seen_ids))
    return events.with_table(events.table[keep.to_numpy()])


# ------------------------------------------------------------------------------------------- describe


def _per_event(events: Events) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Alert pixels kept (rows, cols), their row in ``events.table`` (0-based), and the number of events."""
    table_events = events.table["event"].to_numpy()
    lookup = np.full(int(events.labels.max(initial=0)) + 1, -1, dtype=np.int64)
    lookup[table_events] = np.arange(len(table_events))
    rows, cols = np.nonzero(events.labels)
    pos = lookup[events.labels[rows, cols]]
    keep = pos >= 0
    return rows[keep], cols[keep], pos[keep], len(table_events)


def _check_layer(arr, grid: Grid, what: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.shape != grid.shape:
        raise InputError(f"{what} is {arr.shape} but the grid is {grid.shape}", "read it onto the project grid")
    return arr


SHARE_CHUNK = 1 << 22  # values of a layer sorted at once (16 MB of float32)


def _share_at_or_below(layer: np.ndarray, thresholds: np.ndarray, chunk_size: int = SHARE_CHUNK) -> np.ndarray:
    """The share of the finite values of ``layer`` at or below each threshold: the values at or below it counted
    in each chunk of the layer, sorted in the layer's own dtype (a float32 risk map sorts twice as fast as
    float64), and added up. The comparison is exact, as numpy compares float32 values and float64 thresholds in
    float64. A chunk at a time, not the whole layer's finite values and their sorted copy (0.4 GB at a
    jurisdiction's 61 Mpx, in the enforcement's process beside the run; 1.95 → 1.65 s besides)."""
    at_or_below = np.zeros(np.shape(thresholds), np.int64)
    n_finite = 0
    flat = layer.ravel()
    for lo in range(0, flat.size, chunk_size):
        chunk = flat[lo:lo + chunk_size]
        chunk = np.sort(chunk[np.isfinite(chunk)])
        n_finite += chunk.size
        at_or_below += np.searchsorted(chunk, thresholds, side="right")
    return at_or_below / max(n_finite, 1)


def describe(events: Events, *, zones: Mapping[str, np.ndarray] | None = None,
             distance_km: Mapping[str, np.ndarray] | None = None, risk: np.ndarray | None = None,
             parcels: gpd.GeoDataFrame | None = None, agreement_column: str = "agreement",
             household_column: str = "household") -> Events:
    """The events with what a ranger needs to know about where they are.

    Columns added:

    - ``zone``: each pixel belongs to the first zone of ``zones`` (bool masks, in priority order)
      that holds it, or to ``"outside"``; the event takes the zone holding most of its pixels (a tie
      goes to the earlier zone, ``"outside"`` last). Only with ``zones``.
    - ``<name>_km`` per entry of ``distance_km`` (rasters in km, e.g. ``{"road": …, "settlement": …}``):
      the mean over the event's pixels (a name already ending in ``_km`` is kept as is).
    - ``risk``: the mean of ``risk`` over the event's pixels (NaN ignored); ``risk_percentile``: the
      share (0–1) of the grid's finite risk values at or below it.
    - ``agreement`` / ``household``: those of the parcel holding most of the event's pixels (parcels
      burnt once with the cell-centre rule; a tie goes to the earlier parcel), None where the event
      touches no parcel; ``parcel_px``: its pixels in that parcel. Only with ``parcels``.
    """
    grid = events.grid
    rows, cols, pos, n = _per_event(events)
    table = events.table.copy()

    if zones is not None:
        names = list(zones)
        which = np.full(rows.shape, len(names), dtype=np.int64)  # len(names) = outside
        for k in range(len(names) - 1, -1, -1):
            inside = _check_layer(zones[names[k]], grid, f"zone {names[k]!r}")[rows, cols].astype(bool)
            which[inside] = k
        counts = np.bincount(pos * (len(names) + 1) + which, minlength=n * (len(names) + 1))
        counts = counts.reshape(n, len(names) + 1)
        labels = np.array(names + ["outside"], dtype=object)
        table["zone"] = labels[np.argmax(counts, axis=1)] if n else np.array([], dtype=object)

    for name, raster in (distance_km or {}).items():
        values = _check_layer(raster, grid, f"distance {name!r}")[rows, cols].astype(float)
        column = name if name.endswith("_km") else f"{name}_km"
        ok = np.isfinite(values)
        total = np.bincount(pos[ok], weights=values[ok], minlength=n)
        count = np.bincount(pos[ok], minlength=n)
        table[column] = np.where(count > 0, total / np.maximum(count, 1), np.nan)

    if risk is not None:
        risk = _check_layer(risk, grid, "risk")
        values = risk[rows, cols].astype(float)
        ok = np.isfinite(values)
        total = np.bincount(pos[ok], weights=values[ok], minlength=n)
        count = np.bincount(pos[ok], minlength=n)
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        finite = np.isfinite(mean)
        pct = np.full(n, np.nan)
        pct[finite] = _share_at_or_below(risk, mean[finite])
        table["risk"] = mean
        table["risk_percentile"] = pct

    if parcels is not None:
        for column in (agreement_column, household_column):
            if column not in parcels.columns:
                raise InputError(f"the parcels have no column {column!r}; their columns are: "
                                 f"{', '.join(c for c in parcels.columns if c != parcels.geometry.name)}",
                                 "name the agreement and household columns")
        if parcels.crs is None:
            raise InputError("the parcels have no CRS", "assign one (QGIS: Layer > Layer CRS > Set CRS)")
        in_grid = parcels.to_crs(grid.crs) if not parcels.crs.equals(grid.crs) else parcels
        ids = rasterize_ids(in_grid, grid)[rows, cols]
        on = ids > 0
        key = pos[on] * (len(parcels) + 1) + ids[on]
        uniq, cnt = np.unique(key, return_counts=True)
        ev, pid = uniq // (len(parcels) + 1), uniq % (len(parcels) + 1)
        order = np.lexsort((pid, -cnt, ev))  # per event: most pixels first, then the earlier parcel
        ev, pid, cnt = ev[order], pid[order], cnt[order]
        first = np.r_[True, ev[1:] != ev[:-1]] if ev.size else np.zeros(0, bool)
        agreement = np.full(n, None, dtype=object)
        household = np.full(n, None, dtype=object)
        parcel_px = np.zeros(n, dtype=np.int64)
        agreement[ev[first]] = parcels[agreement_column].to_numpy(dtype=object)[pid[first] - 1]
        household[ev[first]] = parcels[household_column].to_numpy(dtype=object)[pid[first] - 1]
        parcel_px[ev[first]] = cnt[first]
        table["agreement"], table["household"], table["parcel_px"] = agreement, household, parcel_px

    return events.with_table(table)
