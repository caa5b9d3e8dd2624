"""The VT0007 benchmark's fit block by block: the same threshold, classes and frequencies as the whole map.

Source: VT0007 v1.0 (2024) §5.3, as :func:`icam.risk.workflow.fit_period` implements it on a whole map.
Here every raster step runs on one block of :mod:`icam.core.blocks` at a time, read with a halo of the
distance cap, and only counts leave a block, so memory is set by the block size, not by the area:

1. the distance to the forest edge, capped at ``cap_m`` (exact below the cap: the nearest non-forest
   cell within the cap lies inside the halo), and the deforested pixels' count per distance bin one
   pixel wide → summed → the NRT (:func:`icam.risk.benchmark.nrt_from_histogram`). An NRT in the cap's
   own bin could be the cap's doing: refused, with the fix (a larger cap);
2. the distance again, the vulnerability classes at that NRT, and the forest and deforested pixels per
   modelling region (class × unit) and per row → summed → the fit (:func:`icam.risk.benchmark.fit_from_counts`)
   and the areas.

Counts are integers, so the block sums equal the whole map's exactly, and so do the threshold, the class
limits, the frequencies and the areas (tests/risk/test_risk_blockwise.py checks it on random maps and on
Guadeloupe's). Distances beyond the cap do not change a class: every pixel at or beyond the NRT is class 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine

from icam.core.blocks import BLOCK_PX, ArraySource, BlockGrid, FileSource, block_executor
from icam.core.errors import InputError
from icam.landscape.grid import Grid
from icam.risk import benchmark as bm
from icam.risk.workflow import PeriodFit

DISTANCE_CAP_M = 10_000.0  # no forest pixel of a real map is this far from an edge where loss happens
LOST_CODES = {"calibration": (1,), "historical": (1, 2)}  # fcc codes lost in the period (from t1)


@dataclass(frozen=True)
class ChangeMap:
    """A forest-cover change map read block by block, in forestatrisk's codes (0 no data, 1 lost t1→t2, 2 lost
    t2→t3, 3 forest at t3), and the administrative units (int ids, 0 outside; None: one unit everywhere)."""

    fcc: ArraySource | FileSource
    units: ArraySource | FileSource | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.fcc.shape)

    def read(self, window: tuple[slice, slice], period: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(forest at t1, lost in the period, units) over ``window``; forest only inside a unit."""
        fcc = self.fcc.read(window)
        units = (np.ones(fcc.shape, np.int32) if self.units is None else
                 np.asarray(self.units.read(window)).astype(np.int64))
        forest = (fcc > 0) & (units > 0)
        return forest, forest & np.isin(fcc, LOST_CODES[period]), units


@dataclass(frozen=True)
class _Blocks:
    """What every block task of one fit shares: the map, the period, the cell spacings and the cap."""

    change: ChangeMap
    period: str
    row_m: float
    col_m: float
    cap_m: float
    block_px: int

    def read(self, window: tuple[slice, slice]):
        """The block's (forest, lost, units, capped distance to the edge), read with the cap's halo, cut to it."""
        halo = (math.ceil(self.cap_m / self.row_m), math.ceil(self.cap_m / self.col_m))
        read, inner = BlockGrid(self.change.shape, self.block_px, halo).haloed(window)
        forest, lost, units = self.change.read(read, self.period)
        spacing = Affine(self.col_m, 0, 0, 0, -self.row_m, 0)
        distance = np.minimum(bm.distance_to_edge_m(forest, spacing), np.float32(self.cap_m))
        return forest[inner], lost[inner], units[inner], distance[inner]


def _histogram(blocks: _Blocks, window: tuple[slice, slice], cell_m: float) -> np.ndarray:
    """A block's deforested pixels per distance bin one pixel wide."""
    _, lost, _, distance = blocks.read(window)
    return np.bincount(bm.distance_bins(distance[lost], cell_m))


def _counts(blocks: _Blocks, window: tuple[slice, slice], cell_m: float, nrt_m: float):
    """A block's forest and deforested pixels per modelling region, and per row."""
    forest, lost, units, distance = blocks.read(window)
    classes = bm.vulnerability_classes(distance, forest, nrt_m, cell_m)
    counted = classes > 0
    regions = bm.modelling_regions(classes[counted], units[counted])
    return (np.bincount(regions), np.bincount(regions[lost[counted]]), np.count_nonzero(forest, axis=1),
            np.count_nonzero(lost, axis=1))


def _add(total: np.ndarray, part: np.ndarray) -> np.ndarray:
    """Two count vectors summed, the shorter padded with zeros."""
    if part.size > total.size:
        total, part = part.astype(np.int64), total
    total[:part.size] += part
    return total


def period_fit_by_blocks(change: ChangeMap, period: str, years: tuple[int, int], grid: Grid,
                         cap_m: float = DISTANCE_CAP_M, block_px: int = BLOCK_PX,
                         scheduler: str | None = None) -> PeriodFit:
    """:func:`icam.risk.workflow.fit_period`'s fit of ``period`` ("calibration": t1→t2, "historical": t1→t3):
    NRT, class limits, frequencies and areas, block by block on ``scheduler`` (:func:`icam.core.blocks.block_executor`).
    """
    cell = grid.resolution_m
    if not cap_m > 2 * cell:
        raise InputError(f"the distance cap ({cap_m} m) must exceed two cells ({2 * cell} m)")
    if change.shape != grid.shape:
        raise InputError(f"the change map {change.shape} and the grid {grid.shape} differ in shape")
    blocks = _Blocks(change, period, *bm._cell_sizes(grid), float(cap_m), int(block_px))
    windows = list(BlockGrid(grid.shape, block_px).windows())
    with block_executor(scheduler) as pool:
        histogram = np.zeros(0, np.int64)
        for part in pool.map(_histogram, [blocks] * len(windows), windows, [cell] * len(windows)):
            histogram = _add(histogram, part)
        if not histogram.any():
            raise InputError(f"no deforestation in the {period} period ({years[0]}–{years[1]})",
                             "the benchmark needs historical deforestation to fit")
        nrt = bm.nrt_from_histogram(histogram, cell)
        if nrt >= int(bm.distance_bins(np.array([cap_m]), cell)[0]) * cell:
            raise InputError(f"the {period} period's negligible risk threshold reaches the distance cap "
                             f"({cap_m:,.0f} m)", "raise the distance cap")
        forest_px, lost_px = np.zeros(0, np.int64), np.zeros(0, np.int64)
        forest_rows, lost_rows = np.zeros(grid.height, np.int64), np.zeros(grid.height, np.int64)
        for window, (f_px, l_px, f_rows, l_rows) in zip(windows, pool.map(
                _counts, [blocks] * len(windows), windows, [cell] * len(windows), [nrt] * len(windows))):
            forest_px, lost_px = _add(forest_px, f_px), _add(lost_px, l_px)
            forest_rows[window[0]] += f_rows
            lost_rows[window[0]] += l_rows
    lost_px = np.pad(lost_px, (0, max(0, forest_px.size - lost_px.size)))
    present = np.flatnonzero(forest_px)
    area_by_row = grid.cell_area_ha()[:, 0]
    return PeriodFit(name=period, start_year=years[0], end_year=years[1], nrt_m=nrt,
                     class_limits_m=bm.class_limits_m(nrt, cell),
                     fit=bm.fit_from_counts(present, forest_px[present], lost_px[present]),
                     deforested_ha=float(lost_rows @ area_by_row), forest_at_start_ha=float(forest_rows @ area_by_row))


__all__ = ["DISTANCE_CAP_M", "ChangeMap", "period_fit_by_blocks"]
