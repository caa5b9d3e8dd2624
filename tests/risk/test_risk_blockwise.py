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

from icam.core.blocks import ArraySource, FileSource
from icam.core.errors import InputError
from icam.landscape.grid import Grid
from icam.risk import benchmark as bm
from icam.risk.blockwise import ChangeMap, period_fit_by_blocks
from icam.risk.workflow import fit_period

UTM = CRS.from_epsg(32718).to_wkt()


def assert_same_fit(blocked, whole):
    assert blocked.nrt_m == whole.nrt_m
    np.testing.assert_array_equal(blocked.class_limits_m, whole.class_limits_m)
    for field in ("region_ids", "forest_px", "deforested_px", "relative_frequency", "class_frequency"):
        np.testing.assert_array_equal(getattr(blocked.fit, field), getattr(whole.fit, field))
    assert blocked.deforested_ha == whole.deforested_ha and blocked.forest_at_start_ha == whole.forest_at_start_ha


def change_map(forest: np.ndarray, lost: np.ndarray) -> np.ndarray:
    """fcc codes of a calibration period: 1 lost, 3 forest kept, 0 not forest."""
    return np.where(lost, 1, np.where(forest, 3, 0)).astype(np.uint8)


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
    blocked = period_fit_by_blocks(ChangeMap(ArraySource(change_map(forest, lost)), ArraySource(units)),
                                   "calibration", (2000, 2010), grid, cap_m=900.0, block_px=block_px)
    assert_same_fit(blocked, whole)


def test_an_nrt_at_the_cap_is_refused():
    forest, lost, units = clustered_map((60, 60), 1)
    grid = Grid(UTM, Affine(30, 0, 200_000, 0, -30, 9_400_000), 60, 60)
    with pytest.raises(InputError, match="raise the distance cap"):
        period_fit_by_blocks(ChangeMap(ArraySource(change_map(forest, lost)), ArraySource(units)), "calibration",
                             (2000, 2010), grid, cap_m=70.0, block_px=16)


def test_fit_by_blocks_on_guadeloupe(shared_data):
    """riskmapjnr's Guadeloupe change map (fcc123, 2000 → 2010 → 2020), read from the file by windows of 512
    pixels, 3 km cap: the whole map's fit of both periods, in this thread and on a pool of processes."""
    path = shared_data / "guadeloupe" / "fcc123_GLP_utm20n.tif"
    if not path.exists():
        pytest.skip("Guadeloupe data absent")
    with rasterio.open(path) as src:
        fcc, transform, crs = src.read(1), src.transform, src.crs
    grid = Grid(crs.to_wkt(), transform, *fcc.shape)
    f1, units = fcc > 0, np.ones(fcc.shape, dtype=np.int32)
    distance = bm.distance_to_edge_m(f1, grid)
    for period, lost, scheduler in (("calibration", fcc == 1, None), ("historical", np.isin(fcc, (1, 2)), "processes")):
        whole, _ = fit_period(period, (2000, 2010), f1, lost, distance, units, grid)
        blocked = period_fit_by_blocks(ChangeMap(FileSource(path)), period, (2000, 2010), grid, cap_m=3000.0,
                                       block_px=512, scheduler=scheduler)
        assert_same_fit(blocked, whole)


def test_fit_by_blocks_on_a_dask_cluster_and_threads(tmp_path):
    """The same fit from a GeoTIFF on a two-worker dask.distributed cluster (by its tcp:// address, as a real
    cluster is given), on threads, and in this thread."""
    from distributed import LocalCluster

    forest, lost, units = clustered_map((150, 130), 7)
    grid = Grid(UTM, Affine(30, 0, 200_000, 0, -30, 9_400_000), 150, 130)
    path = tmp_path / "fcc.tif"
    with rasterio.open(path, "w", driver="GTiff", height=150, width=130, count=1, dtype="uint8", crs=UTM,
                       transform=grid.transform, tiled=True, blockxsize=32, blockysize=32) as dst:
        dst.write(change_map(forest, lost), 1)
    whole, _ = fit_period("calibration", (2000, 2010), forest, lost, bm.distance_to_edge_m(forest, grid),
                          np.ones(forest.shape, np.int32), grid)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        fits = [period_fit_by_blocks(ChangeMap(FileSource(path)), "calibration", (2000, 2010), grid, cap_m=900.0,
                                     block_px=40, scheduler=scheduler)
                for scheduler in (cluster.scheduler_address, "threads", None)]
    for fit in fits:
        assert_same_fit(fit, whole)
    with pytest.raises(InputError, match="unknown scheduler"):
        period_fit_by_blocks(ChangeMap(FileSource(path)), "calibration", (2000, 2010), grid, scheduler="gpu")
