"""The conservation-agreements registry: migration 0002, all-or-nothing imports of hand-made CSV, ODK/Kobo
exports and GeoPackages, the queries the pipeline uses, and the exports for QGIS and spreadsheets.

Every database test runs on SQLite (a file in tmp_path) and on PostgreSQL when $ICAM_TEST_POSTGRES_URL
names a server (each test in its own schema, dropped afterwards).
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from sqlalchemy import func, inspect, select

from conftest import write_csv as _csv
from icam import ledger
from icam.agreements import registry
from icam.agreements.models import TABLES, Agreement, ComplianceAssessment, Delivery, Household, Parcel
from icam.agreements.registry import import_table
from icam.core.errors import InputError
from icam.store.db import Base, current_revision, downgrade, head_revision, make_engine, session, upgrade
from icam.store.forms import FormImportError, RowError

UTM = "EPSG:32718"
COMMITMENTS = "no_clearing_primary_forest;no_coffee_expansion;support_patrols"


def _households(tmp_path: Path, n: int) -> Path:
    rows = [[f"HH{i:04d}", "Caserío 15" if i % 2 else "Nuevo Edén", "Caserío 15", 227_000 + 30 * i, 9_384_000, 5,
             1990] for i in range(1, n + 1)]
    return _csv(tmp_path / "households.csv", ["household_id", "community", "village", "x_m", "y_m", "members",
                                             "settled_year"], rows)


def _parcels(tmp_path: Path, n: int, *, farms: bool = True, name: str = "parcels.gpkg") -> Path:
    """For each household a conservation square (3 ha) and, with ``farms``, a farm square (1 ha), in UTM 18S."""
    records = []
    for i in range(1, n + 1):
        x = 200_000 + 400 * i
        records.append({"parcel_id": f"HH{i:04d}-CONS", "household_id": f"HH{i:04d}", "kind": "conservation",
                        "area_ha": 3.0, "geometry": shapely.box(x, 9_300_000, x + 300, 9_300_100)})
        if farms:
            records.append({"parcel_id": f"HH{i:04d}-FARM", "household_id": f"HH{i:04d}", "kind": "farm",
                            "area_ha": 1.0, "geometry": shapely.box(x, 9_300_200, x + 100, 9_300_300)})
    path = tmp_path / name
    gpd.GeoDataFrame(records, crs=UTM).to_file(path, layer="parcels", engine="pyogrio")
    return path


def _agreement_rows(n: int) -> list[list]:
    return [[f"AC-2013-{i:04d}", f"HH{i:04d}", f"2013-{1 + i % 12:02d}-15", 5, "", f"HH{i:04d}-CONS", 0.1, "yes",
             "suspend_next_period", COMMITMENTS, "ECOAN", "SERNANP"] for i in range(1, n + 1)]


AGREEMENT_HEADER = ["agreement_id", "household_id", "signed", "term_years", "renewed_until", "conservation_parcel_id",
                    "tolerance_ha", "needs_field_verification", "breach_rule", "commitments", "implementer",
                    "authority"]


def _registry(engine, tmp_path: Path, n: int, *, agreements: bool = True) -> None:
    """n households with parcels (and agreements) imported."""
    with session(engine) as s:
        import_table(s, "households", _households(tmp_path, n))
        import_table(s, "parcels", _parcels(tmp_path, n))
        if agreements:
            import_table(s, "agreements", _csv(tmp_path / "agreements.csv", AGREEMENT_HEADER, _agreement_rows(n)))


def _counts(engine) -> dict[str, int]:
    with session(engine) as s:
        return registry.table_counts(s)


# -- migrations ---------------------------------------------------------------------------------------------------


def test_migration_from_an_empty_database_makes_the_registry_and_matches_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import icam.enforcement.models  # noqa: F401 - every model the migrations make is compared
    import icam.web.accounts  # noqa: F401

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert set(TABLES) <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], diff
        downgrade(engine, "0001")
        assert current_revision(engine) == "0001"
        assert not any(t.startswith("agr_") for t in inspect(engine).get_table_names())
        upgrade(engine)
        assert set(TABLES) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrading_a_ledger_at_0001_keeps_its_credits(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0001")
        with session(engine) as s:
            ledger.issue_period(s, "VCS944", "2008-06-15", "2012-06-14", 2012, 1_000, 150)
            ledger.issue_period(s, "VCS944", "2012-06-15", "2014-06-14", 2014, 500, 75)
            ledger.open_account(s, "buyer")
            ledger.transfer(s, "issuance/VCS944", "buyer", 300)
            ledger.retire(s, "buyer", 100, "Acme", "2024 footprint")
        with session(engine) as s:
            before = [(b.name, b.held, b.retired) for b in ledger.balances(s)]
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert set(TABLES) <= set(inspect(engine).get_table_names())
        with session(engine) as s:
            assert ledger.verify(s).ok
            assert [(b.name, b.held, b.retired) for b in ledger.balances(s)] == before
            assert all(n == 0 for n in registry.table_counts(s).values())
    finally:
        engine.dispose()


# -- imports ------------------------------------------------------------------------------------------------------


def test_round_trip_of_hand_made_files(engine, tmp_path):
    _registry(engine, tmp_path, 4)
    members = _csv(tmp_path / "members.csv", ["household_id", "name", "sex", "birth_year", "role"],
                   [["HH0001", "Rosa Huamán", "F", 1975, "head"], ["HH0001", "Luis Tapia", "male", 1972, "spouse"]])
    schedule = _csv(tmp_path / "schedule.csv", ["agreement_id", "item", "unit", "quantity_per_year", "unit_cost_usd",
                                                "first_year", "last_year"],
                    [["AC-2013-0001", "organic fertiliser", "sack", 10, 18.0, 2013, 2017],
                     ["AC-2013-0001", "pruning tools", "kit", 1, 45.0, 2013, 2013]])
    deliveries = _csv(tmp_path / "deliveries.csv", ["agreement_id", "item", "delivered_on", "quantity", "value_usd",
                                                    "reference"],
                      [["AC-2013-0001", "organic fertiliser", "2014-03-02", 10, 180.0, "R-1"],
                       ["AC-2013-0001", "organic fertiliser", "2015-03-02", 5, "", "R-2"]])
    visits = _csv(tmp_path / "visits.csv", ["agreement_id", "visited_on", "finding", "cleared_ha", "officer", "notes"],
                  [["AC-2013-0002", "2016-05-01", "cleared", 0.45, "guardaparque 3", "new coffee"],
                   ["AC-2013-0003", "2016-05-02", "not cleared", "", "guardaparque 1", ""]])
    grievances = _csv(tmp_path / "grievances.csv", ["household_id", "agreement_id", "received_on", "category",
                                                    "description", "status", "resolved_on"],
                      [["HH0001", "AC-2013-0001", "2016-02-01", "late delivery", "fertiliser late", "resolved",
                        "2016-03-01"], ["", "", "2016-04-01", "boundary", "anonymous complaint", "open", ""]])
    with session(engine) as s:
        reports = [import_table(s, kind, path) for kind, path in (
            ("members", members), ("benefit_schedule", schedule), ("deliveries", deliveries),
            ("field_verifications", visits), ("grievances", grievances))]
    assert [r.inserted for r in reports] == [2, 2, 2, 2, 2]
    counts = _counts(engine)
    assert counts["agr_households"] == 4 and counts["agr_communities"] == 2 and counts["agr_parcels"] == 8
    assert counts["agr_agreements"] == 4 and counts["agr_agreement_commitments"] == 12

    with session(engine) as s:
        assert registry.deliveries(s)["value_usd"].tolist() == [180.0, 90.0]  # 5 sacks × USD 18 from the schedule
        visits_read = registry.field_verifications(s)
        assert [(v.agreement_id, v.finding, v.cleared_ha) for v in visits_read] == [
            ("AC-2013-0002", "cleared", 0.45), ("AC-2013-0003", "not_cleared", None)]
        written = registry.export_csv(s, tmp_path / "export")
    assert [p.name for p in written] == ["households.csv", "agreements.csv", "deliveries.csv", "compliance.csv"]
    households_in = pd.read_csv(tmp_path / "households.csv", dtype=str)
    households_out = pd.read_csv(tmp_path / "export" / "households.csv", dtype=str)
    assert households_out["household_id"].tolist() == households_in["household_id"].tolist()
    assert households_out["community"].tolist() == households_in["community"].tolist()
    assert households_out["members_count"].tolist() == households_in["members"].tolist()
    agreements_out = pd.read_csv(tmp_path / "export" / "agreements.csv", dtype=str, keep_default_na=False)
    agreements_in = pd.read_csv(tmp_path / "agreements.csv", dtype=str, keep_default_na=False)
    for column in ("agreement_id", "household_id", "signed", "term_years", "conservation_parcel_id",
                   "needs_field_verification", "breach_rule", "implementer", "authority"):
        assert agreements_out[column].tolist() == agreements_in[column].tolist(), column
    assert set(agreements_out["commitments"][0].split(";")) == set(COMMITMENTS.split(";"))
    assert not list((tmp_path / "export").glob(".*"))  # no temporary files left behind


def test_exported_csv_imports_again(engine, tmp_path):
    _registry(engine, tmp_path, 3)
    with session(engine) as s:
        registry.export_csv(s, tmp_path / "export")
    fresh = make_engine(tmp_path / "fresh.sqlite")
    upgrade(fresh)
    try:
        with session(fresh) as s:
            import_table(s, "households", tmp_path / "export" / "households.csv")
            import_table(s, "parcels", tmp_path / "parcels.gpkg")
            import_table(s, "agreements", tmp_path / "export" / "agreements.csv")
        with session(engine) as s, session(fresh) as f:
            pd.testing.assert_frame_equal(registry.agreements_table(s), registry.agreements_table(f))
            pd.testing.assert_frame_equal(registry.households_table(s), registry.households_table(f))
    finally:
        fresh.dispose()


def test_a_thousand_rows_with_three_bad_ones_import_nothing(engine, tmp_path):
    _registry(engine, tmp_path, 1000, agreements=False)
    rows = _agreement_rows(1000)
    rows[15][2] = "2013-02-30"  # spreadsheet row 17 (header = row 1)
    rows[238][1] = "HH9999"  # row 240
    rows[799][6] = "-0.5"  # row 801: a negative tolerance, ha
    path = _csv(tmp_path / "agreements.csv", AGREEMENT_HEADER, rows)
    before = _counts(engine)
    with session(engine) as s, pytest.raises(FormImportError) as caught:
        import_table(s, "agreements", path)
    assert _counts(engine) == before
    error = caught.value
    assert isinstance(error, InputError)
    assert [(e.row, e.column) for e in error.errors] == [(17, "signed"), (240, "household_id"), (801, "tolerance_ha")]
    assert str(error) == ("agreements.csv: 3 of 1000 rows refused (first: row 17, column signed: '2013-02-30' is not "
                          "a date); nothing imported; every problem and its fix go to the errors CSV (--errors-csv "
                          "FILE).")
    report = pd.read_csv(error.write(tmp_path / "errors.csv"), dtype=str)
    assert report["row"].tolist() == ["17", "240", "801"]
    assert report["value"].tolist() == ["2013-02-30", "HH9999", "-0.5"]
    assert report["fix"].notna().all()
    with session(engine) as s:  # the file, fixed, goes in whole
        rows[15][2], rows[238][1], rows[799][6] = "2013-02-28", "HH0239", "0.5"
        assert import_table(s, "agreements", _csv(path, AGREEMENT_HEADER, rows)).inserted == 1000
    assert _counts(engine)["agr_agreements"] == 1000


def test_many_problems_give_one_line_and_all_are_reported(engine, tmp_path):
    rows = [[f"HH{i:04d}", "x", "abc" if i <= 12 else 5] for i in range(1, 21)] + [["HH0001", "x", 4]]
    path = _csv(tmp_path / "households.csv", ["household_id", "village", "members"], rows)
    with session(engine) as s, pytest.raises(FormImportError) as caught:
        import_table(s, "households", path)
    error = caught.value
    assert error.message == ("households.csv: 13 of 21 rows refused (first: row 2, column members_count: 'abc' is not "
                             "a number)")
    assert len(error.errors) == 13
    assert error.errors[-1] == RowError(22, "household_id", "HH0001", "'HH0001' repeats row 2",
                                                 "keep one of the two rows")
    assert _counts(engine)["agr_households"] == 0


def test_bad_values_of_every_kind_are_named(engine, tmp_path):
    _registry(engine, tmp_path, 3)
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    rows = [["AC-1", "HH0001", "1985-05-01", 5, "", "HH0001-CONS", 0, "maybe", "suspend", "no_fishing", "", ""],
            ["AC-2", "HH0002", future, 0, "", "HH0002-FARM", 0, "no", "none", "", "", ""],
            ["AC-3", "HH0003", "2014-01-01", 5, "2013-01-01", "HH0002-CONS", 0, "1", "reduce_half", "", "", ""],
            ["AC-2013-0001", "HH0001", "2014-01-01", 2.5, "", "HH0001-CONS", 0, "0", "none", "", "", ""]]
    with session(engine) as s, pytest.raises(FormImportError) as caught:
        import_table(s, "agreements", _csv(tmp_path / "bad.csv", AGREEMENT_HEADER, rows))
    problems = {(e.row, e.column): e.problem for e in caught.value.errors}
    assert problems == {
        (2, "signed"): "'1985-05-01' is before 1987-01-01",
        (2, "needs_field_verification"): "'maybe' is not yes or no",
        (2, "breach_rule"): "'suspend' is not one of suspend_next_period, reduce_half, none",
        (2, "commitments"): "'no_fishing' holds an unknown value",
        (3, "signed"): f"'{future}' is in the future",
        (3, "term_years"): "'0' is below 1",
        (3, "conservation_parcel_id"): "'HH0002-FARM' is not a conservation parcel",
        (4, "renewed_until"): "'2013-01-01' is not after the signing date",
        (4, "conservation_parcel_id"): "'HH0002-CONS' belongs to another household",
        (5, "agreement_id"): "'AC-2013-0001' is already in the registry",
        (5, "term_years"): "'2.5' is not a whole number",
    }


def test_a_file_without_a_required_column_is_refused(engine, tmp_path):
    path = _csv(tmp_path / "agreements.csv", ["agreement_id", "household_id"], [["AC-1", "HH0001"]])
    with session(engine) as s, pytest.raises(InputError, match="no column signed, term_years, conservation_parcel_id"):
        import_table(s, "agreements", path)


def test_odk_and_kobo_exports_are_read(engine, tmp_path):
    _registry(engine, tmp_path, 2)
    schedule = _csv(tmp_path / "schedule.csv", ["agreement_id", "item", "unit", "quantity_per_year", "unit_cost_usd",
                                                "first_year", "last_year"],
                    [["AC-2013-0001", "organic fertiliser", "sack", 10, 18.0, 2013, 2017]])
    kobo = _csv(tmp_path / "kobo.csv", ["start", "end", "delivery/agreement_id", "delivery/item",
                                        "delivery/delivered_on", "delivery/quantity", "delivery/value_usd",
                                        "meta/instanceID", "formhub/uuid", "_id", "_uuid", "_submission_time",
                                        "_index", "_validation_status", "delivery/photo"],
                [["2015-03-02T09:00:00.000-05:00", "2015-03-02T09:10:00.000-05:00", "AC-2013-0001",
                  "organic fertiliser", "2015-03-02T09:05:11.000-05:00", 10, "", "uuid:aaa", "form-1", 1, "u-1",
                  "2015-03-03T10:00:00", 1, "", "p.jpg"]])
    central = _csv(tmp_path / "central.csv", ["SubmissionDate", "grp-agreement_id", "grp-item", "grp-delivered_on",
                                              "grp-quantity", "grp-value_usd", "meta-instanceID", "KEY", "Status"],
                   [["2016-01-02T10:00:00.000Z", "AC-2013-0002", "pruning tools", "2016-01-02", 1, 45, "uuid:bbb",
                     "uuid:bbb", ""]])
    with session(engine) as s:
        import_table(s, "benefit_schedule", schedule)
        kobo_report = import_table(s, "deliveries", kobo)
        import_table(s, "deliveries", central)
        table = registry.deliveries(s)
    assert kobo_report.ignored_columns == ("delivery/photo",)
    assert table[["agreement_id", "delivered_on", "value_usd", "reference"]].values.tolist() == [
        ["AC-2013-0001", dt.date(2015, 3, 2), 180.0, "u-1"], ["AC-2013-0002", dt.date(2016, 1, 2), 45.0, "uuid:bbb"]]

    agreements = _csv(tmp_path / "odk_agreements.csv",
                      ["a/agreement_id", "a/household_id", "b/signed", "b/term_years", "b/conservation_parcel_id",
                       "b/needs_field_verification", "c/commitments", "_uuid"],
                      [["AC-2014-9001", "HH0001", "2014-07-01T08:00:00.000-05:00", 5, "HH0001-CONS", "no",
                        "no_hunting_endangered_species report_new_migrants", "u-9"]])
    with session(engine) as s:
        import_table(s, "agreements", agreements)
        row = registry.agreements_table(s).set_index("agreement_id").loc["AC-2014-9001"]
    assert row["signed"] == dt.date(2014, 7, 1) and not row["needs_field_verification"]
    assert row["commitments"] == "no_hunting_endangered_species;report_new_migrants"
    assert row["breach_rule"] == "suspend_next_period" and row["tolerance_ha"] == 0.0


def test_semicolon_separated_excel_csv_with_a_bom(engine, tmp_path):
    path = tmp_path / "households.csv"
    path.write_text("household_id;village;members\nHH0001;Caserío 15;5\n\n;;\nHH0002;Caserío 15;3\n",
                    encoding="utf-8-sig")
    with session(engine) as s:
        report = import_table(s, "households", path)
        assert report.rows == 2 and report.inserted == 2
        bad = tmp_path / "bad.csv"
        bad.write_text("household_id;members\nHH0003;5\n\nHH0004;x\n", encoding="utf-8")
        with pytest.raises(FormImportError, match=r"row 4, column members_count: 'x' is not a number") as caught:
            import_table(s, "households", bad)  # the blank line keeps its row number, as a spreadsheet shows it
        assert caught.value.errors[0].fix == "write a whole number, e.g. 5"  # a count: no decimal point


def test_duplicates_in_the_file_and_in_the_registry(engine, tmp_path):
    _registry(engine, tmp_path, 2)
    path = _csv(tmp_path / "visits.csv", ["agreement_id", "visited_on", "finding", "cleared_ha", "officer"],
                [["AC-2013-0001", "2016-05-01", "not_cleared", 0, "ana"],
                 ["AC-2013-0001", "2016-05-01", "not_cleared", 0, "ana"],
                 ["AC-2013-0002", "2016-05-01", "cleared", "", "ana"],
                 ["AC-2013-0003", "2016-05-01", "not_cleared", 0.5, "ana"]])
    with session(engine) as s, pytest.raises(FormImportError) as caught:
        import_table(s, "field_verifications", path)
    assert [(e.row, e.column, e.problem) for e in caught.value.errors] == [
        (3, "visited_on", "'2016-05-01' repeats row 2 (same agreement, date, finding and officer)"),
        (4, "cleared_ha", "is empty for a 'cleared' finding"),
        (5, "agreement_id", "'AC-2013-0003' is not an agreement of the registry"),
        (5, "cleared_ha", "'0.5' ha cleared with a finding other than 'cleared'")]
    with session(engine) as s:
        import_table(s, "field_verifications", _csv(path, ["agreement_id", "visited_on", "finding", "officer"],
                                                     [["AC-2013-0001", "2016-05-01", "not_cleared", "ana"]]))
        with pytest.raises(FormImportError, match="is already in the registry"):
            import_table(s, "field_verifications", path)


# -- parcels ------------------------------------------------------------------------------------------------------


def test_an_invalid_polygon_is_refused_with_its_reason(engine, tmp_path):
    with session(engine) as s:
        import_table(s, "households", _households(tmp_path, 2))
    bowtie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    frame = gpd.GeoDataFrame({"parcel_id": ["P1", "P2", "P3"], "household_id": ["HH0001", "HH0002", "HH0002"],
                              "kind": ["farm", "conservation", "coffee"], "area_ha": [1.0, 1.0, 1.0]},
                             geometry=[shapely.box(0, 0, 100, 100), bowtie, shapely.Point(5, 5).buffer(10)], crs=UTM)
    path = tmp_path / "bad.gpkg"
    frame.to_file(path, engine="pyogrio")
    with session(engine) as s, pytest.raises(FormImportError) as caught:
        import_table(s, "parcels", path)
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "geometry")]
    assert caught.value.message == ("bad.gpkg: 1 of 3 features refused (first: feature 2, column geometry: is not a "
                                    "valid polygon (Self-intersection[50 50]))")
    assert "Fix Geometries" in caught.value.errors[0].fix
    assert _counts(engine)["agr_parcels"] == 0


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_parcels_need_a_crs_and_are_stored_in_the_registrys(engine, tmp_path):
    with session(engine) as s:
        import_table(s, "households", _households(tmp_path, 3))
    no_crs = tmp_path / "no_crs.shp"
    gpd.GeoDataFrame({"parcel_id": ["P1"], "household": ["HH0001"], "kind": ["farm"]},
                     geometry=[shapely.box(0, 0, 100, 100)]).to_file(no_crs, engine="pyogrio")
    with session(engine) as s, pytest.raises(InputError, match="has no CRS"):
        import_table(s, "parcels", no_crs)
    box = shapely.box(250_000, 9_350_000, 250_100, 9_350_200)  # 2 ha in UTM 18S
    wgs84 = gpd.GeoDataFrame({"parcel_id": ["P1"], "household_id": ["HH0001"], "kind": ["farm"]}, geometry=[box],
                             crs=UTM).to_crs(4326)
    wgs84.to_file(tmp_path / "wgs84.geojson", engine="pyogrio")
    with session(engine) as s, pytest.raises(InputError, match="is in EPSG:4326 \\(not metres\\) and the project's "
                                                               "CRS is unknown"):
        import_table(s, "parcels", tmp_path / "wgs84.geojson")  # an empty registry and no project CRS
    utm17 = gpd.GeoDataFrame({"parcel_id": ["P2"], "household_id": ["HH0002"], "kind": ["farm"]},
                             geometry=[shapely.box(250_000, 9_350_300, 250_100, 9_350_500)], crs=UTM).to_crs(32717)
    utm17.to_file(tmp_path / "utm17.gpkg", engine="pyogrio")
    with session(engine) as s:
        report = import_table(s, "parcels", tmp_path / "wgs84.geojson", crs=UTM)
        assert report.notes == ("reprojected from EPSG:4326 to EPSG:32718",
                                "area_ha computed from the polygons for 1 parcel(s)")
        report = import_table(s, "parcels", tmp_path / "utm17.gpkg")  # the registry's CRS is now UTM 18S
        assert report.notes[0] == "reprojected from EPSG:32717 to EPSG:32718"
        with pytest.raises(InputError, match="the project's CRS is EPSG:32717 but the registry's parcels are in "
                                             "EPSG:32718"):
            import_table(s, "parcels", tmp_path / "utm17.gpkg", crs="EPSG:32717")
        plots = registry.parcels(s)
    assert str(plots.crs) == UTM
    assert plots["area_ha"].tolist() == [pytest.approx(2.0, rel=1e-6)] * 2
    assert plots.geometry.iloc[0].equals_exact(box, tolerance=1e-3)


# -- queries and exports ------------------------------------------------------------------------------------------


def test_agreements_with_parcels_and_assessments(engine, tmp_path):
    _registry(engine, tmp_path, 3)
    with session(engine) as s:
        gdf = registry.agreements_with_parcels(s)
        period = {"period_start": "2014-06-15", "period_end": "2016-06-14"}
        assert registry.record_assessments(s, [
            {"agreement_id": "AC-2013-0001", **period, "loss_px": 0, "loss_ha": 0.0, "status": "compliant",
             "basis": "no loss"},
            {"agreement_id": "AC-2013-0002", **period, "loss_px": 3, "loss_ha": 0.27, "status": "to_verify",
             "basis": "0.27 ha > 0.10 ha"}]) == 2
    assert gdf["agreement_id"].tolist() == ["AC-2013-0001", "AC-2013-0002", "AC-2013-0003"]
    assert gdf.crs == UTM and gdf.geometry.area.round().tolist() == [30_000.0] * 3
    assert gdf["farm_geometry"].area.round().tolist() == [10_000.0] * 3
    assert gdf["in_force_until"].iloc[0] == dt.date(2018, 2, 14)
    with session(engine) as s:  # the same period again replaces; a later period is the latest
        registry.record_assessments(s, pd.DataFrame([
            {"agreement_id": "AC-2013-0002", **period, "loss_px": 3, "loss_ha": 0.27, "status": "breach",
             "basis": "field visit confirmed"},
            {"agreement_id": "AC-2013-0001", "period_start": "2016-06-15", "period_end": "2018-06-14", "loss_px": 9,
             "loss_ha": 0.81, "status": "to_verify", "basis": "0.81 ha"}]))
        assert registry.latest_statuses(s) == {"AC-2013-0001": "to_verify", "AC-2013-0002": "breach"}
        assert s.scalar(select(func.count()).select_from(ComplianceAssessment)) == 3
        with pytest.raises(InputError, match="not in the registry: AC-9"):
            registry.record_assessments(s, [{"agreement_id": "AC-9", **period, "loss_px": 0, "loss_ha": 0,
                                             "status": "compliant", "basis": ""}])


def test_geopackage_export_opens_in_gdal_with_its_qgis_style(engine, tmp_path):
    _registry(engine, tmp_path, 3)
    with session(engine) as s:
        import_table(s, "benefit_schedule", _csv(tmp_path / "s.csv", ["agreement_id", "item", "unit",
                                                                     "quantity_per_year", "unit_cost_usd",
                                                                     "first_year", "last_year"],
                                                 [["AC-2013-0001", "fertiliser", "sack", 10, 18.0, 2013, 2017]]))
        import_table(s, "deliveries", _csv(tmp_path / "d.csv", ["agreement_id", "item", "delivered_on", "quantity"],
                                           [["AC-2013-0001", "fertiliser", "2014-02-01", 10]]))
        registry.record_assessments(s, [{"agreement_id": "AC-2013-0002", "period_start": "2014-06-15",
                                         "period_end": "2016-06-14", "loss_px": 20, "loss_ha": 1.8,
                                         "status": "breach", "basis": "1.8 ha"}])
        path = registry.export_geopackage(s, tmp_path / "out" / "registry.gpkg")
        override = registry.export_geopackage(s, tmp_path / "out" / "override.gpkg",
                                              statuses={"AC-2013-0003": "compliant"})
        with pytest.raises(InputError, match="unknown agreement"):
            registry.export_geopackage(s, tmp_path / "out" / "bad.gpkg", statuses={"AC-9": "breach"})
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["override.gpkg", "registry.gpkg"]
    plots = gpd.read_file(path, layer="parcels")
    assert plots.groupby("status").size().to_dict() == {"breach": 2, "no_assessment": 4}
    assert plots.set_index("parcel_id").loc["HH0001-FARM", "agreement_id"] == "AC-2013-0001"
    agreements = gpd.read_file(path, layer="agreements").set_index("agreement_id")
    assert agreements.loc["AC-2013-0001", "benefits_promised_usd"] == 900.0  # 10 sacks × USD 18 × 5 years
    assert agreements.loc["AC-2013-0001", "benefits_delivered_usd"] == 180.0
    assert agreements.loc["AC-2013-0002", "status"] == "breach"
    assert gpd.read_file(override, layer="agreements")["status"].tolist() == [
        "no_assessment", "no_assessment", "compliant"]
    with sqlite3.connect(path) as db:
        styles = db.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles "
                            "ORDER BY f_table_name").fetchall()
    db.close()
    assert [(t, g, d) for t, g, d, _ in styles] == [("agreements", "geom", 1), ("parcels", "geom", 1)]
    qml = styles[0][3]
    renderer = ElementTree.fromstring(qml).find("renderer-v2")  # well-formed XML, as QGIS parses it
    assert renderer.attrib["type"] == "categorizedSymbol" and renderer.attrib["attr"] == "status"
    for value, rgb in (("compliant", "26,150,65"), ("to_verify", "253,174,97"), ("breach", "215,25,28"),
                       ("no_assessment", "160,160,160")):
        assert f'value="{value}"' in qml and rgb in qml
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo is None:
        pytest.skip("GDAL's ogrinfo is not installed")
    done = subprocess.run([ogrinfo, "-ro", "-q", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "parcels (Multi Polygon)" in done.stdout and "agreements (Multi Polygon)" in done.stdout
    assert "layer_styles" in done.stdout


def test_an_empty_registry_exports(engine, tmp_path):
    with session(engine) as s:
        path = registry.export_geopackage(s, tmp_path / "empty.gpkg")
        registry.export_csv(s, tmp_path / "csv")
        assert len(registry.agreements_with_parcels(s)) == 0
    assert len(gpd.read_file(path, layer="agreements")) == 0
    assert pd.read_csv(tmp_path / "csv" / "agreements.csv").columns[0] == "agreement_id"


def test_the_database_refuses_what_the_importer_would(engine, tmp_path):
    from sqlalchemy.exc import IntegrityError

    _registry(engine, tmp_path, 1)
    with session(engine) as s:
        household = s.scalar(select(Household.id))
        parcel = s.scalar(select(Parcel.id))
        agreement = s.scalar(select(Agreement.id))
    for model, values in ((Parcel, {"code": "X", "household_id": household, "kind": "farm", "area_ha": -1.0,
                                    "geometry": b"", "crs": UTM}),
                          (Agreement, {"code": "Y", "household_id": household, "signed": dt.date(2013, 1, 1),
                                       "term_years": 5, "conservation_parcel_id": parcel,
                                       "breach_rule": "forgive"}),
                          (Delivery, {"agreement_id": agreement, "item": "x",
                                               "delivered_on": dt.date(2014, 1, 1), "quantity": -1,
                                               "value_usd": 1})):
        with pytest.raises(IntegrityError), session(engine) as s:
            s.add(model(**values))
