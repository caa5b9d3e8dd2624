"""Bad and unusual registry files through the command line: every CSV / ODK import of ``icam agreements import``
and ``icam enforcement import`` (and the sample CSVs of ``icam area estimate``).

Each bad file is refused in one line (``error: what, where; how to fix``), with exit 2, no traceback, and the
project folder byte-identical (the SQLite registry in DIR/.icam included); a file with bad rows writes its
errors CSV where ``--errors-csv`` says. Each valid but unusual file (Latin-1 accents, an es-PE Excel export,
day-first dates, Shapefile-truncated column names, EPSG:4326 GeoJSON parcels, overlapping parcels with
``--allow-overlap``) is accepted and stored with the right values.

The project is the simulator's small Alto Mayo (seed 7), its registry seeded once per session through the
command line and copied for every test. Its reference region is x 232,560–259,440 m, y 9,345,540–9,372,420 m
in UTM 18S (EPSG:32718): lon ≈ -77.41 to -77.17, lat ≈ -5.92 to -5.67.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from conftest import assert_refused, folder_state, run_cli
from icam.simulate import simulate

# Shapefiles written on purpose without a .prj, or with names the DBF cuts to 10 characters
pytestmark = [pytest.mark.filterwarnings("ignore:Column names longer than 10 characters:UserWarning"),
              pytest.mark.filterwarnings("ignore:Normalized/laundered field name:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")]
UTM = "EPSG:32718"
REGION_EAST_M = 259_440.0  # the simulated reference region's east edge, UTM 18S
AGREEMENT_KINDS = ("households", "parcels", "agreements", "benefit_schedule")
ENFORCEMENT_FILES = (("patrols", "patrols/patrols.csv"), ("tracks", "patrols/tracks"),
                     ("observations", "patrols/observations.csv"), ("actions", "patrols/actions.csv"))


@pytest.fixture(scope="session")
def seeded_project(tmp_path_factory) -> Path:
    """The small simulated project with households, parcels, agreements, the benefit schedule, patrols, tracks,
    observations and actions imported through the CLI."""
    folder = tmp_path_factory.mktemp("registry") / "project"
    simulate(folder, "small", 7)
    for kind in AGREEMENT_KINDS:
        name = {"parcels": "parcels.gpkg", "benefit_schedule": "agreements/benefit_schedule.csv"}.get(kind,
                                                                                                  f"{kind}.csv")
        code, out = run_cli("agreements", "import", kind, folder / "inputs" / name, folder)
        assert code == 0, out
    for kind, name in ENFORCEMENT_FILES:
        code, out = run_cli("enforcement", "import", kind, folder / "inputs" / name, folder)
        assert code == 0, out
    return folder


@pytest.fixture
def project(seeded_project, tmp_path) -> Path:
    """A copy of the seeded project (without the rasters and the truth, which imports do not read)."""
    copy = tmp_path / "project"
    shutil.copytree(seeded_project, copy, ignore=shutil.ignore_patterns("truth", "hansen", "*.tif"))
    return copy


def _text(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def _layer(folder: Path, name: str, records: list[dict], crs=UTM) -> Path:
    path = folder / name
    gpd.GeoDataFrame(records, geometry=[r.pop("geometry") for r in records], crs=crs).to_file(path, engine="pyogrio")
    return path


def _gpx(folder: Path, patrol: str, points: list[tuple[float, float, str | None]], body: str | None = None) -> Path:
    path = folder / "tracks" / f"{patrol}.gpx"
    path.parent.mkdir(parents=True, exist_ok=True)
    if body is None:
        pts = "".join(f'<trkpt lat="{lat}" lon="{lon}">' + (f"<time>{t}</time>" if t else "") + "</trkpt>"
                      for lon, lat, t in points)
        body = (f'<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
                f"{pts}</trkseg></trk></gpx>")
    path.write_text(body, encoding="utf-8")
    return path


def _walk(lon: float = -77.30, lat: float = -5.80, day: str = "2024-05-07") -> list[tuple[float, float, str]]:
    """Three track points 100-odd metres apart around (lon, lat) on ``day``."""
    return [(lon + 0.001 * k, lat + 0.001 * k, f"{day}T1{k}:00:00Z") for k in range(3)]


def _box(x: float, y: float, side: float = 200.0):
    return shapely.box(x, y, x + side, y + side)


OBS_HEADER = "obs/patrol_id,obs/observed_at,obs/location,obs/category,obs/area_ha,_uuid\n"
HH_HEADER = "household_id,community,village,members,settled_year,x_m,y_m\n"
AG_HEADER = "agreement_id,household_id,signed,term_years,conservation_parcel_id,tolerance_ha\n"

# (group, kind, writer(folder) -> the file, regex the one line must match)
CASES = [
    # -- households ------------------------------------------------------------------------------------------
    ("agreements", "households", lambda d: _text(d, "households.csv", HH_HEADER + "HH9001,A,B,5,1990,245000,9360000\n"
                                                 ",A,B,5,1990,245000,9360000\n"),
     r"^error: households\.csv: 1 of 2 rows refused \(first: row 3, column household_id: is empty\); nothing "),
    ("agreements", "households", lambda d: _text(d, "households.csv", "household_id\nHH0001\n"),
     r"row 2, column household_id: 'HH0001' is already in the registry"),
    ("agreements", "households", lambda d: _text(d, "households.csv", "household_id,members\nHH9001,cinco\n"),
     r"column members_count: 'cinco' is not a number"),
    ("agreements", "households", lambda d: _text(d, "households.csv", HH_HEADER + "HH9001,A,B,5,1990,545000,9360000\n"),
     r"the house lies 286 km outside the project's boundaries"),  # (545,000 − 259,440) m
    ("agreements", "households", lambda d: _text(d, "households.csv", HH_HEADER + "HH9001,A,B,5,1990,-77.3,-5.8\n"),
     r"looks like longitude and latitude in degrees"),
    ("agreements", "households", lambda d: _text(d, "households.csv", "name,village\nRosa,B\n"),
     r"households\.csv: no column household_id \(its columns: name, village\)"),
    ("agreements", "households", lambda d: _text(d, "households.csv", ""), r"households\.csv is empty"),
    ("agreements", "households", lambda d: _text(d, "households.csv", HH_HEADER), r"holds a header and no row"),
    ("agreements", "households", lambda d: _text(d, "households.csv", "PK\x03\x04\x14\x00\x06\x00xl/workbook.xml",
                                                 "latin-1"), r"not a text CSV file"),
    ("agreements", "households", lambda d: _text(d, "households.csv", "household_id,village\nHH9001,A,x,y\n"),
     r"cannot be read as CSV \(.*line 2"),
    ("agreements", "households", lambda d: d / "missing.csv", r"missing\.csv does not exist"),
    ("agreements", "households", lambda d: _text(d, "households.csv", "household_id,settled_year\nHH9001,2099\n"),
     rf"'2099' is above {dt.date.today().year}"),
    ("agreements", "households", lambda d: _text(d, "households.csv", "household_id,village,village\nHH9001,A,B\n"),
     r"households\.csv: the header names column 'village' twice"),
    ("agreements", "households", lambda d: _text(d, "households.csv", "household_id,,village\nHH9001,5,B\n"),
     r"households\.csv: column 2 has values but no name in the header"),
    ("agreements", "households", lambda d: _text(d, "households.csv", "household_id,code\nHH9001,HH9002\n"),
     r"columns 'household_id' and 'code' both give household_id"),
    ("agreements", "households", lambda d: _text(d, "households.csv", "household_id\nHH9001\nHH9001\n"),
     r"row 3, column household_id: 'HH9001' repeats row 2"),
    ("agreements", "wells", lambda d: _text(d, "wells.csv", "well_id\nW1\n"), r"unknown kind 'wells'"),
    # -- members ---------------------------------------------------------------------------------------------
    ("agreements", "members", lambda d: _text(d, "members.csv", "household_id,name\nHH9999,Rosa\n"),
     r"'HH9999' is not a household of the registry"),
    ("agreements", "members", lambda d: _text(d, "members.csv", "household_id,name,sex\nHH0001,Rosa,alien\n"),
     r"'alien' is not one of female, male, other"),
    ("agreements", "members", lambda d: _text(d, "members.csv", "household_id,name,birth_year\nHH0001,Rosa,2099\n"),
     r"column birth_year: '2099' is above"),
    # -- parcels ---------------------------------------------------------------------------------------------
    ("agreements", "parcels", lambda d: _layer(d, "overlap.gpkg", [  # HH0002-CONS: x 242,820–243,360 m
        {"parcel_id": "HH0013-CONS2", "household_id": "HH0013", "kind": "conservation",
         "geometry": _box(243_000, 9_362_900)}]),
     r"1 of 1 feature refused \(first: feature 1, column geometry: overlaps conservation parcel HH0002-CONS by"),
    ("agreements", "parcels", lambda d: _layer(d, "overlap.gpkg", [
        {"parcel_id": f"HH0013-C{k}", "household_id": "HH0013", "kind": "conservation",
         "geometry": _box(252_000 + 100 * k, 9_350_000)} for k in range(2)]),
     r"feature 1, column geometry: overlaps conservation parcel HH0013-C1 by 2\.00 ha"),  # 100 m × 200 m
    ("agreements", "parcels", lambda d: _layer(d, "far.gpkg", [
        {"parcel_id": "HH0013-X", "household_id": "HH0013", "kind": "farm",
         "geometry": _box(REGION_EAST_M + 300_000, 9_350_000)}]),
     r"feature 1, column geometry: lies 300 km outside the project's boundaries"),
    ("agreements", "parcels", lambda d: _layer(d, "no_crs.shp", [
        {"parcel_id": "HH0013-X", "household_id": "HH0013", "kind": "farm", "geometry": _box(252_000, 9_350_000)}],
        crs=None), r"no_crs\.shp has no CRS"),
    ("agreements", "parcels", lambda d: _layer(d, "bowtie.gpkg", [
        {"parcel_id": "HH0013-X", "household_id": "HH0013", "kind": "farm",
         "geometry": shapely.Polygon([(252_000, 9_350_000), (252_100, 9_350_100), (252_100, 9_350_000),
                                      (252_000, 9_350_100)])}]), r"is not a valid polygon \(Self-intersection"),
    ("agreements", "parcels", lambda d: _layer(d, "points.gpkg", [
        {"parcel_id": "HH0013-X", "household_id": "HH0013", "kind": "farm",
         "geometry": shapely.Point(252_000, 9_350_000)}]), r"column geometry: is not a polygon"),
    ("agreements", "parcels", lambda d: _layer(d, "degrees.geojson", [
        {"parcel_id": "HH0013-X", "household_id": "HH0013", "kind": "farm", "geometry": _box(252_000, 9_350_000)}],
        crs="EPSG:4326"), r"says its CRS is EPSG:4326 \(degrees\) but its coordinates reach"),
    ("agreements", "parcels", lambda d: _text(d, "parcels.csv", "parcel_id,household_id,kind\nP,HH0013,farm\n"),
     r"parcels come as a GeoPackage, GeoJSON or Shapefile"),
    ("agreements", "parcels", lambda d: _text(d, "parcels.gpkg", "not a geopackage"),
     r"parcels\.gpkg cannot be read as a vector file"),
    ("agreements", "parcels", lambda d: _layer(d, "kind.gpkg", [
        {"parcel_id": "HH0013-X", "household_id": "HH0013", "kind": "pasture", "geometry": _box(252_000, 9_350_000)}]),
     r"'pasture' is not one of farm, coffee, conservation"),
    ("agreements", "parcels", lambda d: _layer(d, "who.gpkg", [
        {"parcel_id": "HH9999-X", "household_id": "HH9999", "kind": "farm", "geometry": _box(252_000, 9_350_000)}]),
     r"'HH9999' is not a household of the registry"),
    ("agreements", "parcels", lambda d: _layer(d, "again.gpkg", [
        {"parcel_id": "HH0001-CONS", "household_id": "HH0001", "kind": "farm", "geometry": _box(252_000, 9_350_000)}]),
     r"'HH0001-CONS' is already in the registry"),
    ("agreements", "parcels", lambda d: _layer(d, "empty.gpkg", []), r"empty\.gpkg holds no parcel"),
    ("agreements", "parcels", lambda d: _layer(d, "africa.geojson", [
        {"parcel_id": "HH0013-X", "household_id": "HH0013", "kind": "farm",
         "geometry": shapely.box(36.80, -1.30, 36.81, -1.29)}], crs="EPSG:4326"),  # Nairobi
     r"column geometry: lies [\d,]+ km outside the project's boundaries"),
    # -- agreements ------------------------------------------------------------------------------------------
    ("agreements", "agreements", lambda d: _text(d, "agreements.csv", AG_HEADER + "AC-9,HH0013,2013-02-30,5,"
                                                 "HH0013-CONS,0\n"), r"column signed: '2013-02-30' is not a date"),
    ("agreements", "agreements", lambda d: _text(d, "agreements.csv", AG_HEADER + "AC-9,HH0013,2099-01-01,5,"
                                                 "HH0013-CONS,0\n"), r"column signed: '2099-01-01' is in the future"),
    ("agreements", "agreements", lambda d: _text(d, "agreements.csv", AG_HEADER + "AC-9,HH0013,2014-01-01,5,"
                                                 "HH0013-FARM,0\n"), r"'HH0013-FARM' is not a conservation parcel"),
    ("agreements", "agreements", lambda d: _text(d, "agreements.csv", AG_HEADER + "AC-9,HH0013,2014-01-01,0,"
                                                 "HH0013-CONS,0\n"), r"column term_years: '0' is below 1"),
    ("agreements", "agreements", lambda d: _text(d, "agreements.csv", AG_HEADER.replace(",", ";") +
                                                 "AC-9;HH0013;2014-01-01;5;HH0013-CONS;-0,5\n"),
     r"column tolerance_ha: '-0,5' is negative"),
    # -- benefit schedule, deliveries, field verifications, grievances ---------------------------------------------
    ("agreements", "benefit_schedule", lambda d: _text(d, "schedule.csv", "agreement_id,item,unit,quantity_per_year,"
                                                       "unit_cost_usd,first_year,last_year\n"
                                                       "AC-2013-0001,tools,kit,1,45,2016,2015\n"),
     r"column last_year: '2015' is before first_year"),
    ("agreements", "benefit_schedule", lambda d: _text(d, "schedule.csv", "agreement_id,item,unit,quantity_per_year,"
                                                       "unit_cost_usd,first_year,last_year\n"
                                                       "AC-2013-0001,tools,kit,1,cuarenta,2016,2017\n"),
     r"column unit_cost_usd: 'cuarenta' is not a number"),
    ("agreements", "deliveries", lambda d: _text(d, "deliveries.csv", "agreement_id,item,delivered_on,quantity,"
                                                 "value_usd\nAC-2013-0001,organic fertiliser,2099-03-01,10,180\n"),
     r"column delivered_on: '2099-03-01' is in the future"),
    ("agreements", "deliveries", lambda d: _text(d, "deliveries.csv", "agreement_id,item,delivered_on,quantity\n"
                                                 "AC-9999,organic fertiliser,2015-03-01,10\n"),
     r"'AC-9999' is not an agreement of the registry"),
    ("agreements", "deliveries", lambda d: _text(d, "deliveries.csv", "agreement_id,item,delivered_on,quantity\n"
                                                 "AC-2013-0001,chainsaw,2015-03-01,1\n"),
     r"column value_usd: is empty and the item is not in the agreement's benefit schedule"),
    ("agreements", "field_verifications", lambda d: _text(d, "visits.csv", "agreement_id,visited_on,finding,officer\n"
                                                          "AC-2013-0001,2016-05-01,maybe,ana\n"),
     r"'maybe' is not one of cleared, not_cleared, could_not_access"),
    ("agreements", "field_verifications", lambda d: _text(d, "visits.csv", "agreement_id,visited_on,finding,officer\n"
                                                          "AC-2013-0001,2016-05-01,cleared,ana\n"),
     r"column cleared_ha: is empty for a 'cleared' finding"),
    ("agreements", "grievances", lambda d: _text(d, "grievances.csv", "household_id,received_on,category,description,"
                                                 "status,resolved_on\nHH0001,2016-05-01,late,x,resolved,2016-04-01\n"),
     r"column resolved_on: '2016-04-01' is before received_on"),
    ("agreements", "grievances", lambda d: _text(d, "grievances.csv", "household_id,agreement_id,received_on,category,"
                                                 "description\nHH0001,AC-2012-0002,2016-05-01,late,x\n"),
     r"'AC-2012-0002' is another household's agreement"),
    # -- patrols ---------------------------------------------------------------------------------------------
    ("enforcement", "patrols", lambda d: _text(d, "patrols.csv", "patrol_id,start_at\nPAT-0001,2024-02-05T09:34:00Z\n"),
     r"'PAT-0001' is already in the registry"),
    ("enforcement", "patrols", lambda d: _text(d, "patrols.csv", "patrol_id,start_at,end_at\n"
                                               "PAT-9001,2024-02-05T09:00:00Z,2024-02-05T08:00:00Z\n"),
     r"column end_at: '2024-02-05T08:00:00Z' is before start_at"),
    ("enforcement", "patrols", lambda d: _text(d, "patrols.csv", "patrol_id,start_at\nPAT-9001,2099-02-05T09:00:00Z\n"),
     r"column start_at: '2099-02-05T09:00:00Z' is in the future"),
    ("enforcement", "patrols", lambda d: _text(d, "patrols.csv", "patrol_id,start_at,transport\n"
                                               "PAT-9001,2024-02-05T09:00:00Z,horse\n"),
     r"'horse' is not one of foot, vehicle, boat"),
    # -- tracks ----------------------------------------------------------------------------------------------
    ("enforcement", "tracks", lambda d: _gpx(d, "PAT-0001", [], body="this is not XML"),
     r"PAT-0001\.gpx: not a GPX file, XML error at line 1"),
    ("enforcement", "tracks", lambda d: _gpx(d, "PAT-0001", []), r"PAT-0001\.gpx holds no track points"),
    ("enforcement", "tracks", lambda d: _gpx(d, "PAT-0001", [(-77.3, -5.8, None)]),
     r"track point 1 \(track segment 1\) has no <time>"),
    ("enforcement", "tracks", lambda d: _gpx(d, "PAT-9999", _walk()),
     r"1 track\(s\) of patrols not in the registry: PAT-9999 \(PAT-9999\.gpx\); import the patrols first"),
    ("enforcement", "tracks", lambda d: _gpx(d, "PAT-0001", _walk(2.35, 48.85)),  # Paris
     r"PAT-0001\.gpx: track point 1 \(lat 48\.85000, lon 2\.35000\) lies more than 50 km outside the project"),
    ("enforcement", "tracks", lambda d: _gpx(d, "PAT-0001", [(lat, lon, t) for lon, lat, t in _walk()]),
     r"where it would be with latitude and longitude swapped"),
    ("enforcement", "tracks", lambda d: _gpx(d, "PAT-0001", _walk(day="2099-05-07")),
     r"track point 1 is dated 2099-05-07, after today"),
    ("enforcement", "tracks", lambda d: (d / "no_tracks").mkdir() or d / "no_tracks", r"holds no \.gpx file"),
    # -- observations ----------------------------------------------------------------------------------------
    ("enforcement", "observations", lambda d: _text(d, "obs.csv", OBS_HEADER + "PAT-0001,2099-02-05T05:34:00.000-05:00,"
                                                    "-5.8 -77.3 1200 5,clearing,0.5,u-9001\n"),
     r"column observed_at: '2099-02-05T05:34:00\.000-05:00' is in the future"),
    ("enforcement", "observations", lambda d: _text(d, "obs.csv", OBS_HEADER + "PAT-0001,2024-02-05T05:34:00.000-05:00,"
                                                    "-77.3 -5.8 1200 5,clearing,0.5,u-9001\n"),
     r"column location: \(lat -77\.30000, lon -5\.80000\) looks like latitude and longitude swapped"),
    ("enforcement", "observations", lambda d: _text(d, "obs.csv", OBS_HEADER + "PAT-0001,2024-02-05T05:34:00.000-05:00,"
                                                    "48.85 2.35 35 5,clearing,0.5,u-9001\n"),
     r"column location: \(lat 48\.85000, lon 2\.35000\) lies more than 50 km outside the project"),
    ("enforcement", "observations", lambda d: _text(d, "obs.csv", OBS_HEADER + "PAT-9999,2024-02-05T05:34:00.000-05:00,"
                                                    "-5.8 -77.3 1200 5,clearing,0.5,u-9001\n"),
     r"'PAT-9999' is not a patrol of the registry"),
    ("enforcement", "observations", lambda d: _text(d, "obs.csv", OBS_HEADER + "PAT-0001,2024-02-05T05:34:00.000-05:00,"
                                                    "-5.8 -77.3 1200 5,burning,0.5,u-9001\n"),
     r"'burning' is not one of clearing, logging, hunting"),
    ("enforcement", "observations", lambda d: _text(d, "obs.csv", OBS_HEADER + "PAT-0001,2024-02-05T05:34:00.000-05:00,"
                                                    "somewhere,clearing,0.5,u-9001\n"),
     r"'somewhere' is not a geopoint"),
    ("enforcement", "observations", lambda d: _text(d, "obs.csv", ""),
     r"obs\.csv is empty"),
    # -- actions ---------------------------------------------------------------------------------------------
    ("enforcement", "actions", lambda d: _text(d, "actions.csv", "observation_uuid,action,taken_on\nu-404,sanction,"
                                               "2024-05-01\n"), r"'u-404' is not an observation with an incident"),
    ("enforcement", "actions", lambda d: _text(d, "actions.csv", "observation_uuid,action,taken_on\n"
                                               "aadf7488-f892-4121-9138-7ad86aca56d8,arrest,2024-05-01\n"),
     r"'arrest' is not one of report_to_authorities"),
    ("enforcement", "actions", lambda d: _text(d, "actions.csv", "observation_uuid,action,taken_on\n"
                                               "aadf7488-f892-4121-9138-7ad86aca56d8,sanction,2099-05-01\n"),
     r"column taken_on: '2099-05-01' is in the future"),
    ("enforcement", "alerts", lambda d: _text(d, "alerts.csv", "alert_id\nA1\n"), r"unknown kind 'alerts'"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{k}-{group}-{kind}" for k, (group, kind, _, _) in enumerate(CASES)])
def test_a_bad_registry_file_is_refused_in_one_line_and_changes_nothing(project, tmp_path, case):
    group, kind, writer, match = case
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    errors_csv = tmp_path / "errors.csv"
    line = assert_refused(project, group, "import", kind, writer(inputs), project, "--errors-csv", errors_csv,
                          match=match)
    assert len(line.replace(str(errors_csv), "")) < 250, line  # what icam writes, besides the user's path
    if " refused (first: " in line:  # bad rows: every one of them in the errors CSV, which the line names
        report = pd.read_csv(errors_csv, dtype=str)
        assert len(report) >= 1 and report["fix"].notna().all()
        assert str(errors_csv) in line
    else:
        assert not errors_csv.exists()


def test_the_suite_covers_every_import(seeded_project):
    covered = {(group, kind) for group, kind, _, _ in CASES}
    for kind in ("households", "members", "parcels", "agreements", "benefit_schedule", "deliveries",
                 "field_verifications", "grievances"):
        assert ("agreements", kind) in covered, kind
    for kind in ("patrols", "tracks", "observations", "actions"):
        assert ("enforcement", kind) in covered, kind
    assert len(CASES) >= 40


def test_a_refused_import_into_a_new_project_leaves_no_registry_behind(tmp_path):
    folder = tmp_path / "new"
    folder.mkdir()
    bad = _text(tmp_path, "households.csv", "household_id,members\nHH1,abc\n")
    assert_refused(folder, "agreements", "import", "households", bad, folder, match="'abc' is not a number")
    assert not (folder / ".icam").exists()


def test_the_same_observations_export_twice_is_refused(project):
    observations = project / "inputs" / "patrols" / "observations.csv"
    n_rows = len(observations.read_text(encoding="utf-8").splitlines()) - 1  # less the header
    line = assert_refused(project, "enforcement", "import", "observations", observations, project,
                          match="already in the registry")
    assert n_rows > 0
    assert line.startswith(f"error: observations.csv: {n_rows} of {n_rows} rows refused")


# -- sample CSVs of `icam area estimate` ----------------------------------------------------------------------

SAMPLES = "id,stratum,map_class,ref_class\n" + "".join(
    f"{i},{s},{s},{r}\n" for i, (s, r) in enumerate([(1, 1), (1, 1), (1, 2), (2, 2), (2, 2), (2, 1)], start=1))
STRATA = "stratum,area_ha\n1,300.5\n2,100.25\n"


@pytest.mark.parametrize("samples, strata, match", [
    ("".join(line.rsplit(",", 1)[0] + "\n" for line in SAMPLES.splitlines()), STRATA,
     r"samples: .*lacks column\(s\) ref_class"),
    (SAMPLES + "7,1,1,1,5\n", STRATA,
     r"samples: samples\.csv cannot be read as CSV \(Expected 4 fields in line 8, saw 5\)"),
    (SAMPLES.replace(",", ";").replace("3;1;1;2", "3;1;1;"), STRATA, r"1 sample\(s\) are unlabelled"),
    (SAMPLES, STRATA.replace("2,100.25", "2,-100.25"), r"negative area_ha for stratum/strata 2"),
    (SAMPLES, "stratum;area_ha\n", r"strata: strata\.csv holds a header and no row"),
    ("PK\x03\x04 a workbook", STRATA, r"samples: samples\.csv is not a text CSV file"),
], ids=["no-ref-class", "ragged", "semicolon-unlabelled", "negative-area", "header-only", "workbook"])
def test_bad_sample_files_are_refused(tmp_path, samples, strata, match):
    s, t = _text(tmp_path, "samples.csv", samples, "latin-1"), _text(tmp_path, "strata.csv", strata)
    assert_refused(tmp_path, "area", "estimate", "--samples", s, "--strata", t, match=match)


def test_a_spanish_excel_sample_export_gives_the_plain_csvs_estimate(tmp_path):
    plain = run_cli("area", "estimate", "--samples", _text(tmp_path, "s.csv", SAMPLES), "--strata",
                    _text(tmp_path, "t.csv", STRATA), "--json")
    excel = run_cli("area", "estimate", "--samples", _text(tmp_path, "s2.csv", SAMPLES.replace(",", ";")
                                                          .replace("\n", "\r\n"), "cp1252"),
                    "--strata", _text(tmp_path, "t2.csv", "stratum;area_ha\r\n1;300,5\r\n2;100,25\r\n", "cp1252"),
                    "--json")
    assert plain[0] == excel[0] == 0, excel[1]
    assert excel[1] == plain[1]
    assert '"n": 6' in plain[1]


# -- valid but unusual files ------------------------------------------------------------------------------------


def _households(project: Path):
    from icam.agreements.registry import households_table
    from icam.store.db import open_session

    with open_session(project) as s:
        return households_table(s).set_index("household_id")


def test_latin1_households_with_accents_are_stored_as_written(project, tmp_path):
    path = _text(tmp_path, "hogares.csv", "household_id;community;village;members;x_m;y_m\r\n"
                 "HH9001;Añazco;José Olaya;5;245000,5;9360000\r\nHH9002;Peña Blanca;Ñaupe;3;;\r\n", "cp1252")
    code, out = run_cli("agreements", "import", "households", path, project)
    assert code == 0, out
    table = _households(project)
    assert table.loc["HH9001", ["community", "village", "members_count", "x_m"]].tolist() == [
        "Añazco", "José Olaya", 5, 245_000.5]
    assert table.loc["HH9002", "village"] == "Ñaupe"


def _imported_item(project: Path, kind: str, path: Path, table: str, item: str) -> pd.Series:
    """Import ``path`` as ``kind`` through the CLI and return the registry's row of ``item`` in ``table``."""
    from icam.agreements import registry
    from icam.store.db import open_session

    code, out = run_cli("agreements", "import", kind, path, project)
    assert code == 0, out
    with open_session(project) as s:
        return getattr(registry, table)(s).set_index("item").loc[item]


def test_an_es_pe_excel_benefit_schedule_with_decimal_commas(project, tmp_path):
    path = _text(tmp_path, "cronograma.csv", "sep=;\r\nagreement_id;item;unit;quantity_per_year;unit_cost_usd;"
                 "first_year;last_year\r\nAC-2013-0001;abono orgánico;saco;1.234,5;18,50;2019;2020\r\n", "utf-8-sig")
    row = _imported_item(project, "benefit_schedule", path, "schedules", "abono orgánico")
    assert (row["quantity_per_year"], row["unit_cost_usd"], row["first_year"]) == (1234.5, 18.5, 2019)


def test_an_es_pe_excel_deliveries_file_with_day_first_dates(project, tmp_path):
    path = _text(tmp_path, "entregas.csv", "agreement_id;item;delivered_on;quantity;value_usd\r\n"
                 "AC-2013-0001;abono orgánico;05/03/2015;10;180,5\r\n", "cp1252")
    row = _imported_item(project, "deliveries", path, "deliveries", "abono orgánico")
    assert (row["delivered_on"], row["value_usd"]) == (dt.date(2015, 3, 5), 180.5)  # the 5th of March


def test_shapefile_truncated_column_names_are_mapped(project, tmp_path):
    from icam.agreements.registry import parcels
    from icam.store.db import open_session

    path = tmp_path / "parcelas.shp"
    gpd.GeoDataFrame({"parcel_id": ["HH0013-HUERTA"], "household_id": ["HH0013"], "kind": ["farm"]},
                     geometry=[_box(252_000, 9_350_000)], crs=UTM).to_file(path, engine="pyogrio")
    assert "household_" in gpd.read_file(path).columns  # the DBF cut the name to 10 characters
    code, out = run_cli("agreements", "import", "parcels", path, project)
    assert code == 0, out
    with open_session(project) as s:
        row = parcels(s).set_index("parcel_id").loc["HH0013-HUERTA"]
    assert (row["household_id"], row["area_ha"]) == ("HH0013", pytest.approx(4.0))  # 200 m × 200 m


def test_epsg4326_geojson_parcels_are_reprojected_to_the_project_crs(project, tmp_path):
    from icam.agreements.registry import parcels
    from icam.store.db import open_session

    shutil.rmtree(project / ".icam")  # a new registry: the parcels' CRS comes from icam.toml's grid
    assert run_cli("agreements", "import", "households", project / "inputs" / "households.csv", project)[0] == 0
    source = gpd.read_file(project / "inputs" / "parcels.gpkg")
    path = tmp_path / "parcels.geojson"
    source.to_crs(4326).to_file(path, engine="pyogrio")
    code, out = run_cli("agreements", "import", "parcels", path, project)
    assert code == 0, out
    assert "Note: reprojected from EPSG:4326 to EPSG:32718." in out
    with open_session(project) as s:
        stored = parcels(s).set_index("parcel_id").loc[source["parcel_id"]]
    assert str(stored.crs) == UTM
    assert stored["area_ha"].tolist() == source["area_ha"].tolist()  # the file's own areas are kept
    # the polygons come back where they were, to a millimetre (GeoJSON keeps 15 significant digits)
    assert shapely.equals_exact(stored.geometry.values, source.geometry.values, tolerance=1e-3).all()


def test_overlapping_conservation_parcels_with_allow_overlap_are_accepted_and_reported(project, tmp_path):
    path = _layer(tmp_path, "overlap.gpkg", [{"parcel_id": "HH0013-CONS2", "household_id": "HH0013",
                                             "kind": "conservation", "geometry": _box(243_000, 9_362_900)}])
    code, out = run_cli("agreements", "import", "parcels", path, project, "--allow-overlap")
    assert code == 0, out
    # HH0002-CONS is x 242,820–243,360 m, y 9,362,940–9,363,060 m: it shares 200 m × 120 m = 2.40 ha with the box
    assert "1 overlapping pair(s) of conservation parcels accepted: HH0013-CONS2 and HH0002-CONS (2.40 ha)" in \
        " ".join(out.split())


def test_an_existing_patrols_gpx_track_is_accepted_and_measured(project, tmp_path):
    from sqlalchemy import select

    from icam.enforcement.models import Patrol
    from icam.enforcement.tracks import GEOD
    from icam.store.db import open_session

    points = _walk()
    code, out = run_cli("enforcement", "import", "tracks", _gpx(tmp_path, "PAT-0001", points), project)
    assert code == 0, out
    expected_km = GEOD.line_length([p[0] for p in points], [p[1] for p in points]) / 1000
    with open_session(project) as s:
        patrol = s.scalar(select(Patrol).where(Patrol.code == "PAT-0001"))
        assert patrol.distance_km == pytest.approx(expected_km) and 0.2 < expected_km < 0.4


def test_observations_with_lat_lon_columns_and_decimal_commas(project, tmp_path):
    from sqlalchemy import select

    from icam.enforcement.models import Observation
    from icam.store.db import open_session

    path = _text(tmp_path, "obs.csv", "patrol_id\tobserved_at\tlatitude\tlongitude\tcategory\tarea_ha\t_uuid\r\n"
                 "PAT-0001\t2024-02-05 10:30\t-5,80125\t-77,30250\tclearing\t1,5\tu-9001\r\n", "cp1252")
    code, out = run_cli("enforcement", "import", "observations", path, project)
    assert code == 0, out
    with open_session(project) as s:
        obs = s.scalar(select(Observation).where(Observation.uuid == "u-9001"))
        assert (obs.lat, obs.lon, obs.area_ha) == (-5.80125, -77.3025, 1.5)


def test_accepted_imports_change_only_the_registry(project, tmp_path):
    before = folder_state(project)
    path = _text(tmp_path, "members.csv", "household_id,name,sex\nHH0001,José Añazco,hombre\n", "cp1252")
    assert run_cli("agreements", "import", "members", path, project)[0] == 0
    changed = {k for k, v in folder_state(project).items() if before.get(k) != v}
    assert changed and all(k.startswith(".icam") for k in changed)
