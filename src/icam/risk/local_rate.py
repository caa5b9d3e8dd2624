"""riskmapjnr's local deforestation rate in a moving window, and its equal-interval classes.

Source: riskmapjnr (Vieilledent, the JNR risk-mapping package: ``local_defor_rate``, ``defor_cat``,
``set_defor_cat_zero``), after the VCS JNR risk-mapping tool. See docs/methods.md, "Local deforestation
rate classes (riskmapjnr)".
"""

from __future__ import annotations

import functools
from concurrent.futures import Executor

import numba
import numpy as np

from icam.core.blocks import map_blocks
from icam.core.errors import InputError
from icam.risk.benchmark import N_CLASSES

CLASS_LIMIT_TOLERANCE = 1e-5  # class units: a rate this close to a class limit counts as on it


def local_deforestation_rate(deforested: np.ndarray, forest_at_start: np.ndarray, window_px: int,
                             pool: Executor | None = None) -> np.ndarray:
    """Local deforestation rate of each forest cell: deforested / forest cells in its window.

    rate(x) = #{deforested forest cells in W(x)} / #{forest cells at the start in W(x)}, W(x) the
    square window of ``window_px`` × ``window_px`` pixels (odd) centred on x; cells beyond the
    raster count as neither. A dimensionless share over the period; 0 off forest. riskmapjnr's
    ``local_defor_rate`` counts with ``scipy.ndimage.uniform_filter`` (mode "constant", cval 0): a mean in
    float64, times the window's cells. icam counts in integers (:func:`window_counts`), the same counts in a
    fraction of the memory. riskmapjnr then stores rint(10,000 · (1 − (1 − rate)^T)) as integers (T its
    ``time_interval``); icam keeps the period rate as float32.

    deforested, forest_at_start: bool (rows, cols); deforestation outside the forest is ignored. pool: where the
    window counts run block by block (:func:`window_counts`; None: the whole map here).
    """
    forest = np.asarray(forest_at_start, dtype=bool)
    deforested = np.asarray(deforested, dtype=bool)
    if forest.ndim != 2 or deforested.shape != forest.shape:
        raise InputError(f"deforested {deforested.shape} and forest {forest.shape} must be 2-D of one shape")
    if int(window_px) != window_px or window_px < 1 or window_px % 2 == 0:
        raise InputError(f"window_px must be an odd positive number of pixels, got {window_px}")
    window = int(window_px)
    n_forest = window_counts(forest, window, pool)[forest]
    n_lost = window_counts(forest & deforested, window, pool)[forest]
    rate = np.zeros(forest.shape, dtype=np.float32)
    rate[forest] = n_lost.astype(np.float64) / n_forest
    return rate


def window_counts(cells: np.ndarray, window_px: int, pool: Executor | None = None) -> np.ndarray:
    """The True cells of ``cells`` (bool, 2-D) in the ``window_px`` × ``window_px`` window (odd) centred on each
    cell, cells beyond the raster counting as False: uint16 where a window holds fewer than 65,536 cells,
    else uint32. Running sums along each row, then down the columns: two compiled passes. With a ``pool``
    (:func:`icam.core.blocks.block_executor`) block by block on it, each block read with a halo of half a window:
    the same integers."""
    dtype = np.uint16 if window_px * window_px < 2 ** 16 else np.uint32
    if pool is not None:
        return map_blocks(functools.partial(window_counts, window_px=window_px), [cells], dtype=dtype,
                          halo_px=window_px // 2, pool=pool)
    across, out = np.empty(cells.shape, dtype), np.empty(cells.shape, dtype)
    _running_sums(np.ascontiguousarray(cells, dtype=bool), window_px // 2, across, out)
    return out


@numba.njit(cache=True, nogil=True)
def _running_sums(cells, half, across, out):
    rows, cols = cells.shape
    for r in range(rows):
        run = 0
        for c in range(min(half, cols)):
            run += cells[r, c]
        for c in range(cols):
            if c + half < cols:
                run += cells[r, c + half]
            if c > half:
                run -= cells[r, c - half - 1]
            across[r, c] = run
    run_down = np.zeros(cols, np.int64)
    for r in range(min(half, rows)):
        for c in range(cols):
            run_down[c] += across[r, c]
    for r in range(rows):
        for c in range(cols):
            if r + half < rows:
                run_down[c] += across[r + half, c]
            if r > half:
                run_down[c] -= across[r - half - 1, c]
            out[r, c] = run_down[c]


def local_rate_classes(rate: np.ndarray, forest: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Risk class of each forest cell by equal intervals of the local rate: 1 (lowest) .. n_classes.

    Class k holds rates in ((k − 1)/n, k/n], class 1 also rate 0, with n = ``n_classes``; 0 off
    ``forest`` (uint8). This is riskmapjnr's ``defor_cat`` with ``method="Equal Interval"``
    (pandas.cut on right-closed bins, include_lowest). Differences: riskmapjnr slices its integer
    rate 0..10,000 into bins round(10,000/n) wide, so its last class is wider (9,657..10,000 for
    n = 30); icam uses exact widths 1/n; riskmapjnr's default is "Equal Area" (quantiles). A rate
    within ``CLASS_LIMIT_TOLERANCE`` class units of a limit counts as on it (float32 rates such as 1/3
    stay in their class). riskmapjnr's zero-risk class (cells at or beyond the distance threshold
    from the forest edge, ``set_defor_cat_zero``) is had by passing
    ``forest & (distance_m < threshold_m)`` as ``forest``.

    The classes are then fitted and predicted exactly like the benchmark's distance classes:
    ``icam.risk.benchmark.fit_relative_frequency(classes, admin_id, deforested, forest, n_classes)``
    and ``predict_density`` (VT0007 v1.0 §5.3 relative frequency per class × unit).
    """
    rate = np.asarray(rate)
    forest = np.asarray(forest, dtype=bool)
    if rate.shape != forest.shape:
        raise InputError(f"rate {rate.shape} and forest {forest.shape} differ in shape")
    if not 1 <= int(n_classes) <= 255:
        raise InputError(f"n_classes must lie in 1..255, got {n_classes}")
    classes = np.zeros(rate.shape, dtype=np.uint8)
    # one compiled pass over the cells, each class from its float64 rate as numpy's ceil and clip give it: the
    # forest's rates gathered in float64 and their temporaries were 0.8 GB at a jurisdiction's risk stage
    if not _classes(np.ravel(rate), np.ravel(forest), int(n_classes), CLASS_LIMIT_TOLERANCE, classes.reshape(-1)):
        raise InputError("local deforestation rates must lie in [0, 1] on the forest")
    return classes


@numba.njit(cache=True, nogil=True)
def _classes(rate, forest, n, tolerance, out):
    """:func:`local_rate_classes` into ``out`` (zeros); False at a forest rate outside [0, 1] or not finite."""
    for i in range(rate.size):
        if forest[i]:
            value = np.float64(rate[i])
            if not (np.isfinite(value) and 0.0 <= value <= 1.0):
                return False
            out[i] = min(max(np.ceil(value * n - tolerance), 1.0), float(n))
    return True
