"""The benchmark's fit block by block (icam.risk.blockwise) against the whole map's (icam.risk.workflow):
the same threshold, class limits, frequencies and areas, exactly, on random maps and on Guadeloupe's."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS
from scipy import ndimage

from icam.core.errors import InputError
from icam.landscape.grid import Grid
from icam.risk import benchmark as bm
from icam.risk.blockwise import period_fit_by_blocks
from icam.risk.workflow import fit_period

UTM = CRS.from_epsg(32718).to_wkt()


def assert_same_fit(blocked, whole):
    assert blocked.nrt_m == whole.nrt_m
    np.testing.assert_array_equal(blocked.class_limits_m, whole.class_limits_m)
    for field in ("region_ids", "forest_px", "deforested_px", "relative_frequency", "class_frequency"):
        np.testing.assert_array_equal(getattr(blocked.fit, field), getattr(whole.fit, field))
    assert blocked.deforested_ha == whole.deforested_ha and blocked.forest_at_start_ha == whole.forest_at_start_ha


def clustered_map(shape, seed):
    """Forest with clearings that grow from a few seeds (loss near the edge, as in real maps), and two units."""
    rng = np.random.default_rng(seed)
    field = rng.random(shape)
    smooth = ndimage.gaussian_filter(field, 3)
    forest = smooth > np.quantile(smooth, 0.25)
    distance = bm.distance_to_edge_m(forest, 30.0)
    lost = forest & (rng.random(shape) < np.exp(-distance / 60.0) * 0.6)
    units = np.where(np.arange(shape[1]) < shape[1] // 2, 1, 2)[None, :].repeat(shape[0], axis=0)
    return forest, lost, units


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(20, 90), cols=st.integers(20, 90), block_px=st.integers(7, 64), seed=st.integers(0, 10_000))
def test_fit_by_blocks_equals_the_whole_map(rows, cols, block_px, seed):
    forest, lost, units = clustered_map((rows, cols), seed)
    if not lost.any():
        return
    grid = Grid(UTM, Affine(30, 0, 200_000, 0, -30, 9_400_000), rows, cols)
    try:
        whole, _ = fit_period("calibration", (2000, 2010), forest, lost, bm.distance_to_edge_m(forest, grid), units,
                              grid)
    except InputError:  # an NRT of one cell: no classes to fit on either path
        return
    blocked = period_fit_by_blocks("calibration", (2000, 2010), forest, lost, units, grid, cap_m=900.0,
                                   block_px=block_px)
    assert_same_fit(blocked, whole)


def test_an_nrt_at_the_cap_is_refused():
    forest, lost, units = clustered_map((60, 60), 1)
    grid = Grid(UTM, Affine(30, 0, 200_000, 0, -30, 9_400_000), 60, 60)
    with pytest.raises(InputError, match="raise the distance cap"):
        period_fit_by_blocks("calibration", (2000, 2010), forest, lost, units, grid, cap_m=70.0, block_px=16)


def test_fit_by_blocks_on_guadeloupe(shared_data):
    """riskmapjnr's Guadeloupe maps, 2000 → 2010, 512-pixel blocks and a 3 km cap: the whole map's fit."""
    folder = shared_data / "guadeloupe"
    if not (folder / "forest_t1.tif").exists():
        pytest.skip("Guadeloupe data absent")
    with rasterio.open(folder / "forest_t1.tif") as src:
        f2000, transform, crs = src.read(1) == 1, src.transform, src.crs
    with rasterio.open(folder / "forest_t2.tif") as src:
        f2010 = src.read(1) == 1
    grid = Grid(crs.to_wkt(), transform, *f2000.shape)
    lost = f2000 & ~f2010
    units = np.ones(f2000.shape, dtype=np.int32)
    whole, _ = fit_period("calibration", (2000, 2010), f2000, lost, bm.distance_to_edge_m(f2000, grid), units, grid)
    blocked = period_fit_by_blocks("calibration", (2000, 2010), f2000, lost, units, grid, cap_m=3000.0, block_px=512)
    assert_same_fit(blocked, whole)
    assert whole.nrt_m == 135.0  # riskmapjnr's data, UDef-ARP's convention (docs/methods.md: 135 m)
