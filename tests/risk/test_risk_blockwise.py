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

from icam.core.blocks import ArraySource, FileSource, block_executor
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


def assert_same_benchmark(blocked, whole):
    """Every fit, assessment and map of two run_benchmark results, to the bit."""
    assert_same_fits(blocked, whole)
    for name in ("calibration_assessment", "confirmation_assessment"):
        cb, cw = getattr(blocked, name).comparison, getattr(whole, name).comparison
        for field in ("cell_ids", "predicted_ha", "actual_ha", "n_pixels"):
            np.testing.assert_array_equal(getattr(cb, field), getattr(cw, field))
    np.testing.assert_array_equal(blocked.risk_classes, whole.risk_classes)
    np.testing.assert_array_equal(blocked.risk_ha_per_year, whole.risk_ha_per_year)
    np.testing.assert_array_equal(blocked.risk_score.dense(), whole.risk_score.dense())


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_run_benchmark_on_a_pool_is_the_whole_maps_across_blocks(scheduler):
    """run_benchmark with a pool (`icam run --scheduler`): the distances to the edge capped at 2 km and computed in
    blocks of 1024 pixels (this map is two blocks wide, its losses cross the seam) give every figure and map of
    the whole map's distances."""
    fcc = change_map((90, 1100), 11)
    forest, grid = forest_from_fcc(fcc), grid_of(fcc.shape)
    whole = run_benchmark(forest, YEARS, grid, assessment_cell_ha=100)
    with block_executor(scheduler) as pool:
        assert_same_benchmark(run_benchmark(forest, YEARS, grid, assessment_cell_ha=100, pool=pool), whole)


def test_run_benchmark_on_a_pool_lengthens_a_cap_its_nrt_reaches():
    """Loss spread evenly through a forest 8 km deep: both NRTs lie beyond the first 2 km cap and beyond 8 km's bin,
    so the distances are computed again with caps of 8 and 32 km; the figures are the whole map's."""
    rng = np.random.default_rng(2)
    fcc = np.full((40, 1100), 3, np.uint8)
    fcc[:, 0] = 0  # the only edge: distances grow to 33 km across the map
    fcc[(rng.random(fcc.shape) < 0.02) & (fcc == 3)] = 1
    fcc[(rng.random(fcc.shape) < 0.02) & (fcc == 3)] = 2
    forest, grid = forest_from_fcc(fcc), grid_of(fcc.shape)
    whole = run_benchmark(forest, YEARS, grid, assessment_cell_ha=100)
    assert min(whole.calibration.nrt_m, whole.historical.nrt_m) > 8_000
    with block_executor("threads") as pool:
        assert_same_benchmark(run_benchmark(forest, YEARS, grid, assessment_cell_ha=100, pool=pool), whole)


def test_the_benchmarks_score_is_its_class_frequency_where_asked():
    """The risk score is computed only when asked (ClassScore, not a map's worth of indices and values kept through
    the risk stage): each classed pixel at t3 gets its class × unit's relative frequency (predict_density with a
    cell of 1), every other pixel 0."""
    fcc = change_map((80, 90), 3)
    units = np.where(np.arange(90) < 45, 1, 2)[None, :].repeat(80, axis=0).astype(np.int32)
    result = run_benchmark(forest_from_fcc(fcc), YEARS, grid_of(fcc.shape), units, assessment_cell_ha=100)
    classes = result.risk_classes
    expected = bm.predict_density(result.historical.fit, classes, units, 1.0).astype(np.float32)
    score = result.risk_score.dense()
    assert score.dtype == np.float32 and (score[classes == 0] == 0).all() and (score[classes > 0] > 0).any()
    np.testing.assert_array_equal(score, expected)
