"""The simulator's compiled bilinear upsampling (icam.simulate.upsample): bit for bit SciPy's ``ndimage.zoom``
with order 1, grid mode and the "nearest" border, on images of one row or column up to a few dozen."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from icam.simulate.upsample import bilinear_zoom


@settings(max_examples=80, deadline=None)
@given(rows=st.integers(1, 30), cols=st.integers(1, 30), factor=st.integers(1, 9),
       scale=st.sampled_from([1e-3, 1.0, 3e4]), seed=st.integers(0, 2**32 - 1))
def test_bilinear_zoom_is_scipys_to_the_bit(rows, cols, factor, scale, seed):
    image = (np.random.default_rng(seed).standard_normal((rows, cols)) * scale).astype(np.float32)
    expected = ndimage.zoom(image, factor, order=1, grid_mode=True, mode="nearest")
    zoomed = bilinear_zoom(image, factor)
    assert zoomed.dtype == np.float32 and zoomed.shape == (rows * factor, cols * factor)
    np.testing.assert_array_equal(zoomed.view(np.uint32), expected.view(np.uint32))


def test_bilinear_zoom_interpolates_between_cell_centres():
    """Worked by hand: cells 0 and 4 in a row, zoom 2: output centres at input coordinates −0.25, 0.25, 0.75
    and 1.25; beyond the border both neighbours are the edge cell: 0, 1, 3, 4."""
    zoomed = bilinear_zoom(np.array([[0.0, 4.0]], np.float32), 2)
    np.testing.assert_array_equal(zoomed, [[0, 1, 3, 4], [0, 1, 3, 4]])


def test_bilinear_zoom_refuses_what_it_does_not_compute():
    with pytest.raises(ValueError, match="positive integer factor"):
        bilinear_zoom(np.zeros((3, 3), np.float32), 1.5)
    with pytest.raises(ValueError, match="2-D image"):
        bilinear_zoom(np.zeros(3, np.float32), 2)
