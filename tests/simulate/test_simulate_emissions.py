"""The simulator's emission factor map (icam.simulate.emissions)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.simulate import emissions
from icam.simulate.emissions import emission_factor
from icam.simulate.files import carbon_config


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 30), st.integers(1, 50), st.integers(0, 2**32 - 1))
def test_the_emission_factor_a_band_of_rows_at_a_time_is_the_whole_dems(rows, cols, band_rows, seed):
    """Bands of any height give the map of one pass over the DEM: each forest cell its DEM stratum's factor
    (strata by their elevation floors), NaN outside the forest."""
    rng = np.random.default_rng(seed)
    strata = carbon_config()["strata"]
    floors = [s["range"][0] for s in strata[1:]]
    dem = rng.uniform(min(floors) - 500, max(floors) + 500, (rows, cols)).astype(np.float32)
    dem.ravel()[: len(floors)] = floors[: dem.size]  # cells right at the floors
    forest = rng.random((rows, cols)) < 0.7
    truth = {"strata": {s["name"]: {"target_agb_mg_ha": 100.0 + 50 * i} for i, s in enumerate(strata)}}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(emissions, "_BAND_ROWS", band_rows)
        banded = emission_factor(dem, forest, truth)
        patch.setattr(emissions, "_BAND_ROWS", rows)
        whole = emission_factor(dem, forest, truth)
    assert banded.dtype == np.float32 and np.isnan(banded[~forest]).all()
    np.testing.assert_array_equal(banded, whole)
    factors = np.unique(banded[forest])
    assert factors.size <= len(strata) and np.isfinite(factors).all()
