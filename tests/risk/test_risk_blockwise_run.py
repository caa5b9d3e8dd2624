"""The benchmark run block by block (icam.risk.blockwise_run) against the whole map's run (run_benchmark):
identical thresholds, class tables and risk map; assessments equal to rounding."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from scipy import ndimage

from icam.core.blocks import ArraySource, FileSource
from icam.landscape.grid import Grid
from icam.risk import benchmark as bm
from icam.risk.blockwise import ChangeMap
from icam.risk.blockwise_run import run_benchmark_by_blocks
from icam.risk.workflow import forest_from_fcc, run_benchmark


def assert_same_run(blocked, whole, out, outside):
    b, w = blocked.to_dict(), whole.to_dict()
    for period in ("calibration", "historical"):
        fb, fw = getattr(blocked, period), getattr(whole, period)
        assert fb.nrt_m == fw.nrt_m and fb.class_table() == fw.class_table()
        assert fb.deforested_ha == fw.deforested_ha and fb.forest_at_start_ha == fw.forest_at_start_ha
    for period in ("calibration", "confirmation"):
        cb, cw = (getattr(r, f"{period}_assessment").comparison for r in (blocked, whole))
        np.testing.assert_array_equal(cb.cell_ids, cw.cell_ids)
        np.testing.assert_array_equal(cb.n_pixels, cw.n_pixels)
        np.testing.assert_allclose(cb.predicted_ha, cw.predicted_ha, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(cb.actual_ha, cw.actual_ha, rtol=1e-12)
        for key, value in b[period].items():
            if isinstance(value, float):
                assert value == pytest.approx(w[period][key], rel=1e-9, abs=1e-9), key
    assert b["risk_map"]["expected_ha"] == w["risk_map"]["expected_ha"]
    assert b["risk_map"]["allocated_ha_per_year"] == pytest.approx(w["risk_map"]["allocated_ha_per_year"], rel=1e-9)
    with rasterio.open(out / "risk_ha_per_year.tif") as src:
        risk = src.read(1)
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    with rasterio.open(out / "vulnerability_classes.tif") as src:
        classes = src.read(1)
    np.testing.assert_array_equal(classes, whole.risk_classes)
    np.testing.assert_array_equal(risk, np.where(outside, np.float32(-1), whole.risk_ha_per_year))


def test_guadeloupe_by_blocks_equals_the_whole_map(shared_data, tmp_path):
    """riskmapjnr's Guadeloupe change map read from its file by 700-pixel windows on processes."""
    path = shared_data / "guadeloupe" / "fcc123_GLP_utm20n.tif"
    if not path.exists():
        pytest.skip("Guadeloupe data absent")
    with rasterio.open(path) as src:
        fcc, grid = src.read(1), Grid(src.crs.to_wkt(), src.transform, src.height, src.width)
    whole = run_benchmark(forest_from_fcc(fcc), (2000, 2010, 2020), grid, assessment_cell_ha=25_000)
    blocked = run_benchmark_by_blocks(ChangeMap(FileSource(path)), (2000, 2010, 2020), grid, tmp_path,
                                      assessment_cell_ha=25_000, cap_m=3000.0, block_px=700, scheduler="processes")
    assert_same_run(blocked, whole, tmp_path, np.zeros(fcc.shape, bool))


def test_units_and_areas_by_row_by_blocks(tmp_path):
    """Two administrative units on a Web Mercator grid (cell areas change by row: groups by region and row)."""
    rng = np.random.default_rng(4)
    shape = (180, 150)
    smooth = ndimage.gaussian_filter(rng.random(shape), 3)
    f1 = smooth > np.quantile(smooth, 0.3)
    d1 = bm.distance_to_edge_m(f1, 30.0)
    f2 = f1 & ~(rng.random(shape) < np.exp(-d1 / 60.0) * 0.5)
    d2 = bm.distance_to_edge_m(f2, 30.0)
    f3 = f2 & ~(rng.random(shape) < np.exp(-d2 / 60.0) * 0.5)
    fcc = np.select([f3, f2, f1], [3, 2, 1], 0).astype(np.uint8)
    units = np.zeros(shape, np.int32)
    units[5:, :80], units[5:, 80:] = 1, 2  # the first rows outside every unit
    grid = Grid(CRS.from_epsg(3857).to_wkt(), Affine(30, 0, -8_600_000, 0, -30, -600_000), *shape)
    assert grid.is_area_corrected
    whole = run_benchmark(forest_from_fcc(fcc), (2000, 2010, 2020), grid, units, assessment_cell_ha=400)
    blocked = run_benchmark_by_blocks(ChangeMap(ArraySource(fcc), ArraySource(units)), (2000, 2010, 2020), grid,
                                      tmp_path, assessment_cell_ha=400, cap_m=1500.0, block_px=64)
    assert_same_run(blocked, whole, tmp_path, units == 0)
