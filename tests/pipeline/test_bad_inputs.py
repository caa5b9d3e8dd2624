"""Bad input is refused with one line naming the file or key, and a fix; never a traceback.

Each case builds a small project folder (icam.toml and inputs) and expects an IcamError subclass from
the library (load_config + load_landscape, the path `icam run` takes) and, through the CLI,
exit code 2, a single "error: ..." line and no outputs.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from shapely.geometry import Polygon, box

from conftest import UTM, X0, Y0, write_polygons, write_project, write_tif
from icam.core.errors import ConfigError, IcamError, InputError
from icam.pipeline.config import load_config
from icam.pipeline.stages.landscape import load_landscape
from icam.pipeline.template import toml_value

TRANSFORM = Affine(30, 0, X0, 0, -30, Y0)


def hansen_project(folder: Path, *, lossyear=None, lossyear_transform=TRANSFORM, forest_extra=None,
                   grid_extra=None, project_area=None, boundaries_extra=None) -> Path:
    """A valid 20 x 20 Hansen project with a project area; keyword arguments break one thing."""
    treecover = np.full((20, 20), 80, dtype=np.uint8)
    write_tif(folder / "inputs" / "treecover2000.tif", treecover)
    write_tif(folder / "inputs" / "lossyear.tif",
              lossyear if lossyear is not None else np.zeros((20, 20), dtype=np.uint8), transform=lossyear_transform)
    write_polygons(folder / "inputs" / "project.gpkg",
                   [project_area if project_area is not None else box(X0 + 60, Y0 - 540, X0 + 540, Y0 - 60)],
                   name=["Alto Mayo"])
    forest = {"kind": "hansen", "treecover2000": ["inputs/treecover2000.tif"], "lossyear": ["inputs/lossyear.tif"],
              "last_year": 2024, **(forest_extra or {})}
    return write_project(folder, {
        "project": {"name": "bad input"},
        "grid": {"crs": UTM, "resolution_m": 30, **(grid_extra or {})},
        "boundaries": {"project_area": "inputs/project.gpkg", **(boundaries_extra or {})},
        "forest": forest,
    })


# -------------------------------------------------------------------------------------------- the cases


def corrupt_random_bytes(folder):
    hansen_project(folder)
    (folder / "inputs" / "lossyear.tif").write_bytes(np.random.default_rng(1).bytes(5000))


def corrupt_truncated(folder):
    hansen_project(folder, lossyear=np.random.default_rng(2).integers(0, 20, (20, 20)).astype(np.uint8))
    big = np.random.default_rng(3).integers(0, 100, (400, 400)).astype(np.uint8)
    path = write_tif(folder / "inputs" / "treecover2000.tif", big)
    path.write_bytes(path.read_bytes()[:3000])  # header kept, first strips cut


def raster_without_crs(folder):
    hansen_project(folder)
    path = folder / "inputs" / "lossyear.tif"
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1, dtype="uint8",
                       transform=TRANSFORM) as dst:
        dst.write(np.zeros((20, 20), dtype=np.uint8), 1)


def geographic_grid(folder):
    hansen_project(folder, grid_extra={"crs": "EPSG:4326"})


def misaligned_lossyear(folder):
    hansen_project(folder, lossyear_transform=Affine(30, 0, X0 + 15, 0, -30, Y0))


def partly_overlapping_grid(folder):
    hansen_project(folder, grid_extra={"bounds": [X0, Y0 - 600, X0 + 1200, Y0]})


def project_partly_covered(folder):
    hansen_project(folder, grid_extra={"bounds": [X0, Y0 - 600, X0 + 1200, Y0]},
                   project_area=box(X0 + 300, Y0 - 300, X0 + 900, Y0))


def empty_polygon_file(folder):
    hansen_project(folder)
    path = folder / "inputs" / "empty.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    hansen_project(folder, boundaries_extra={"project_area": "inputs/empty.geojson"})


def empty_geometry(folder):
    hansen_project(folder)
    (folder / "inputs" / "hollow.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "hollow"}, "geometry": None}]}))
    hansen_project(folder, boundaries_extra={"project_area": "inputs/hollow.geojson"})


def bowtie_polygon(folder):
    bowtie = Polygon([(X0, Y0), (X0 + 600, Y0 - 600), (X0 + 600, Y0), (X0, Y0 - 600)])
    hansen_project(folder, project_area=bowtie)


def project_outside_rasters(folder):
    hansen_project(folder, project_area=box(X0 + 30_000, Y0 - 600, X0 + 30_600, Y0))


def lossyear_out_of_range(folder):
    lossyear = np.zeros((20, 20), dtype=np.uint8)
    lossyear[4, 4] = 30
    hansen_project(folder, lossyear=lossyear)


def unknown_config_key(folder):
    hansen_project(folder, forest_extra={"canopy_cover_min": 30})


def missing_file(folder):
    hansen_project(folder)
    (folder / "inputs" / "treecover2000.tif").unlink()


def missing_glob(folder):
    hansen_project(folder, forest_extra={"lossyear": ["inputs/hansen/*lossyear*.tif"]})


def wrong_column(folder):
    hansen_project(folder)
    write_polygons(folder / "inputs" / "units.gpkg", [box(X0, Y0 - 600, X0 + 600, Y0)], NOMBRE=["Rioja"])
    hansen_project(folder, boundaries_extra={"admin_units": "inputs/units.gpkg", "admin_unit_field": "provincia"})


def unknown_fcc_codes(folder):
    hansen_project(folder)
    fcc = np.full((20, 20), 3, dtype=np.uint8)
    fcc[5, 5] = 7
    write_tif(folder / "inputs" / "fcc123.tif", fcc, nodata=0)
    text = (folder / "icam.toml").read_text()
    forest = text[text.index("[forest]"):]
    (folder / "icam.toml").write_text(text.replace(forest, '[forest]\nkind = "fcc"\nfile = "inputs/fcc123.tif"\n'
                                                           "years = [2000, 2010, 2020]\n"))


def impossible_canopy_cover(folder):
    hansen_project(folder, forest_extra={"canopy_cover_min_pct": 150})


def polygon_without_crs(folder):
    hansen_project(folder)
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(X0, Y0 - 600, X0 + 600, Y0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyogrio warns that the file will have no CRS: the point
        gdf.to_file(folder / "inputs" / "nocrs.shp")
    hansen_project(folder, boundaries_extra={"project_area": "inputs/nocrs.shp"})


CASES = [
    # (builder, error class, text the one-line message must hold)
    (corrupt_random_bytes, InputError, "forest.lossyear: .*lossyear.tif cannot be read"),
    (corrupt_truncated, InputError, "forest.treecover2000: .*treecover2000.tif cannot be read"),
    (raster_without_crs, InputError, "forest.lossyear: .*lossyear.tif has no CRS"),
    (geographic_grid, ConfigError, "'grid.crs' = 'EPSG:4326': .*geographic"),
    (misaligned_lossyear, InputError, "forest.lossyear: .*lossyear.tif is on another grid.*reproject = true"),
    (partly_overlapping_grid, InputError, "cover only 50% of the grid.*grid.bounds"),
    (project_partly_covered, InputError, "only 50% of the project area has forest data"),
    (empty_polygon_file, InputError, "boundaries.project_area: .*empty.geojson holds no features"),
    (empty_geometry, InputError, r"boundaries.project_area: .*hollow.geojson feature 0 has an empty geometry"),
    (bowtie_polygon, InputError, r"boundaries.project_area: .*project.gpkg feature 0 is not a valid polygon"
                                 r".*Fix geometries"),
    (project_outside_rasters, InputError, "the project area lies outside the forest rasters"),
    (lossyear_out_of_range, InputError, r"lossyear holds value 30 \(year 2030\) but forest.last_year is 2024"),
    (unknown_config_key, ConfigError, "unknown key 'forest.canopy_cover_min'"),
    (missing_file, InputError, "forest.treecover2000: .*treecover2000.tif does not exist"),
    (missing_glob, InputError, r"forest.lossyear: no file matches the pattern .*\*lossyear\*.tif"),
    (wrong_column, InputError, "boundaries.admin_units: .*units.gpkg has no column 'provincia'.*NOMBRE"),
    (unknown_fcc_codes, InputError, r"forest.file: .*fcc123.tif holds code\(s\) 7"),
    (impossible_canopy_cover, ConfigError, "'forest.canopy_cover_min_pct' = 150"),
    (polygon_without_crs, InputError, "boundaries.project_area: .*nocrs.shp has no CRS"),
]
IDS = [case[0].__name__ for case in CASES]
# `icam run` checks that input files exist before reading (the pipeline hashes them): its wording differs
CLI_PATTERNS = {
    "missing_file": "forest.treecover2000.*treecover2000.tif does not exist",
    "missing_glob": r"forest.lossyear.*\*lossyear\*.tif matches no file",
}


def test_the_base_project_is_valid(tmp_path):
    landscape = load_landscape(load_config(hansen_project(tmp_path)))
    assert landscape.grid.shape == (16, 16)  # the project area's extent
    assert landscape.forest.forest_first.sum() == 256 and landscape.zones.project.sum() == 256


@pytest.mark.parametrize(("build", "error", "pattern"), CASES, ids=IDS)
def test_library_refuses(tmp_path, build, error, pattern):
    build(tmp_path)
    with pytest.raises(error, match=pattern) as info:
        load_landscape(load_config(tmp_path))
    line = str(info.value)
    assert isinstance(info.value, IcamError)
    assert "\n" not in line and line.strip()
    if error is InputError:
        assert info.value.hint


def assert_cli_refuses(project: Path) -> str:
    """`icam run PROJECT` exits with 2, prints one line starting with 'error:', no traceback, no outputs."""
    from conftest import run_cli

    code, output = run_cli("run", str(project))
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2, output
    assert len(lines) == 1 and lines[0].startswith("error:"), output
    assert "Traceback" not in output
    outputs = project / "outputs"
    assert not outputs.exists() or not [p for p in outputs.rglob("*") if p.is_file()], list(outputs.rglob("*"))
    return lines[0]


@pytest.mark.parametrize(("build", "error", "pattern"), CASES, ids=IDS)
def test_cli_refuses(tmp_path, build, error, pattern):
    pytest.importorskip("icam.cli")
    build(tmp_path)
    line = assert_cli_refuses(tmp_path)
    import re

    assert re.search(CLI_PATTERNS.get(build.__name__, pattern), line), line


# ------------------------------------------------------------------ [risk] and [baseline]

PERIODS = {"historical_reference": [2000, 2008], "calibration": [2000, 2004], "confirmation": [2004, 2008],
           "project_start": "2008-06-15"}


def risk_project(folder: Path, risk: dict, periods: dict | None = PERIODS) -> Path:
    """The valid Hansen project plus [periods] and [risk]: a non-forest strip, loss beside it in 2002 and 2006."""
    lossyear = np.zeros((20, 20), dtype=np.uint8)
    lossyear[2:18, 3] = 2
    lossyear[2:18, 4] = 6
    hansen_project(folder, lossyear=lossyear)
    treecover = np.full((20, 20), 80, dtype=np.uint8)
    treecover[:, 2] = 10  # the project area's first column is not forest: the forest has an edge
    write_tif(folder / "inputs" / "treecover2000.tif", treecover)
    text = (folder / "icam.toml").read_text()
    extra = {"periods": periods, "risk": risk} if periods else {"risk": risk}
    lines = [text]
    for section, values in extra.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value) if key != 'project_start' else value}" for key, value in values.items()]
        lines.append("")
    (folder / "icam.toml").write_text("\n".join(lines), encoding="utf-8")
    return folder


RISK_CASES = [
    ({"models": []}, None, r"\[risk\] needs \[periods\]"),
    ({"models": [], "local_rate_window_px": 20}, PERIODS, "'risk.local_rate_window_px' = 20: .*must be odd"),
    ({"models": [], "zone": "reference_region"}, PERIODS,
     "risk.zone = 'reference_region' but boundaries.reference_region is not configured"),
    ({"models": [], "zone": "project_area"}, {**PERIODS, "calibration": [1995, 2004]},
     "periods.calibration: 1995 is not a date of the forest data"),
    ({"models": ["logistic"], "zone": "project_area", "covariates": {"roads": "inputs/roads.gpkg"}}, PERIODS,
     r"risk.covariates.roads.*roads.gpkg does not exist"),
]


@pytest.mark.parametrize(("risk", "periods", "pattern"), RISK_CASES,
                         ids=["no periods", "even window", "zone missing", "year not in data", "covariate missing"])
def test_risk_configuration_is_checked(tmp_path, risk, periods, pattern):
    import re

    line = assert_cli_refuses(risk_project(tmp_path, risk, periods))
    assert re.search(pattern, line), line


def test_a_risk_zone_without_loss_is_refused_in_one_line(tmp_path):
    project = risk_project(tmp_path, {"models": [], "zone": "project_area"})
    toml = (project / "icam.toml").read_text()
    write_tif(project / "inputs" / "lossyear.tif", np.zeros((20, 20), dtype=np.uint8))
    (project / "icam.toml").write_text(toml)
    assert "no deforestation in the calibration period" in assert_cli_refuses(project)


def test_the_base_risk_project_runs(tmp_path):
    from conftest import run_cli

    project = risk_project(tmp_path, {"models": ["local_rate"], "zone": "project_area", "assessment_cell_ha": 4})
    code, output = run_cli("run", str(project))
    assert code == 0, output
    risk = json.loads((project / "outputs" / "results.json").read_text())["risk"]
    assert [c["name"] for c in risk["candidates"]] == ["benchmark", "local_rate"]
    assert risk["benchmark"]["calibration"]["threshold_m"] == 45.0  # every 2002 loss cell is at the edge: [30, 60)
