"""The agreements stage's avoided emissions per parcel (icam.pipeline.stages.agreements), worked by hand."""

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from conftest import UTM, X0, Y0
from icam.core.spilled import SpilledRaster
from icam.landscape.grid import Grid
from icam.pipeline.stages.agreements import _avoided_tco2e_per_year


@pytest.mark.parametrize("spilled", [False, True])
def test_avoided_emissions_sum_each_parcels_risk_times_its_strata_factors(spilled):
    """A 4 × 6 grid of 30 m cells: parcel 1 the top-left 2 × 2 cells, parcel 2 the right 2 columns' top 3 rows
    (its later row wins where they would overlap), parcel 3 outside the grid. Stratum "low" (EF 100 tCO2e/ha) the
    left half, "high" (EF 300) the right half and, listed last, the cell (0, 1) too, which it takes."""
    grid = Grid(UTM, Affine(30, 0, X0, 0, -30, Y0), 4, 6)
    parcels = gpd.GeoDataFrame(geometry=[box(X0, Y0 - 60, X0 + 60, Y0), box(X0 + 120, Y0 - 90, X0 + 180, Y0),
                                         box(X0 + 1000, Y0 - 60, X0 + 1060, Y0)], crs=UTM)
    low, high = np.zeros((4, 6), bool), np.zeros((4, 6), bool)
    low[:, :3], high[:, 3:], high[0, 1] = True, True, True
    strata = [SimpleNamespace(mask=low, emission_factor=SimpleNamespace(ef_tco2e_ha=100.0)),
              SimpleNamespace(mask=high, emission_factor=SimpleNamespace(ef_tco2e_ha=300.0))]
    risk = np.arange(24, dtype=np.float32).reshape(4, 6) / 100  # ha/yr: cell (r, c) holds (6r + c) / 100
    avoided = _avoided_tco2e_per_year(SimpleNamespace(grid=grid),
                                      SimpleNamespace(risk_ha_per_year=SpilledRaster.of(risk) if spilled else risk),
                                      SimpleNamespace(strata=strata), parcels)
    # parcel 1: cells 0, 1, 6, 7 → (0 + 6 + 7)/100 × 100 + 1/100 × 300; parcel 2: cells 4, 5, 10, 11, 16, 17 × 300
    density = [float(np.float32(c / 100)) for c in range(24)]  # the float32 risk, summed in float64
    expected = [(density[6] + density[7]) * 100 + density[1] * 300,
                sum(density[c] for c in (4, 5, 10, 11, 16, 17)) * 300, 0.0]
    np.testing.assert_allclose(avoided, expected, rtol=1e-12)
