"""The scikit-learn-style candidates' maps (icam.risk.candidates.ModelInputs.predict): predicted a band of rows
at a time, every model's probabilities are those of the whole date's design matrix, to the bit."""

import numpy as np
import pytest
from affine import Affine

from icam.landscape.grid import Grid
from icam.risk import candidates as rc
from icam.risk import models as rm

UTM = "EPSG:32718"


@pytest.fixture(scope="module")
def setting() -> rc.RiskSetting:
    """A 90 × 70 px zone of two units: forest lost near its edge and along a road, more in unit 2."""
    rng = np.random.default_rng(5)
    shape = (90, 70)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    units = np.where(cols < 35, 1, 2).astype(np.int32)
    units[:3] = 0  # a strip outside the zone
    road_m = np.abs(rows - 45).astype(np.float32) * 30
    f1 = (rng.random(shape) < 0.9) & (units > 0)
    hazard = 0.05 + 0.3 * np.exp(-road_m / 300) + 0.05 * (units == 2)
    f2 = f1 & (rng.random(shape) > hazard)
    f3 = f2 & (rng.random(shape) > hazard)
    static = {"road_m": np.where(units > 0, road_m, np.nan).astype(np.float32)}
    return rc.RiskSetting(grid=Grid(UTM, Affine(30, 0, 200_000, 0, -30, 9_400_000), *shape), forest=(f1, f2, f3),
                          years=(2010, 2015, 2020), units=units, assessment_cell_ha=9.0, static_covariates=static,
                          sample_per_class=400, spatial_cell_km=0.6)


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
