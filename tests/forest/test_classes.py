"""The compiled passes over a map's classes give the very values of the NumPy expressions they replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.forest.activity import FOREST_LOSS, NON_FOREST, OUTSIDE, STABLE_FOREST
from icam.forest.classes import (
    area_by_code,
    forest_state_counts,
    period_classes,
    ranked_cells,
    row_counts,
    valid_counts,
)

shapes = st.tuples(st.integers(1, 40), st.integers(1, 40))


def _numpy_classes(forest_first, loss_period, valid, zone, k_start, k_end):
    """activity_map as NumPy wrote it: forest at epoch k = forest_first & valid & (lp == 0 | lp > k)."""
    def forest_at(k):
        return forest_first & valid & ((loss_period == 0) | (loss_period > k))

    start, end = forest_at(k_start), forest_at(k_end)
    classes = np.full(forest_first.shape, NON_FOREST, dtype=np.uint8)
    classes[start & end] = STABLE_FOREST
    classes[start & ~end] = FOREST_LOSS
    classes[~(zone & valid)] = OUTSIDE
    return classes


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), k_start=st.integers(0, 6), span=st.integers(0, 6))
def test_period_classes_are_numpys(shape, seed, k_start, span):
    rng = np.random.default_rng(seed)
    forest_first, valid, zone = (rng.random(shape) < p for p in (0.7, 0.9, 0.8))
    loss_period = rng.integers(0, 9, shape).astype(np.uint8)
    k_end = k_start + span
    out = period_classes(forest_first, loss_period, valid, zone, k_start, k_end, OUTSIDE, STABLE_FOREST,
                         FOREST_LOSS, NON_FOREST, np.empty(shape, np.uint8))
    np.testing.assert_array_equal(out, _numpy_classes(forest_first, loss_period, valid, zone, k_start, k_end))


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), n_values=st.integers(1, 30))
def test_row_and_valid_counts_are_numpys(shape, seed, n_values):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_values, shape).astype(np.uint8)
    valid = rng.random(shape) < 0.8
    codes = np.array(sorted(rng.choice(n_values, size=max(1, n_values // 2), replace=False)), np.int64)
    expected = np.stack([np.count_nonzero(labels == k, axis=1) for k in codes])
    np.testing.assert_array_equal(row_counts(labels, codes), expected)
    np.testing.assert_array_equal(valid_counts(labels, valid), np.bincount(labels[valid], minlength=256))


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_ranked_cells_take_each_strata_pixels_at_the_drawn_ranks(shape, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, shape).astype(np.uint8)
    valid = rng.random(shape) < 0.7
    codes, picks = [], []
    for s in (3, 1, 4):  # any order of the strata: the output follows it
        pix = np.flatnonzero((labels.ravel() == s) & valid.ravel())
        if pix.size:
            codes.append(s)
            picks.append(np.sort(rng.choice(pix.size, size=rng.integers(1, pix.size + 1), replace=False)))
    if not codes:
        return
    starts = np.cumsum([0] + [p.size for p in picks])
    out = ranked_cells(labels, valid, np.array(codes, np.int64), np.concatenate(picks), starts)
    expected = np.concatenate([np.flatnonzero((labels.ravel() == s) & valid.ravel())[p] for s, p in zip(codes, picks)])
    np.testing.assert_array_equal(out, expected)


@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), n_masks=st.integers(1, 3), n_units=st.sampled_from([0, 1, 4]))
def test_forest_state_counts_are_numpys_bincounts(shape, seed, n_masks, n_units):
    rng = np.random.default_rng(seed)
    forest_first, valid = rng.random(shape) < 0.7, rng.random(shape) < 0.9
    n_periods = 5
    loss_period = rng.integers(0, n_periods + 1, shape).astype(np.uint8)
    masks = tuple(rng.random(shape) < 0.6 for _ in range(n_masks))
    admin = rng.integers(0, max(n_units, 1), shape).astype(np.int32)
    by_mask, by_unit, unit_cells = forest_state_counts(forest_first, valid, loss_period, masks, admin, n_periods,
                                                       n_units)
    state = np.where(forest_first & valid, np.where(loss_period == 0, n_periods + 1, loss_period), 0)
    for m, mask in enumerate(masks):
        np.testing.assert_array_equal(by_mask[m], np.bincount(state[mask & valid], minlength=n_periods + 2))
    if n_units:
        for u in range(n_units):
            np.testing.assert_array_equal(by_unit[u], np.bincount(state[valid & (admin == u)],
                                                                  minlength=n_periods + 2))
        np.testing.assert_array_equal(unit_cells, np.bincount(admin.ravel(), minlength=n_units))


@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), per_row=st.booleans(), minlength=st.integers(0, 12))
def test_area_by_code_is_numpys_weighted_bincount_to_the_bit(shape, seed, per_row, minlength):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 9, shape).astype(np.uint8)
    mask = rng.random(shape) < 0.6
    cell_area = (0.09 * (1 + rng.random((shape[0], 1))) if per_row else np.full((shape[0], 1), 0.09))
    area = np.broadcast_to(cell_area, shape)
    expected = np.bincount(codes[mask].astype(np.intp), weights=area[mask], minlength=minlength)
    got = area_by_code(codes, mask, cell_area, minlength)
    np.testing.assert_array_equal(got[:expected.size], expected)
    assert not got[expected.size:].any()  # codes beyond the masked ones: nothing
