"""Bad maps, boundaries and icam.toml are refused as bad input must be; unusual but valid ones are accepted.

Every refusal goes through ``icam run`` on a copy of a project that ran well once (its outputs/ and cache
in place): one line ``error: ...`` naming what is wrong and how to fix it, a non-zero exit, no traceback,
and every file of the folder byte-identical afterwards (``conftest.assert_refused``). The projects are
tiny hand-made 20 x 20 rasters of 30 m cells in UTM 18S, one per forest source kind.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import LineString, Point, Polygon, box

from conftest import UTM, X0, Y0, assert_refused, run_cli, write_polygons, write_project, write_tif

CELL_HA = 0.09
BOUNDS = [X0, Y0 - 600, X0 + 600, Y0]  # the rasters' extent: 20 x 20 cells
PROJECT = box(X0 + 60, Y0 - 540, X0 + 300, Y0 - 60)  # 8 columns x 16 rows = 128 cells
BELT = box(X0 + 300, Y0 - 540, X0 + 540, Y0 - 60)  # the 8 columns east of it, sharing its edge
PROJECT_HA = 128 * CELL_HA


def forest_cover() -> np.ndarray:
    """1 = forest, 0 = non-forest: forest everywhere but a 3-column cleared strip in the west."""
    cover = np.ones((20, 20), dtype=np.uint8)
    cover[:, :3] = 0
    return cover


def base_sections(forest: dict, belt: bool = False) -> dict:
    boundaries = {"project_area": "inputs/project.gpkg"}
    if belt:
        boundaries["leakage_belt"] = "inputs/belt.gpkg"
    return {"project": {"name": "bad input"}, "grid": {"crs": UTM, "resolution_m": 30, "bounds": BOUNDS},
            "boundaries": boundaries, "forest": forest}


def build_hansen(folder: Path) -> None:
    write_tif(folder / "inputs" / "treecover2000.tif", np.where(forest_cover() == 1, 80, 10).astype(np.uint8))
    lossyear = np.zeros((20, 20), dtype=np.uint8)
    lossyear[5:10, 4:6] = 8  # 10 cells lost in 2008
    write_tif(folder / "inputs" / "lossyear.tif", lossyear)
    write_polygons(folder / "inputs" / "project.gpkg", [PROJECT], name=["project"])
    write_polygons(folder / "inputs" / "belt.gpkg", [BELT], name=["belt"])
    write_project(folder, base_sections({"kind": "hansen", "treecover2000": ["inputs/treecover2000.tif"],
                                         "lossyear": ["inputs/lossyear.tif"], "last_year": 2024}, belt=True))


def maps_forest(nodata_corner: bool = True) -> dict[int, np.ndarray]:
    first = forest_cover()
    maps = {2000: first, 2010: first.copy(), 2020: first.copy()}
    maps[2010][5:10, 4:6] = 0
    maps[2020][5:12, 4:8] = 0
    if nodata_corner:
        for m in maps.values():
            m[0, 19] = 255
    return maps


def build_forest_maps(folder: Path) -> None:
    for year, values in maps_forest().items():
        write_tif(folder / "inputs" / f"forest_{year}.tif", values)
    write_polygons(folder / "inputs" / "project.gpkg", [PROJECT], name=["project"])
    maps = {str(y): f"inputs/forest_{y}.tif" for y in (2000, 2010, 2020)}
    write_project(folder, base_sections({"kind": "forest_maps", "maps": maps}))


def build_fcc(folder: Path) -> None:
    fcc = np.where(forest_cover() == 1, 3, 0).astype(np.uint8)  # forestatrisk's fcc123: 0 = non-forest / nodata
    fcc[5:10, 4:6] = 1
    fcc[10:12, 4:8] = 2
    write_tif(folder / "inputs" / "fcc123.tif", fcc, nodata=0)
    write_polygons(folder / "inputs" / "project.gpkg", [PROJECT], name=["project"])
    write_project(folder, base_sections({"kind": "fcc", "file": "inputs/fcc123.tif", "years": [2000, 2010, 2020]}))


def stack() -> np.ndarray:
    """MapBiomas-like codes: 3 = forest formation, 15 = pasture, 0 = nodata (one corner cell)."""
    bands = np.stack([np.where(m == 1, 3, 15) for m in maps_forest(nodata_corner=False).values()]).astype(np.uint8)
    bands[:, 0, 19] = 0
    return bands


def build_landcover_stack(folder: Path) -> None:
    write_tif(folder / "inputs" / "stack.tif", stack(), nodata=0)
    write_polygons(folder / "inputs" / "project.gpkg", [PROJECT], name=["project"])
    write_project(folder, base_sections({"kind": "landcover_stack", "file": "inputs/stack.tif",
                                         "years": [2000, 2010, 2020], "forest_classes": [3]}))


def build_loss_year(folder: Path) -> None:
    start = forest_cover()
    start[0, 19] = 255
    write_tif(folder / "inputs" / "forest_2000.tif", start)
    loss = np.zeros((20, 20), dtype=np.uint8)
    loss[5:10, 4:6] = 5
    loss[10:12, 4:8] = 12
    write_tif(folder / "inputs" / "loss_year.tif", loss)
    write_polygons(folder / "inputs" / "project.gpkg", [PROJECT], name=["project"])
    write_project(folder, base_sections({"kind": "loss_year", "forest_start": "inputs/forest_2000.tif",
                                         "loss_year": "inputs/loss_year.tif", "start_year": 2000,
                                         "year_offset": 2000, "last_year": 2020}))


BUILDERS = {"hansen": build_hansen, "forest_maps": build_forest_maps, "fcc": build_fcc,
            "landcover_stack": build_landcover_stack, "loss_year": build_loss_year}


@pytest.fixture(scope="module")
def good_runs(tmp_path_factory):
    """kind → a project folder of that forest kind that `icam run` completed (built and run once per module)."""
    done: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in done:
            folder = tmp_path_factory.mktemp(f"good_{kind}")
            BUILDERS[kind](folder)
            code, output = run_cli("run", folder)
            assert code == 0, output
            done[kind] = folder
        return done[kind]

    return get


@pytest.fixture
def project(good_runs, tmp_path):
    """A copy of the good project of a kind, with its outputs/ and cache, ready to be broken."""

    def copy(kind: str = "hansen") -> Path:
        folder = tmp_path / kind
        shutil.copytree(good_runs(kind), folder)
        assert (folder / "outputs" / "results.json").exists()
        return folder

    return copy


# ------------------------------------------------------------------------------------------- helpers


def edit_toml(folder: Path, old: str, new: str) -> None:
    path = folder / "icam.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, (old, text)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def add_keys(folder: Path, section: str, **values) -> None:
    from icam.pipeline.template import toml_value

    lines = "".join(f"{key} = {toml_value(value)}\n" for key, value in values.items())
    edit_toml(folder, f"[{section}]\n", f"[{section}]\n{lines}")


def inputs(folder: Path, name: str) -> Path:
    return folder / "inputs" / name


def results(folder: Path) -> dict:
    return json.loads((folder / "outputs" / "results.json").read_text())


# -------------------------------------------------------------------------------------- the bad rasters


def h_treecover_all_nodata(f):
    write_tif(inputs(f, "treecover2000.tif"), np.full((20, 20), 255, np.uint8), nodata=255)


def h_datamask_all_nodata(f):
    write_tif(inputs(f, "datamask.tif"), np.zeros((20, 20), np.uint8))
    add_keys(f, "forest", datamask=["inputs/datamask.tif"])


def h_treecover_above_100(f):
    cover = np.full((20, 20), 80, np.uint8)
    cover[3, 3] = 180
    write_tif(inputs(f, "treecover2000.tif"), cover)


def h_lossyear_negative(f):
    loss = np.zeros((20, 20), np.int16)
    loss[2, 2] = -1
    write_tif(inputs(f, "lossyear.tif"), loss)


def h_lossyear_beyond_last_year(f):
    loss = np.zeros((20, 20), np.uint8)
    loss[4, 4] = 30
    write_tif(inputs(f, "lossyear.tif"), loss)


def h_lossyear_fractional(f):
    loss = np.zeros((20, 20), np.float32)
    loss[4, 4] = 2.5
    write_tif(inputs(f, "lossyear.tif"), loss)


def h_lossyear_nan_without_nodata_tag(f):
    loss = np.zeros((20, 20), np.float32)
    loss[4, 4] = np.nan
    write_tif(inputs(f, "lossyear.tif"), loss)


def h_three_bands_without_band(f):
    write_tif(inputs(f, "treecover2000.tif"), np.full((3, 20, 20), 80, np.uint8))


def h_band_beyond_the_file(f):
    write_tif(inputs(f, "treecover2000.tif"), np.full((3, 20, 20), 80, np.uint8))
    write_tif(inputs(f, "lossyear.tif"), np.zeros((3, 20, 20), np.uint8))
    add_keys(f, "forest", band=4)


def h_utm_metres_labelled_4326(f):
    write_tif(inputs(f, "lossyear.tif"), np.zeros((20, 20), np.uint8), crs="EPSG:4326")


def h_cell_size_off_by_a_tenth_of_a_percent(f):
    write_tif(inputs(f, "lossyear.tif"), np.zeros((20, 20), np.uint8), transform=Affine(30.03, 0, X0, 0, -30.03, Y0))


def h_half_a_cell_shift(f):
    write_tif(inputs(f, "lossyear.tif"), np.zeros((20, 20), np.uint8), transform=Affine(30, 0, X0 + 15, 0, -30, Y0))


def h_another_crs_without_reproject(f):
    write_tif(inputs(f, "lossyear.tif"), np.zeros((20, 20), np.uint8), crs="EPSG:32717")


def h_empty_file(f):
    inputs(f, "treecover2000.tif").write_bytes(b"")


def h_random_bytes(f):
    inputs(f, "lossyear.tif").write_bytes(np.random.default_rng(1).bytes(5000))


def h_truncated(f):
    path = write_tif(inputs(f, "treecover2000.tif"), np.random.default_rng(3).integers(0, 100, (400, 400), np.uint8))
    path.write_bytes(path.read_bytes()[:3000])


def h_folder_instead_of_a_file(f):
    inputs(f, "treecover2000.tif").unlink()
    inputs(f, "treecover2000.tif").mkdir()


def h_no_crs(f):
    import rasterio

    with rasterio.open(inputs(f, "lossyear.tif"), "w", driver="GTiff", width=20, height=20, count=1, dtype="uint8",
                       transform=Affine(30, 0, X0, 0, -30, Y0)) as dst:
        dst.write(np.zeros((20, 20), np.uint8), 1)


def h_tiles_with_two_nodata_values(f):
    write_tif(inputs(f, "lossyear_a.tif"), np.zeros((20, 10), np.uint8), nodata=255)
    write_tif(inputs(f, "lossyear_b.tif"), np.zeros((20, 10), np.uint8), nodata=254,
              transform=Affine(30, 0, X0 + 300, 0, -30, Y0))
    edit_toml(f, 'lossyear = ["inputs/lossyear.tif"]', 'lossyear = ["inputs/lossyear_*.tif"]')


def fm_map_all_nodata(f):
    write_tif(inputs(f, "forest_2010.tif"), np.full((20, 20), 255, np.uint8))


def fm_forest_and_nodata_swapped(f):
    edit_toml(f, "[forest]\n", "[forest]\nforest_value = 255\nnodata_value = 1\n")


def fm_nodata_tag_is_the_forest_value(f):
    write_tif(inputs(f, "forest_2000.tif"), maps_forest()[2000], nodata=1)


def fm_unexpected_value(f):
    values = maps_forest()[2020]
    values[7, 7] = 7
    write_tif(inputs(f, "forest_2020.tif"), values)


def fm_two_bands_without_band(f):
    write_tif(inputs(f, "forest_2010.tif"), np.stack([maps_forest()[2010]] * 2))


def fm_one_year_only(f):
    edit_toml(f, ', 2010 = "inputs/forest_2010.tif", 2020 = "inputs/forest_2020.tif"', "")


def fm_year_1850(f):
    edit_toml(f, "2010 = ", "1850 = ")


def fcc_unknown_code(f):
    fcc = np.full((20, 20), 3, np.uint8)
    fcc[5, 5] = 7
    write_tif(inputs(f, "fcc123.tif"), fcc, nodata=0)


def fcc_all_nodata(f):
    write_tif(inputs(f, "fcc123.tif"), np.zeros((20, 20), np.uint8), nodata=0)
    add_keys(f, "forest", nonforest_codes=[9])


def fcc_no_forest_at_all(f):
    write_tif(inputs(f, "fcc123.tif"), np.zeros((20, 20), np.uint8), nodata=0)


def fcc_nodata_tag_is_a_forest_code(f):
    fcc = np.full((20, 20), 3, np.uint8)
    write_tif(inputs(f, "fcc123.tif"), fcc, nodata=3)


def fcc_years_descending(f):
    edit_toml(f, "years = [2000, 2010, 2020]", "years = [2020, 2010, 2000]")


def fcc_loss_codes_for_one_period(f):
    add_keys(f, "forest", loss_codes=[[1]])


def fcc_two_bands_without_band(f):
    write_tif(inputs(f, "fcc123.tif"), np.full((2, 20, 20), 3, np.uint8), nodata=0)


def lc_bands_are_not_the_years(f):
    edit_toml(f, "years = [2000, 2010, 2020]", "years = [2000, 2005, 2010, 2020]")


def lc_all_nodata(f):
    write_tif(inputs(f, "stack.tif"), np.zeros((3, 20, 20), np.uint8), nodata=0)


def lc_forest_and_nodata_swapped(f):
    edit_toml(f, "forest_classes = [3]", "forest_classes = [0]\nnodata_value = 3")


def lc_a_year_twice(f):
    edit_toml(f, "years = [2000, 2010, 2020]", "years = [2000, 2000, 2020]")


def ly_loss_beyond_last_year(f):
    edit_toml(f, "last_year = 2020", "last_year = 2010")


def ly_negative_loss(f):
    loss = np.zeros((20, 20), np.int16)
    loss[3, 3] = -2
    write_tif(inputs(f, "loss_year.tif"), loss)


def ly_forest_and_nodata_swapped(f):
    edit_toml(f, "[forest]\n", "[forest]\nforest_value = 255\nnodata_value = 1\n")


def ly_last_year_is_the_start(f):
    edit_toml(f, "last_year = 2020", "last_year = 2000")


def ly_forest_start_with_two_bands(f):
    write_tif(inputs(f, "forest_2000.tif"), np.stack([forest_cover()] * 2))


def ly_fractional_years(f):
    loss = np.zeros((20, 20), np.float32)
    loss[3, 3] = 3.5
    write_tif(inputs(f, "loss_year.tif"), loss)


RASTER_CASES = [
    ("hansen", h_treecover_all_nodata, r"the forest data holds only no data in the project area \(128 cells\)"),
    ("hansen", h_datamask_all_nodata, "holds only no data in the project area"),
    ("hansen", h_treecover_above_100, r"forest.treecover2000: treecover2000.tif holds 180, not a canopy cover"),
    ("hansen", h_lossyear_negative, "forest.lossyear: lossyear.tif holds the negative value -1"),
    ("hansen", h_lossyear_beyond_last_year, r"lossyear holds value 30 \(year 2030\) but forest.last_year is 2024"),
    ("hansen", h_lossyear_fractional, "forest.lossyear: lossyear.tif holds fractional values"),
    ("hansen", h_lossyear_nan_without_nodata_tag, "lossyear.tif holds NaN or infinite values outside its nodata"),
    ("hansen", h_three_bands_without_band, r"treecover2000.tif has 3 bands.*set forest.band = N \(1 to 3\)"),
    ("hansen", h_band_beyond_the_file, r"has 3 band\(s\), band 4 was asked for"),
    ("hansen", h_utm_metres_labelled_4326, r"forest.lossyear: lossyear.tif has coordinates \(x 300000 to 300600.*"
                                           r"not degrees, as its CRS EPSG:4326 says"),
    ("hansen", h_cell_size_off_by_a_tenth_of_a_percent,
     r"lossyear.tif is on another grid \(EPSG:32718, 30.03 m cells .*\) than the project's \(EPSG:32718, 30 m cells"
     ".*reproject = true"),
    ("hansen", h_half_a_cell_shift, r"lossyear.tif is on another grid .*30 m cells from \(300015, 9300000\)"),
    ("hansen", h_another_crs_without_reproject, r"lossyear.tif is on another grid \(EPSG:32717"),
    ("hansen", h_empty_file, "forest.treecover2000: treecover2000.tif cannot be read as a raster"),
    ("hansen", h_random_bytes, "forest.lossyear: lossyear.tif cannot be read as a raster"),
    ("hansen", h_truncated, "forest.treecover2000: treecover2000.tif cannot be read"),
    ("hansen", h_folder_instead_of_a_file, "forest.treecover2000.*treecover2000.tif is a folder"),
    ("hansen", h_no_crs, "forest.lossyear: lossyear.tif has no CRS"),
    ("hansen", h_tiles_with_two_nodata_values, "lossyear_b.tif has nodata 254.0 but lossyear_a.tif has 255.0"),
    ("forest_maps", fm_map_all_nodata,
     r"forest.maps.2010: forest_2010.tif holds only no data \(nodata_value = 255\) in the project area"),
    ("forest_maps", fm_forest_and_nodata_swapped, r"forest.maps.2000: forest_2000.tif holds no forest \(forest_value "
                                                  r"= 255\) and 88% no data \(nodata_value = 1\).*look swapped"),
    ("forest_maps", fm_nodata_tag_is_the_forest_value,
     r"holds no forest \(forest_value = 1\) and 88% no data \(nodata_value = 255 or its nodata tag 1\) in the "
     "project area: .*look swapped"),
    ("forest_maps", fm_unexpected_value, r"forest.maps.2020: forest_2020.tif holds value\(s\) 7 that are none of"),
    ("forest_maps", fm_two_bands_without_band, "forest.maps.2010: forest_2010.tif has 2 bands"),
    ("forest_maps", fm_one_year_only, "'forest.maps'.*at least 2 items"),
    ("forest_maps", fm_year_1850, "'forest.maps.1850"),
    ("fcc", fcc_unknown_code, r"forest.file: fcc123.tif holds code\(s\) 7"),
    ("fcc", fcc_all_nodata, "holds only no data in the project area"),
    ("fcc", fcc_no_forest_at_all, "shows no forest anywhere in the project area in 2000"),
    ("fcc", fcc_nodata_tag_is_a_forest_code, "fcc123.tif has nodata tag 3, which is one of its forest codes"),
    ("fcc", fcc_years_descending, r"forest.years = \[2020, 2010, 2000\] must be ascending"),
    ("fcc", fcc_loss_codes_for_one_period, "loss_codes has 1 lists but years define 2 periods"),
    ("fcc", fcc_two_bands_without_band, "fcc123.tif has 2 bands.*forest.band"),
    ("landcover_stack", lc_bands_are_not_the_years, "stack.tif has 3 bands but forest.years lists 4 years"),
    ("landcover_stack", lc_all_nodata, r"holds only no data \(nodata_value = 0\)"),
    ("landcover_stack", lc_forest_and_nodata_swapped, r"holds no forest \(forest_classes = \[0\]\).*look swapped"),
    ("landcover_stack", lc_a_year_twice, "repeats a year"),
    ("loss_year", ly_loss_beyond_last_year, r"forest.loss_year holds value 12 \(year 2012\) but forest.last_year is "
                                            "2010"),
    ("loss_year", ly_negative_loss, "forest.loss_year: loss_year.tif holds the negative value -2"),
    ("loss_year", ly_forest_and_nodata_swapped, "forest.forest_start: forest_2000.tif holds no forest.*look swapped"),
    ("loss_year", ly_last_year_is_the_start, "forest.last_year = 2000 is not after forest.start_year = 2000"),
    ("loss_year", ly_forest_start_with_two_bands, "forest_2000.tif has 2 bands.*forest.band"),
    ("loss_year", ly_fractional_years, "forest.loss_year: loss_year.tif holds fractional values"),
]


@pytest.mark.parametrize(("kind", "breaks", "pattern"), RASTER_CASES, ids=[c[1].__name__ for c in RASTER_CASES])
def test_a_bad_raster_is_refused(project, kind, breaks, pattern):
    folder = project(kind)
    breaks(folder)
    line = assert_refused(folder, "run", folder, match=pattern)
    assert len(line) - len(str(folder)) < 250, line


# ------------------------------------------------------------------------------------- the bad vectors


def v_empty_layer(f):
    inputs(f, "empty.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    edit_toml(f, '"inputs/project.gpkg"', '"inputs/empty.geojson"')


def v_bowtie(f):
    bowtie = Polygon([(X0, Y0), (X0 + 600, Y0 - 600), (X0 + 600, Y0), (X0, Y0 - 600)])
    write_polygons(inputs(f, "project.gpkg"), [bowtie], name=["bowtie"])


def v_no_crs(f):
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[PROJECT])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyogrio warns that the file will have no CRS: the point
        gdf.to_file(inputs(f, "nocrs.shp"))
    edit_toml(f, '"inputs/project.gpkg"', '"inputs/nocrs.shp"')


def v_points(f):
    write_polygons(inputs(f, "project.gpkg"), [Point(X0 + 100, Y0 - 100)], name=["a village"])


def v_lines(f):
    write_polygons(inputs(f, "belt.gpkg"), [LineString([(X0, Y0), (X0 + 600, Y0 - 600)])], name=["a road"])


def v_belt_overlaps_the_project(f):
    write_polygons(inputs(f, "belt.gpkg"), [box(X0 + 240, Y0 - 540, X0 + 540, Y0 - 60)], name=["belt"])


def v_project_outside_the_data(f):
    write_polygons(inputs(f, "project.gpkg"), [box(X0 + 30_000, Y0 - 600, X0 + 30_600, Y0)], name=["far"])


def v_utm_metres_labelled_4326(f):
    write_polygons(inputs(f, "project.gpkg"), [PROJECT], crs="EPSG:4326", name=["project"])


def v_degrees_labelled_utm(f):
    write_polygons(inputs(f, "project.gpkg"), [box(-77.5, -6.0, -77.4, -5.9)], name=["project"])


def v_random_bytes(f):
    inputs(f, "project.gpkg").write_bytes(np.random.default_rng(5).bytes(4096))


def v_folder_instead_of_a_file(f):
    inputs(f, "project.gpkg").unlink()
    inputs(f, "project.gpkg").mkdir()


def v_admin_field_missing(f):
    write_polygons(inputs(f, "units.gpkg"), [box(*BOUNDS)], NOMBRE=["Rioja"])
    edit_toml(f, "[boundaries]\n", '[boundaries]\nadmin_units = "inputs/units.gpkg"\nadmin_unit_field = "provincia"\n')


VECTOR_CASES = [
    (v_empty_layer, "boundaries.project_area: empty.geojson holds no features"),
    (v_bowtie, r"boundaries.project_area: project.gpkg feature 0 is not a valid polygon \(Self-intersection"),
    (v_no_crs, "boundaries.project_area: nocrs.shp has no CRS"),
    (v_points, "project.gpkg feature 0 is a Point, not a polygon"),
    (v_lines, "boundaries.leakage_belt: belt.gpkg feature 0 .*is a LineString, not a polygon"),
    (v_belt_overlaps_the_project, r"boundaries.leakage_belt overlaps the project area by 2.9 ha.*cut the project area "
                                  "out of the leakage belt"),
    (v_project_outside_the_data, "boundaries.project_area: the project area lies outside the grid"),
    (v_utm_metres_labelled_4326, "boundaries.project_area: project.gpkg has coordinates .*not degrees.*set the right "
                                 "CRS"),
    (v_degrees_labelled_utm, "the project area lies outside the grid"),
    (v_random_bytes, "boundaries.project_area: project.gpkg cannot be read as a vector file"),
    (v_folder_instead_of_a_file, "boundaries.project_area.*project.gpkg is a folder"),
    (v_admin_field_missing, "boundaries.admin_units: units.gpkg has no column 'provincia'.*NOMBRE"),
]


@pytest.mark.parametrize(("breaks", "pattern"), VECTOR_CASES, ids=[c[0].__name__ for c in VECTOR_CASES])
def test_a_bad_boundary_is_refused(project, breaks, pattern):
    folder = project("hansen")
    breaks(folder)
    line = assert_refused(folder, "run", folder, match=pattern)
    assert len(line) - len(str(folder)) < 250, line


# ------------------------------------------------------------------------------------ the bad icam.toml


def t_syntax_error(f):
    edit_toml(f, "resolution_m = 30", "resolution_m == 30")


def t_unknown_key(f):
    add_keys(f, "forest", canopy_cover_min=30)


def t_wrong_type(f):
    edit_toml(f, "resolution_m = 30", 'resolution_m = "thirty"')


def t_missing_required_key(f):
    edit_toml(f, "last_year = 2024\n", "")


def t_missing_section(f):
    text = (f / "icam.toml").read_text()
    (f / "icam.toml").write_text(text[:text.index("[forest]")])


def t_missing_file(f):
    inputs(f, "lossyear.tif").unlink()


def t_glob_matching_nothing(f):
    edit_toml(f, '"inputs/lossyear.tif"', '"inputs/hansen/*lossyear*.tif"')


def t_unknown_crs(f):
    edit_toml(f, f'crs = "{UTM}"', 'crs = "EPSG:999999"')


def t_geographic_crs(f):
    edit_toml(f, f'crs = "{UTM}"', 'crs = "EPSG:4326"')


def t_crs_of_another_continent(f):
    edit_toml(f, f'crs = "{UTM}"', 'crs = "EPSG:32720"')  # UTM 20S, 14° east of the data
    edit_toml(f, "bounds = ", "# bounds = ")
    add_keys(f, "forest", reproject=True)


def t_infinite_bounds(f):
    edit_toml(f, "bounds = [300000.0,", "bounds = [-inf,")


def t_unknown_forest_kind(f):
    edit_toml(f, 'kind = "hansen"', 'kind = "lidar"')


def t_periods_that_do_not_meet(f):
    (f / "icam.toml").write_text((f / "icam.toml").read_text() + (
        '\n[periods]\nhistorical_reference = [2000, 2008]\ncalibration = [2000, 2004]\nconfirmation = [2005, 2008]\n'
        "project_start = 2008-06-15\n"))


def t_period_ending_before_it_starts(f):
    (f / "icam.toml").write_text((f / "icam.toml").read_text() + (
        '\n[periods]\nhistorical_reference = [2008, 2000]\ncalibration = [2000, 2004]\nconfirmation = [2004, 2008]\n'
        "project_start = 2008-06-15\n"))


def t_year_of_another_era(f):
    edit_toml(f, "last_year = 2024", "last_year = 24")


def t_negative_resolution(f):
    edit_toml(f, "resolution_m = 30", "resolution_m = -30")


def t_vcs_id_that_is_no_number(f):
    add_keys(f, "project", vcs_id="VCS 944")


def t_no_icam_toml(f):
    (f / "icam.toml").unlink()


def t_icam_toml_is_a_folder(f):
    (f / "icam.toml").unlink()
    (f / "icam.toml").mkdir()
    (f / "icam.toml" / "keep").write_text("")


def t_binary_icam_toml(f):
    (f / "icam.toml").write_bytes(np.random.default_rng(7).bytes(300))


def t_the_untouched_template(f):
    code, output = run_cli("init", f, "--force")
    assert code == 0, output


CONFIG_CASES = [
    (t_syntax_error, r"icam.toml is not valid TOML \(.*line 6.*fix the syntax"),
    (t_unknown_key, "unknown key 'forest.canopy_cover_min' in icam.toml; remove it"),
    (t_wrong_type, "'grid.resolution_m' = 'thirty': .*number"),
    (t_missing_required_key, "missing key 'forest.last_year' in icam.toml; add it"),
    (t_missing_section, "missing key 'forest'"),
    (t_missing_file, "forest.lossyear.*lossyear.tif does not exist"),
    (t_glob_matching_nothing, r"forest.lossyear.*\*lossyear\*.tif matches no file"),
    (t_unknown_crs, "'grid.crs' = 'EPSG:999999': PROJ does not know this CRS"),
    (t_geographic_crs, "'grid.crs' = 'EPSG:4326': geographic.*; use a projected CRS in metres"),
    (t_crs_of_another_continent, r"grid.crs = EPSG:32720 misstates areas by up to \d+\.\d% .*EPSG:32718"),
    (t_infinite_bounds, r"'grid.bounds' = \[-inf, .*bounds must be finite numbers"),
    (t_unknown_forest_kind, "'forest.kind' is not a forest format.*hansen, forest_maps"),
    (t_periods_that_do_not_meet, "confirmation must start where calibration ends"),
    (t_period_ending_before_it_starts, r"historical_reference must be \[start, end\] with start < end"),
    (t_year_of_another_era, "'forest.last_year' = 24: .*greater than or equal to 1970"),
    (t_negative_resolution, "'grid.resolution_m' = -30"),
    (t_vcs_id_that_is_no_number, "'project.vcs_id' = 'VCS 944'"),
    (t_no_icam_toml, "no icam.toml at .*icam init"),
    (t_icam_toml_is_a_folder, "icam.toml is not a file"),
    (t_binary_icam_toml, "icam.toml is not valid TOML"),
    (t_the_untouched_template, "'project.name' = '<project name>': still the template's placeholder"),
]


@pytest.mark.parametrize(("breaks", "pattern"), CONFIG_CASES, ids=[c[0].__name__ for c in CONFIG_CASES])
def test_a_bad_icam_toml_is_refused(project, breaks, pattern):
    folder = project("hansen")
    breaks(folder)
    line = assert_refused(folder, "run", folder, match=pattern)
    assert len(line) - len(str(folder)) < 250, line



# ----------------------------------------------------------------------- unusual but valid: accepted

PROJECT_FOREST_2000_HA = 7 * 16 * CELL_HA  # project columns 2-9, rows 2-17; column 2 is the cleared strip
PROJECT_LOSS_2008_HA = 10 * CELL_HA  # lossyear[5:10, 4:6] = 8


def run_ok(folder: Path) -> dict:
    code, output = run_cli("run", folder)
    assert code == 0, output
    return results(folder)


def forest_2000_ha(res: dict, zone: str = "project_area") -> float:
    return res["forest_change"]["forest_area_ha"][zone]["2000"]


def test_the_good_projects_hold_the_hand_counted_areas(good_runs):
    for kind in BUILDERS:
        res = results(good_runs(kind))
        assert res["project"]["area_ha"] == pytest.approx(PROJECT_HA)
        assert forest_2000_ha(res) == pytest.approx(PROJECT_FOREST_2000_HA)
    hansen = results(good_runs("hansen"))
    assert hansen["project"]["leakage_belt_area_ha"] == pytest.approx(128 * CELL_HA)  # the belt touches, no overlap
    assert sum(hansen["forest_change"]["loss_ha"]["project_area"].values()) == pytest.approx(PROJECT_LOSS_2008_HA)


def test_boundaries_in_epsg_4326_are_reprojected_onto_the_grid(project):
    folder = project("hansen")
    for name, geom in (("project.gpkg", PROJECT), ("belt.gpkg", BELT)):
        gdf = gpd.GeoDataFrame({"name": [name]}, geometry=[geom], crs=UTM).to_crs("EPSG:4326")
        assert gdf.total_bounds[0] == pytest.approx(-76.8, abs=0.05)  # longitudes, degrees
        gdf.to_file(inputs(folder, name))
    res = run_ok(folder)
    assert res["project"]["area_ha"] == pytest.approx(PROJECT_HA)
    assert res["project"]["leakage_belt_area_ha"] == pytest.approx(128 * CELL_HA)
    assert forest_2000_ha(res) == pytest.approx(PROJECT_FOREST_2000_HA)


def test_the_icam_toml_file_itself_names_its_project(project):
    folder = project("hansen")
    code, output = run_cli("run", folder / "icam.toml")
    assert code == 0, output
    assert forest_2000_ha(results(folder)) == pytest.approx(PROJECT_FOREST_2000_HA)


def test_another_file_for_the_project_folder_is_refused(project):
    folder = project("hansen")
    assert_refused(folder, "run", inputs(folder, "project.gpkg"), match="is a file, not a project folder")


def test_an_empty_vcs_id_means_not_registered(project):
    folder = project("hansen")
    add_keys(folder, "project", vcs_id="")
    assert run_ok(folder)["project"]["vcs_id"] is None


@pytest.mark.parametrize("cell_m", [30.000001, 30.002])  # 3e-6 % and 0.0067 % off: within the 0.01 % tolerance
def test_a_cell_size_within_a_hundredth_of_a_percent_is_the_grids(project, cell_m):
    folder = project("hansen")
    lossyear = np.zeros((20, 20), np.uint8)
    lossyear[5:10, 4:6] = 8
    write_tif(inputs(folder, "lossyear.tif"), lossyear, transform=Affine(cell_m, 0, X0, 0, -cell_m, Y0))
    res = run_ok(folder)
    assert sum(res["forest_change"]["loss_ha"]["project_area"].values()) == pytest.approx(PROJECT_LOSS_2008_HA)


def test_a_grid_of_30_000001_m_reads_30_m_rasters(project):
    folder = project("hansen")
    edit_toml(folder, "resolution_m = 30", "resolution_m = 30.000001")
    res = run_ok(folder)
    assert res["grid"]["resolution_m"] == 30.000001
    assert forest_2000_ha(res) == pytest.approx(PROJECT_FOREST_2000_HA, rel=1e-6)


def test_band_2_of_a_multi_band_file(project):
    folder = project("hansen")
    cover = np.where(forest_cover() == 1, 80, 10).astype(np.uint8)
    lossyear = np.zeros((20, 20), np.uint8)
    lossyear[5:10, 4:6] = 8
    # band 1 holds something else (no forest, no loss): the areas show which band was read
    write_tif(inputs(folder, "treecover2000.tif"), np.stack([np.full_like(cover, 5), cover]))
    write_tif(inputs(folder, "lossyear.tif"), np.stack([np.zeros_like(lossyear), lossyear]))
    add_keys(folder, "forest", band=2)
    res = run_ok(folder)
    assert forest_2000_ha(res) == pytest.approx(PROJECT_FOREST_2000_HA)
    assert sum(res["forest_change"]["loss_ha"]["project_area"].values()) == pytest.approx(PROJECT_LOSS_2008_HA)


def test_a_latin_1_icam_toml_with_accents(project):
    folder = project("hansen")
    text = (folder / "icam.toml").read_text(encoding="utf-8")
    text = "# Bosque de Protección Alto Mayo: límites del área (guardado en ANSI)\n" + text.replace(
        'name = "bad input"', 'name = "Protección del bosque"')
    (folder / "icam.toml").write_bytes(text.encode("latin-1"))
    assert run_ok(folder)["project"]["name"] == "Protección del bosque"


def test_a_belt_overlapping_the_project_by_a_sliver_is_not_counted_twice(project):
    folder = project("hansen")
    # 1.5 m x 480 m = 720 m², under one 900 m² cell, but over the centres of the project's last column
    sliver = box(X0 + 284.5, Y0 - 540, X0 + 286, Y0 - 60)
    write_polygons(inputs(folder, "belt.gpkg"), [BELT, sliver], name=["belt", "sliver"])
    res = run_ok(folder)
    assert res["project"]["area_ha"] == pytest.approx(PROJECT_HA)
    assert res["project"]["leakage_belt_area_ha"] == pytest.approx(128 * CELL_HA)  # not 144 cells


def test_a_project_from_the_template_issues_nothing_and_names_no_other_place(tmp_path):
    folder = tmp_path / "rondonia"
    code, output = run_cli("init", folder)
    assert code == 0, output
    text = (folder / "icam.toml").read_text(encoding="utf-8")
    from icam.pipeline.template import PLACEHOLDERS, toml_value

    text = text.replace(toml_value(PLACEHOLDERS[("project", "name")]), '"Teste Rondônia"')
    (folder / "icam.toml").write_text(text.replace(toml_value(PLACEHOLDERS[("grid", "crs")]), f'"{UTM}"'))
    build_hansen(tmp_path / "data")
    (folder / "inputs" / "hansen").mkdir(parents=True)
    for name in ("treecover2000.tif", "lossyear.tif"):  # the template's patterns: inputs/hansen/*treecover2000*.tif
        shutil.copy(tmp_path / "data" / "inputs" / name, folder / "inputs" / "hansen" / f"tile_{name}")
    write_polygons(folder / "inputs" / "boundaries" / "project_area.gpkg", [PROJECT], name=["teste"])
    code, output = run_cli("run", folder)
    assert code == 0, output
    res = results(folder)
    assert res["project"]["name"] == "Teste Rondônia" and res["project"]["vcs_id"] is None
    assert res["accounting"] is None and res["risk"] is None and "Credits" not in output
    assert forest_2000_ha(res) == pytest.approx(PROJECT_FOREST_2000_HA)
    report = (folder / "outputs" / "report.html").read_text(encoding="utf-8")
    assert "Teste Rondônia" in report and "San Martín" not in report and "Alto Mayo" not in report
