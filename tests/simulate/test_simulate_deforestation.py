"""The simulator's yearly loop (icam.simulate.deforestation): a year's loss recorded in one compiled pass, as the
two numpy operations it replaces record it."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.simulate.deforestation import _record_loss


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), share=st.floats(0.0, 1.0), code=st.integers(1, 24),
       seed=st.integers(0, 2**32 - 1))
def test_a_years_loss_is_recorded_as_numpy_records_it(rows, cols, share, code, seed):
    rng = np.random.default_rng(seed)
    forest = rng.random((rows, cols)) < 0.7
    lost = forest & (rng.random((rows, cols)) < share)
    loss_year = np.where(forest, 0, rng.integers(1, 24, (rows, cols))).astype(np.uint8)
    expected_year, expected_forest = loss_year.copy(), forest.copy()
    expected_year[lost] = code
    expected_forest &= ~lost
    _record_loss(lost, forest, loss_year, code)
    np.testing.assert_array_equal(loss_year, expected_year)
    np.testing.assert_array_equal(forest, expected_forest)
