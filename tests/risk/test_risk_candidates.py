"""The risk candidates (icam.risk.candidates): the scikit-learn-style models' maps, predicted a band of rows at a
time, are those of the whole date's design matrix to the bit; no per-pixel density outlives the tests; a process
pool gives the whole maps' figures."""

from dataclasses import replace

import numpy as np
import pytest
from rasterio.crs import CRS

from conftest import two_unit_setting, without_seconds
from icam.core.blocks import block_executor
from icam.landscape.grid import Grid
from icam.risk import candidates as rc
from icam.risk import local_rate_candidate as lrc
from icam.risk import models as rm

UTM = "EPSG:32718"


@pytest.fixture(scope="module")
def setting() -> rc.RiskSetting:
    return two_unit_setting()


def test_maps_predicted_by_bands_are_the_whole_design_matrix_s(setting, monkeypatch):
    inputs = rc.ModelInputs.build(setting, spatial=True)
    models = {name: inputs.fit(name, "calibration") for name in ("logistic", "gradient_boosting", "spatial")}
    forest = setting.forest[1]
    extra = [inputs.cell_ids]
    whole = rc.covariate_stack(setting, inputs.static, forest).design(forest, extra)
    # bands and blocks of 37 and 111 cells: neither ends with a raster row, and the last band is short
    monkeypatch.setattr(rm, "BLOCK_ROWS", 37)
    monkeypatch.setattr(rc, "BAND_CELLS", 3 * 37)
    maps, seconds = inputs.predict(models, forest)
    assert set(seconds) == set(models) and all(v >= 0 for v in seconds.values())
    for name, model in models.items():
        expected = rm.predict_rows(model, whole, inputs.columns(name), block_rows=37)
        assert maps[name].dtype == np.float32 and maps[name].shape == (np.count_nonzero(forest),)
        np.testing.assert_array_equal(maps[name], expected)


def test_no_per_pixel_density_outlives_the_candidates_tests(setting):
    g = setting.grid
    setting = replace(setting, grid=Grid(CRS.from_epsg(32718).to_wkt(), g.transform, g.height, g.width))
    risk = rc.run_candidates(setting, ["logistic", "local_rate"], expected_ha=None, validity_years=6)
    assert [c.name for c in risk.candidates] == ["benchmark", "logistic", "local_rate"]
    assessments = [risk.benchmark.calibration_assessment, risk.benchmark.confirmation_assessment]
    assessments += [a for c in risk.candidates for a in (c.calibration, c.confirmation)]
    assert all(a.density is None and a.comparison.cell_ids.size > 0 for a in assessments)
    assert np.isfinite(risk.candidates[0].auc_confirmation)  # the benchmark's AUC came from its density


def test_candidates_on_a_process_pool_are_the_whole_maps_across_blocks(setting):
    """run_candidates with a pool (`icam run --scheduler processes`): the benchmark's distances (and so the
    near-edge masks the local rate reads from it) and the local rate's window counts computed in blocks of 1024
    pixels on a zone two blocks wide: the same tests, choice, figures and maps as in memory."""
    wide = np.concatenate([np.concatenate([a] * 16, axis=1) for a in (setting.units, *setting.forest)], axis=0)
    units, f1, f2, f3 = np.split(wide, 4)
    g = setting.grid
    wide_setting = replace(setting, grid=Grid(CRS.from_epsg(32718).to_wkt(), g.transform, *units.shape),
                           forest=(f1.astype(bool), f2.astype(bool), f3.astype(bool)), units=units.astype(np.int32),
                           static_covariates={k: np.concatenate([v] * 16, axis=1)
                                              for k, v in setting.static_covariates.items()})
    assert units.shape == (90, 1120)
    whole = rc.run_candidates(wide_setting, ["local_rate"], expected_ha=None, validity_years=6)
    with block_executor("processes") as pool:
        blocked = rc.run_candidates(wide_setting, ["local_rate"], expected_ha=None, validity_years=6, pool=pool)
        score = lrc.local_rate_score_t3(wide_setting, whole.benchmark, pool)  # its map at t3, had it been chosen
    assert without_seconds(blocked.to_dict()) == without_seconds(whole.to_dict())
    np.testing.assert_array_equal(blocked.risk_ha_per_year, whole.risk_ha_per_year)
    np.testing.assert_array_equal(blocked.benchmark.risk_classes, whole.benchmark.risk_classes)
    np.testing.assert_array_equal(score, lrc.local_rate_score_t3(wide_setting, whole.benchmark))
