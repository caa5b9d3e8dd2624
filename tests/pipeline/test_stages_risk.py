"""The risk stage's static covariates (icam.pipeline.stages.risk): each layer computed in a forked worker into
memory shared with the run (here, on a grid too small to pay for the fork), the same values as worked by hand,
in the order the models read them."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from rasterio.crs import CRS
from shapely.geometry import LineString, Point

from conftest import UTM, X0, Y0, two_unit_setting, write_polygons, write_tif
from icam.core.errors import InputError
from icam.core.spilled import SpilledRaster
from icam.landscape.grid import Grid
from icam.pipeline.stages import risk as risk_stage
from icam.pipeline.stages.risk import _static_covariates, risk_units
from icam.risk.candidates import run_candidates

ROWS, COLS, CELL_M = 40, 50, 30.0


def _grid() -> Grid:
    return Grid.from_bounds(UTM, (X0, Y0 - ROWS * CELL_M, X0 + COLS * CELL_M, Y0), CELL_M)


def _covariates(tmp_path, rivers: bool = True) -> SimpleNamespace:
    """A road along column 10's centre line, a settlement at the centre of cell (5, 5), a river along row 30's
    centre line and a DEM rising 3 m a cell eastwards (no data in row 0)."""
    centre = CELL_M / 2
    road = LineString([(X0 + 10 * CELL_M + centre, Y0), (X0 + 10 * CELL_M + centre, Y0 - ROWS * CELL_M)])
    river = LineString([(X0, Y0 - 30 * CELL_M - centre), (X0 + COLS * CELL_M, Y0 - 30 * CELL_M - centre)])
    settlement = Point(X0 + 5 * CELL_M + centre, Y0 - 5 * CELL_M - centre)
    dem = np.tile(np.arange(COLS, dtype=np.float32) * 3 + 500, (ROWS, 1))
    dem[0] = -9999
    return SimpleNamespace(roads=write_polygons(tmp_path / "roads.gpkg", [road]),
                           settlements=write_polygons(tmp_path / "settlements.gpkg", [settlement]),
                           rivers=write_polygons(tmp_path / "rivers.gpkg", [river]) if rivers else None,
                           elevation=write_tif(tmp_path / "dem.tif", dem, nodata=-9999))


@pytest.mark.parametrize("fork_min_px", [0, 10**9], ids=["in forked workers", "here"])
def test_static_covariates_are_the_distances_and_terrain_worked_by_hand(tmp_path, monkeypatch, fork_min_px):
    monkeypatch.setattr(risk_stage, "FORK_MIN_PX", fork_min_px)
    spilled = _static_covariates(_covariates(tmp_path), _grid())
    assert list(spilled) == ["roads_log1p_km", "settlements_log1p_km", "rivers_log1p_km", "elevation_km", "slope_deg"]
    assert all(a.dtype == np.float32 and a.shape == (ROWS, COLS) for a in spilled.values())
    layers = {name: np.asarray(a) for name, a in spilled.items()}  # in temporary files: read whole
    rows, cols = np.indices((ROWS, COLS))

    def log1p_km(distance_m):
        return np.log1p((distance_m / 1000.0).astype(np.float32))

    np.testing.assert_allclose(layers["roads_log1p_km"], log1p_km(np.abs(cols - 10) * CELL_M), rtol=1e-6)
    np.testing.assert_allclose(layers["settlements_log1p_km"], log1p_km(np.hypot(rows - 5, cols - 5) * CELL_M),
                               rtol=1e-6)
    np.testing.assert_allclose(layers["rivers_log1p_km"], log1p_km(np.abs(rows - 30) * CELL_M), rtol=1e-6)
    assert np.isnan(layers["elevation_km"][0]).all() and np.isnan(layers["slope_deg"][0]).all()
    np.testing.assert_allclose(layers["elevation_km"][1:], (cols[1:] * 3 + 500) / 1000.0, rtol=1e-6)
    # a plane rising 3 m over 30 m: the slope is arctan(0.1) (one-sided differences at the border too) but beside
    # row 0, whose no-data the slope fills with the mean elevation
    np.testing.assert_allclose(layers["slope_deg"][2:], np.degrees(np.arctan(0.1)), rtol=1e-5)


def test_a_missing_layer_is_left_out_and_a_workers_error_reaches_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(risk_stage, "FORK_MIN_PX", 0)  # the test's small grid in forked workers too
    cov = _covariates(tmp_path, rivers=False)
    assert list(_static_covariates(cov, _grid())) == ["roads_log1p_km", "settlements_log1p_km", "elevation_km",
                                                     "slope_deg"]
    far = LineString([(X0 - 10_000, Y0 + 10_000), (X0 - 9_000, Y0 + 10_000)])
    cov.roads = write_polygons(tmp_path / "far_roads.gpkg", [far])
    with pytest.raises(InputError, match=r"risk.covariates.roads: .*far_roads.gpkg: the features lie outside the grid"):
        _static_covariates(cov, _grid())


@pytest.mark.parametrize(("dtype", "largest", "units_dtype"),
                         [(np.uint8, 254, np.uint8), (np.uint8, 255, np.uint16), (np.uint16, 255, np.uint16),
                          (np.uint16, 65_535, np.uint32), (np.int32, 70_000, np.uint32)])
def test_risk_units_are_the_admin_ids_plus_one_inside_the_zone(dtype, largest, units_dtype):
    """The candidates' units: 0 outside the zone, the unit's id + 1 inside (1 without units), in the smallest
    unsigned type that holds them, whatever the ids' type: uint8's 255th unit is 256, not 0."""
    admin_id = np.array([[0, 1, largest], [3, largest, 2]], dtype)
    zone = np.array([[True, True, True], [False, True, True]])
    units = risk_units(zone, admin_id)
    assert units.tolist() == [[1, 2, largest + 1], [0, largest + 1, 3]] and units.dtype == units_dtype
    assert risk_units(zone, None).tolist() == [[1, 1, 1], [0, 1, 1]] and risk_units(zone, None).dtype == np.uint8


def test_the_kept_maps_are_in_files_and_read_back_as_they_were():
    """The pipeline keeps the chosen map and score spilled (:func:`kept`): the same values, read whole; the
    benchmark's map only where the benchmark is chosen, as that same file."""
    setting = two_unit_setting()
    g = setting.grid
    setting = replace(setting, grid=Grid(CRS.from_epsg(32718).to_wkt(), g.transform, g.height, g.width))
    risk = run_candidates(setting, ["local_rate"], expected_ha=None, validity_years=6)
    for chosen in ("benchmark", "local_rate"):
        fresh = replace(risk, chosen=chosen, candidates=[replace(c, score_t3=np.full((90, 70), i, np.float32))
                                                         if c.name == chosen else c
                                                         for i, c in enumerate(risk.candidates)])
        kept = risk_stage.kept(fresh)
        assert isinstance(kept.risk_ha_per_year, SpilledRaster) and isinstance(kept.chosen_candidate.score_t3,
                                                                               SpilledRaster)
        np.testing.assert_array_equal(np.asarray(kept.risk_ha_per_year), fresh.risk_ha_per_year)
        np.testing.assert_array_equal(np.asarray(kept.chosen_candidate.score_t3), fresh.chosen_candidate.score_t3)
        assert (kept.benchmark.risk_ha_per_year is kept.risk_ha_per_year) == (chosen == "benchmark")
        assert kept.benchmark.risk_ha_per_year is None or chosen == "benchmark"
        assert kept.to_dict() == fresh.to_dict()
