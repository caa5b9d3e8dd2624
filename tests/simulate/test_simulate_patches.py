"""The simulator's patch labelling (icam.simulate.patches): SciPy's per-year ``ndimage.label``, numbered year
after year, to the label."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from icam.simulate.patches import patches_by_year


def _per_year(loss_year):
    labels, n = np.zeros(loss_year.shape, np.int32), 0
    for code in np.unique(loss_year[loss_year > 0]):
        year_labels, k = ndimage.label(loss_year == code, structure=np.ones((3, 3), bool))
        labels[year_labels > 0] = year_labels[year_labels > 0] + n
        n += k
    return labels, n


@settings(max_examples=80, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), share=st.floats(0.0, 1.0), years=st.integers(1, 24),
       seed=st.integers(0, 2**32 - 1))
def test_patches_are_scipys_labels_year_by_year(rows, cols, share, years, seed):
    rng = np.random.default_rng(seed)
    loss_year = np.where(rng.random((rows, cols)) < share, rng.integers(1, years + 1, (rows, cols)), 0)
    loss_year = loss_year.astype(np.uint8)
    labels, n = patches_by_year(loss_year)
    expected, n_expected = _per_year(loss_year)
    assert n == n_expected
    np.testing.assert_array_equal(labels, expected)


def test_a_diagonal_joins_cells_of_one_year_not_of_two():
    """Worked by hand: 2001's two cells touch at a corner (one patch); 2002's cell beside them is its own."""
    loss_year = np.array([[1, 0, 2],
                          [0, 1, 0]], np.uint8)
    labels, n = patches_by_year(loss_year)
    assert n == 2
    np.testing.assert_array_equal(labels, [[1, 0, 2], [0, 1, 0]])
    with pytest.raises(ValueError, match="2-D"):
        patches_by_year(np.zeros(3, np.uint8))
