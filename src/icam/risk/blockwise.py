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

import numpy as np

from icam.core.blocks import BLOCK_PX, haloed_blocks
from icam.core.errors import InputError
from icam.landscape.grid import Grid
from icam.risk import benchmark as bm
from icam.risk.workflow import PeriodFit

DISTANCE_CAP_M = 10_000.0  # no forest pixel of a real map is this far from an edge where loss happens


def _distances(grid: Grid, cap_m: float, block_px: int, forest: np.ndarray, *others: np.ndarray):
    """Each block's (window, forest, the others, capped distance to the forest edge), the halo cut off."""
    row_m, col_m = bm._cell_sizes(grid)
    halo = (math.ceil(cap_m / row_m), math.ceil(cap_m / col_m))
    for window, views, inner in haloed_blocks([forest, *others], halo_px=halo, block_px=block_px):
        distance = np.minimum(bm.distance_to_edge_m(views[0], grid.transform), np.float32(cap_m))[inner]
        yield window, views[0][inner], [v[inner] for v in views[1:]], distance


def period_fit_by_blocks(name: str, years: tuple[int, int], forest_start: np.ndarray, deforested: np.ndarray,
                         units: np.ndarray, grid: Grid, cap_m: float = DISTANCE_CAP_M,
                         block_px: int = BLOCK_PX) -> PeriodFit:
    """:func:`icam.risk.workflow.fit_period`'s fit (NRT, class limits, frequencies, areas), block by block.

    forest_start, deforested: bool maps; units: int unit ids (0 outside). Any 2-D array-likes that slice into
    numpy blocks serve (memory maps, or rasters read by window).
    """
    cell = grid.resolution_m
    if not cap_m > 2 * cell:
        raise InputError(f"the distance cap ({cap_m} m) must exceed two cells ({2 * cell} m)")
    cap_bin = int(bm.distance_bins(np.array([cap_m]), cell)[0])
    histogram = np.zeros(cap_bin + 1, dtype=np.int64)
    for _, _forest, (lost,), distance in _distances(grid, cap_m, block_px, forest_start, deforested):
        histogram += np.bincount(bm.distance_bins(distance[lost], cell), minlength=cap_bin + 1)
    if not histogram.any():
        raise InputError(f"no deforestation in the {name} period ({years[0]}–{years[1]})",
                         "the benchmark needs historical deforestation to fit")
    nrt = bm.nrt_from_histogram(histogram, cell)
    if nrt >= cap_bin * cell:
        raise InputError(f"the {name} period's negligible risk threshold reaches the distance cap ({cap_m:,.0f} m)",
                         "raise the distance cap")
    stride = bm._stride(bm.N_CLASSES)
    n_regions = (int(np.max(units)) + 1) * stride
    forest_px, lost_px = np.zeros(n_regions, np.int64), np.zeros(n_regions, np.int64)
    forest_rows, lost_rows = np.zeros(grid.height, np.int64), np.zeros(grid.height, np.int64)
    for window, forest, (lost, unit), distance in _distances(grid, cap_m, block_px, forest_start, deforested, units):
        classes = bm.vulnerability_classes(distance, forest, nrt, cell)
        counted = classes > 0
        regions = bm.modelling_regions(classes[counted], unit[counted])
        forest_px += np.bincount(regions, minlength=n_regions)
        lost_px += np.bincount(regions[lost[counted]], minlength=n_regions)
        forest_rows[window[0]] += np.count_nonzero(forest, axis=1)
        lost_rows[window[0]] += np.count_nonzero(lost, axis=1)
    present = np.flatnonzero(forest_px)
    area_by_row = grid.cell_area_ha()[:, 0]
    return PeriodFit(name=name, start_year=years[0], end_year=years[1], nrt_m=nrt,
                     class_limits_m=bm.class_limits_m(nrt, cell),
                     fit=bm.fit_from_counts(present, forest_px[present], lost_px[present]),
                     deforested_ha=float(lost_rows @ area_by_row), forest_at_start_ha=float(forest_rows @ area_by_row))


__all__ = ["DISTANCE_CAP_M", "period_fit_by_blocks"]
