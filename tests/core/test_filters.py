"""The compiled filters (icam.core.filters): bit for bit SciPy's ``ndimage.gaussian_filter`` in mode "reflect"
and ``ndimage.uniform_filter`` in mode "nearest", on rasters smaller and larger than the kernel or window, the
uniform one of any size, from bool and float32 rasters."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from icam.core.filters import gaussian_filter_reflect, gaussian_filter_reflect_of_rows, uniform_filter_nearest


@settings(max_examples=80, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), size=st.integers(1, 25), kind=st.sampled_from(["bool", "f4"]),
       seed=st.integers(0, 2**32 - 1))
def test_uniform_filter_is_scipys_to_the_bit(rows, cols, size, kind, seed):
    rng = np.random.default_rng(seed)
    image = rng.random((rows, cols)) < 0.6 if kind == "bool" else rng.normal(size=(rows, cols)).astype(np.float32)
    expected = ndimage.uniform_filter(image.astype(np.float32), size=size, mode="nearest")
    filtered = uniform_filter_nearest(image, size)
    assert filtered.dtype == np.float32
    np.testing.assert_array_equal(filtered.view(np.uint32), expected.view(np.uint32))


def test_a_forest_shares_window_on_a_large_raster_and_its_output_buffer():
    """The 1 km share of a forest at 30 m (a window of 67 cells) on a raster wider than one line buffer's
    worth, written into a given buffer; the forest is left as it was."""
    forest = np.random.default_rng(7).random((500, 1300)) < 0.7
    kept = forest.copy()
    out = np.full(forest.shape, -1.0, np.float32)
    assert uniform_filter_nearest(forest, 67, out=out) is out
    expected = forest.astype(np.float32)
    ndimage.uniform_filter(expected, size=67, mode="nearest", output=expected)
    np.testing.assert_array_equal(out.view(np.uint32), expected.view(np.uint32))
    np.testing.assert_array_equal(forest, kept)


def test_bad_shapes_and_buffers_are_refused():
    image = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match="2-D"):
        uniform_filter_nearest(np.zeros(5, np.float32), 3)
    with pytest.raises(ValueError, match="at least 1"):
        uniform_filter_nearest(image, 0)
    with pytest.raises(ValueError, match="apart from it"):
        uniform_filter_nearest(image, 3, out=image)
    with pytest.raises(ValueError, match="float32"):
        uniform_filter_nearest(image, 3, out=np.zeros((4, 5)))


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), sigma=st.floats(0.3, 6.0),
       truncate=st.sampled_from([3.0, 4.0]), seed=st.integers(0, 2**32 - 1))
def test_gaussian_filter_is_scipys_to_the_bit(rows, cols, sigma, truncate, seed):
    image = np.random.default_rng(seed).standard_normal((rows, cols), dtype=np.float32)
    expected = ndimage.gaussian_filter(image, sigma, mode="reflect", truncate=truncate)
    smoothed = gaussian_filter_reflect(image, sigma, truncate)
    assert smoothed.dtype == np.float32
    np.testing.assert_array_equal(smoothed.view(np.uint32), expected.view(np.uint32))


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 60), cols=st.integers(1, 12), sigma=st.floats(0.3, 6.0),
       truncate=st.sampled_from([3.0, 4.0]), band_rows=st.integers(1, 20), seed=st.integers(0, 2**32 - 1))
def test_gaussian_filter_of_rows_given_in_bands_is_scipys_to_the_bit(rows, cols, sigma, truncate, band_rows, seed):
    """The image given a few rows at a time, in order, each row once: SciPy's filter of the whole image."""
    image = np.random.default_rng(seed).standard_normal((rows, cols), dtype=np.float32)
    expected = ndimage.gaussian_filter(image, sigma, mode="reflect", truncate=truncate)
    given_rows = []

    def fill_rows(band):
        band[:] = image[len(given_rows):len(given_rows) + len(band)]
        given_rows.extend(range(len(given_rows), len(given_rows) + len(band)))

    out = np.empty_like(image)
    assert gaussian_filter_reflect_of_rows(fill_rows, out, sigma, truncate, band_rows) is out
    assert given_rows == list(range(rows))
    np.testing.assert_array_equal(out.view(np.uint32), expected.view(np.uint32))


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
