"""riskmapjnr's local deforestation rate in a moving window, and its equal-interval classes.

Source: riskmapjnr (Vieilledent, the JNR risk-mapping package: ``local_defor_rate``, ``defor_cat``,
``set_defor_cat_zero``), after the VCS JNR risk-mapping tool. See docs/methods.md, "Local deforestation
rate classes (riskmapjnr)".
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from icam.core.errors import InputError
from icam.risk.benchmark import N_CLASSES

CLASS_LIMIT_TOLERANCE = 1e-5  # class units: a rate this close to a class limit counts as on it


def local_deforestation_rate(deforested: np.ndarray, forest_at_start: np.ndarray, window_px: int) -> np.ndarray:
    """Local deforestation rate of each forest cell: deforested / forest cells in its window.

    rate(x) = #{deforested forest cells in W(x)} / #{forest cells at the start in W(x)}, W(x) the
    square window of ``window_px`` × ``window_px`` pixels (odd) centred on x; cells beyond the
    raster count as neither. A dimensionless share over the period; 0 off forest. Counts come from
    ``scipy.ndimage.uniform_filter`` (mode "constant", cval 0), as riskmapjnr's
    ``local_defor_rate`` computes them. riskmapjnr then stores rint(10,000 · (1 − (1 − rate)^T))
    as integers (T its ``time_interval``); icam keeps the period rate as float32.

    deforested, forest_at_start: bool (rows, cols); deforestation outside the forest is ignored.
    """
    forest = np.asarray(forest_at_start, dtype=bool)
    deforested = np.asarray(deforested, dtype=bool)
    if forest.ndim != 2 or deforested.shape != forest.shape:
        raise InputError(f"deforested {deforested.shape} and forest {forest.shape} must be 2-D of one shape")
    if int(window_px) != window_px or window_px < 1 or window_px % 2 == 0:
        raise InputError(f"window_px must be an odd positive number of pixels, got {window_px}")
    window = int(window_px)

    def count(cells: np.ndarray) -> np.ndarray:
        mean = ndimage.uniform_filter(cells.astype(np.float64), size=window, mode="constant", cval=0.0)
        return np.rint(mean * window * window)

    n_forest = count(forest)
    n_lost = count(forest & deforested)
    rate = np.zeros(forest.shape, dtype=np.float32)
    rate[forest] = n_lost[forest] / n_forest[forest]
    return rate


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
    rate = np.asarray(rate, dtype=np.float64)
    forest = np.asarray(forest, dtype=bool)
    if rate.shape != forest.shape:
        raise InputError(f"rate {rate.shape} and forest {forest.shape} differ in shape")
    if not 1 <= int(n_classes) <= 255:
        raise InputError(f"n_classes must lie in 1..255, got {n_classes}")
    inside = rate[forest]
    if not (np.isfinite(inside).all() and (inside >= 0).all() and (inside <= 1).all()):
        raise InputError("local deforestation rates must lie in [0, 1] on the forest")
    n = int(n_classes)
    classes = np.zeros(rate.shape, dtype=np.uint8)
    classes[forest] = np.clip(np.ceil(inside * n - CLASS_LIMIT_TOLERANCE), 1, n)
    return classes
