"""The simulator's compiled Gaussian smoothing (icam.simulate.smoothing): bit for bit SciPy's
``ndimage.gaussian_filter`` in mode "reflect", on rasters smaller and larger than the kernel."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from icam.simulate.smoothing import gaussian_filter_reflect


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), sigma=st.floats(0.3, 6.0),
       truncate=st.sampled_from([3.0, 4.0]), seed=st.integers(0, 2**32 - 1))
def test_gaussian_filter_is_scipys_to_the_bit(rows, cols, sigma, truncate, seed):
    image = np.random.default_rng(seed).standard_normal((rows, cols), dtype=np.float32)
    expected = ndimage.gaussian_filter(image, sigma, mode="reflect", truncate=truncate)
    smoothed = gaussian_filter_reflect(image, sigma, truncate)
    assert smoothed.dtype == np.float32
    np.testing.assert_array_equal(smoothed.view(np.uint32), expected.view(np.uint32))


def test_gaussian_filter_leaves_its_input_alone_and_keeps_a_constant():
    image = np.full((30, 17), 2.5, np.float32)
    smoothed = gaussian_filter_reflect(image, 3.5, truncate=3.0)
    assert np.all(image == 2.5)
    np.testing.assert_allclose(smoothed, 2.5, rtol=1e-6)  # the weights sum to 1 and reflection adds no edge


def test_gaussian_filter_writes_into_a_given_output_but_not_over_its_input():
    image = np.random.default_rng(3).standard_normal((12, 9), dtype=np.float32)
    out = np.empty_like(image)
    assert gaussian_filter_reflect(image, 1.5, out=out) is out
    np.testing.assert_array_equal(out, ndimage.gaussian_filter(image, 1.5, mode="reflect"))
    with pytest.raises(ValueError, match="apart from it"):
        gaussian_filter_reflect(image, 1.5, out=image)
