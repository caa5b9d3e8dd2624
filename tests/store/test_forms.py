"""The form reader (icam.store.forms): encodings, separators, decimal commas, line ends, ODK / Shapefile column
names, typed cells with their spreadsheet rows, the one-line refusal and its errors CSV; the project extent
(icam.store.extent) imports check positions against."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from icam.core.errors import InputError
from icam.store.extent import Extent, far_and_swapped
from icam.store.forms import (
    Col,
    FormImportError,
    Rows,
    decimal_comma,
    error_report,
    match_columns,
    numbers,
    read_csv,
)

COLS = (Col("household_id", required=True, aliases=("code",)), Col("village"),
        Col("members", "int", minimum=1), Col("area_ha", "float", minimum=0),
        Col("signed", "date", past=True), Col("paid", "bool"),
        Col("sex", "choice", choices=("female", "male"), synonyms={"f": "female", "mujer": "female"}))


def _parsed(path, cols=COLS) -> Rows:
    raw = read_csv(path)
    renames, _ = match_columns(path, cols, list(raw.columns))
    rows = Rows(raw.rename(columns=renames)[list(renames.values())])
    rows.parse(cols)
    return rows


# -- encodings, separators, line ends -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"])
def test_accents_read_in_every_encoding_a_spreadsheet_writes(tmp_path, encoding):
    path = tmp_path / "hogares.csv"
    path.write_bytes("household_id,village\nHH0001,Añazco\nHH0002,José Olaya\n".encode(encoding))
    frame = read_csv(path)
    assert frame["village"].tolist() == ["Añazco", "José Olaya"]
    assert frame.attrs["encoding"] == {"latin-1": "cp1252"}.get(encoding, encoding)  # Latin-1 letters are cp1252


@pytest.mark.parametrize("separator", [",", ";", "\t"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_separators_and_line_ends(tmp_path, separator, newline):
    lines = [["household_id", "village", "members"], ["HH0001", f'"Caserío{separator} 15"', "5"],
             ["HH0002", "Nuevo Edén", "3"]]
    path = tmp_path / "h.csv"
    path.write_text(newline.join(separator.join(cells) for cells in lines) + newline, encoding="utf-8")
    frame = read_csv(path)
    assert frame.attrs["separator"] == separator
    assert frame["village"].tolist() == [f"Caserío{separator} 15", "Nuevo Edén"]
    assert frame.index.tolist() == [2, 3]


def test_excel_sep_line_and_blank_rows_keep_spreadsheet_numbers(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("sep=;\nhousehold_id;members\nHH0001;5\n\n;\nHH0002;x\n", encoding="utf-8")
    rows = _parsed(path)
    assert rows.frame.index.tolist() == [2, 5]  # the blank row 3 and the empty row 4 are dropped, not renumbered
    assert [(e.row, e.column, e.problem) for e in rows.errors] == [(5, "members", "'x' is not a number")]


def test_excels_trailing_empty_columns_are_dropped(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("household_id;village;;\nHH0001;Añazco;;\n", encoding="utf-8")
    assert read_csv(path).to_dict("records") == [{"household_id": "HH0001", "village": "Añazco"}]


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"household_id,members\n", "holds a header and no row"),
    (b"PK\x03\x04\x14\x00\x06\x00", "not a text CSV file"),
    (b"household_id,members\nHH1,5\nHH2,5,7,8\n", r"cannot be read as CSV \(.*line 3, saw 4"),
    (b"household_id,members,household_id\nHH1,5,HH2\n", "names column 'household_id' twice"),
])
def test_files_that_are_not_tables_are_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "h.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        read_csv(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 250


# -- numbers --------------------------------------------------------------------------------------------------


def test_decimal_commas_and_thousands_separators():
    comma = pd.Series(["3,5", "1.234,5", "-0,25", "12", "1.234", "2.5", ""])
    assert numbers(comma, True).tolist()[:5] == [3.5, 1234.5, -0.25, 12.0, 1234.0]
    assert math.isnan(numbers(comma, True)[5])  # "2.5" in a decimal-comma file is ambiguous: not a number
    point = pd.Series(["3.5", "1,234.5", "1e3", "-7", "inf"])
    assert numbers(point, False).tolist()[:4] == [3.5, 1234.5, 1000.0, -7.0]
    assert decimal_comma(pd.DataFrame({"a": ["1", "3,5"], "b": ["x,y", "2"]}), ["a"])
    assert not decimal_comma(pd.DataFrame({"a": ["1", "3.5"], "b": ["x,5", "2"]}), ["a"])  # b is not numeric


def test_an_es_pe_excel_export_reads_as_the_plain_csv(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("household_id,members,area_ha\nHH0001,5,1234.5\nHH0002,3,0.75\n", encoding="utf-8")
    excel = tmp_path / "excel.csv"
    excel.write_bytes("household_id;members;area_ha\r\nHH0001;5;1.234,5\r\nHH0002;3;0,75\r\n".encode("cp1252"))
    pd.testing.assert_frame_equal(_parsed(excel).frame, _parsed(plain).frame)
    assert _parsed(excel).frame["area_ha"].tolist() == [1234.5, 0.75]


def test_a_point_in_a_decimal_comma_file_is_flagged_not_misread(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("household_id;area_ha\nHH1;3,5\nHH2;2.5\n", encoding="utf-8")
    rows = _parsed(path)
    assert [(e.row, e.problem, e.fix) for e in rows.errors] == [
        (3, "'2.5' is not a number", "write a number, e.g. 2,5 (the file uses decimal commas)")]


# -- columns --------------------------------------------------------------------------------------------------


def test_odk_prefixes_metadata_and_shapefile_truncated_names(tmp_path):
    cols = (Col("household_id", required=True), Col("conservation_parcel_id", aliases=("conservation_parcel",)),
            Col("needs_field_verification", "bool"), Col("reference"))
    columns = ["start", "grp/household_", "grp-conservati", "needs_fiel", "photo", "_uuid", "meta/instanceID"]
    renames, ignored = match_columns(tmp_path / "f.csv", cols, columns, reference="reference")
    assert renames == {"grp/household_": "household_id", "grp-conservati": "conservation_parcel_id",
                       "needs_fiel": "needs_field_verification", "_uuid": "reference"}
    assert ignored == ("photo",)
    # a 10-character name that could be either of two columns is not guessed
    two = (Col("quantity_per_year"), Col("quantity_paid"))
    assert match_columns(tmp_path / "f.csv", two, ["quantity_p"]) == ({}, ("quantity_p",))


def test_two_columns_for_one_name_and_a_missing_column_are_refused(tmp_path):
    with pytest.raises(InputError, match="columns 'household_id' and 'code' both give household_id"):
        match_columns(tmp_path / "f.csv", COLS, ["household_id", "code"])
    with pytest.raises(InputError, match=r"f.csv: no column household_id \(its columns: village\)"):
        match_columns(tmp_path / "f.csv", COLS, ["village"])


# -- cells and errors -----------------------------------------------------------------------------------------


def test_typed_cells_and_their_row_numbered_problems(tmp_path):
    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    path = tmp_path / "h.csv"
    path.write_text("household_id,members,area_ha,signed,paid,sex\n"
                    "HH1,5,2.5,2013-06-20T10:15:00.000-05:00,sí,Mujer\n"
                    ",0,-1,2013-02-30,maybe,x\n"
                    f"HH3,2.5,abc,{future},no,\n", encoding="utf-8")
    rows = _parsed(path)
    first = rows.frame.loc[2]
    assert (first["members"], first["area_ha"], first["paid"], first["sex"]) == (5, 2.5, True, "female")
    assert first["signed"] == pd.Timestamp("2013-06-20")
    assert {(e.row, e.column): e.problem for e in rows.errors} == {
        (3, "household_id"): "is empty", (3, "members"): "'0' is below 1", (3, "area_ha"): "'-1' is negative",
        (3, "signed"): "'2013-02-30' is not a date", (3, "paid"): "'maybe' is not yes or no",
        (3, "sex"): "'x' is not one of female, male", (4, "members"): "'2.5' is not a whole number",
        (4, "area_ha"): "'abc' is not a number", (4, "signed"): f"'{future}' is in the future"}


def test_datetimes_become_utc_and_the_future_is_judged_on_the_written_day(tmp_path):
    cols = (Col("observed_at", "datetime", required=True, past=True),)
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    path = tmp_path / "o.csv"
    path.write_text(f"observed_at\n2024-03-05T22:15:00-05:00\n2024-03-05 10:00\n{tomorrow}T00:30:00+14:00\n"
                    "2099-01-01T00:00:00Z\nyesterday\n", encoding="utf-8")
    rows = _parsed(path, cols)
    assert rows.frame["observed_at"].tolist()[:2] == [pd.Timestamp("2024-03-06 03:15"),  # -05:00 → UTC
                                                      pd.Timestamp("2024-03-05 10:00")]  # no offset: UTC
    assert sorted((e.row, e.problem) for e in rows.errors) == [
        (4, f"'{tomorrow}T00:30:00+14:00' is in the future"), (5, "'2099-01-01T00:00:00Z' is in the future"),
        (6, "'yesterday' is not a date and time")]


def test_one_line_for_many_bad_rows_and_every_row_in_the_errors_csv(tmp_path):
    path = tmp_path / "households.csv"
    long_value = "x" * 300
    path.write_text("household_id,members\n" + "".join(f"HH{i},{long_value if i < 4 else 5}\n" for i in range(120)),
                    encoding="utf-8")
    rows = _parsed(path)
    error = FormImportError(path, rows.errors, len(rows.frame))
    line = str(error)
    assert line.startswith("households.csv: 4 of 120 rows refused (first: row 2, column members: 'xxxxxx")
    assert line.endswith("); nothing imported; every problem and its fix go to the errors CSV (--errors-csv FILE).")
    assert len(line) < 250 and "\n" not in line
    report = tmp_path / "out" / "errors.csv"
    with pytest.raises(FormImportError) as info, error_report(report):
        raise error
    assert str(report) in str(info.value)  # the line then names the file written
    written = pd.read_csv(report, dtype=str)
    assert written.columns.tolist() == ["file", "row", "column", "value", "problem", "fix"]
    assert written["row"].tolist() == ["2", "3", "4", "5"] and (written["value"] == long_value).all()


# -- round trip -----------------------------------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZáéíóúñÁÉÍÓÚÑü"  # cp1252 bytes ≥ 0xC0: never UTF-8
_TEXT = st.text(alphabet=_LETTERS + " ,;'", min_size=1, max_size=12).map(str.strip).filter(bool)
_ROW = st.tuples(_TEXT, st.integers(0, 10_000), st.integers(-10**7, 10**7), st.dates(dt.date(1990, 1, 1),
                                                                                      dt.date(2020, 12, 31)))
ROUND_COLS = (Col("name", length=None), Col("count", "int"), Col("amount", "float"), Col("day", "date"))


def _format_number(value: float, comma: bool, grouped: bool) -> str:
    text = f"{value:,.2f}" if grouped else f"{value:.2f}"
    return text.translate(str.maketrans(",.", ".,")) if comma else text


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_ROW, min_size=1, max_size=8), encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
       separator=st.sampled_from([",", ";", "\t"]), comma=st.booleans(), grouped=st.booleans(),
       newline=st.sampled_from(["\n", "\r\n"]))
def test_a_table_written_in_any_style_reads_back_equal(tmp_path_factory, rows, encoding, separator, comma, grouped,
                                                        newline):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator=newline)
    writer.writerow(["name", "count", "amount", "day"])
    for name, count, cents, day in rows:
        writer.writerow([name, str(count), _format_number(cents / 100, comma, grouped), day.isoformat()])
    path = tmp_path_factory.mktemp("roundtrip") / "table.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    parsed = _parsed(path, ROUND_COLS)
    assert parsed.errors == []
    frame = parsed.frame
    assert frame["name"].tolist() == [r[0] for r in rows]
    assert frame["count"].tolist() == [r[1] for r in rows]
    assert frame["amount"].tolist() == [float(f"{r[2] / 100:.2f}") for r in rows]
    assert [d.date() for d in frame["day"]] == [r[3] for r in rows]


# -- the project's extent -------------------------------------------------------------------------------------

# the simulated Alto Mayo project's reference region, UTM 18S (EPSG:32718), metres
REGION = shapely.box(232_560, 9_345_540, 259_440, 9_372_420)


def test_distances_to_the_extent_and_swapped_coordinates():
    extent = Extent(REGION, "EPSG:32718")
    lon = np.array([-77.30, -77.30, 2.35, -5.80])  # inside; 20 km north of the region; Paris; swapped
    lat = np.array([-5.80, -5.49, 48.85, -77.30])
    distance = extent.lonlat_distance_m(lon, lat)
    assert distance[0] == 0.0
    # the region's north edge is at y = 9 372 420 m; latitude -5.49° is y ≈ 9 392 900 m in UTM 18S
    assert 19_000 < distance[1] < 22_000
    assert distance[2] > 5_000_000 and distance[3] > 5_000_000
    far, swapped = far_and_swapped(extent, lon, lat, 50_000)
    assert far.tolist() == [False, False, True, True] and swapped.tolist() == [False, False, False, True]
    parcel = shapely.box(259_440 + 15_000, 9_350_000, 259_440 + 16_000, 9_351_000)  # 15 km east of the region
    assert extent.distance_m(np.array([parcel]), "EPSG:32718")[0] == pytest.approx(15_000)
    to_degrees = Transformer.from_crs(32718, 4326, always_xy=True)
    geographic = shapely.transform(parcel, lambda xy: np.column_stack(to_degrees.transform(xy[:, 0], xy[:, 1])))
    assert extent.distance_m(np.array([geographic]), "EPSG:4326")[0] == pytest.approx(15_000, abs=1)
