"""The local-rate candidate (icam.risk.local_rate_candidate): its class frequencies on the forest are its maps',
and its maps block by block are the whole map's."""

import sys
from pathlib import Path

import numpy as np
import pytest

from icam.risk import benchmark as bm
from icam.risk import local_rate as lr
from icam.risk import local_rate_candidate as lrc

sys.path.insert(0, str(Path(__file__).parent))
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
