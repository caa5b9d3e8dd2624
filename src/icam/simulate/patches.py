"""The simulator's clearings as patches: 8-connected groups of cells lost in the same year, labelled in one
compiled pass over the loss-year raster.

The map-error model (:func:`icam.simulate.reference.map_with_errors`) draws a random omission and late date
per patch, indexed by the patch's number, so the numbers must be those the per-year labelling gave: for each
loss year in turn, SciPy's ``ndimage.label`` of that year's cells (a 3 × 3 structure), its patches numbered
after the earlier years'. ``label`` numbers a year's patches in the raster order of their first cells, so
the patches here are numbered by year, then by the raster position of their first cell. Union-find over
the raster (Rosenfeld & Pfaltz 1966, *J. ACM* 13:471–494; each cell joined to its already-visited
neighbours of the same year, the smaller label kept as the root, which is the patch's first cell's), then
the roots sorted: one pass instead of one label and two masks of the whole raster per year (the
jurisdiction's 24 years: 7 s → under 1 s).
"""

from __future__ import annotations

import numba
import numpy as np


def patches_by_year(loss_year: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels (int32, 0 = none) of the 8-connected groups of cells of equal non-zero ``loss_year`` (module
    docstring), and their number."""
    codes = np.ascontiguousarray(loss_year)
    if codes.ndim != 2:
        raise ValueError("patches_by_year takes a 2-D loss-year raster")
    labels = np.zeros(codes.shape, np.int32)
    parent = np.zeros(int(np.count_nonzero(codes)) + 1, np.int32)  # at most a provisional label per cell
    n_provisional = _provisional(codes, labels, parent)
    provisional = np.arange(1, n_provisional + 1)
    roots = provisional[parent[1:n_provisional + 1] == provisional]
    root_year = _root_years(codes, labels, parent, n_provisional)[roots]
    final = np.zeros(n_provisional + 1, np.int32)
    final[roots[np.lexsort((roots, root_year))]] = np.arange(1, roots.size + 1, dtype=np.int32)
    _relabel(labels, parent, final)
    return labels, int(roots.size)


@numba.njit(cache=True, nogil=True)
def _root(parent, label):
    while parent[label] != label:
        parent[label] = parent[parent[label]]  # path halving
        label = parent[label]
    return label


@numba.njit(cache=True, nogil=True)
def _provisional(codes, labels, parent):
    """Each lost cell's provisional label, joined to its visited neighbours' (west, north-west, north,
    north-east) of the same year; returns how many were made."""
    rows, cols = codes.shape
    n = 0
    for r in range(rows):
        for c in range(cols):
            code = codes[r, c]
            if code == 0:
                continue
            label = 0
            for dr, dc in ((0, -1), (-1, -1), (-1, 0), (-1, 1)):
                rr, cc = r + dr, c + dc
                if rr < 0 or cc < 0 or cc >= cols or codes[rr, cc] != code:
                    continue
                other = _root(parent, labels[rr, cc])
                if label == 0:
                    label = other
                elif other != label:
                    low, high = min(label, other), max(label, other)
                    parent[high] = low
                    label = low
            if label == 0:
                n += 1
                parent[n] = n
                label = n
            labels[r, c] = label
    return n


@numba.njit(cache=True, nogil=True)
def _root_years(codes, labels, parent, n):
    out = np.zeros(n + 1, codes.dtype)
    rows, cols = codes.shape
    for r in range(rows):
        for c in range(cols):
            if labels[r, c]:
                out[_root(parent, labels[r, c])] = codes[r, c]
    return out


@numba.njit(cache=True, nogil=True)
def _relabel(labels, parent, final):
    rows, cols = labels.shape
    for r in range(rows):
        for c in range(cols):
            if labels[r, c]:
                labels[r, c] = final[_root(parent, labels[r, c])]
