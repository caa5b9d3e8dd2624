"""Ingestion of real open data (../shared/data) through icam.toml, as a user's project would load it.

Guadeloupe (forestatrisk's test data, JRC TMF-derived): the World Mercator yearly maps and fcc rasters,
and riskmapjnr's UTM 20N fcc123. Figures come from guadeloupe/SOURCES.txt or are computed here from
the files. Tinigua (AcATaMa's example): class counts from tinigua/SOURCES.txt.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rasterio

from icam.pipeline.config import load_config
from icam.pipeline.stages.landscape import load_landscape
from icam.pipeline.template import toml_value

CELL_HA = 0.09
MERCATOR_MAPS = {2000: "forest_t1.tif", 2005: "forest_2005.tif", 2010: "forest_t2.tif", 2015: "forest_2015.tif",
                 2020: "forest_t3.tif"}
# guadeloupe/SOURCES.txt: fcc123_GLP_utm20n.tif class counts
UTM_LOSS_1_PX, UTM_LOSS_2_PX, UTM_FOREST_2020_PX = 29_835, 40_956, 815_694
PIXEL_COUNTED_2000_HA = 86_717  # SOURCES.txt: published figure = Mercator pixels x 0.09 ha
# tinigua/SOURCES.txt
TINIGUA_FOREST_PX, TINIGUA_LOSS_PX, TINIGUA_NONFOREST_PX = 1_611_984, 63_375, 711_441


def load(tmp_path: Path, name: str, toml: str):
    project = tmp_path / name
    project.mkdir()
    (project / "icam.toml").write_text(toml, encoding="utf-8")
    return load_landscape(load_config(project))


def project_toml(crs: str, forest: dict) -> str:
    """A minimal icam.toml: a named project on a 30 m grid in ``crs`` with the given [forest] table."""
    return "\n".join(["[project]", 'name = "Guadeloupe"', "[grid]", f"crs = {toml_value(crs)}", "resolution_m = 30",
                      "[forest]", *(f"{key} = {toml_value(value)}" for key, value in forest.items())])


def maps_toml(folder: Path, crs: str, reproject: bool) -> str:
    maps = {str(year): str(folder / file) for year, file in MERCATOR_MAPS.items()}
    return project_toml(crs, {"kind": "forest_maps", "reproject": reproject, "maps": maps})


def fcc_toml(file: Path, crs: str, years: list[int]) -> str:
    return project_toml(crs, {"kind": "fcc", "file": str(file), "years": years})


def areas(landscape, years=(2000, 2010, 2020)) -> dict[int, float]:
    return {y: landscape.grid.area_ha(landscape.forest.forest_in(y)) for y in years}


def loss_areas(landscape) -> list[float]:
    f = landscape.forest
    return [landscape.grid.area_ha(f.loss_period == p) for p in range(1, f.n_periods + 1)]


def class_areas(grid, file: Path, classes) -> list[float]:
    with rasterio.open(file) as src:
        values = src.read(1)
    return [grid.area_ha(values == c) for c in classes]


@pytest.fixture
def guadeloupe(shared_data) -> Path:
    folder = shared_data / "guadeloupe"
    if not (folder / "fcc123_GLP_utm20n.tif").exists():
        pytest.skip("guadeloupe data not found")
    return folder


def test_guadeloupe_areas_agree_across_projections(tmp_path, guadeloupe):
    mercator = load(tmp_path, "mercator", maps_toml(guadeloupe, "EPSG:3395", reproject=False))
    fcc5 = load(tmp_path, "fcc12345",
                fcc_toml(guadeloupe / "fcc12345.tif", "EPSG:3395", [2000, 2005, 2010, 2015, 2020]))
    utm = load(tmp_path, "utm", fcc_toml(guadeloupe / "fcc123_GLP_utm20n.tif", "EPSG:5490", [2000, 2010, 2020]))
    warped = load(tmp_path, "warped", maps_toml(guadeloupe, "EPSG:32620", reproject=True))

    # the Mercator maps are read as they are (no reprojection) and their areas corrected row by row
    assert mercator.grid.is_area_corrected and mercator.grid.shape == (2958, 3340)
    assert not utm.grid.is_area_corrected and utm.grid.shape == (2934, 3186)
    assert mercator.forest.epochs == (2000, 2005, 2010, 2015, 2020)

    m, u, w = areas(mercator), areas(utm), areas(warped)
    # UTM file: forest in 2000 = all three classes, 2010 = classes 2 and 3, 2020 = class 3 (SOURCES.txt counts)
    assert u[2000] == pytest.approx((UTM_LOSS_1_PX + UTM_LOSS_2_PX + UTM_FOREST_2020_PX) * CELL_HA)
    assert u[2010] == pytest.approx((UTM_LOSS_2_PX + UTM_FOREST_2020_PX) * CELL_HA)
    assert u[2020] == pytest.approx(UTM_FOREST_2020_PX * CELL_HA)
    assert loss_areas(utm) == pytest.approx([UTM_LOSS_1_PX * CELL_HA, UTM_LOSS_2_PX * CELL_HA])

    # true areas: Mercator pixel counting gives 86,717 ha in 2000; the corrected figure is near the UTM file's
    with rasterio.open(guadeloupe / MERCATOR_MAPS[2000]) as src:
        assert (src.read(1) == 1).sum() * CELL_HA == pytest.approx(PIXEL_COUNTED_2000_HA, abs=1)
    assert m[2000] < 0.93 * PIXEL_COUNTED_2000_HA
    assert m[2000] == pytest.approx(u[2000], rel=0.005)
    assert w[2000] == pytest.approx(u[2000], rel=0.005)
    # the reprojected maps agree with the per-row corrected Mercator areas in every year
    for year in (2000, 2010, 2020):
        assert w[year] == pytest.approx(m[year], rel=0.005)
    # riskmapjnr's UTM fcc123 splits 2000-2020 loss differently from forestatrisk's Mercator maps
    # (29,835 + 40,956 px against 30,195 + 55,375 Mercator px): its 2010 and 2020 areas differ by ~0.6%
    for year in (2010, 2020):
        assert m[year] == pytest.approx(u[year], rel=0.01)

    # the yearly maps' loss per period is the fcc12345 classes', and summed in pairs the fcc123 classes'
    merc_loss = loss_areas(mercator)
    assert loss_areas(fcc5) == pytest.approx(merc_loss, rel=0.005)
    assert merc_loss == pytest.approx(class_areas(mercator.grid, guadeloupe / "fcc12345.tif", [1, 2, 3, 4]), rel=0.005)
    fcc123 = class_areas(mercator.grid, guadeloupe / "fcc123.tif", [1, 2])
    assert [merc_loss[0] + merc_loss[1], merc_loss[2] + merc_loss[3]] == pytest.approx(fcc123, rel=0.005)
    assert areas(fcc5) == pytest.approx(m)


def test_tinigua_change_map(tmp_path, shared_data):
    file = shared_data / "tinigua" / "thematic_2019_2020_change_tinigua.tif"
    if not file.exists():
        pytest.skip("tinigua data not found")
    landscape = load(tmp_path, "tinigua", f"""
[project]
name = "Tinigua"

[grid]
crs = "EPSG:32618"
resolution_m = 30

[forest]
kind = "fcc"
file = "{file}"
years = [2019, 2020]
loss_codes = [[2]]
forest_codes = [1]
nonforest_codes = [5]
""")
    f, g = landscape.forest, landscape.grid
    assert g.shape == (2250, 2239)
    assert f.epochs == (2019, 2020)
    assert int(f.forest_first.sum()) == TINIGUA_FOREST_PX + TINIGUA_LOSS_PX
    assert int((f.loss_period == 1).sum()) == TINIGUA_LOSS_PX
    assert int(f.valid.sum()) == TINIGUA_FOREST_PX + TINIGUA_LOSS_PX + TINIGUA_NONFOREST_PX
    assert g.area_ha(f.loss_period == 1) == pytest.approx(TINIGUA_LOSS_PX * CELL_HA)
    assert g.area_ha(f.forest_in(2020)) == pytest.approx(TINIGUA_FOREST_PX * CELL_HA)
