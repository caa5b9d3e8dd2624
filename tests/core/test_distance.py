"""The compiled distance transform (icam.core.distance): bit for bit the ``edt`` package's, on random masks of
any shape, density and spacing, on a forest map of Guadeloupe, and worked by hand; within float32 rounding of
SciPy's float64 transform."""

import edt
import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from icam.core.distance import STRIP_COLUMNS, euclidean_distance
from icam.core.errors import InputError


def _edt(mask: np.ndarray, spacing: tuple[float, float], to: bool) -> np.ndarray:
    return edt.edt(np.ascontiguousarray(mask != to), anisotropy=spacing, black_border=False, parallel=1)


@settings(max_examples=120, deadline=None)
@given(rows=st.integers(2, 70), cols=st.integers(2, 2 * STRIP_COLUMNS + 5), density=st.sampled_from([0.0, 0.01, 0.3,
       0.9, 1.0]), spacing=st.sampled_from([(30.0, 30.0), (30.0, 60.0), (27.83, 31.1), (0.1, 0.1), (1.0, 1.0)]),
       to=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_the_transform_is_edts_to_the_bit(rows, cols, density, spacing, to, seed):
    mask = (np.random.default_rng(seed).random((rows, cols)) < density) == to  # density: the targets' share
    distance = euclidean_distance(mask, spacing, to=to)
    assert distance.dtype == np.float32
    np.testing.assert_array_equal(distance.view(np.uint32), _edt(mask, spacing, to).view(np.uint32))


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 60), cols=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_the_transform_is_scipys_within_float32_rounding(rows, cols, seed):
    mask = np.random.default_rng(seed).random((rows, cols)) < 0.7
    mask[rows // 2, cols // 2] = False
    expected = ndimage.distance_transform_edt(mask, sampling=(30.0, 45.0))  # float64
    distance = euclidean_distance(mask, (30.0, 45.0))
    np.testing.assert_allclose(distance, expected, rtol=2 ** -23, atol=0)


def test_distances_worked_by_hand():
    """One target cell on 30 m tall × 60 m wide cells: the cell below is 30 m away, the one to the right 60 m,
    the diagonal √(30² + 60²); targets beyond the raster do not count, and a raster with none is +∞."""
    mask = np.ones((3, 4), bool)
    mask[0, 0] = False
    distance = euclidean_distance(mask, (30.0, 60.0))
    assert distance[0, 0] == 0.0 and distance[1, 0] == 30.0 and distance[0, 1] == 60.0
    assert distance[1, 1] == np.float32(np.hypot(30.0, 60.0))
    assert distance[2, 3] == np.float32(np.hypot(60.0, 180.0))
    assert np.isinf(euclidean_distance(np.ones((2, 3), bool), (30.0, 30.0))).all()
    assert euclidean_distance(np.zeros((0, 5), bool), (30.0, 30.0)).shape == (0, 5)


def test_bad_masks_and_spacings_are_refused():
    with pytest.raises(InputError, match="2-D"):
        euclidean_distance(np.ones(5, bool), (30.0, 30.0))
    with pytest.raises(InputError, match="positive"):
        euclidean_distance(np.ones((2, 2), bool), (30.0, 0.0))


def test_guadeloupes_forest_edge_is_edts(shared_data):
    """Guadeloupe's forest in 2000 (fcc123 in UTM 20N, 30 m, 2,934 × 3,186 cells: classes 1 to 3, 0 off the
    island): the distance to the edge, and to the forest, bit for bit."""
    with rasterio.open(shared_data / "guadeloupe" / "fcc123_GLP_utm20n.tif") as src:
        fcc = src.read(1)
        spacing = (abs(src.transform.e), src.transform.a)
    forest = fcc > 0
    assert forest.any() and not forest.all()
    for to in (False, True):
        np.testing.assert_array_equal(euclidean_distance(forest, spacing, to=to).view(np.uint32),
                                      _edt(forest, spacing, to).view(np.uint32))
