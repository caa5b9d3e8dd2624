"""The benchmark's block tasks (icam.risk.blockwise) run on every scheduler and block size: the same thresholds,
class tables and areas as the whole map (run_benchmark), exactly, and a distance cap too short is refused."""

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
from icam.risk.blockwise import ChangeMap, merge
from icam.risk.blockwise_run import run_benchmark_by_blocks
from icam.risk.workflow import forest_from_fcc, run_benchmark

UTM = CRS.from_epsg(32718).to_wkt()
YEARS = (2000, 2010, 2020)


def change_map(shape, seed) -> np.ndarray:
    """fcc codes of clustered forest losing pixels near its edge twice (as real maps do)."""
    rng = np.random.default_rng(seed)
    smooth = ndimage.gaussian_filter(rng.random(shape), 3)
    forest = [smooth > np.quantile(smooth, 0.25)]
    for _ in range(2):
        distance = bm.distance_to_edge_m(forest[-1], 30.0)
        forest.append(forest[-1] & ~(rng.random(shape) < np.exp(-distance / 60.0) * 0.5))
    return np.select(forest[::-1], [3, 2, 1], 0).astype(np.uint8)


def assert_same_fits(blocked, whole):
    for period in ("calibration", "historical"):
        fb, fw = getattr(blocked, period), getattr(whole, period)
        assert fb.nrt_m == fw.nrt_m
        np.testing.assert_array_equal(fb.class_limits_m, fw.class_limits_m)
        for field in ("region_ids", "forest_px", "deforested_px", "relative_frequency", "class_frequency"):
            np.testing.assert_array_equal(getattr(fb.fit, field), getattr(fw.fit, field))
        assert fb.deforested_ha == fw.deforested_ha and fb.forest_at_start_ha == fw.forest_at_start_ha


def grid_of(shape) -> Grid:
    return Grid(UTM, Affine(30, 0, 200_000, 0, -30, 9_400_000), *shape)


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(40, 100), cols=st.integers(40, 100), block_px=st.integers(9, 70), seed=st.integers(0, 10_000))
def test_fits_by_blocks_equal_the_whole_map(rows, cols, block_px, seed):
    fcc = change_map((rows, cols), seed)
    try:
        whole = run_benchmark(forest_from_fcc(fcc), YEARS, grid_of(fcc.shape), assessment_cell_ha=100)
    except InputError:  # an NRT of one cell: no classes to fit on either path
        return
    blocked = run_benchmark_by_blocks(ChangeMap(ArraySource(fcc)), YEARS, grid_of(fcc.shape), None,
                                      assessment_cell_ha=100, cap_m=900.0, block_px=block_px)
    assert_same_fits(blocked, whole)


def test_an_nrt_at_the_cap_takes_a_longer_cap():
    """A first cap of 70 m (two cells and a third) is below both NRTs: the run lengthens it and fits as the
    whole map does."""
    fcc = change_map((60, 60), 1)
    whole = run_benchmark(forest_from_fcc(fcc), YEARS, grid_of(fcc.shape), assessment_cell_ha=100)
    assert whole.calibration.nrt_m > 70
    blocked = run_benchmark_by_blocks(ChangeMap(ArraySource(fcc)), YEARS, grid_of(fcc.shape), None,
                                      assessment_cell_ha=100, cap_m=70.0, block_px=16)
    assert_same_fits(blocked, whole)


def test_sparse_counts_merge_by_key():
    merged = merge([(np.array([1, 5]), np.array([2, 3])), (np.array([], np.int64), np.array([], np.int64)),
                    (np.array([0, 5]), np.array([7, 1]))])
    np.testing.assert_array_equal(merged[0], [0, 1, 5])
    np.testing.assert_array_equal(merged[1], [7, 2, 4])


def test_fits_on_a_dask_cluster_threads_and_this_thread(tmp_path):
    """The same fits from a tiled GeoTIFF on a two-worker dask.distributed cluster (by its tcp:// address, as a
    real cluster is given), on threads, and in this thread; an unknown scheduler is refused."""
    from distributed import LocalCluster

    fcc = change_map((150, 130), 7)
    grid = grid_of(fcc.shape)
    path = tmp_path / "fcc.tif"
    with rasterio.open(path, "w", driver="GTiff", height=150, width=130, count=1, dtype="uint8", crs=UTM,
                       transform=grid.transform, tiled=True, blockxsize=32, blockysize=32) as dst:
        dst.write(fcc, 1)
    whole = run_benchmark(forest_from_fcc(fcc), YEARS, grid, assessment_cell_ha=100)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        for scheduler in (cluster.scheduler_address, "threads", None):
            assert_same_fits(run_benchmark_by_blocks(ChangeMap(FileSource(path)), YEARS, grid, None,
                                                     assessment_cell_ha=100, cap_m=900.0, block_px=40,
                                                     scheduler=scheduler), whole)
    with pytest.raises(InputError, match="unknown scheduler"):
        run_benchmark_by_blocks(ChangeMap(FileSource(path)), YEARS, grid, None, scheduler="gpu")
