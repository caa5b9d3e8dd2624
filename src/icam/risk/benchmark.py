"""The VT0007 benchmark deforestation risk map, as Clark Labs' UDef-ARP implements it.

Sources. Verra, *VT0007 Unplanned Deforestation Allocation (UDef-A)*, v1.0, 21 February 2024,
section 5.3 "Benchmark Risk Mapping" (the distance-to-edge vulnerability classes, the negligible
risk threshold, modelling regions = class × administrative unit, relative frequency as the
density) and section 5.5 "Testing and Model Selection" (fit in the calibration period, predict
for the confirmation period). The numeric conventions the tool leaves to its software (bins one
pixel wide, the bin midpoint, 29 geometric classes with ratio (LL/UL)^(1/29), the area-weighted
class fallback, the iterative adjustment to the expected quantity stopping at AR ≤ 1.00001 after
at most 5 iterations, in :mod:`icam.risk.quantity`) are those of Clark Labs' UDef-ARP, the software
Verra distributes with the tool (github.com/ClarkCGA/UDef-ARP); see docs/methods.md, "Deforestation risk: the VT0007
benchmark". riskmapjnr (Vieilledent) differs where said.

Every function is vectorised: one distance transform (:mod:`icam.core.distance`, ``edt``'s values), one
``np.searchsorted`` for the classes, one ``np.bincount`` over region (class × unit). Units: distances in metres,
densities in ha per pixel (over the period unless said per year), areas in ha.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
from affine import Affine

from icam.core.blocks import BLOCK_PX, map_blocks
from icam.core.distance import euclidean_distance
from icam.core.errors import InputError
from icam.landscape.grid import Grid
from icam.risk import benchmark_passes as passes

N_CLASSES = 30  # class 1 (≥ NRT) and 29 geometric classes; 0 = non-forest / excluded
NRT_SHARE = 0.995  # share of historical deforestation within the negligible risk threshold
_BINCOUNT_MAX = 50_000_000  # largest region id counted with a dense bincount


# --------------------------------------------------------------------------- distance

def _cell_sizes(grid: Grid | Affine | float) -> tuple[float, float]:
    """(row spacing, column spacing) in map units from a Grid, an Affine or a square cell size."""
    if isinstance(grid, Grid):
        transform = grid.transform
    elif isinstance(grid, Affine):
        transform = grid
    else:
        size = float(grid)
        if not size > 0:
            raise InputError(f"cell size must be positive, got {grid}")
        return size, size
    if transform.b != 0 or transform.d != 0:
        raise InputError("the grid is rotated", "distances need a north-up grid")
    return abs(transform.e), abs(transform.a)


def distance_to_edge_m(forest: np.ndarray, grid: Grid | Affine | float) -> np.ndarray:
    """Euclidean distance (m) from each forest cell to the nearest non-forest cell; 0 off forest.

    Source: VT0007 v1.0 (2024) §5.3, distance from the forest edge at the start of the period
    as the benchmark's single predictor. Measured centre to centre (scipy's exact Euclidean
    distance transform with sampling = cell size), so a forest cell beside non-forest is one cell
    (30 m on a 30 m grid) from the edge, as GDAL's proximity used by UDef-ARP and forestatrisk.
    Distances are map distances on the grid (metres of the projection; on a Mercator grid they
    are larger than ground distances by the scale factor, like the other tools'). Cells beyond the
    raster are not non-forest; where there is no non-forest cell at all the distance is +inf.

    forest: bool (rows, cols). grid: a :class:`Grid`, an affine transform, or the cell size (m).
    Returns float32 (rows, cols), metres.
    """
    forest = np.asarray(forest, dtype=bool)
    if forest.ndim != 2:
        raise InputError(f"forest must be a 2-D mask, got shape {forest.shape}")
    if isinstance(grid, Grid) and grid.shape != forest.shape:
        raise InputError(f"forest mask {forest.shape} and grid {grid.shape} differ in shape")
    return euclidean_distance(forest, _cell_sizes(grid), to=False)


def distance_to_edge_capped_m(forest: np.ndarray, grid: Grid | Affine | float, cap_m: float,
                              block_px: int = BLOCK_PX, pool: Executor | None = None) -> np.ndarray:
    """min(:func:`distance_to_edge_m`, ``cap_m``), computed block by block: the same values to the bit.

    A forest cell whose nearest non-forest cell lies within ``cap_m`` has it within ⌈cap / cell size⌉ rows
    and columns, so each block read with that halo (:mod:`icam.core.blocks`) finds it, and a cell farther
    than the cap from every non-forest cell of its window is at least that far from the edge: it gets the
    cap either way. Memory: one block and its halo. Returns float32 (rows, cols), metres; 0 off forest.
    ``pool``: where the blocks run (:func:`icam.core.blocks.block_executor`; None: in this thread).
    """
    forest = np.asarray(forest, dtype=bool)
    if forest.ndim != 2:
        raise InputError(f"forest must be a 2-D mask, got shape {forest.shape}")
    cap = float(cap_m)
    if not cap > 0:
        raise InputError(f"the distance cap must be positive, got {cap_m}")
    row_m, col_m = _cell_sizes(grid)
    spacing = Affine(col_m, 0, 0, 0, -row_m, 0)  # a window's own grid: only the spacings matter
    halo = (math.ceil(cap / row_m), math.ceil(cap / col_m))
    return map_blocks(functools.partial(_capped_block, spacing, cap), [forest], dtype=np.float32, halo_px=halo,
                      block_px=block_px, pool=pool)


def _capped_block(spacing: Affine, cap_m: float, window: np.ndarray) -> np.ndarray:
    return np.minimum(distance_to_edge_m(window, spacing), np.float32(cap_m))


def cap_changes_nrt(nrt_m: float, cap_m: float, cell_size_m: float) -> bool:
    """Whether an NRT found on distances capped at ``cap_m`` could be the cap's doing: it lies in the cap's own
    distance bin or beyond, where every capped distance falls. Below it the NRT, and the classes (every pixel
    at or beyond the NRT is class 1), are those of the uncapped distances."""
    return nrt_m >= int(distance_bins(np.array([cap_m]), cell_size_m)[0]) * cell_size_m


def cap_spans_map(cap_m: float, grid: Grid) -> bool:
    """Whether a distance cap reaches the map's diagonal (a longer cap would change nothing)."""
    return cap_m >= grid.resolution_m * float(np.hypot(*grid.shape))


# --------------------------------------------------------------------------- NRT

def negligible_risk_threshold_m(distance_m_of_deforested_cells: np.ndarray, cell_size_m: float,
                                share: float = NRT_SHARE, convention: str = "udef-arp") -> float:
    """The negligible risk threshold (m): beyond it lies less than 1 − ``share`` of past loss.

    Source: VT0007 v1.0 (2024) §5.3 (NRT = the distance from the forest edge within which 99.5 %
    of historical deforestation took place); the histogram convention is UDef-ARP's: the
    distances at the start of the period of the period's deforested pixels are counted in bins
    one pixel wide, [k·c, (k+1)·c) for cell size c, and the NRT is the MIDPOINT (k + ½)·c of the
    first bin at which the cumulative share reaches ``share``. riskmapjnr's benchmark instead takes
    the UPPER edge k·c of the first right-closed bin ((k−1)·c, k·c] at which the cumulative share
    EXCEEDS ``share`` (``convention="riskmapjnr"``; its benchmark uses 99.5 %, its older JNR
    workflow 99 %). On the same distances the two differ by less than two bins (Guadeloupe
    2000–2010: 135 m against riskmapjnr's 150 m). icam follows UDef-ARP by default.

    distance_m_of_deforested_cells: distances (m) of the deforested pixels, any shape; NaN and
    inf are ignored. Returns metres.
    """
    if not 0 < share <= 1:
        raise InputError(f"share must lie in (0, 1], got {share}")
    cell = float(cell_size_m)
    if not cell > 0:
        raise InputError(f"cell size must be positive, got {cell_size_m}")
    d = np.asarray(distance_m_of_deforested_cells, dtype=np.float64).ravel()
    d = d[np.isfinite(d)]
    if d.size == 0:
        raise InputError("no deforestation at a finite distance from the forest edge",
                         "the negligible risk threshold needs loss in the fitting period and a forest edge on the "
                         "grid (a zone that is all forest has none: include some non-forest around it)")
    if (d < 0).any():
        raise InputError("negative distances to the forest edge")
    if convention not in ("udef-arp", "riskmapjnr"):
        raise InputError(f"unknown NRT convention {convention!r}", "use 'udef-arp' or 'riskmapjnr'")
    return nrt_from_histogram(np.bincount(distance_bins(d, cell, convention)), cell, share, convention)


def distance_bins(distance_m: np.ndarray, cell_size_m: float, convention: str = "udef-arp") -> np.ndarray:
    """The bin one pixel wide of each distance (int64): [k·c, (k+1)·c) → k by UDef-ARP's convention,
    ((k−1)·c, k·c] → k by riskmapjnr's (:func:`negligible_risk_threshold_m`)."""
    d = np.asarray(distance_m, dtype=np.float64)
    if convention == "riskmapjnr":
        return np.ceil(d / cell_size_m - 1e-9).astype(np.int64)
    if convention != "udef-arp":
        raise InputError(f"unknown NRT convention {convention!r}", "use 'udef-arp' or 'riskmapjnr'")
    return np.floor(d / cell_size_m + 1e-9).astype(np.int64)


def nrt_from_histogram(counts: np.ndarray, cell_size_m: float, share: float = NRT_SHARE,
                       convention: str = "udef-arp") -> float:
    """The NRT (m) from the deforested pixels' counts per distance bin (:func:`distance_bins`; summed block by
    block, the same counts as the whole map's), by the convention's rule (:func:`negligible_risk_threshold_m`)."""
    cumulative = np.cumsum(np.asarray(counts, dtype=np.int64))
    total = int(cumulative[-1]) if cumulative.size else 0
    if total == 0:
        raise InputError("no deforestation at a finite distance from the forest edge",
                         "the negligible risk threshold needs loss in the fitting period")
    if convention == "riskmapjnr":
        above = np.flatnonzero(cumulative > share * total)
        return float(above[0] if above.size else cumulative.size - 1) * cell_size_m
    k = int(np.argmax(cumulative >= share * total * (1 - 1e-12)))
    return (k + 0.5) * cell_size_m


# --------------------------------------------------------------------------- classes

def class_limits_m(nrt_m: float, cell_size_m: float, n_classes: int = N_CLASSES) -> np.ndarray:
    """The geometric class limits UL·r^k, k = 0..n, n = n_classes − 1, r = (LL/UL)^(1/n) (m).

    Source: UDef-ARP's implementation of VT0007 v1.0 (2024) §5.3 vulnerability classes:
    LL = the pixel size, UL = the NRT. Element k is the upper limit of class k+2 and the lower
    limit of class k+1 (for k ≥ 1); element 0 = UL, element n = LL. Returns float64, metres.
    """
    n = int(n_classes) - 1
    if not 1 <= n <= 254:
        raise InputError(f"n_classes must lie in 2..255, got {n_classes}")
    lower, upper = float(cell_size_m), float(nrt_m)
    if not (math.isfinite(upper) and upper > lower > 0):
        raise InputError(f"the NRT ({nrt_m} m) must be finite and exceed the cell size ({cell_size_m} m)",
                         "the benchmark needs deforestation farther than one pixel from the edge")
    ratio = (lower / upper) ** (1.0 / n)
    limits = upper * ratio ** np.arange(n + 1, dtype=np.float64)
    limits[0], limits[-1] = upper, lower
    return limits


def vulnerability_classes(distance_m: np.ndarray, forest: np.ndarray, nrt_m: float, cell_size_m: float,
                          n_classes: int = N_CLASSES) -> np.ndarray:
    """Vulnerability class of each cell (uint8): 0 non-forest/excluded, 1 far, n_classes nearest the edge.

    Source: VT0007 v1.0 (2024) §5.3; class limits as UDef-ARP: class 1 holds d ≥ NRT; with
    n = n_classes − 1 geometric classes between LL = cell size and UL = NRT and
    r = (LL/UL)^(1/n), class i+2 holds UL·r^(i+1) ≤ d < UL·r^i (i = 0..n−1), so classes narrow
    towards the edge; cells with d < LL (none when d is measured centre to centre) join class
    n_classes. distance_m in metres; forest bool; cells off ``forest`` or with NaN distance get 0.
    """
    distance = np.asarray(distance_m)
    forest = np.asarray(forest, dtype=bool)
    if distance.shape != forest.shape:
        raise InputError(f"distance {distance.shape} and forest {forest.shape} differ in shape")
    limits = class_limits_m(nrt_m, cell_size_m, n_classes)
    classes = np.zeros(forest.shape, dtype=np.uint8)
    passes.classify(distance.ravel(), forest.ravel(), np.ascontiguousarray(limits[::-1], dtype=np.float64),
                    limits.size, classes.reshape(-1))
    return classes


# --------------------------------------------------------------------------- regions

def _stride(n_classes: int) -> int:
    return int(n_classes) + 1


def modelling_regions(classes: np.ndarray, admin_id: np.ndarray | int, n_classes: int = N_CLASSES) -> np.ndarray:
    """Modelling region id = class + (n_classes + 1) × admin id (31 × unit by default; int32, int64 if needed).

    Source: VT0007 v1.0 (2024) §5.3, modelling regions = vulnerability class × administrative
    unit. The encoding is collision-free for any non-negative unit id up to 2^63 / 31 (UDef-ARP
    packs class × 1000 + unit in int16, which collides past 999 units and overflows past 32).
    Invert with :func:`region_class` and :func:`region_admin`.
    """
    classes = np.asarray(classes)
    admin = np.asarray(admin_id)
    if not np.issubdtype(admin.dtype, np.integer):
        if not np.all(np.equal(np.mod(admin, 1), 0)):
            raise InputError("administrative unit ids must be integers")
    if admin.size and admin.min() < 0:
        raise InputError("administrative unit ids must be non-negative", "use 0 for cells outside every unit")
    if classes.size and int(classes.max()) > n_classes:
        raise InputError(f"vulnerability classes exceed n_classes = {n_classes}")
    # int32 arithmetic where the largest id fits (half the memory of int64 over tens of millions of pixels)
    largest = (int(admin.max()) + 1) * _stride(n_classes) if admin.size else 0
    dtype = np.int32 if largest < 2**31 else np.int64
    return classes.astype(dtype) + _stride(n_classes) * admin.astype(dtype, copy=False)


def region_class(region: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Vulnerability class of each modelling region id (inverse of :func:`modelling_regions`)."""
    return np.asarray(region, dtype=np.int64) % _stride(n_classes)


def region_admin(region: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Administrative unit id of each modelling region id (inverse of :func:`modelling_regions`)."""
    return np.asarray(region, dtype=np.int64) // _stride(n_classes)


def _count(ids: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(distinct ids, count or weight sum per id), by dense bincount where ids are small."""
    if ids.size and int(ids.max()) <= _BINCOUNT_MAX:
        counts = np.bincount(ids, weights=weights)
        present = np.flatnonzero(np.bincount(ids))
        return present, counts[present]
    present, inverse = np.unique(ids, return_inverse=True)
    return present, np.bincount(inverse, weights=weights, minlength=present.size)


# --------------------------------------------------------------------------- fit and predict

@dataclass(frozen=True, eq=False)
class BenchmarkFit:
    """Relative frequency of deforestation per modelling region in the fitting period.

    region_ids: int64, the regions with forest at the start of the fitting period, ascending.
    forest_px, deforested_px: int64 pixel counts per region.
    relative_frequency: float64 per region, deforested px / forest px (dimensionless, per period).
    class_frequency: float64 (n_classes + 1,), per class the area-weighted frequency across units,
        Σ_units deforested px / Σ_units forest px (index 0 = 0; 0 for a class without forest).
    n_classes: number of vulnerability classes the regions were encoded with.
    """

    region_ids: np.ndarray
    forest_px: np.ndarray
    deforested_px: np.ndarray
    relative_frequency: np.ndarray
    class_frequency: np.ndarray
    n_classes: int = N_CLASSES


def fit_relative_frequency(classes: np.ndarray, admin_id: np.ndarray | int, deforested: np.ndarray,
                           forest_at_start: np.ndarray, n_classes: int = N_CLASSES) -> BenchmarkFit:
    """Relative frequency of deforestation per modelling region (class × unit) in the fitting period.

    Source: VT0007 v1.0 (2024) §5.3: relative frequency = deforested pixels / forest pixels at
    the start of the period in each modelling region. For regions absent from the fit, UDef-ARP
    uses the class's frequency across all units weighted by their forest area,
    Σ_u deforested(k, u) / Σ_u forest(k, u), stored as ``class_frequency``. Pixels are counted
    (as UDef-ARP does; on an equal-area grid counts are areas). Only cells in
    ``forest_at_start`` with class ≥ 1 count; deforestation outside them is ignored.
    classes: uint8 from :func:`vulnerability_classes` at the start of the fitting period.
    """
    classes = np.asarray(classes)
    forest = np.asarray(forest_at_start, dtype=bool)
    deforested = np.asarray(deforested, dtype=bool)
    if not (classes.shape == forest.shape == deforested.shape):
        raise InputError(f"classes {classes.shape}, deforested {deforested.shape} and forest "
                         f"{forest.shape} differ in shape")
    admin = np.asarray(admin_id)
    counts = passes.dense_region_counts(classes, admin, forest, deforested, n_classes, _stride(n_classes),
                                        _BINCOUNT_MAX)
    if counts is not None:
        forest_px, lost_px = counts
        region_ids = np.flatnonzero(forest_px)
        return fit_from_counts(region_ids, forest_px[region_ids], lost_px[region_ids], n_classes)
    # region ids past a dense count, or units that modelling_regions refuses: counted on the pixels gathered
    forest = forest & (classes > 0)
    regions = modelling_regions(classes[forest], np.broadcast_to(admin, classes.shape)[forest], n_classes)
    lost = deforested[forest].astype(np.float64)
    region_ids, forest_px = _count(regions)
    _, lost_px = _count(regions, lost)
    return fit_from_counts(region_ids, forest_px.astype(np.int64), np.rint(lost_px).astype(np.int64), n_classes)


def fit_from_counts(region_ids: np.ndarray, forest_px: np.ndarray, deforested_px: np.ndarray,
                    n_classes: int = N_CLASSES) -> BenchmarkFit:
    """The fit from each region's forest and deforested pixel counts (regions with forest, ascending): what
    :func:`fit_relative_frequency` counts on a whole map, or a sum of per-block counts."""
    region_ids, forest_px, deforested_px = (np.asarray(a, dtype=np.int64) for a in (region_ids, forest_px,
                                                                                      deforested_px))
    if region_ids.size == 0:
        raise InputError("no forest at the start of the fitting period", "check the forest maps and the period")
    by_class = region_class(region_ids, n_classes)
    class_forest = np.bincount(by_class, weights=forest_px, minlength=n_classes + 1)
    class_lost = np.bincount(by_class, weights=deforested_px, minlength=n_classes + 1)
    class_frequency = np.divide(class_lost, class_forest, out=np.zeros(n_classes + 1), where=class_forest > 0)
    return BenchmarkFit(region_ids=region_ids.astype(np.int64), forest_px=forest_px, deforested_px=deforested_px,
                        relative_frequency=deforested_px / forest_px, class_frequency=class_frequency,
                        n_classes=int(n_classes))


def predict_density(fit: BenchmarkFit, classes: np.ndarray, admin_id: np.ndarray | int,
                    cell_area_ha: np.ndarray | float) -> np.ndarray:
    """Deforestation density (ha per pixel over the period) = relative frequency × cell area.

    Source: VT0007 v1.0 (2024) §5.3 (density = relative frequency × pixel area) and §5.5 (the
    fitted frequencies applied to classes rebuilt from the forest edge at the start of the
    prediction period); a region absent from the fit takes its class's area-weighted frequency
    across units (UDef-ARP). Class 0 gets 0. cell_area_ha: ha, broadcastable to ``classes``
    (e.g. :meth:`Grid.cell_area_ha`'s column). Returns float64, ha/pixel.
    """
    classes = np.asarray(classes)
    admin = np.broadcast_to(np.asarray(admin_id), classes.shape)
    area = np.broadcast_to(np.asarray(cell_area_ha, dtype=np.float64), classes.shape)
    density = np.zeros(classes.shape, dtype=np.float64)
    if classes.ndim == 0:
        _predict_into(fit, classes, admin, area, density)
        return density
    # a slab of rows (or of values) at a time: each pixel's density is its own, so the same numbers, without the
    # regions' int64 and the frequencies' float64 copies of every pixel (0.96 GB at a jurisdiction's 30 million
    # forest pixels, the local-rate candidate's peak)
    step = max(1, PREDICT_CHUNK_PX // max(1, math.prod(classes.shape[1:])))
    for lo in range(0, classes.shape[0], step):
        rows = slice(lo, lo + step)
        _predict_into(fit, classes[rows], admin[rows], area[rows], density[rows])
    return density


PREDICT_CHUNK_PX = 1 << 22  # pixels :func:`predict_density` predicts at once


def _predict_into(fit: BenchmarkFit, classes: np.ndarray, admin: np.ndarray, area: np.ndarray,
                  out: np.ndarray) -> None:
    """:func:`predict_density` of ``classes`` (``admin`` and ``area`` of their shape) into ``out``, zeros."""
    forest = classes > 0
    counted = classes[forest]
    regions = modelling_regions(counted, admin[forest], fit.n_classes)
    position = np.minimum(np.searchsorted(fit.region_ids, regions), fit.region_ids.size - 1)
    seen = fit.region_ids[position] == regions
    frequency = np.where(seen, fit.relative_frequency[position], fit.class_frequency[counted.astype(np.int64)])
    out[forest] = frequency * area[forest]
