"""SciPy's ndimage filters of a 2-D float32 raster, compiled: the same values, to the bit, from SciPy's own
arithmetic in another order of loops (whole rows of outputs at a time, so that the compiler works on contiguous
vectors instead of one line's neighbours). The same seed must give the same landscape, and the same inputs the
same covariates, whatever computes them.

- :func:`gaussian_filter_reflect`, ``gaussian_filter`` in mode "reflect" (the simulator's yearly draws). SciPy
  (``NI_Correlate1D``, ``ni_filters.c``) filters one axis after the other (rows' axis first), each line copied
  into a float64 buffer extended by reflection, and for a symmetric kernel of radius r sums every output as

      out = x[0]·w[0] + Σ_{j = −r … −1} (x[j] + x[−j])·w[j]      (float64, j in that order),

  then rounds it to float32 before the next axis: on the jurisdiction's 61 Mpx draws, 1.1 s → 0.6 s a year.
- :func:`uniform_filter_nearest`, ``uniform_filter`` in mode "nearest" (the forest's 1 km share among the
  matching covariates). SciPy (``NI_UniformFilter1D``) filters the axes in the same order, a line at a time
  extended by repeating its end values, with a running sum: the window's values added in order, then for each
  next output ``sum += entering − leaving`` (the difference first), each output ``sum / size``. Along the rows'
  axis a line is a column, gathered across the whole raster for every one of its values; here the running sums
  are kept for every column at once and the raster read a row at a time: 1.0 s → 0.3 s on 61 Mpx.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np


def gaussian_filter_reflect(image: np.ndarray, sigma: float, truncate: float = 4.0,
                            out: np.ndarray | None = None) -> np.ndarray:
    """``ndimage.gaussian_filter(image, sigma, mode="reflect", truncate=truncate)`` of a 2-D float32 array,
    bit for bit (module docstring): into ``out`` (float32, of the image's shape, not the image itself) where
    given, else a new array."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    weights = _gaussian_weights(float(sigma), truncate)
    out = _output(image, out, "Gaussian")
    _gaussian_rows_axis(image, 0, weights, out, 0, out.shape[0])
    _gaussian_columns_axis(out, weights, out)  # in place: each row is copied into a line buffer first
    return out


def gaussian_filter_reflect_of_rows(fill_rows: Callable[[np.ndarray], object], out: np.ndarray, sigma: float,
                                    truncate: float = 4.0, band_rows: int = 512) -> np.ndarray:
    """:func:`gaussian_filter_reflect` of an image that is never whole: ``fill_rows(rows)`` writes its next
    rows, in order from the first, into ``rows`` (a C-contiguous float32 array of some rows of ``out``'s width),
    and the filter goes down ``out`` a band of rows at a time, keeping only the rows within its radius. The same
    values: each output row is summed from the same input rows in the same order.

    The simulator's yearly draws are white noise drawn in order and smoothed: a jurisdiction's whole noise was a
    quarter of a gigabyte in each of the workers drawing them."""
    n_rows, n_cols = out.shape
    if out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError("the Gaussian filter's output must be a C-contiguous float32 array")
    weights = _gaussian_weights(float(sigma), truncate)
    radius = weights.size // 2
    rows = np.empty((min(n_rows, band_rows + 2 * radius), n_cols), np.float32)
    first = read = 0  # rows holds the image's rows [first, read)
    for start in range(0, n_rows, band_rows):
        stop = min(n_rows, start + band_rows)
        # the rows the band reads: reflection at either end stays within them
        need_first, need_stop = max(0, start - radius), min(n_rows, stop + radius)
        kept = read - need_first
        rows[:kept] = rows[need_first - first:read - first]
        fill_rows(rows[kept:need_stop - need_first])
        first, read = need_first, need_stop
        _gaussian_rows_axis(rows, first, weights, out, start, stop)
    _gaussian_columns_axis(out, weights, out)
    return out


def _gaussian_weights(sigma: float, truncate: float) -> np.ndarray:
    """SciPy's kernel (``_gaussian_kernel1d`` at order 0, the same operations) of radius ``int(truncate·σ +
    0.5)``, reversed as its correlation takes it (the same numbers for a Gaussian, kept for exactness)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x ** 2)
    return np.ascontiguousarray((phi / phi.sum())[::-1])


@numba.njit(cache=True, nogil=True)
def _reflect(i, n):
    """Index ``i`` (any integer) of a line of ``n`` mirrored as SciPy's "reflect" (d c b a | a b c d | d c b a),
    which repeats with period 2n."""
    period = 2 * n
    i %= period
    return i if i < n else period - 1 - i


@numba.njit(cache=True, nogil=True)
def _gaussian_rows_axis(image, first, weights, out, start, stop):
    """Along axis 0, ``out``'s rows [start, stop), each from the rows around it, every column at once;
    ``image`` holds the image's rows from its row ``first`` (all those that these outputs read)."""
    n_rows, n_cols = out.shape
    r = weights.size // 2
    acc = np.empty(n_cols)
    for row in range(start, stop):
        centre = image[row - first]
        w0 = weights[r]
        for c in range(n_cols):
            acc[c] = np.float64(centre[c]) * w0
        for j in range(-r, 0):
            before = image[_reflect(row + j, n_rows) - first]
            after = image[_reflect(row - j, n_rows) - first]
            w = weights[r + j]
            for c in range(n_cols):
                acc[c] += (np.float64(before[c]) + np.float64(after[c])) * w
        for c in range(n_cols):
            out[row, c] = np.float32(acc[c])


@numba.njit(cache=True, nogil=True)
def _gaussian_columns_axis(image, weights, out):
    """Along axis 1: each row extended by reflection into a float64 line, then every output of it at once."""
    n_rows, n_cols = image.shape
    r = weights.size // 2
    line = np.empty(n_cols + 2 * r)
    acc = np.empty(n_cols)
    for row in range(n_rows):
        for c in range(n_cols):
            line[r + c] = np.float64(image[row, c])
        for k in range(r):
            line[r - 1 - k] = np.float64(image[row, _reflect(-1 - k, n_cols)])
            line[r + n_cols + k] = np.float64(image[row, _reflect(n_cols + k, n_cols)])
        w0 = weights[r]
        for c in range(n_cols):
            acc[c] = line[c + r] * w0
        for j in range(-r, 0):
            w = weights[r + j]
            # the two taps as views of the line: indexed by offsets, LLVM left the loop unvectorised (2.6× slower)
            before, after = line[r + j:r + j + n_cols], line[r - j:r - j + n_cols]
            for c in range(n_cols):
                acc[c] += (before[c] + after[c]) * w
        for c in range(n_cols):
            out[row, c] = np.float32(acc[c])


def uniform_filter_nearest(image: np.ndarray, size: int, out: np.ndarray | None = None) -> np.ndarray:
    """``ndimage.uniform_filter(image.astype(np.float32), size, mode="nearest")`` of a 2-D raster (bool, integer
    or float32: its float32 values), bit for bit (module docstring): into ``out`` (float32, of the image's
    shape, apart from it) where given, else a new array."""
    if image.ndim != 2 or size < 1:
        raise ValueError(f"a uniform filter of a 2-D raster by a size of at least 1, not {image.shape} by {size}")
    out = _output(image, out, "uniform")
    image = np.ascontiguousarray(image)
    if image.dtype != np.float32 and image.dtype.kind == "f":
        image = image.astype(np.float32)  # SciPy's filter of the float32 raster reads its rounded values
    _uniform_rows_axis(image, size, out)
    _uniform_columns_axis(out, size)
    return out


@numba.njit(cache=True, nogil=True)
def _uniform_rows_axis(image, size, out):
    """Along axis 0: each column's running sum, the columns side by side, a row entering and one leaving."""
    n_rows, n_cols = image.shape
    before, after = size // 2, size - size // 2 - 1
    total = np.zeros(n_cols)
    for k in range(-before, after + 1):
        row = image[min(max(k, 0), n_rows - 1)]
        for c in range(n_cols):
            total[c] += np.float64(np.float32(row[c]))
    for r in range(n_rows):
        if r > 0:
            entering, leaving = image[min(r + after, n_rows - 1)], image[max(r - before - 1, 0)]
            for c in range(n_cols):
                total[c] += np.float64(np.float32(entering[c])) - np.float64(np.float32(leaving[c]))
        for c in range(n_cols):
            out[r, c] = np.float32(total[c] / size)


@numba.njit(cache=True, nogil=True)
def _uniform_columns_axis(image, size):
    """Along axis 1, in place: each row extended by its end values into a float64 line, then its running sum."""
    n_rows, n_cols = image.shape
    before, after = size // 2, size - size // 2 - 1
    line = np.empty(n_cols + size - 1)
    for r in range(n_rows):
        for c in range(n_cols):
            line[before + c] = np.float64(image[r, c])
        for k in range(before):
            line[k] = line[before]
        for k in range(after):
            line[before + n_cols + k] = line[before + n_cols - 1]
        total = 0.0
        for k in range(size):
            total += line[k]
        image[r, 0] = np.float32(total / size)
        for c in range(1, n_cols):
            total += line[c + size - 1] - line[c - 1]
            image[r, c] = np.float32(total / size)


def _output(image: np.ndarray, out: np.ndarray | None, name: str) -> np.ndarray:
    """``out`` checked (float32, of the image's shape, apart from it), or a new float32 array."""
    if out is None:
        return np.empty(image.shape, np.float32)
    if out.shape != image.shape or out.dtype != np.float32 or np.shares_memory(out, image):
        raise ValueError(f"the {name} filter's output must be a float32 array of the image's shape, apart from it")
    return out
