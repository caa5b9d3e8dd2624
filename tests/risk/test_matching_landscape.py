"""What the matching reads of a landscape (icam.risk.matching_landscape): the forest of a year in one compiled
pass equals its definition over the loss years."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.risk.matching_landscape import MatchingLandscape


@settings(max_examples=50, deadline=None)
@given(rows=st.integers(1, 30), cols=st.integers(1, 30), year=st.integers(1999, 2026), transposed=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_forest_at_a_year_is_the_first_forest_not_yet_lost(rows, cols, year, transposed, seed):
    """forest_first & (never lost, or lost after the year), on C-ordered rasters and on views that are not."""
    rng = np.random.default_rng(seed)
    loss_year = np.where(rng.random((rows, cols)) < 0.5, 0, rng.integers(2001, 2025, (rows, cols))).astype(np.int16)
    forest_first = rng.random((rows, cols)) < 0.8
    if transposed:
        loss_year, forest_first = loss_year.T, forest_first.T
    land = MatchingLandscape(loss_year=loss_year, forest_first=forest_first, first_year=2000,
                             control=np.ones(loss_year.shape, bool), strata=np.ones(loss_year.shape, np.int16),
                             strata_names=("forest",), static={}, cell_size_m=30.0, cell_area_ha=0.09)
    forest = land.forest_at(year)
    assert forest.dtype == bool and forest.shape == loss_year.shape
    np.testing.assert_array_equal(forest, forest_first & ((loss_year == 0) | (loss_year > year)))
