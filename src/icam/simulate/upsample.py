"""The simulator's bilinear upsampling, compiled: ``scipy.ndimage.zoom(image, factor, order=1, grid_mode=True,
mode="nearest")`` of a 2-D array into float32, to the bit.

The same seed must give the same landscape whatever computes it, so this is SciPy's arithmetic
(``NI_ZoomShift``, ``ni_interpolation.c``), not another interpolation: along each axis, output index k maps to
the input coordinate c = (k + 0.5) × zoom − 0.5 (zoom = input length / output length); its neighbours are
⌊c⌋ and ⌊c⌋ + 1, either taken as the edge cell where it lies beyond the border ("nearest"), and their
weights w0 = 1 − (c − ⌊c⌋) and w1 = 1 − w0 (``ni_splines.c``: the last weight is one less the others).
Each output is the float64 sum, in SciPy's order, of the four neighbours
times their row weight then their column weight, rounded to float32. SciPy walks the output one element at a
time through a generic N-d iterator; here whole rows run on every core: on the jurisdiction's 61 Mpx fields,
1.1 s a call single-threaded in SciPy, fourteen calls per simulation.
"""

from __future__ import annotations

import numba
import numpy as np


def bilinear_zoom(image: np.ndarray, factor: int) -> np.ndarray:
    """``ndimage.zoom(image, factor, order=1, grid_mode=True, mode="nearest")`` with ``output=np.float32`` of a
    2-D float32 ``image`` and an integer ``factor`` (module docstring): a new float32 array ``factor`` times
    larger on each axis."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    if image.ndim != 2 or int(factor) != factor or factor < 1:
        raise ValueError("bilinear_zoom takes a 2-D image and a positive integer factor")
    rows, row_weights = _axis(image.shape[0], image.shape[0] * int(factor))
    cols, col_weights = _axis(image.shape[1], image.shape[1] * int(factor))
    out = np.empty((rows.shape[0], cols.shape[0]), np.float32)
    _interpolate(image, rows, row_weights, cols, col_weights, out)
    return out


def _axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output index along one axis: its two input indices (n_out × 2) and their weights (n_out × 2),
    as ``NI_ZoomShift`` computes them in grid mode with the "nearest" border."""
    zoom = n_in / n_out
    coordinate = (np.arange(n_out, dtype=np.float64) + 0.5) * zoom - 0.5
    start = np.floor(coordinate)
    first = 1.0 - (coordinate - start)
    # beyond the border the image extends by its edge cells: both neighbours may be the same cell, each
    # with its weight (their sum may round away from the cell's value, as SciPy's does)
    index = np.clip(start.astype(np.int64)[:, None] + np.array([0, 1]), 0, n_in - 1)
    return index, np.column_stack([first, 1.0 - first])


@numba.njit(cache=True, nogil=True, parallel=True)
def _interpolate(image, rows, row_weights, cols, col_weights, out):
    n_rows, n_cols = out.shape
    for r in numba.prange(n_rows):
        top, bottom = image[rows[r, 0]], image[rows[r, 1]]
        w_top, w_bottom = row_weights[r, 0], row_weights[r, 1]
        for c in range(n_cols):
            left, right = cols[c, 0], cols[c, 1]
            w_left, w_right = col_weights[c, 0], col_weights[c, 1]
            t = 0.0  # SciPy's sum starts at +0.0: a first term of −0.0 becomes +0.0
            t += np.float64(top[left]) * w_top * w_left
            t += np.float64(top[right]) * w_top * w_right
            t += np.float64(bottom[left]) * w_bottom * w_left
            t += np.float64(bottom[right]) * w_bottom * w_right
            out[r, c] = np.float32(t)
