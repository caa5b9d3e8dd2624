"""The benchmark's per-pixel steps over a whole map as single compiled passes (:mod:`icam.risk.benchmark`): the
vulnerability classes and each modelling region's forest and lost pixels. numpy took them in several passes with
gathered and float64 temporaries (a jurisdiction's 35 million forest pixels: 0.7 to 0.9 s a call, four or five
calls a run); here one read of each raster, the same classes and counts."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def classify(distance, forest, limits_ascending, n_limits, out):
    """``out`` (uint8, flat) = :func:`icam.risk.benchmark.vulnerability_classes` of the flat ``distance`` and
    ``forest``, from its ``n_limits`` class limits ascending: 0 off the forest or where the distance is NaN, else
    n_limits + 1 − j clipped to 1 … n_limits, with j the number of limits ≤ d
    (``np.searchsorted(limits_ascending, d, side="right")``, d as float64)."""
    for i in range(distance.size):
        if not forest[i]:
            continue
        d = np.float64(distance[i])
        if np.isnan(d):
            continue
        j = np.searchsorted(limits_ascending, d, side="right")
        out[i] = min(max(n_limits + 1 - j, 1), n_limits)


@numba.njit(cache=True, nogil=True)
def region_counts(classes, admin, admin_step, forest, deforested, stride, n_bins):
    """Per modelling region id (class + ``stride`` × unit), the pixels of ``forest`` with a class ≥ 1 and those of
    them in ``deforested`` (int64, ``n_bins`` long); ``admin`` is read at ``i × admin_step`` (step 0: one unit for
    every pixel). All arrays flat."""
    forest_px = np.zeros(n_bins, np.int64)
    lost_px = np.zeros(n_bins, np.int64)
    for i in range(classes.size):
        c = classes[i]
        if c > 0 and forest[i]:
            region = c + stride * admin[i * admin_step]
            forest_px[region] += 1
            if deforested[i]:
                lost_px[region] += 1
    return forest_px, lost_px


def dense_region_counts(classes: np.ndarray, admin: np.ndarray, forest: np.ndarray, deforested: np.ndarray,
                        n_classes: int, stride: int, max_bins: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Each region id's (class + ``stride`` × unit) forest and lost pixels in one pass (:func:`region_counts`), or
    None where the ids would need more than ``max_bins`` bins, or the units or classes are not what
    :func:`icam.risk.benchmark.modelling_regions` accepts (integers, units ≥ 0, classes ≤ ``n_classes``)."""
    if admin.shape not in ((), classes.shape) or classes.size == 0 or admin.size == 0:
        return None
    if not (np.issubdtype(admin.dtype, np.integer) and np.issubdtype(classes.dtype, np.integer)):
        return None
    n_bins = (int(admin.max()) + 1) * stride
    if admin.min() < 0 or int(classes.max()) > n_classes or n_bins > max_bins:
        return None
    return region_counts(classes.ravel(), admin.reshape(-1), 0 if admin.ndim == 0 else 1, forest.ravel(),
                         deforested.ravel(), stride, n_bins)
