"""Flat (row-major) indices of a raster's cells, in the smallest integer type that holds every one of them, and
counts and sums over them that read them in that type."""

from __future__ import annotations

import numba
import numpy as np


def flat_indices(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(mask)``, int32 where the raster has fewer than 2³¹ cells (half int64's memory: a
    jurisdiction's 36 million forest pixels are 143 MB), int64 otherwise. A boolean mask's in one compiled pass
    into the int32 array: numpy's int64 indices, cast after, were 0.29 GB more at a jurisdiction's risk peak."""
    mask = np.asarray(mask)
    if mask.size >= 2**31:
        return np.flatnonzero(mask)
    if mask.dtype != np.bool_:
        return np.flatnonzero(mask).astype(np.int32)
    flat = mask.ravel()
    index = np.empty(np.count_nonzero(flat), np.int32)
    _true_positions(flat, index)
    return index


@numba.njit(cache=True, nogil=True)
def _true_positions(flat, out):
    k = 0
    for i in range(flat.size):
        if flat[i]:
            out[k] = i
            k += 1


def bincount(index: np.ndarray, weights: np.ndarray | None = None, minlength: int = 0) -> np.ndarray:
    """``np.bincount(index, weights, minlength)`` without its int64 copy of ``index``: the same loop over the
    values in their order (a weighted sum the same to the bit), reading int32 indices as they are. Over a
    jurisdiction's 36 million forest pixels that copy was 0.29 GB at the risk stage's peak."""
    index = np.asarray(index)
    size = _bins(index, minlength)
    if weights is None:
        counts = np.zeros(size, np.int64)
        _count(index.ravel(), counts)
        return counts
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != index.shape:
        raise ValueError(f"bincount's weights {weights.shape} and indices {index.shape} differ in shape")
    sums = np.zeros(size, np.float64)
    _sum(index.ravel(), weights.ravel(), sums)
    return sums


def bincount_of_groups(index: np.ndarray, group: np.ndarray, per_group: np.ndarray, minlength: int = 0
                       ) -> np.ndarray:
    """``bincount(index, per_group[group], minlength)``, the same sums to the bit, without the weights spread
    to every item: each item weighs its group's value (a float64 per forest pixel of a jurisdiction, 0.29 GB,
    where the pixels' densities are their groups')."""
    index, group = np.asarray(index), np.asarray(group)
    per_group = np.asarray(per_group, dtype=np.float64)
    if group.shape != index.shape:
        raise ValueError(f"bincount's groups {group.shape} and indices {index.shape} differ in shape")
    if group.size and not 0 <= int(group.min()) <= int(group.max()) < per_group.size:
        raise ValueError(f"bincount's groups must lie in 0 … {per_group.size - 1}")
    sums = np.zeros(_bins(index, minlength), np.float64)
    _sum_of_groups(index.ravel(), group.ravel(), per_group, sums)
    return sums


def _bins(index: np.ndarray, minlength: int) -> int:
    """The number of bins of a bincount of ``index`` (checked: non-negative integers)."""
    if not np.issubdtype(index.dtype, np.integer):
        raise TypeError(f"bincount needs integer indices, got {index.dtype}")
    if index.size and int(index.min()) < 0:
        raise ValueError("bincount needs non-negative indices")
    return max(int(minlength), int(index.max()) + 1 if index.size else 0)


@numba.njit(cache=True, nogil=True)
def _count(index, out):
    for i in range(index.size):
        out[index[i]] += 1


@numba.njit(cache=True, nogil=True)
def _sum(index, weights, out):
    for i in range(index.size):
        out[index[i]] += weights[i]


@numba.njit(cache=True, nogil=True)
def _sum_of_groups(index, group, per_group, out):
    for i in range(index.size):
        out[index[i]] += per_group[group[i]]
