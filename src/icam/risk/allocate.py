"""Baselines from a risk map: expected deforestation per zone and year.

Ways a risk map becomes a baseline.

- VT0007/VM0048: the (quantity-adjusted) density map of VT0007 v1.0 (2024) §5.3, in ha per
  pixel per year, summed over the project area, the leakage belt or any reporting zone gives
  the zone's baseline deforestation in ha/yr, constant over the baseline validity period
  (VT0007 v1.0 §5.6 "Using the Allocated Risk Map"; VM0048 v1.0 with its module VMD0055,
  which take the allocated activity data as the project's baseline): :func:`density_baseline`.
- VM0015 v1.1: the quantity of future deforestation per year (Step 4.1.1: historical average
  or linear regression on time, :func:`projected_quantities`), then its location (Step 4.2:
  year by year the forest pixels of highest risk are deforested until the year's area is
  reached, :func:`allocate_by_risk`), counted per zone with :func:`zone_annual_totals`.
- Jurisdictional and nested REDD+: :mod:`icam.risk.nesting`.

Units: areas in ha, rates in ha/yr, densities in ha per pixel per year, years as calendar
years. Every raster operation is vectorised: one argsort over (the reachable part of) the
forest pixels, cumulative sums and ``np.searchsorted``; zone and project sums by
``np.bincount`` over one integer label map. See docs/methods.md, "Baselines and nesting".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from icam.core.errors import InputError
from icam.core.indices import flat_indices

YEAR_MAX = np.iinfo(np.uint16).max  # year_map is uint16; 0 means "not deforested in the baseline"


def _years_dict(values: Mapping[int, float]) -> dict[str, float]:
    return {str(int(y)): float(v) for y, v in values.items()}


def as_2d(array, name: str, dtype=None) -> np.ndarray:
    """``array`` as a 2-D raster (InputError naming ``name`` otherwise)."""
    a = np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)
    if a.ndim != 2:
        raise InputError(f"{name} must be a 2-D raster, got shape {a.shape}")
    return a


def as_mask(mask, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """``mask`` checked to be a boolean raster of ``shape`` (InputError naming ``name`` otherwise)."""
    m = np.asarray(mask)
    if m.dtype != bool:
        raise InputError(f"{name} must be a boolean mask, got dtype {m.dtype}",
                         "pass e.g. zone_id == k, not the ids themselves")
    if m.shape != shape:
        raise InputError(f"{name} has shape {m.shape}, the raster {shape}", "put every layer on the project grid")
    return m


def _check_year(year, name: str) -> int:
    try:
        whole = not isinstance(year, (bool, str)) and float(year).is_integer()
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole:
        raise InputError(f"{name} must be a whole year, got {year!r}")
    y = int(year)
    if not 1 <= y <= YEAR_MAX:
        raise InputError(f"{name} must lie in 1..{YEAR_MAX}, got {y}")
    return y


# --------------------------------------------------------------------------- VT0007 / VM0048

@dataclass(frozen=True)
class ZoneBaseline:
    """Baseline deforestation per zone from a density map (VT0007 v1.0 §5.6, VM0048 v1.0).

    zones: zone names in the order given. ha_per_year: Σ density over the zone (ha/yr), the same
    in every year of the baseline validity period first_year..last_year (inclusive).
    zone_px: pixels in each zone.
    """

    first_year: int
    last_year: int
    zones: tuple[str, ...]
    ha_per_year: dict[str, float]
    zone_px: dict[str, int]

    @property
    def years(self) -> list[int]:
        return list(range(self.first_year, self.last_year + 1))

    @property
    def by_year(self) -> dict[str, dict[int, float]]:
        """Per zone, per year of the validity period: ha deforested in the baseline that year."""
        return {z: {y: self.ha_per_year[z] for y in self.years} for z in self.zones}

    @property
    def total_ha(self) -> dict[str, float]:
        """Per zone: baseline deforestation over the whole validity period (ha)."""
        return {z: self.ha_per_year[z] * len(self.years) for z in self.zones}

    def to_dict(self) -> dict:
        return {
            "method": "VT0007 density map summed per zone",
            "first_year": self.first_year,
            "last_year": self.last_year,
            "years": self.years,
            "zones": list(self.zones),
            "zone_px": dict(self.zone_px),
            "ha_per_year": dict(self.ha_per_year),
            "total_ha": self.total_ha,
            "by_year": {z: _years_dict(v) for z, v in self.by_year.items()},
        }


def density_baseline(density_ha_per_year: np.ndarray, zones: Mapping[str, np.ndarray], first_year: int,
                     last_year: int) -> ZoneBaseline:
    """Baseline deforestation (ha/yr) of each zone = Σ over its pixels of the density map.

    Source: VT0007 v1.0 (2024) §5.6 "Using the Allocated Risk Map" and VM0048 v1.0 (VMD0055):
    the risk map adjusted to the expected jurisdictional deforestation (§5.3/§5.5; see
    :func:`icam.risk.quantity.adjust_to_quantity` and :func:`~icam.risk.quantity.density_per_year`)
    gives, summed over a zone, the zone's allocated activity data. The map is fixed for the
    baseline validity period, so the annual value is the same in every year first_year..last_year.

    density_ha_per_year: float (rows, cols), ha per pixel per year; must be finite and ≥ 0 inside
    every zone (values outside every zone, e.g. NaN no-data, are ignored). zones: name → bool
    mask of the same shape; zones may overlap (they are reporting zones such as "project_area",
    "leakage_belt", "jurisdiction", not projects).
    """
    density = as_2d(density_ha_per_year, "the density map")
    if not np.issubdtype(density.dtype, np.number) or np.iscomplexobj(density):
        raise InputError(f"the density map must be real numbers, got dtype {density.dtype}")
    first, last = _check_year(first_year, "first_year"), _check_year(last_year, "last_year")
    if last < first:
        raise InputError(f"the baseline period {first}–{last} ends before it starts")
    if not zones:
        raise InputError("no zones given", "pass e.g. {'project_area': mask}")
    bad = ~(density >= 0) | np.isinf(density)  # NaN fails ≥ 0
    per_year, px = {}, {}
    for name, mask in zones.items():
        m = as_mask(mask, f"zone {name!r}", density.shape)
        n_bad = int(np.count_nonzero(bad & m))
        if n_bad:
            raise InputError(f"the density map holds {n_bad} negative or non-finite values in zone {name!r}",
                             "densities are ha per pixel per year, ≥ 0 wherever a zone lies")
        per_year[str(name)] = float(np.sum(density, where=m, dtype=np.float64))
        px[str(name)] = int(np.count_nonzero(m))
    return ZoneBaseline(first_year=first, last_year=last, zones=tuple(per_year), ha_per_year=per_year, zone_px=px)


# --------------------------------------------------------------------------- VM0015 quantity

def projected_quantities(historical_ha_by_year: Mapping[int, float], years,
                         method: str = "average") -> dict[int, float]:
    """Annual baseline deforestation (ha/yr) for each of ``years`` (VM0015 v1.1 Step 4.1.1).

    ``method="average"``: the mean of the historical annual areas, the same every year
    (VM0015 approach "a", historical average). ``method="trend"``: the ordinary least-squares
    line of annual area on calendar year, A(t) = ā + b (t − t̄) with
    b = Σ (t_i − t̄)(A_i − ā) / Σ (t_i − t̄)², extrapolated to each year and clipped at 0
    (approach "b", linear regression on time; a declining trend cannot give negative
    deforestation). The historical years need not be consecutive; each value is that year's area.

    historical_ha_by_year: year → deforestation that year (ha), finite and ≥ 0; at least one
    year, two for "trend". years: the baseline years to project. Returns year → ha/yr, in
    ascending year order.
    """
    if method not in ("average", "trend"):
        raise InputError(f"unknown projection method {method!r}", "use 'average' or 'trend'")
    if not historical_ha_by_year:
        raise InputError("no historical deforestation given", "pass one value (ha) per historical year")
    t = np.array([_check_year(y, "a historical year") for y in historical_ha_by_year], dtype=np.float64)
    a = np.array([float(v) for v in historical_ha_by_year.values()], dtype=np.float64)
    if not np.isfinite(a).all() or (a < 0).any():
        raise InputError("historical deforestation must be finite and ≥ 0 ha in every year")
    targets = sorted({_check_year(y, "a baseline year") for y in years})
    if method == "average":
        mean = float(np.mean(a))
        return {y: mean for y in targets}
    if t.size < 2:
        raise InputError(f"a linear trend needs at least 2 historical years, got {t.size}",
                         "use method='average' or give more years")
    t_mean, a_mean = float(t.mean()), float(a.mean())
    dt = t - t_mean
    slope = float(dt @ (a - a_mean)) / float(dt @ dt)
    return {y: max(0.0, a_mean + slope * (y - t_mean)) for y in targets}


# --------------------------------------------------------------------------- VM0015 location

@dataclass(frozen=True, eq=False)
class AnnualAllocation:
    """Where and when the baseline deforests (VM0015 v1.1 Step 4.2), with the rounding shown.

    year_map: uint16 (rows, cols), the baseline year in which each pixel is deforested, 0 = not
    in the baseline. years: ascending. quantity_ha: the requested area per year (ha).
    allocated_ha, allocated_px: what the whole pixels taken each year add up to.
    forest_ha: forest area at the start of the baseline. exhausted: the cumulative quantity
    exceeded the forest, so every forest pixel is taken and the later years fall short;
    exhausted_year: the first year in which that happened (None otherwise).
    """

    year_map: np.ndarray  # or a SpilledRaster where the pipeline keeps it (icam.pipeline.stages.risk.build_baseline)
    years: tuple[int, ...]
    quantity_ha: dict[int, float]
    allocated_ha: dict[int, float]
    allocated_px: dict[int, int]
    forest_ha: float
    exhausted: bool
    exhausted_year: int | None = None
    ranking: str = field(default="static: risk at the start of the baseline, ties by flat index")

    @property
    def cumulative_quantity_ha(self) -> dict[int, float]:
        return dict(zip(self.years, np.cumsum([self.quantity_ha[y] for y in self.years]).tolist()))

    @property
    def cumulative_allocated_ha(self) -> dict[int, float]:
        return dict(zip(self.years, np.cumsum([self.allocated_ha[y] for y in self.years]).tolist()))

    def to_dict(self) -> dict:
        """JSON-ready summary (the year map itself is a raster, written separately)."""
        return {
            "method": "VM0015 Step 4.2 allocation to the highest-risk forest pixels",
            "ranking": self.ranking,
            "years": list(self.years),
            "shape": list(self.year_map.shape),
            "forest_ha": float(self.forest_ha),
            "quantity_ha": _years_dict(self.quantity_ha),
            "allocated_ha": _years_dict(self.allocated_ha),
            "allocated_px": {str(y): int(n) for y, n in self.allocated_px.items()},
            "cumulative_quantity_ha": _years_dict(self.cumulative_quantity_ha),
            "cumulative_allocated_ha": _years_dict(self.cumulative_allocated_ha),
            "exhausted": bool(self.exhausted),
            "exhausted_year": None if self.exhausted_year is None else int(self.exhausted_year),
        }


def _cell_area(cell_area_ha, shape: tuple[int, int]) -> np.ndarray:
    """Cell areas as a 2-D float64 array broadcastable to ``shape`` (scalar → (1, 1))."""
    area = np.asarray(cell_area_ha, dtype=np.float64)
    if area.ndim > 2:
        raise InputError(f"cell areas of shape {area.shape} do not fit a 2-D raster")
    area = area.reshape((1,) * (2 - area.ndim) + area.shape)
    try:
        np.broadcast_shapes(area.shape, shape)
    except ValueError:
        raise InputError(f"cell areas of shape {area.shape} do not broadcast to the raster {shape}",
                         "pass a number, Grid.cell_area_ha() (one value per row) or a full raster") from None
    if area.size == 0 or not np.isfinite(area).all() or (area <= 0).any():
        raise InputError("cell areas must be finite and positive (ha)")
    return area


def _areas_at(area: np.ndarray, flat_index: np.ndarray, cols: int) -> np.ndarray:
    """Cell area (ha, float64) of the pixels at ``flat_index`` of a (rows, cols) raster."""
    r, c = area.shape
    if r == 1 and c == 1:
        return np.full(flat_index.size, area[0, 0])
    if c == 1:
        return area[:, 0][flat_index // cols]
    if r == 1:
        return area[0][flat_index % cols]
    return area.ravel()[flat_index]


def _area_where(area: np.ndarray, mask: np.ndarray) -> float:
    """Σ cell area (ha) over ``mask`` without materialising a full area raster."""
    r, c = area.shape
    if c == 1:
        return float(np.count_nonzero(mask, axis=1) @ np.broadcast_to(area[:, 0], (mask.shape[0],)))
    if r == 1:
        return float(np.count_nonzero(mask, axis=0) @ area[0])
    return float(np.sum(area, where=mask, dtype=np.float64))


def _ranked_reach(risk: np.ndarray, forest: np.ndarray, max_pixels: float) -> np.ndarray:
    """Flat indices of the forest pixels by descending risk (ties by ascending flat index), only as many as
    the quantity can reach: pixel k (1-based rank) is taken only if C_k − a_k/2 ≥ (k − ½)·a_min stays ≤ T,
    so at most ⌊T / a_min + ½⌋ pixels (``max_pixels`` = T / a_min) need sorting."""
    index = flat_indices(forest)
    n_forest = index.size
    # descending risk, ties by ascending flat index: a stable ascending sort of −risk over pixels listed in
    # flat order
    key = risk.ravel()[index]
    np.negative(key, out=key)
    n_nan = int(np.count_nonzero(np.isnan(key)))
    if n_nan:
        raise InputError(f"the risk map is NaN on {n_nan} forest pixels",
                         "give them a risk or remove them from the forest mask")
    reach = min(n_forest, int(math.floor(max_pixels + 0.5)) + 1)
    if reach < n_forest:
        part = key.copy()
        part.partition(reach - 1)
        threshold = part[reach - 1]  # −(the reach-th highest risk)
        del part
        candidates = np.flatnonzero(key <= threshold)  # ascending, so ties stay in flat order
        order = candidates[np.argsort(key[candidates], kind="stable")][:reach]
    else:
        order = np.argsort(key, kind="stable")
    return index[order]


def allocate_by_risk(risk: np.ndarray, forest: np.ndarray, cell_area_ha, quantities_ha: Mapping[int, float]
                     ) -> AnnualAllocation:
    """Deforest the highest-risk forest pixels year by year (VM0015 v1.1 Step 4.2).

    Forest pixels are ranked once by risk, highest first, ties broken by flat (row-major) index,
    lowest first. The ranking is static: VM0015 allows re-computing the risk map every year of
    the baseline; icam uses the map at the start of the baseline period, so a pixel's rank does
    not change as its neighbours are cleared.

    Rounding: a pixel is taken whole. With C_k the cumulative area of the k highest-ranked
    pixels, a_k the area of pixel k and T_y = Σ_{y' ≤ y} q_{y'} the cumulative quantity, the
    baseline has deforested by the end of year y the N_y pixels with C_k − a_k/2 ≤ T_y (a pixel is
    taken when at least half of it fits under the cumulative target; ``np.searchsorted`` on the
    pixel midpoints). So |C_{N_y} − T_y| ≤ a_max/2 every year: the rounding never accumulates,
    and each year's area C_{N_y} − C_{N_{y−1}} lies within one pixel's area of q_y, until the
    forest runs out (then every forest pixel is taken and ``exhausted`` is set).

    risk: (rows, cols), higher = more likely deforested (any real dtype; integers are ranked as
    float64); must not be NaN on forest. forest: bool (rows, cols), the forest at the start of the
    baseline, every pixel of it eligible. cell_area_ha: ha, a number, a (rows, 1) column
    (:meth:`icam.landscape.grid.Grid.cell_area_ha`) or a full raster. quantities_ha: year → ha
    (finite, ≥ 0), years in 1..65535, taken in year order.

    Cost: one ``np.partition`` to find the forest pixels the total quantity can reach, one stable
    argsort over those only (over every forest pixel when the quantity can take them all), one
    cumulative sum, one ``np.searchsorted``. 57 million pixels with a tenth of the forest in the
    baseline: about 3 s and 0.6 GB beyond the inputs on a 2-core machine.
    """
    risk = as_2d(risk, "the risk map")
    if not (np.issubdtype(risk.dtype, np.number) or risk.dtype == bool) or np.iscomplexobj(risk):
        raise InputError(f"the risk map must be real numbers, got dtype {risk.dtype}")
    if not np.issubdtype(risk.dtype, np.floating):
        risk = risk.astype(np.float64)
    forest = as_mask(forest, "the forest mask", risk.shape)
    area = _cell_area(cell_area_ha, risk.shape)
    years = sorted(_check_year(y, "a baseline year") for y in quantities_ha)
    q = np.array([float(quantities_ha[y]) for y in years], dtype=np.float64)
    if not np.isfinite(q).all() or (q < 0).any():
        raise InputError("annual quantities must be finite and ≥ 0 ha")
    target = np.cumsum(q)
    cols = risk.shape[1]
    year_map = np.zeros(risk.shape, dtype=np.uint16)
    forest_ha = _area_where(area, forest)

    taken = np.zeros(len(years), dtype=np.int64)
    cum_at_n = np.zeros(len(years))
    if forest.any() and years and target[-1] > 0:
        ranked = _ranked_reach(risk, forest, target[-1] / float(area.min()))
        midpoint = _areas_at(area, ranked, cols)
        cumulative = np.cumsum(midpoint)
        midpoint *= -0.5
        midpoint += cumulative  # C_k − a_k/2, strictly increasing
        taken = np.searchsorted(midpoint, target, side="right")
        del midpoint
        cum_at_n = np.where(taken > 0, cumulative[np.maximum(taken - 1, 0)], 0.0)
        flat = year_map.reshape(-1)
        start = 0
        for year, stop in zip(years, taken.tolist()):
            if stop > start:
                flat[ranked[start:stop]] = year
            start = stop
    allocated = np.diff(np.concatenate([[0.0], cum_at_n]))
    counts = np.diff(np.concatenate([[0], taken]))
    short = np.flatnonzero(target > forest_ha * (1 + 1e-12))
    exhausted_year = years[int(short[0])] if short.size else None
    return AnnualAllocation(
        year_map=year_map,
        years=tuple(years),
        quantity_ha=dict(zip(years, q.tolist())),
        allocated_ha=dict(zip(years, allocated.tolist())),
        allocated_px=dict(zip(years, counts.tolist())),
        forest_ha=forest_ha,
        exhausted=exhausted_year is not None,
        exhausted_year=exhausted_year,
    )


def zone_annual_totals(year_map: np.ndarray, cell_area_ha, zones: Mapping[str, np.ndarray],
                       years=None) -> dict[str, dict[int, float]]:
    """Baseline deforestation (ha) per zone and year, from a year map (one ``np.bincount`` per zone).

    year_map: uint (rows, cols), the baseline year of each pixel, 0 = none (from
    :func:`allocate_by_risk`). cell_area_ha: ha, a number, a (rows, 1) column or a raster.
    zones: name → bool mask; zones may overlap. years: the years to report (default: every
    year present in the map); a year without allocation in a zone reports 0.0.
    Source: VM0015 v1.1 Step 4.2 (the projected deforestation located in the reference region,
    project area and leakage belt).
    """
    ym = as_2d(year_map, "the year map")
    if not np.issubdtype(ym.dtype, np.integer) or (ym.size and int(ym.min()) < 0) or \
            (ym.size and int(ym.max()) > YEAR_MAX):
        raise InputError(f"the year map must hold whole years 0..{YEAR_MAX}, got dtype {ym.dtype}")
    area = _cell_area(cell_area_ha, ym.shape)
    ym = ym.astype(np.uint16, copy=False)
    if years is None:
        present = np.flatnonzero(np.bincount(ym.ravel(), minlength=1))
        report = [int(y) for y in present if y > 0]
    else:
        report = sorted({_check_year(y, "a year") for y in years})
    full_area = np.broadcast_to(area, ym.shape)  # a view: only the selected cells are copied
    allocated = ym > 0
    out: dict[str, dict[int, float]] = {}
    for name, mask in zones.items():
        m = as_mask(mask, f"zone {name!r}", ym.shape) & allocated
        sums = np.bincount(ym[m], weights=full_area[m], minlength=YEAR_MAX + 1)
        out[str(name)] = {y: float(sums[y]) for y in report}
    return out
