"""The exact Euclidean distance transform of a 2-D mask, compiled: the values of the ``edt`` package (3.1.2,
``edt.edt(inside, anisotropy=spacing, black_border=False)``) to the bit, in about half its time on two cores.

The algorithm is edt's, Felzenszwalb & Huttenlocher's (2012, *Distance transforms of sampled functions*, Theory
of Computing 8:415–428): a first pass along each row gives every cell's distance to the nearest target cell of
its row (Rosenfeld & Pfaltz 1966: a running count forward, then backward), squared; a second pass along each
column takes the lower envelope of the parabolas (row distance² + (Δrow · s_r)²) of its cells. Its arithmetic
is edt's too, so that the same mask gives the same distances whatever computes them:

- the first pass adds the column spacing s_c in float32, cell after cell, takes the smaller of the two
  directions (``fminf``) and squares in float32; a row without a target holds float32's largest value (edt
  takes a raster one cell wide or tall for a line, whose distances it multiplies out: there the two differ by
  a unit in the last place at most);
- the second pass intersects parabolas in float64, s = (f(i) − f(v) + (i − v)·w²·(i + v)) / (2 (i − v)·w²), with
  w² = s_r² rounded to float32, and writes w²·(i − v)² + f(v) (float64) rounded to float32; then √ in float32,
  and +∞ where no target exists.

Why it is faster: edt walks each column down the raster one cell per cache line (a jurisdiction's 7,824
columns, 7,824 lines each) and runs its first pass on one core. Here the second pass copies strips of
:data:`STRIP_COLUMNS` columns into a contiguous buffer and back, and both passes run on every core
(:func:`icam.core.blocks.on_every_core`): 61 Mpx in 0.8–1.0 s against edt's 1.6–2.1 s on two cores.
"""

from __future__ import annotations

import numba
import numpy as np

from icam.core.blocks import on_every_core
from icam.core.errors import InputError

STRIP_COLUMNS = 32  # columns of the second pass copied together: a float32 strip is a cache line a row
ROW_BAND = 256  # rows of the first pass per task
_FLOAT32_MAX = np.float32(np.finfo(np.float32).max)


def euclidean_distance(mask: np.ndarray, spacing: tuple[float, float], to: bool = False) -> np.ndarray:
    """The distance from each cell's centre to the nearest centre of a cell where ``mask == to``, with the row
    spacing ``spacing[0]`` and the column spacing ``spacing[1]``: 0 on those cells, +∞ everywhere when there is
    none; cells beyond the raster do not count. Returns float32, of the mask's shape.

    ``edt.edt(mask != to, anisotropy=spacing, black_border=False)`` to the bit (module docstring)."""
    mask = np.ascontiguousarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise InputError(f"the distance transform takes a 2-D mask, got shape {mask.shape}")
    row_m, col_m = (float(s) for s in spacing)
    if not (row_m > 0 and col_m > 0):
        raise InputError(f"cell spacings must be positive, got {spacing}")
    if not (mask.any() if to else not mask.all()):  # no target (or no cell): +∞, without the two passes
        return np.full(mask.shape, np.inf, dtype=np.float32)
    rows, cols = mask.shape
    out = np.empty(mask.shape, np.float32)
    col32, row2 = np.float32(col_m), float(np.float32(np.float32(row_m) * np.float32(row_m)))
    on_every_core(lambda lo: _row_pass(mask, bool(to), lo, min(lo + ROW_BAND, rows), col32, out),
                  range(0, rows, ROW_BAND))
    on_every_core(lambda lo: _column_pass(out, lo, min(lo + STRIP_COLUMNS, cols), row2),
                  range(0, cols, STRIP_COLUMNS))
    return out


@numba.njit(cache=True, nogil=True)
def _row_pass(mask, to, lo, hi, col_m, out):
    """edt's first pass (``squared_edt_1d_multi_seg`` of a binary row, then ``tofinite``) on rows lo..hi: the
    squared distance along the row to its nearest target cell, float32, into ``out``."""
    n = mask.shape[1]
    inf, zero = np.float32(np.inf), np.float32(0.0)
    for r in range(lo, hi):
        row, d = mask[r], out[r]
        last = zero if row[0] == to else inf
        d[0] = last
        for c in range(1, n):
            last = zero if row[c] == to else np.float32(last + col_m)
            d[c] = last
        for c in range(n - 2, -1, -1):
            back = np.float32(d[c + 1] + col_m)
            if back < d[c]:
                d[c] = back
        for c in range(n):
            squared = np.float32(d[c] * d[c])
            d[c] = _FLOAT32_MAX if squared == inf else squared


@numba.njit(cache=True, nogil=True)
def _column_pass(out, lo, hi, w2):
    """edt's second pass (``squared_edt_1d_parabolic``, then √ and ``toinfinite``) on columns lo..hi of the first
    pass's squares in ``out``, replaced by the distances. The columns are copied into rows of a strip first."""
    n, width = out.shape[0], hi - lo
    strip = np.empty((width, n), np.float32)
    for i in range(n):
        for j in range(width):
            strip[j, i] = out[i, lo + j]
    v = np.empty(n, np.int64)  # the envelope's parabolas (their rows), in order
    z = np.empty(n + 1, np.float64)  # where each starts to be the lowest
    result = np.empty((width, n), np.float32)
    for j in range(width):
        f, res = strip[j], result[j]
        k = 0
        v[0], z[0], z[1] = 0, -np.inf, np.inf
        for i in range(1, n):
            fi = np.float64(f[i])
            while True:
                f1 = (i - v[k]) * w2
                s = (fi - np.float64(f[v[k]]) + f1 * (i + v[k])) / (2.0 * f1)
                if k == 0 or s > z[k]:
                    break
                k -= 1
            k += 1
            v[k], z[k], z[k + 1] = i, s, np.inf
        k = 0
        for i in range(n):
            while z[k + 1] < i:
                k += 1
            dv = np.float64(i - v[k])
            squared = np.float32(w2 * (dv * dv) + np.float64(f[v[k]]))
            res[i] = np.float32(np.inf) if squared >= _FLOAT32_MAX else np.sqrt(squared)
    for i in range(n):
        for j in range(width):
            out[i, lo + j] = result[j, i]
