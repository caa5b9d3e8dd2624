"""The simulated map's commission candidates: near the 2000 non-forest edge exactly as SciPy's chessboard
distance transform has it."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from icam.simulate.reference import _near_non_forest


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 60), cols=st.integers(1, 60), share=st.sampled_from([0.3, 0.9, 0.995, 1.0]),
       within_px=st.sampled_from([0.0, 1.0, 3.5, 10.0]), seed=st.integers(0, 2**16))
def test_near_non_forest_is_the_chessboard_transform_within_the_distance(rows, cols, share, within_px, seed):
    forest = np.random.default_rng(seed).random((rows, cols)) < share
    expected = ndimage.distance_transform_cdt(forest, metric="chessboard") <= within_px
    np.testing.assert_array_equal(_near_non_forest(forest, within_px), expected)
