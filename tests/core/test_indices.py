"""Flat indices of a raster's cells (icam.core.indices)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.core.indices import flat_indices


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 40), st.integers(0, 40))
def test_flat_indices_are_flatnonzero_in_int32(seed, rows, cols):
    mask = np.random.default_rng(seed).random((rows, cols)) < 0.3
    index = flat_indices(mask)
    assert index.dtype == np.int32
    assert np.array_equal(index, np.flatnonzero(mask))


def test_a_raster_of_2_to_the_31_cells_keeps_int64():
    # a view of one False over 2³¹ cells (no memory): the type follows the raster's size, not its True cells
    assert flat_indices(np.broadcast_to(np.False_, (2, 2**30))).dtype == np.int64
