"""The local-rate candidate (icam.risk.local_rate_candidate): its class frequencies on the forest are its maps',
and its maps block by block are the whole map's."""

import sys
from pathlib import Path

import numpy as np
import pytest

from icam.risk import benchmark as bm
from icam.risk import local_rate as lr
from icam.risk import local_rate_candidate as lrc
from icam.risk.workflow import forest_from_fcc, run_benchmark

sys.path.insert(0, str(Path(__file__).parent))
from test_risk_blockwise import YEARS, change_map, grid_of  # noqa: E402
from test_risk_candidates import two_unit_setting  # noqa: E402


@pytest.fixture(scope="module")
def setting():
    return two_unit_setting()


def test_the_local_rates_class_frequency_on_the_forest_is_the_maps(setting):
    f1, f2, _ = setting.forest
    lost = f1 & ~f2
    rate = lr.local_deforestation_rate(lost, f1, 5)
    near = f1 & (np.arange(f1.shape[1]) < 50)  # cells beyond the threshold have class 0: frequency 0
    fit = bm.fit_relative_frequency(lr.local_rate_classes(rate, near), setting.units, lost, f1)
    classes = lr.local_rate_classes(rate, near & f2)
    on_forest = lrc._class_frequency_on(fit, classes, setting, f2)
    np.testing.assert_array_equal(on_forest, lrc._class_frequency(fit, classes, setting)[f2])
    assert on_forest.dtype == np.float32 and (on_forest[~near[f2]] == 0).all() and on_forest.max() > 0


def test_the_class_frequency_block_by_block_is_the_whole_maps(setting, monkeypatch):
    """Blocks of 7 × 7 pixels (units and classes cut across them): the whole map's float64 densities at a cell
    area of 1, rounded to float32."""
    f1, f2, _ = setting.forest
    lost = f1 & ~f2
    rate = lr.local_deforestation_rate(lost, f1, 5)
    near = f1 & (np.arange(f1.shape[1]) < 50)
    fit = bm.fit_relative_frequency(lr.local_rate_classes(rate, near), setting.units, lost, f1)
    classes = lr.local_rate_classes(rate, near & f2)
    monkeypatch.setattr(lrc, "BLOCK_PX", 7)
    by_blocks = lrc._class_frequency(fit, classes, setting)
    whole = bm.predict_density(fit, classes, setting.units, 1.0).astype(np.float32)
    assert by_blocks.dtype == np.float32 and np.count_nonzero(by_blocks) > 100
    np.testing.assert_array_equal(by_blocks, whole)


def test_the_near_edge_cells_read_from_the_benchmark_are_the_forest_within_each_nrt():
    """The local rate classes the forest nearer its edge than an NRT: the benchmark's masks are that forest, from
    distances computed here (the calibration NRT at t1 and t2, the historical one at t1), units with a strip
    outside them included."""
    fcc = change_map((150, 130), 3)
    units = np.where(np.arange(130) < 60, 1, 2).astype(np.int32)[None, :].repeat(150, axis=0)
    units[:5] = 0
    forest = tuple(f & (units > 0) for f in forest_from_fcc(fcc))
    bench = run_benchmark(forest, YEARS, grid_of(fcc.shape), units, assessment_cell_ha=100)
    nrt_cal, nrt_hist = bench.calibration.nrt_m, bench.historical.nrt_m
    assert nrt_cal != nrt_hist  # the keys cannot stand in for one another
    for key, f, nrt in (("calibration_t1", forest[0], nrt_cal), ("calibration_t2", forest[1], nrt_cal),
                        ("historical_t1", forest[0], nrt_hist)):
        expected = f & (bm.distance_to_edge_m(f, 30.0) < nrt)
        assert 0 < np.count_nonzero(expected) < np.count_nonzero(f)
        np.testing.assert_array_equal(bench.near_edge.mask(key), expected)
