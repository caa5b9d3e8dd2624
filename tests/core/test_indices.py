"""Flat indices of a raster's cells, and counts and sums over them (icam.core.indices)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.core.indices import bincount, bincount_of_groups, flat_indices


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 40), st.integers(0, 40))
def test_flat_indices_are_flatnonzero_in_int32(seed, rows, cols):
    values = np.random.default_rng(seed).random((rows, cols))
    mask = values < 0.3
    for raster in (mask, mask.T, (values * 3).astype(np.uint8)):  # a mask, a view in another order, not a mask
        index = flat_indices(raster)
        assert index.dtype == np.int32
        assert np.array_equal(index, np.flatnonzero(raster))


def test_a_raster_of_2_to_the_31_cells_keeps_int64():
    # a view of one False over 2³¹ cells (no memory): the type follows the raster's size, not its True cells
    assert flat_indices(np.broadcast_to(np.False_, (2, 2**30))).dtype == np.int64


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 500), top=st.integers(1, 60), minlength=st.integers(0, 80),
       dtype=st.sampled_from([np.int32, np.int64, np.uint8, np.int16]))
def test_bincount_is_numpys_to_the_bit(seed, n, top, minlength, dtype):
    rng = np.random.default_rng(seed)
    index = rng.integers(0, min(top, np.iinfo(dtype).max), n).astype(dtype)
    # weights of every magnitude: a sum in another order would differ in its last bits
    weights = rng.normal(size=n) * 10.0 ** rng.integers(-8, 9, n)
    counts = bincount(index, minlength=minlength)
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts, np.bincount(index, minlength=minlength))
    np.testing.assert_array_equal(bincount(index, weights, minlength), np.bincount(index, weights, minlength))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 500), top=st.integers(1, 60), groups=st.integers(1, 30),
       minlength=st.integers(0, 80))
def test_bincount_of_groups_is_numpys_of_the_spread_weights_to_the_bit(seed, n, top, groups, minlength):
    rng = np.random.default_rng(seed)
    index = rng.integers(0, top, n).astype(np.int32)
    group = rng.integers(0, groups, n).astype(np.int32)
    per_group = rng.normal(size=groups) * 10.0 ** rng.integers(-8, 9, groups)
    np.testing.assert_array_equal(bincount_of_groups(index, group, per_group, minlength),
                                  np.bincount(index, per_group[group], minlength))


def test_bincount_of_groups_refuses_groups_it_has_no_value_for():
    with pytest.raises(ValueError, match="0 … 2"):
        bincount_of_groups(np.array([0, 1], np.int32), np.array([0, 3], np.int32), np.ones(3))
    with pytest.raises(ValueError, match="differ in shape"):
        bincount_of_groups(np.array([0, 1], np.int32), np.array([0], np.int32), np.ones(3))


def test_bincount_refuses_what_numpy_refuses():
    with pytest.raises(ValueError, match="non-negative"):
        bincount(np.array([1, -1], np.int32))
    with pytest.raises(TypeError, match="integer"):
        bincount(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="differ in shape"):
        bincount(np.array([1, 2], np.int32), np.ones(3))
