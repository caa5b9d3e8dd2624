"""Compiled passes over a map's classes: a period's activity classes, the classes' pixels per row, and the cells of
a stratified draw.

Each is one pass over the raster where NumPy took one per operation and per class (a jurisdiction's 61 million
cells, eight assessment periods in the run and eight more in the simulator: about 0.6 s a period here against
1.1 s), and each gives the very values of the NumPy expressions it replaces, which the tests check.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def period_classes(forest_first, loss_period, valid, zone, k_start, k_end, outside, stable, loss, non_forest, out):
    """Into ``out`` (uint8): ``outside`` off the zone or the data, else ``stable`` where forest at epochs k_start and
    k_end, ``loss`` where forest at k_start only, ``non_forest`` elsewhere; forest at epoch k is
    ``forest_first & ((loss_period == 0) | (loss_period > k))`` (:class:`icam.forest.change.ForestChange`)."""
    n_rows, n_cols = out.shape
    for r in range(n_rows):
        for c in range(n_cols):
            if not (zone[r, c] and valid[r, c]):
                out[r, c] = outside
                continue
            lp = loss_period[r, c]
            if forest_first[r, c] and (lp == 0 or lp > k_start):
                out[r, c] = stable if (lp == 0 or lp > k_end) else loss
            else:
                out[r, c] = non_forest
    return out


@numba.njit(cache=True, nogil=True)
def _code_index(codes):
    """(256,) int64: each uint8 value's position in ``codes``, −1 for a value not among them."""
    lookup = np.full(256, -1, np.int64)
    for i in range(codes.size):
        lookup[codes[i]] = i
    return lookup


@numba.njit(cache=True, nogil=True)
def row_counts(labels, codes):
    """(len(codes), rows) int64: the pixels of each code in each row of the 2-D uint8 ``labels``."""
    lookup = _code_index(codes)
    n_rows, n_cols = labels.shape
    counts = np.zeros((codes.size, n_rows), np.int64)
    for r in range(n_rows):
        for c in range(n_cols):
            i = lookup[labels[r, c]]
            if i >= 0:
                counts[i, r] += 1
    return counts


@numba.njit(cache=True, nogil=True)
def ranked_cells(labels, valid, codes, picks, starts):
    """The flat indices of the drawn cells: for code ``codes[i]``, its valid cells of ranks ``picks[starts[i]:
    starts[i + 1]]`` (ascending ranks among its valid cells in raster order), in that order. One pass for every
    stratum, where ``np.flatnonzero`` listed each stratum's cells to take a few of them."""
    lookup = _code_index(codes)
    rank = np.zeros(codes.size, np.int64)
    nxt = starts[:-1].copy()
    out = np.empty(picks.size, np.int64)
    flat_labels, flat_valid = labels.ravel(), valid.ravel()
    for j in range(flat_labels.size):
        if not flat_valid[j]:
            continue
        i = lookup[flat_labels[j]]
        if i < 0:
            continue
        if nxt[i] < starts[i + 1] and picks[nxt[i]] == rank[i]:
            out[nxt[i]] = j
            nxt[i] += 1
        rank[i] += 1
    return out


@numba.njit(cache=True, nogil=True)
def valid_counts(labels, valid):
    """(256,) int64: the valid pixels of each value of the uint8 ``labels``."""
    counts = np.zeros(256, np.int64)
    flat_labels, flat_valid = labels.ravel(), valid.ravel()
    for j in range(flat_labels.size):
        if flat_valid[j]:
            counts[flat_labels[j]] += 1
    return counts


@numba.njit(cache=True, nogil=True)
def forest_state_counts(forest_first, valid, loss_period, masks, admin_id, n_periods, n_units):
    """Per mask of ``masks`` (a tuple of bool rasters) and, with ``n_units`` > 0, per administrative unit, the
    valid cells of each forest state (:func:`icam.forest.zones.zone_statistics`' codes: 0 not forest at the
    first epoch, p lost in period p, n_periods + 1 never lost); and every cell of each unit. Returns (the masks'
    counts, the units' counts, the units' cells), int64."""
    n_codes = n_periods + 2
    by_mask = np.zeros((len(masks), n_codes), np.int64)
    by_unit = np.zeros((max(n_units, 1), n_codes), np.int64)
    unit_cells = np.zeros(max(n_units, 1), np.int64)
    n_rows, n_cols = valid.shape
    for r in range(n_rows):
        for c in range(n_cols):
            if n_units > 0:
                unit_cells[admin_id[r, c]] += 1
            if not valid[r, c]:
                continue
            state = 0
            if forest_first[r, c]:
                state = n_periods + 1 if loss_period[r, c] == 0 else loss_period[r, c]
            for m in range(len(masks)):
                if masks[m][r, c]:
                    by_mask[m, state] += 1
            if n_units > 0:
                by_unit[admin_id[r, c], state] += 1
    return by_mask, by_unit, unit_cells


@numba.njit(cache=True, nogil=True)
def _area_by_code(codes, mask, row_area_ha, n_codes):
    out = np.zeros(n_codes)
    n_rows, n_cols = codes.shape
    for r in range(n_rows):
        area = row_area_ha[r]
        for c in range(n_cols):
            if mask[r, c]:
                out[codes[r, c]] += area
    return out


def area_by_code(codes: np.ndarray, mask: np.ndarray, cell_area_ha: np.ndarray, minlength: int = 0) -> np.ndarray:
    """``np.bincount(codes[mask], weights=area[mask], minlength=minlength)`` for a 2-D raster of non-negative integer
    codes, ``cell_area_ha`` a (rows, 1) column of cell areas (:meth:`icam.landscape.grid.Grid.cell_area_ha`): the
    same float64 sums, added in the same (raster) order, without the gathered codes and areas (at a
    jurisdiction's control area, 0.8 GB of int64 and float64 copies)."""
    codes = np.asarray(codes)
    n_codes = max(minlength, int(codes.max()) + 1 if codes.size else 0)
    row_area = np.ascontiguousarray(np.broadcast_to(cell_area_ha, (codes.shape[0], 1))[:, 0], dtype=np.float64)
    return _area_by_code(codes, np.asarray(mask, dtype=bool), row_area, n_codes)
