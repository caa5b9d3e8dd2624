"""The five forest source kinds on small hand-made rasters, with counts worked by hand; grid derivation; coverage."""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from shapely.geometry import box

from conftest import UTM, X0, Y0, write_tif
from icam.core.errors import InputError
from icam.landscape.grid import Grid
from icam.landscape.ingest import _admin_units, load_forest, remove_small_patches
from icam.landscape.loaders import _loss_from_maps
from icam.pipeline.config import parse_config
from icam.pipeline.stages.landscape import forest_source, load_landscape

CELL_HA = 0.09


def config(tmp_path: Path, forest: dict, grid: dict | None = None, boundaries: dict | None = None):
    data = {"project": {"name": "test"}, "grid": grid or {"crs": UTM, "resolution_m": 30}, "forest": forest}
    if boundaries:
        data["boundaries"] = boundaries
    return parse_config(data, tmp_path)


def grid10() -> Grid:
    return Grid.from_bounds(UTM, (X0, Y0 - 300, X0 + 300, Y0), 30)


# ------------------------------------------------------------------------------------------------ hansen


def hansen_files(tmp_path: Path, treecover, lossyear, datamask=None):
    write_tif(tmp_path / "tc.tif", np.asarray(treecover, dtype=np.uint8))
    write_tif(tmp_path / "ly.tif", np.asarray(lossyear, dtype=np.uint8))
    forest = {"kind": "hansen", "treecover2000": ["tc.tif"], "lossyear": ["ly.tif"], "last_year": 2024}
    if datamask is not None:
        write_tif(tmp_path / "dm.tif", np.asarray(datamask, dtype=np.uint8))
        forest["datamask"] = ["dm.tif"]
    return forest


def test_hansen_threshold_is_strictly_greater(tmp_path):
    treecover = np.full((10, 10), 30, dtype=np.uint8)  # exactly at the threshold: not forest
    treecover[:, 5:] = 31
    forest = hansen_files(tmp_path, treecover, np.zeros((10, 10)))
    change = load_forest(forest_source(config(tmp_path, forest).forest), grid10())
    assert change.forest_first.sum() == 50
    assert not change.forest_first[:, :5].any()


def test_hansen_loss_mmu_and_datamask(tmp_path):
    treecover = np.zeros((10, 10), dtype=np.uint8)
    treecover[0:5, 0:5] = 80            # 25-cell block: 2.25 ha, kept
    treecover[8, 8] = treecover[9, 9] = treecover[9, 7] = 90  # 3 cells, 8-connected: 0.27 ha < 0.5 ha, removed
    treecover[0, 7] = treecover[1, 8] = treecover[2, 7] = treecover[2, 9] = treecover[3, 8] = treecover[4, 7] = 60
    # the last six form one 8-connected (diagonal) patch of 0.54 ha: kept
    lossyear = np.zeros((10, 10), dtype=np.uint8)
    lossyear[0, 0:3] = 5                # loss in 2005 inside forest
    lossyear[1, 0] = 24                 # loss in 2024
    lossyear[9, 9] = 3                  # in the removed speck: ignored
    lossyear[6, 0] = 7                  # in non-forest: ignored
    datamask = np.ones((10, 10), dtype=np.uint8)
    datamask[4, 0:5] = 2                # water: invalid, not forest
    datamask[5, 5] = 0                  # no data
    forest = hansen_files(tmp_path, treecover, lossyear, datamask)
    change = load_forest(forest_source(config(tmp_path, forest).forest), grid10())
    assert change.epochs == tuple(range(2000, 2025))
    assert change.forest_first.sum() == 20 + 6   # the block less its water row, and the diagonal patch
    assert not change.forest_first[8:, 7:].any()
    assert change.valid.sum() == 100 - 5 - 1
    assert (change.loss_period == 5).sum() == 3 and (change.loss_period == 24).sum() == 1
    assert np.count_nonzero(change.loss_period) == 4
    assert change.forest_at(5).sum() == 26 - 3 and change.forest_in(2024).sum() == 22
    np.testing.assert_array_equal(np.unique(change.loss_year()), [0, 2005, 2024])


def test_mmu_removes_a_three_pixel_speck():
    forest = np.zeros((10, 10), dtype=bool)
    forest[2, 2:5] = True               # 3 px x 0.09 ha = 0.27 ha
    forest[6:9, 6:8] = True             # 6 px = 0.54 ha
    kept = remove_small_patches(forest, grid10(), 0.5)
    assert kept.sum() == 6 and not kept[2].any()
    assert remove_small_patches(forest, grid10(), 0).sum() == 9


def test_mmu_uses_true_areas_on_a_mercator_grid():
    # at 60 deg N a nominal 100 m Mercator cell (1 ha) covers 0.25 ha: 8 cells are 2 ha, not 8
    from pyproj import Transformer

    _, y = Transformer.from_crs("EPSG:4326", "EPSG:3395", always_xy=True).transform(10, 60)
    g = Grid.from_bounds("EPSG:3395", (0, y - 500, 1000, y + 500), 100)
    forest = np.zeros(g.shape, dtype=bool)
    forest[1, 1:9] = True
    assert g.area_ha(forest) == pytest.approx(2.0, rel=0.02)
    assert remove_small_patches(forest, g, 2.5).sum() == 0
    assert remove_small_patches(forest, g, 1.5).sum() == 8


def test_hansen_lossyear_out_of_range(tmp_path):
    lossyear = np.zeros((10, 10), dtype=np.uint8)
    lossyear[3, 3] = 30
    forest = hansen_files(tmp_path, np.full((10, 10), 90), lossyear)
    with pytest.raises(InputError, match=r"lossyear holds value 30 \(year 2030\) but forest.last_year is 2024"):
        load_forest(forest_source(config(tmp_path, forest).forest), grid10())


def test_hansen_tiles_mosaic_and_speed(tmp_path):
    """Four tiles x three layers, ~11 M px on the grid, load in a few seconds."""
    rng = np.random.default_rng(0)
    n = 1660
    tiles = {}
    for i, (dx, dy) in enumerate([(0, 0), (n, 0), (0, n), (n, n)]):
        t = Affine(30, 0, X0 + 30 * dx, 0, -30, Y0 - 30 * dy)
        cover = np.where(rng.random((n, n)) < 0.7, 80, 5).astype(np.uint8)
        loss = np.where(rng.random((n, n)) < 0.01, rng.integers(1, 25, (n, n)), 0).astype(np.uint8)
        write_tif(tmp_path / f"Hansen_treecover2000_{i}.tif", cover, transform=t)
        write_tif(tmp_path / f"Hansen_lossyear_{i}.tif", loss, transform=t)
        write_tif(tmp_path / f"Hansen_datamask_{i}.tif", np.ones((n, n), dtype=np.uint8), transform=t)
        tiles[i] = cover
    cfg = config(tmp_path, {"kind": "hansen", "treecover2000": ["*treecover2000*.tif"], "lossyear": ["*lossyear*.tif"],
                            "datamask": ["*datamask*.tif"], "last_year": 2024, "min_mapping_unit_ha": 0})
    start = time.perf_counter()
    landscape = load_landscape(cfg)
    elapsed = time.perf_counter() - start
    assert landscape.grid.shape == (2 * n, 2 * n)
    assert landscape.forest.forest_first.sum() == sum(int((c > 30).sum()) for c in tiles.values())
    assert elapsed < 10, f"loading 4 tiles x 3 layers took {elapsed:.1f} s"


# ------------------------------------------------------------------------------------------------ forest_maps


def test_forest_maps(tmp_path):
    m2000 = np.ones((10, 10), dtype=np.uint8)
    m2000[:, 8:] = 0                    # 80 forest cells
    m2000[0, 0] = 255                   # nodata in 2000: invalid
    m2005 = m2000.copy()
    m2005[1, 0:4] = 0                   # 4 lost 2000-2005
    m2010 = m2005.copy()
    m2010[2, 0:2] = 0                   # 2 lost 2005-2010
    m2010[1, 0] = 1                     # regrowth: ignored
    m2010[9, 9] = 1                     # non-forest becoming forest: ignored
    m2010[5, 5] = 255                   # nodata in 2010: invalid
    paths = {str(y): write_tif(tmp_path / f"f{y}.tif", m, nodata=255).name
             for y, m in [(2000, m2000), (2005, m2005), (2010, m2010)]}
    change = load_forest(forest_source(config(tmp_path, {"kind": "forest_maps", "maps": paths}).forest), grid10())
    assert change.epochs == (2000, 2005, 2010)
    assert change.valid.sum() == 98
    assert change.forest_first.sum() == 80 - 2
    assert (change.loss_period == 1).sum() == 4 and (change.loss_period == 2).sum() == 2
    assert change.forest_in(2010).sum() == 78 - 6


def test_forest_maps_unexpected_value(tmp_path):
    m = np.ones((10, 10), dtype=np.uint8)
    m[0, 0] = 3
    paths = {"2000": write_tif(tmp_path / "a.tif", m).name, "2010": write_tif(tmp_path / "b.tif", m).name}
    with pytest.raises(InputError, match=r"forest.maps.2000: .* holds value\(s\) 3"):
        load_forest(forest_source(config(tmp_path, {"kind": "forest_maps", "maps": paths}).forest), grid10())


# ------------------------------------------------------------------------------------------------ fcc


def test_fcc_forestatrisk_convention(tmp_path):
    fcc = np.zeros((10, 10), dtype=np.uint8)  # 0 = non-forest (nodata)
    fcc[0, :] = 1                       # 10 lost 2000-2010
    fcc[1, :5] = 2                      # 5 lost 2010-2020
    fcc[2:6, :] = 3                     # 40 forest in 2020
    write_tif(tmp_path / "fcc123.tif", fcc, nodata=0)
    fcc_section = config(tmp_path, {"kind": "fcc", "file": "fcc123.tif", "years": [2000, 2010, 2020]}).forest
    change = load_forest(forest_source(fcc_section), grid10())
    assert change.valid.all()
    assert change.forest_first.sum() == 55
    assert [(change.loss_period == p).sum() for p in (1, 2)] == [10, 5]
    assert change.forest_in(2020).sum() == 40


def test_fcc_configured_codes_tinigua_style(tmp_path):
    m = np.full((10, 10), 1, dtype=np.uint8)  # stable forest
    m[0, :3] = 2                        # deforestation 2019-2020
    m[5:, :] = 5                        # stable non-forest
    m[9, 9] = 0                         # nodata
    write_tif(tmp_path / "change.tif", m, nodata=0)
    forest = {"kind": "fcc", "file": "change.tif", "years": [2019, 2020], "loss_codes": [[2]], "forest_codes": [1],
              "nonforest_codes": [5]}
    change = load_forest(forest_source(config(tmp_path, forest).forest), grid10())
    assert change.forest_first.sum() == 50 and (change.loss_period == 1).sum() == 3
    assert change.valid.sum() == 99
    m[3, 3] = 7
    m[4, 4] = 9
    write_tif(tmp_path / "change.tif", m, nodata=0)
    with pytest.raises(InputError, match=r"holds code\(s\) 7, 9 that are none of"):
        load_forest(forest_source(config(tmp_path, forest).forest), grid10())


# ------------------------------------------------------------------------------------------------ landcover_stack


def test_landcover_stack(tmp_path):
    y1 = np.full((10, 10), 3, dtype=np.uint8)   # MapBiomas 3 = forest formation
    y1[:, 7:] = 15                              # pasture
    y1[0, 0] = 4                                # savanna, also counted as forest below
    y2 = y1.copy()
    y2[1, :5] = 15                              # 5 lost in period 1
    y3 = y2.copy()
    y3[2, :2] = 21                              # 2 lost in period 2
    y3[9, 9] = 0                                # nodata
    write_tif(tmp_path / "stack.tif", np.stack([y1, y2, y3]), nodata=0)
    forest = {"kind": "landcover_stack", "file": "stack.tif", "years": [2000, 2010, 2020], "forest_classes": [3, 4]}
    change = load_forest(forest_source(config(tmp_path, forest).forest), grid10())
    assert change.forest_first.sum() == 70
    assert [(change.loss_period == p).sum() for p in (1, 2)] == [5, 2]
    assert change.valid.sum() == 99
    bad = {**forest, "years": [2000, 2010]}
    with pytest.raises(InputError, match="has 3 bands but forest.years lists 2 years"):
        load_forest(forest_source(config(tmp_path, bad).forest), grid10())


# ------------------------------------------------------------------------------------------------ loss_year


CUSTOM_TM = ("+proj=tmerc +lat_0=0 +lon_0=-75 +k=0.9996 +x_0=499700 +y_0=10000000 "
             "+ellps=WGS84 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs")  # UTM 18S shifted 300 m west, no EPSG code


def loss_year_rasters(tmp_path, crs, transform):
    start = np.ones((10, 10), dtype=np.uint8)
    start[:, 6:] = 0
    start[9, 0] = 255
    loss = np.zeros((10, 10), dtype=np.uint16)
    loss[0, :3] = 2003                  # 3 lost in 2003
    loss[1, 0] = 2010                   # 1 in 2010
    loss[2, 0] = 2000                   # before/at the start year: already in the map, ignored
    loss[0, 8] = 2005                   # non-forest: ignored
    write_tif(tmp_path / "start.tif", start, crs=crs, transform=transform, nodata=255)
    write_tif(tmp_path / "loss.tif", loss, crs=crs, transform=transform)
    return {"kind": "loss_year", "forest_start": "start.tif", "loss_year": "loss.tif", "start_year": 2000,
            "last_year": 2012}


def check_loss_year(change):
    assert change.epochs == tuple(range(2000, 2013))
    assert change.forest_first.sum() == 59 and change.valid.sum() == 99
    assert (change.loss_period == 3).sum() == 3 and (change.loss_period == 10).sum() == 1
    assert np.count_nonzero(change.loss_period) == 4


def test_loss_year_on_the_grid(tmp_path):
    section = config(tmp_path, loss_year_rasters(tmp_path, UTM, None)).forest
    check_loss_year(load_forest(forest_source(section), grid10()))


def test_loss_year_in_a_crs_without_epsg_code(tmp_path):
    from rasterio.crs import CRS as RioCRS

    # the same cells as on the grid, expressed in a custom transverse Mercator (x shifted by 300 m)
    forest = loss_year_rasters(tmp_path, CUSTOM_TM, Affine(30, 0, X0 - 300, 0, -30, Y0))
    with rasterio.open(tmp_path / "loss.tif") as src:
        assert src.crs.to_epsg() is None and RioCRS.from_string(CUSTOM_TM) == src.crs
    with pytest.raises(InputError, match="on another grid"):
        load_forest(forest_source(config(tmp_path, forest).forest), grid10())
    change = load_forest(forest_source(config(tmp_path, {**forest, "reproject": True}).forest), grid10())
    check_loss_year(change)


def test_grid_in_a_crs_without_epsg_code(tmp_path):
    forest = loss_year_rasters(tmp_path, CUSTOM_TM, Affine(30, 0, X0 - 300, 0, -30, Y0))
    cfg = config(tmp_path, forest, grid={"crs": CUSTOM_TM, "resolution_m": 30})
    landscape = load_landscape(cfg)
    assert landscape.grid.shape == (10, 10) and landscape.grid.transform.c == X0 - 300
    check_loss_year(landscape.forest)


def test_loss_year_beyond_last_year(tmp_path):
    forest = loss_year_rasters(tmp_path, UTM, None)
    with pytest.raises(InputError, match=r"loss_year holds value 2010 \(year 2010\) but forest.last_year is 2008"):
        load_forest(forest_source(config(tmp_path, {**forest, "last_year": 2008}).forest), grid10())


# ------------------------------------------------------------------------------------------------ landscape


def write_polygons(path: Path, geoms, crs=UTM, **columns) -> str:
    gpd.GeoDataFrame(columns, geometry=list(geoms), crs=crs).to_file(path)
    return path.name


def fcc_file(tmp_path, shape=(10, 10), transform=None):
    fcc = np.full(shape, 3, dtype=np.uint8)
    fcc[0, :] = 1
    return write_tif(tmp_path / "fcc.tif", fcc, nodata=0, transform=transform).name


def test_landscape_zones_and_grid_from_reference_region(tmp_path):
    # the raster is twice the size of the reference region; a raster lattice offset by 10 m is followed
    t = Affine(30, 0, X0 + 10, 0, -30, Y0 + 10)
    forest = {"kind": "fcc", "file": fcc_file(tmp_path, (20, 20), t), "years": [2000, 2010, 2020]}
    boundaries = {
        "reference_region": write_polygons(tmp_path / "rr.gpkg", [box(X0 + 10, Y0 - 290, X0 + 310, Y0 + 10)]),
        "project_area": write_polygons(tmp_path / "pa.geojson", [box(X0 + 70, Y0 - 110, X0 + 190, Y0 - 50)]),
        "admin_units": write_polygons(tmp_path / "au.shp", [box(X0 + 10, Y0 - 290, X0 + 160, Y0 + 10),
                                                            box(X0 + 160, Y0 - 290, X0 + 310, Y0 + 10),
                                                            box(X0 + 10, Y0 - 590, X0 + 160, Y0 - 290)],
                                      provincia=["Moyobamba", "Rioja", "Moyobamba"]),
        "admin_unit_field": "provincia",
    }
    landscape = load_landscape(config(tmp_path, forest, boundaries=boundaries))
    g = landscape.grid
    assert g.shape == (10, 10) and (g.transform.c, g.transform.f) == (X0 + 10, Y0 + 10)
    zones = landscape.zones
    assert zones.reference_region.sum() == 100 and zones.project.sum() == 8 and zones.leakage_belt is None
    assert zones.admin_names == ("Moyobamba", "Rioja")
    assert (zones.admin_id == 1).sum() == 50 and (zones.admin_id == 2).sum() == 50
    assert set(zones.masks()) == {"project_area", "reference_region", "admin:Moyobamba", "admin:Rioja"}
    assert landscape.forest.forest_first.sum() == 100 and (landscape.forest.loss_period == 1).sum() == 10


def test_landscape_coverage_errors(tmp_path):
    forest = {"kind": "fcc", "file": fcc_file(tmp_path), "years": [2000, 2010, 2020]}
    # a project area 10 cells wide of which 6 lie over the raster
    half = {"project_area": write_polygons(tmp_path / "half.gpkg", [box(X0 + 180, Y0 - 300, X0 + 480, Y0)])}
    with pytest.raises(InputError, match=r"only 40% of the project area has forest data"):
        load_landscape(config(tmp_path, forest, boundaries=half))
    away = {"project_area": write_polygons(tmp_path / "away.gpkg", [box(X0 + 3000, Y0 - 300, X0 + 3300, Y0)])}
    with pytest.raises(InputError, match="the project area lies outside the forest rasters"):
        load_landscape(config(tmp_path, forest, boundaries=away))
    wide = {"crs": UTM, "resolution_m": 30, "bounds": [X0, Y0 - 300, X0 + 600, Y0]}
    with pytest.raises(InputError, match=r"cover only 50% of the grid"):
        load_landscape(config(tmp_path, forest, grid=wide))


def test_mercator_grid_areas_are_corrected(tmp_path):
    # 100 x 100 cells of 30 m at 16 deg N in World Mercator: the true area is cos^2(16 deg) of the nominal
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3395", always_xy=True).transform(-61.5, 16.0)
    x, y = round(x / 30) * 30, round(y / 30) * 30
    t = Affine(30, 0, x, 0, -30, y + 1500)
    ones = np.ones((100, 100), dtype=np.uint8)
    paths = {"2000": write_tif(tmp_path / "a.tif", ones, crs="EPSG:3395", transform=t).name,
             "2010": write_tif(tmp_path / "b.tif", ones, crs="EPSG:3395", transform=t).name}
    landscape = load_landscape(config(tmp_path, {"kind": "forest_maps", "maps": paths},
                                      grid={"crs": "EPSG:3395", "resolution_m": 30}))
    area = landscape.grid.area_ha(landscape.forest.forest_in(2000))
    nominal = 10_000 * CELL_HA
    assert landscape.grid.is_area_corrected
    assert area == pytest.approx(nominal * np.cos(np.radians(16.0)) ** 2, rel=0.005)


# ------------------------------------------------------------------------------------------------ persistence

F, N = 3, 15  # MapBiomas forest formation and pasture
FLICKERS = {  # yearly classes 2010-2015 of one cell → its loss year with persistence 1, 2 and 3 years (0: none)
    "one-year flicker": ([F, F, N, F, F, F], {1: 2012, 2: 0, 3: 0}),
    "three years, then regrowth": ([F, N, N, N, F, F], {1: 2011, 2: 2011, 3: 2011}),
    "flicker, then lasting loss": ([F, N, F, N, N, N], {1: 2011, 2: 2013, 3: 2013}),
    "two-year flicker": ([F, F, N, N, F, F], {1: 2012, 2: 2012, 3: 0}),
    "loss in the last years, unconfirmed": ([F, F, F, F, N, N], {1: 2014, 2: 2014, 3: 2014}),
    "never forest at first": ([N, F, F, N, N, N], {1: 0, 2: 0, 3: 0}),
}


def _stack_source(tmp_path: Path, bands: np.ndarray, years: list[int], persistence: int):
    write_tif(tmp_path / "stack.tif", bands.astype(np.uint8), nodata=0)
    forest = {"kind": "landcover_stack", "file": "stack.tif", "years": years, "forest_classes": [F],
              "persistence_years": persistence}
    return forest_source(config(tmp_path, forest).forest)


@pytest.mark.parametrize("persistence", [1, 2, 3])
def test_persistence_counts_loss_only_where_it_lasts(tmp_path, persistence):
    years = list(range(2010, 2016))
    bands = np.full((len(years), 10, 10), F, dtype=np.uint8)
    for i, (classes, _) in enumerate(FLICKERS.values()):
        bands[:, 0, i] = classes
    change = load_forest(_stack_source(tmp_path, bands, years, persistence), grid10())
    for i, (name, (_, expected)) in enumerate(FLICKERS.items()):
        period = int(change.loss_period[0, i])
        assert (years[period] if period else 0) == expected[persistence], name
    assert change.forest_first.sum() == 99  # the cell not forest in 2010 is not forest at first


def test_persistence_window_on_maps_five_years_apart(tmp_path):
    # non-forest in 2005 and forest again in 2010: a 3-year window from 2005 holds only the 2005 map, so the loss
    # stands; with a 6-year window the 2010 map is in it and the cell flickered
    maps = {2000: np.ones((10, 10)), 2005: np.ones((10, 10)), 2010: np.ones((10, 10))}
    maps[2005][0, 0] = 0
    paths = {str(y): write_tif(tmp_path / f"m{y}.tif", m.astype(np.uint8), nodata=255).name for y, m in maps.items()}
    for persistence, lost in [(3, 1), (6, 0)]:
        section = config(tmp_path, {"kind": "forest_maps", "maps": paths, "persistence_years": persistence}).forest
        change = load_forest(forest_source(section), grid10())
        assert (change.loss_period > 0).sum() == lost
        assert "non-forest" in change.source


@given(classes=hnp.arrays(np.uint8, (7, 4, 5), elements=st.sampled_from([F, N])))
@settings(max_examples=60, deadline=None)
def test_a_longer_persistence_never_adds_loss_nor_makes_it_earlier(classes):
    years = list(range(2010, 2017))
    valid = np.ones((4, 5), dtype=bool)
    previous = None
    for persistence in (1, 2, 3, 4):
        first, period = _loss_from_maps((c == F for c in classes), valid, (4, 5), years, persistence)
        if persistence == 1:  # every change counts: the first map of non-forest
            first_nonforest = np.argmax(classes[1:] != F, axis=0) + 1
            ever = (classes[1:] != F).any(axis=0)
            assert np.array_equal(period, np.where(first & ever, first_nonforest, 0))
        else:
            assert np.all((period > 0) <= (previous > 0))
            assert np.all(period[period > 0] >= previous[period > 0])
        previous = period


@pytest.mark.parametrize("n_units, dtype", [(3, np.uint8), (255, np.uint8), (256, np.uint16)])
def test_admin_units_share_a_name_and_take_the_smallest_type(n_units, dtype):
    """Polygons sharing a name form one unit, numbered in the order their names first come (0: none), in the
    smallest unsigned type that holds the units."""
    grid = Grid.from_bounds(UTM, (X0, Y0 - 30.0, X0 + 30.0 * (n_units + 1), Y0), 30.0)
    cells = [box(X0 + 30.0 * i, Y0 - 30.0, X0 + 30.0 * (i + 1), Y0) for i in range(n_units + 1)]
    names = [f"unit {i}" for i in range(n_units)] + ["unit 0"]  # the last cell's polygon is unit 0's too
    gdf = gpd.GeoDataFrame({"name": names}, geometry=cells, crs=UTM)
    admin_id, unit_names = _admin_units(gdf, "name", grid)
    assert admin_id.dtype == dtype and unit_names == tuple(names[:-1])
    assert admin_id[0].tolist() == [*range(1, n_units + 1), 1]
