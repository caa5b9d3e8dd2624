"""The VT0007 benchmark block by block: the same thresholds, classes and frequencies as the whole map.

Source: VT0007 v1.0 (2024) §5.3 and §5.5, as :mod:`icam.risk.workflow` implements them on a whole map. Here
every raster step runs on one block of :mod:`icam.core.blocks` at a time, read from the change map with a
halo of the distance cap, and only counts leave a block, so memory is set by the block size, not the area:

1. at t1, the distance to the forest edge capped at ``cap_m`` (exact below the cap: the nearest non-forest
   cell within the cap lies inside the halo), and the deforested pixels' count per distance bin one pixel
   wide, for the calibration (t1→t2) and historical (t1→t3) losses → summed → the two NRTs
   (:func:`icam.risk.benchmark.nrt_from_histogram`). An NRT in the cap's own bin could be the cap's doing:
   the histograms are made again with a cap four times as long (:mod:`icam.risk.blockwise_run`). Every pixel
   at or beyond an NRT is class 1, so the cap changes no class;
2. at a date, the vulnerability classes at an NRT, and counts: forest pixels per group (modelling region,
   and row where cell areas vary by row: ``workflow._groups``), deforested pixels per group, pixels per
   (group, assessment cell), deforested pixels per (row, assessment cell), the jurisdiction's pixels per
   assessment cell and forest and deforested pixels per row. Summed, they give the fits
   (:func:`icam.risk.benchmark.fit_from_counts`), the areas, and each group's adjusted density, whose
   sums per assessment cell are the assessments.

Counts are integers: the block sums equal the whole map's exactly, and so do the thresholds, the class
limits, the frequencies and the areas. Assessment sums are products of a group's density and its pixel
count in a cell where the whole map adds pixel by pixel: equal to rounding (tests/risk/test_risk_blockwise.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine

from icam.core.blocks import ArraySource, BlockGrid, FileSource
from icam.core.errors import InputError
from icam.risk import benchmark as bm
from icam.risk import validate as va

DISTANCE_CAP_M = 2_000.0  # the first cap: above most NRTs, and a halo of 67 pixels at 30 m (1.3x a 1024 block)
FOREST_CODES = {"t1": (1, 2, 3), "t2": (2, 3), "t3": (3,)}  # forestatrisk's fcc codes of the forest at each date
LOST_CODES = {"calibration": (1,), "historical": (1, 2), "confirmation": (2,), "none": ()}


@dataclass(frozen=True)
class ChangeMap:
    """A forest-cover change map read block by block, in forestatrisk's codes (0 no data, 1 lost t1→t2, 2 lost
    t2→t3, 3 forest at t3), and the administrative units (int ids, 0 outside; None: one unit everywhere)."""

    fcc: ArraySource | FileSource
    units: ArraySource | FileSource | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.fcc.shape)

    def read(self, window: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
        """(fcc codes, units) over ``window``; codes outside a unit read as 0 (no data)."""
        fcc = np.asarray(self.fcc.read(window))
        unexpected = np.setdiff1d(np.unique(fcc), (0, 1, 2, 3))
        if unexpected.size:  # as workflow.forest_from_fcc says of a whole map
            raise InputError(f"the change map holds values {unexpected[:5].tolist()} outside 0–3",
                             "use the forestatrisk convention: 0 no data, 1 lost in the first period, "
                             "2 lost in the second, 3 forest at the end")
        units = (np.ones(fcc.shape, np.int32) if self.units is None else
                 np.asarray(self.units.read(window)).astype(np.int64))
        return np.where(units > 0, fcc, 0), units


@dataclass(frozen=True)
class Blocks:
    """What every block task of one run shares: the map, the cell spacings, the cap, the block size and the
    assessment cells' side (pixels)."""

    change: ChangeMap
    row_m: float
    col_m: float
    cap_m: float
    block_px: int
    cell_side_px: int

    def read(self, window: tuple[slice, slice], date: str):
        """The block's (fcc, units, forest at ``date``, capped distance to that forest's edge), read with the cap's
        halo and cut to the block."""
        halo = (math.ceil(self.cap_m / self.row_m), math.ceil(self.cap_m / self.col_m))
        read, inner = BlockGrid(self.change.shape, self.block_px, halo).haloed(window)
        fcc, units = self.change.read(read)
        forest = np.isin(fcc, FOREST_CODES[date])
        spacing = Affine(self.col_m, 0, 0, 0, -self.row_m, 0)
        distance = np.minimum(bm.distance_to_edge_m(forest, spacing), np.float32(self.cap_m))
        return fcc[inner], units[inner], forest[inner], distance[inner]

    @property
    def layout(self) -> va.AssessmentCells:
        """The map's assessment cells (laid from its top-left corner, as ``validate.assessment_cells``)."""
        return va.AssessmentCells(tuple(self.change.shape), self.cell_side_px)

    @property
    def n_cells(self) -> int:
        return self.layout.n_cells

    def cells(self, window: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
        """The block's rows (absolute) and assessment cell ids, as (rows, cols) maps."""
        rows = np.arange(window[0].start, window[0].stop)
        cell = self.layout.window_ids(window, np.int64)  # int64: the counts' keys combine cells with groups
        return np.broadcast_to(rows[:, None], cell.shape), cell


def _tally(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys, counts = np.unique(np.asarray(keys, dtype=np.int64), return_counts=True)
    return keys, counts.astype(np.int64)


def merge(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sparse counts (keys, counts) of several blocks summed: (keys ascending, counts)."""
    parts = [p for p in parts if p[0].size]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys, inverse = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
    return keys, np.bincount(inverse, weights=np.concatenate([p[1] for p in parts]),
                             minlength=keys.size).astype(np.int64)


def histograms(blocks: Blocks, window: tuple[slice, slice], cell_m: float) -> list[np.ndarray]:
    """A block's calibration and historical deforested pixels per distance bin at t1 (block task)."""
    fcc, _, _, distance = blocks.read(window, "t1")
    return [np.bincount(bm.distance_bins(distance[np.isin(fcc, LOST_CODES[p])], cell_m))
            for p in ("calibration", "historical")]


def classed_groups(distance: np.ndarray, forest: np.ndarray, units: np.ndarray, rows: np.ndarray, nrt_m: float,
                   cell_m: float, by_row: bool, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A block's vulnerability classes at an NRT, where they are > 0, and each classed pixel's group key
    (modelling region, times the grid's height plus the row where areas vary by row: ``workflow._groups``)."""
    classes = bm.vulnerability_classes(distance, forest, nrt_m, cell_m)
    counted = classes > 0
    group = bm.modelling_regions(classes[counted], units[counted]).astype(np.int64)
    if by_row:
        group = group * height + rows[counted]
    return classes, counted, group


def class_counts(blocks: Blocks, window: tuple[slice, slice], date: str, specs: list[tuple[float, str]],
                 cell_m: float, by_row: bool, height: int) -> list[dict]:
    """A block's sparse counts at ``date`` (module docstring, step 2), for each (NRT, loss period) of ``specs``
    (block task)."""
    fcc, units, forest, distance = blocks.read(window, date)
    rows, cell = blocks.cells(window)
    out = []
    for nrt, period in specs:
        classes, counted, group = classed_groups(distance, forest, units, rows, nrt, cell_m, by_row, height)
        lost = np.isin(fcc, LOST_CODES[period])
        n = blocks.n_cells
        out.append({"group_px": _tally(group), "group_lost": _tally(group[lost[counted]]),
                    "group_cell": _tally(group * n + cell[counted]),
                    "row_cell_lost": _tally(rows[lost] * n + cell[lost]),
                    "cell_units": _tally(cell[units > 0]),
                    "rows_forest": np.count_nonzero(forest, axis=1), "rows_lost": np.count_nonzero(lost, axis=1)})
    return out


__all__ = ["DISTANCE_CAP_M", "Blocks", "ChangeMap", "class_counts", "classed_groups", "histograms", "merge"]
