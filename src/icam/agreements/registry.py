"""The conservation-agreements registry: import of field files, export for QGIS and spreadsheets, queries.

Import (:func:`import_table`) is all or nothing: every row of the file is checked first (types,
required fields, choices, references to households / parcels / agreements already in the registry,
duplicates in the file and against the registry, impossible values, polygons), every problem is
collected with its row as a spreadsheet shows it (header = row 1; for a vector file, feature 1 is
its first feature) and how to fix it; if there is any, :class:`RegistryImportError` is raised and
nothing is written. Otherwise every row is inserted in the session's transaction (a savepoint of it,
or a transaction of its own when the session has none).

Files are CSV (comma, semicolon or tab separated, UTF-8) or ODK / KoboToolbox CSV exports: group
prefixes are dropped (``group_a/household_id`` and ODK Central's ``group_a-household_id`` both read
as ``household_id``); the forms' metadata (Kobo's ``_uuid``, ``_submission_time``, ``_index``...,
``meta/instanceID``, ``formhub/uuid``, ``start``, ``end``, ODK Central's ``KEY``, ``SubmissionDate``...)
is ignored, except that a deliveries file without a ``reference`` column takes the submission's
``_uuid`` (else its instanceID, else ODK Central's ``KEY``). Dates are ISO (``2013-06-20``, or ODK's
``2013-06-20T10:15:00.000-05:00``, whose date part is kept); booleans yes/no/true/false/1/0 (and
sí/si). Parcels come from a GeoPackage, GeoJSON or Shapefile with a projected CRS in metres (or are
reprojected with ``crs=``); invalid polygons are refused, never repaired silently. The columns of each
kind are :data:`COLUMNS`; other columns are ignored and named in the :class:`ImportReport`.

A household's ``community`` that the registry does not know yet is created (kind ``community``; import
a ``communities`` file first to give kinds and districts); the import report names the ones created.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import sqlite3
import warnings
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from icam.agreements.models import (
    BREACH_RULES,
    COMMITMENTS,
    COMMUNITY_KINDS,
    COMPLIANCE_STATUSES,
    FINDINGS,
    GRIEVANCE_STATUSES,
    PARCEL_KINDS,
    SEXES,
    Agreement,
    BenefitSchedule,
    Commitment,
    Community,
    ComplianceAssessment,
    Delivery,
    FieldVerification,
    Grievance,
    Household,
    Member,
    Parcel,
)
from icam.core.atomic import atomic_path
from icam.core.errors import InputError

FIRST_AGREEMENT_DATE = dt.date(1987, 1, 1)  # the Alto Mayo Protected Forest was established in 1987
NO_ASSESSMENT = "no_assessment"
MAX_LISTED_ERRORS = 10
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip", ".fgb")
_DATE_RE = r"^(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
_BOOLEANS = {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False, "y": True, "n": False,
             "si": True, "sí": True, "1.0": True, "0.0": False}
_SEX_SYNONYMS = {"f": "female", "m": "male", "x": "other", "mujer": "female", "hombre": "male", "woman": "female",
                 "man": "male"}
_META_GROUPS = ("meta", "formhub")
_META_NAMES = {"start", "end", "today", "deviceid", "username", "simserial", "subscriberid", "phonenumber", "audit",
               "__version__", "instanceid", "instancename"}
_CENTRAL_META = {"SubmissionDate", "KEY", "PARENT_KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent",
                 "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits", "FormVersion"}
_DATE_FIX = "write it as YYYY-MM-DD, e.g. 2013-06-20"
_REPAIR_FIX = "repair it (QGIS: Vector > Geometry Tools > Fix Geometries; shapely.make_valid) and import again"


# -- what each kind of file holds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    """A column of an import file: its type (text, int, float, date, bool, choice, list), whether it is required,
    its default, allowed values, bounds (numbers inclusive; ``positive``: > 0; dates: ``earliest``, ``past``:
    not after today / this year), other names it may have, and the longest text it takes."""

    name: str
    type: str = "text"
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    earliest: dt.date | None = None
    past: bool = False
    aliases: tuple[str, ...] = ()
    length: int | None = 200  # the most characters a text holds (the database column's size)


CODE = 64  # characters of a household, parcel or agreement code
_HOUSEHOLD = Col("household_id", required=True, aliases=("household", "household_code"), length=CODE)
_AGREEMENT = Col("agreement_id", required=True, aliases=("agreement", "agreement_code"), length=CODE)


def _day(name: str, required: bool = True) -> Col:
    return Col(name, "date", required=required, earliest=FIRST_AGREEMENT_DATE, past=True)


COLUMNS: dict[str, tuple[Col, ...]] = {
    "communities": (Col("name", required=True, aliases=("community",)),
                    Col("kind", "choice", default="community", choices=COMMUNITY_KINDS), Col("district")),
    "households": (Col("household_id", required=True, aliases=("code", "household_code", "household"), length=CODE),
                   Col("community"), Col("village"),
                   Col("members_count", "int", minimum=1, maximum=100, aliases=("members", "n_members")),
                   Col("settled_year", "int", minimum=1900, past=True), Col("x_m", "float"), Col("y_m", "float")),
    "members": (_HOUSEHOLD, Col("name", required=True), Col("sex", "choice", choices=SEXES),
                Col("birth_year", "int", minimum=1900, past=True), Col("role", length=64)),
    "parcels": (Col("parcel_id", required=True, aliases=("code", "parcel_code", "parcel"), length=CODE),
                _HOUSEHOLD,
                Col("kind", "choice", required=True, choices=PARCEL_KINDS), Col("area_ha", "float", positive=True)),
    "agreements": (Col("agreement_id", required=True, aliases=("code", "agreement_code", "agreement"), length=CODE),
                   _HOUSEHOLD,
                   _day("signed"), Col("term_years", "int", required=True, minimum=1, maximum=99),
                   Col("renewed_until", "date", earliest=FIRST_AGREEMENT_DATE),
                   Col("conservation_parcel_id", required=True, aliases=("conservation_parcel", "parcel_id"),
                       length=CODE),
                   Col("tolerance_ha", "float", default=0.0, minimum=0),
                   Col("needs_field_verification", "bool", default=True),
                   Col("breach_rule", "choice", default="suspend_next_period", choices=BREACH_RULES),
                   Col("commitments", "list", choices=COMMITMENTS), Col("implementer"), Col("authority")),
    "benefit_schedule": (_AGREEMENT, Col("item", required=True), Col("unit", required=True, length=64),
                         Col("quantity_per_year", "float", required=True, minimum=0),
                         Col("unit_cost_usd", "float", required=True, minimum=0),
                         Col("first_year", "int", required=True, minimum=1987, maximum=2100),
                         Col("last_year", "int", required=True, minimum=1987, maximum=2100)),
    "deliveries": (_AGREEMENT, Col("item", required=True), _day("delivered_on"),
                   Col("quantity", "float", required=True, minimum=0), Col("value_usd", "float", minimum=0),
                   Col("reference")),
    "field_verifications": (_AGREEMENT, _day("visited_on"), Col("finding", "choice", required=True, choices=FINDINGS),
                            Col("cleared_ha", "float", minimum=0), Col("officer", required=True),
                            Col("notes", length=None)),
    "grievances": (Col("household_id", aliases=("household", "household_code"), length=CODE),
                   Col("agreement_id", aliases=("agreement", "agreement_code"), length=CODE), _day("received_on"),
                   Col("category", required=True, length=64), Col("description", required=True, length=None),
                   Col("status", "choice", default="open", choices=GRIEVANCE_STATUSES), _day("resolved_on", False)),
}
KINDS = tuple(COLUMNS)


# -- errors and reports -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem of an import file: the row (spreadsheet numbering, header = 1), the column, the value,
    what is wrong and how to fix it."""

    row: int
    column: str
    value: str
    problem: str
    fix: str


@dataclass(frozen=True)
class ImportReport:
    """What an import did: ``rows`` read, ``inserted`` rows written (commitments and communities not counted),
    columns ignored, and notes (communities created, areas computed)."""

    kind: str
    path: Path
    rows: int
    inserted: int
    ignored_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class RegistryImportError(InputError):
    """A file with bad rows: nothing was imported. ``errors`` lists every problem; :meth:`write_error_report`
    writes them as CSV (file, row, column, value, problem, fix)."""

    def __init__(self, path: Path | str, errors: list[RowError], n_rows: int, unit: str = "row") -> None:
        self.path = Path(path)
        self.errors = sorted(errors, key=lambda e: e.row)
        self.n_rows = n_rows
        self.unit = unit
        n_bad = len({e.row for e in self.errors})
        listed = "; ".join(f"{unit} {e.row} ({e.column}): {e.problem}" for e in self.errors[:MAX_LISTED_ERRORS])
        more = len(self.errors) - MAX_LISTED_ERRORS
        if more > 0:
            listed += f"; and {more} more"
        super().__init__(f"{path}: {n_bad} bad {unit}(s) of {n_rows}, nothing imported: {listed}",
                         "fix them and import the whole file again (the error report lists every problem and "
                         "how to fix it)")

    def write_error_report(self, path: Path | str) -> Path:
        """Write every problem as CSV (file, row, column, value, problem, fix), atomically; returns ``path``."""
        with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["file", self.unit, "column", "value", "problem", "fix"])
            writer.writerows([str(self.path), e.row, e.column, e.value, e.problem, e.fix] for e in self.errors)
        return Path(path)


@contextmanager
def error_report(path: Path | None):
    """Let a :class:`RegistryImportError` raised inside go on, after writing its row-by-row report to ``path``
    (when given): what an import command's ``--errors-csv`` does."""
    try:
        yield
    except RegistryImportError as exc:
        if path is not None:
            exc.write_error_report(path)
        raise


class _Rows:
    """A parsed file (index = spreadsheet row) and the problems found in it so far."""

    def __init__(self, raw: pd.DataFrame, unit: str) -> None:
        self.raw = raw
        self.frame = pd.DataFrame(index=raw.index)
        self.unit = unit
        self.errors: list[RowError] = []

    def flag(self, mask, column: str, problem: str | pd.Series, fix: str) -> None:
        """Record ``problem`` for the rows where ``mask`` is true: a format string of ``value`` (the cell as
        written), or a Series of such strings, one per row."""
        mask = pd.Series(mask, index=self.frame.index).fillna(False).astype(bool)
        values = self.raw[column] if column in self.raw else pd.Series("", index=mask.index)
        for row in mask.index[mask.to_numpy()]:
            value = "" if pd.isna(values.loc[row]) else str(values.loc[row])
            text = problem.loc[row] if isinstance(problem, pd.Series) else problem
            self.errors.append(RowError(int(row), column, value, text.format(value=value), fix))

    def unknown(self, column: str, known: Iterable[str], what: str, fix: str) -> pd.Series:
        """Flag values of ``column`` not in ``known``; returns the mask of rows whose value is known."""
        values = self.frame[column]
        bad = values.notna() & ~values.isin(list(known))
        self.flag(bad, column, "{value!r} is not " + what + " of the registry", fix)
        return values.notna() & ~bad

    def duplicates(self, keys: list[str], column: str, existing: set[str], same: str = "",
                   optional: tuple[str, ...] = ()) -> None:
        """Flag rows whose ``keys`` repeat an earlier row of the file, or a row of the registry (``existing``,
        see :func:`_key_strings`); ``same`` says what matches, e.g. " (same agreement, item and date)"; rows
        missing a key not in ``optional`` are skipped."""
        key = _key_strings(self.frame, keys)
        valid = self.frame[[k for k in keys if k not in optional]].notna().all(axis=1)
        rows = pd.Series(self.frame.index, index=self.frame.index, dtype="float64")
        first = rows.where(valid).groupby(key.where(valid)).transform("min")
        repeat = valid & (first < rows)
        earlier = f"{{value!r}} repeats {self.unit} " + first.fillna(0).astype(int).astype(str) + same
        self.flag(repeat, column, earlier, "keep one of the two rows")
        in_registry = valid & ~repeat & key.isin(existing)
        self.flag(in_registry, column, "{value!r} is already in the registry" + same,
                  "remove the row (it was imported before) or correct it")


def _key_strings(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """One text key per row from ``keys`` (dates as ISO, numbers as %.10g), for matching against the registry."""
    parts = [_canonical_text(frame[k]) for k in keys]
    key = parts[0]
    for part in parts[1:]:
        key = key + "\x1f" + part
    return key


def _canonical_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").fillna("")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64").map(lambda v: "" if np.isnan(v) else f"{v:.10g}")
    return values.astype(object).where(values.notna(), "").astype(str)


# -- reading files ----------------------------------------------------------------------------------------------


@dataclass
class _Source:
    path: Path
    raw: pd.DataFrame  # text cells, canonical column names, index = spreadsheet row
    unit: str = "row"
    ignored: tuple[str, ...] = ()
    geometry: np.ndarray | None = None
    crs: Any = None
    notes: list[str] = field(default_factory=list)


def _canonical_name(name: str) -> str:
    last = re.split(r"[/\-]", name.strip())[-1]
    return re.sub(r"\s+", "_", last.strip().lower())


def _is_meta(name: str, central: bool) -> bool:
    parts = re.split(r"[/\-]", name.strip())
    return (name.startswith("_") or parts[0].lower() in _META_GROUPS or _canonical_name(name) in _META_NAMES
            or (central and name in _CENTRAL_META))


def _reference_column(columns: list[str]) -> str | None:
    """The column holding a form submission's id: Kobo's _uuid, else the instanceID, else ODK Central's KEY."""
    for wanted in ("_uuid", "instanceid", "KEY"):
        for name in columns:
            if name == wanted or (wanted == "instanceid" and _canonical_name(name) == "instanceid"):
                return name
    return None


def _rename(path: Path, kind: str, columns: list[str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Map the file's columns to the kind's names; returns (renames, ignored non-metadata columns)."""
    aliases = {a: c.name for c in COLUMNS[kind] for a in (c.name, *c.aliases)}
    central = {"SubmissionDate", "KEY"} <= set(columns)
    renames, ignored = {}, []
    for name in columns:
        if _is_meta(name, central):
            continue
        target = aliases.get(_canonical_name(name))
        if target is None:
            ignored.append(name)
        elif target in renames.values():
            other = next(k for k, v in renames.items() if v == target)
            raise InputError(f"{path}: columns {other!r} and {name!r} both give {target}",
                             "delete or rename one of them")
        else:
            renames[name] = target
    if kind == "deliveries" and "reference" not in renames.values():
        ref = _reference_column(columns)
        if ref is not None:
            renames[ref] = "reference"
    return renames, tuple(ignored)


def _missing_columns(path: Path, kind: str, present: Iterable[str], columns: list[str]) -> None:
    required = [c.name for c in COLUMNS[kind] if c.required and c.name not in set(present)]
    if required:
        raise InputError(f"{path}: no column {', '.join(required)} (its columns: {', '.join(columns) or 'none'})",
                         f"add the column(s); a {kind} file has {', '.join(c.name for c in COLUMNS[kind])}")


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        with open(path, encoding="utf-8-sig") as f:
            header = f.readline()
        sep = max((",", ";", "\t"), key=header.count)
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, sep=sep,
                            encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text", "save it as 'CSV UTF-8' (Excel, LibreOffice)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path} cannot be read as CSV ({' '.join(str(exc).split())})",
                         "check the separators and quotes on the line named") from None
    frame = frame.fillna("").astype(object).apply(lambda column: column.astype(str).str.strip())
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    return frame[(frame != "").any(axis=1)]


def _read_vector(path: Path, crs) -> tuple[pd.DataFrame, np.ndarray, Any]:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
        layer = "parcels" if "parcels" in layers else layers[0] if len(layers) == 1 else None
        if layer is None:
            raise InputError(f"{path} has layers {', '.join(layers)} and none is named 'parcels'",
                             "rename the parcels' layer to 'parcels' or export it alone")
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (DataSourceError, DataLayerError, RuntimeError, ValueError, OSError) as exc:
        raise InputError(f"{path} cannot be read as a vector file ({' '.join(str(exc).split())[:160]})",
                         "give a GeoPackage, GeoJSON or Shapefile") from None
    if gdf.crs is None:
        raise InputError(f"{path} has no CRS",
                         "assign one (QGIS: Layer > Layer CRS > Set CRS; for a Shapefile, add its .prj file)")
    if crs is not None:
        gdf = gdf.to_crs(crs)
    if not gdf.crs.is_projected or gdf.crs.axis_info[0].unit_name not in ("metre", "meter"):
        kind = "geographic CRS" if gdf.crs.is_geographic else "CRS, not in metres,"
        raise InputError(f"{path} is in the {kind} {_crs_text(gdf.crs)}",
                         "import it with crs= the project's CRS in metres (e.g. EPSG:32718; the CLI's --crs)")
    attributes = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    text = attributes.astype(object).where(attributes.notna(), "").apply(lambda c: c.astype(str).str.strip())
    text.index = pd.RangeIndex(1, len(text) + 1, name="row")
    return text, np.asarray(gdf.geometry.values), gdf.crs


def _read(kind: str, path: Path, crs) -> _Source:
    if not path.exists():
        raise InputError(f"{path} does not exist", "check the path")
    vector = kind == "parcels"
    if vector != (path.suffix.lower() in VECTOR_SUFFIXES):
        need = "a GeoPackage, GeoJSON or Shapefile" if vector else "a CSV file (or an ODK/KoboToolbox CSV export)"
        raise InputError(f"{path}: {kind} come as {need}", f"give {need}")
    geometry, file_crs = None, None
    if vector:
        table, geometry, file_crs = _read_vector(path, crs)
    else:
        table = _read_csv(path)
    columns = [str(c) for c in table.columns]
    renames, ignored = _rename(path, kind, columns)
    _missing_columns(path, kind, renames.values(), columns)
    raw = table.rename(columns=renames)[list(renames.values())]
    if geometry is not None:
        geometry = geometry[(raw.index - 1).to_numpy()]
    return _Source(path, raw, "feature" if vector else "row", ignored, geometry, file_crs)


# -- parsing cells ----------------------------------------------------------------------------------------------


def _parse_column(rows: _Rows, col: Col) -> None:
    raw = rows.raw[col.name] if col.name in rows.raw else pd.Series("", index=rows.frame.index)
    blank = raw == ""
    if col.required:
        rows.flag(blank, col.name, "is empty", f"fill in {col.name}")
    parser = {"text": _as_text, "int": _as_number, "float": _as_number, "date": _as_date, "bool": _as_bool,
              "choice": _as_choice, "list": _as_list}[col.type]
    values = parser(rows, col, raw.where(~blank))
    if col.default is not None:
        values = values.where(~blank, col.default)
    rows.frame[col.name] = values


def _as_text(rows: _Rows, col: Col, raw: pd.Series) -> pd.Series:
    if col.length is not None:
        long = raw.str.len() > col.length
        rows.flag(long, col.name, f"is longer than {col.length} characters", "shorten it")
        raw = raw.where(~long.fillna(False))
    return raw.astype(object)


def _as_number(rows: _Rows, col: Col, raw: pd.Series) -> pd.Series:
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    example = "a whole number, e.g. 5" if col.type == "int" else "a number with a decimal point, e.g. 2.5"
    rows.flag(raw.notna() & (values.isna() | np.isinf(values)), col.name, "{value!r} is not a number",
              f"write {example}")
    if col.type == "int":
        fraction = values.notna() & (values != values.round())
        rows.flag(fraction, col.name, "{value!r} is not a whole number", "write a whole number, e.g. 5")
        values = values.where(~fraction)
    return _bounded(rows, col, values)


def _bounded(rows: _Rows, col: Col, values: pd.Series) -> pd.Series:
    checks = []
    if col.minimum == 0:
        checks.append((values < 0, "{value!r} is negative", "write 0 or more"))
    elif col.minimum is not None:
        checks.append((values < col.minimum, "{value!r} is below " + f"{col.minimum:g}", f"write {col.minimum:g} "
                       "or more"))
    if col.positive:
        checks.append((values <= 0, "{value!r} is not above 0", "write a positive number"))
    maximum = dt.date.today().year if col.past else col.maximum
    if maximum is not None:
        checks.append((values > maximum, "{value!r} is above " + f"{maximum:g}", f"write {maximum:g} or less"))
    bad = pd.Series(False, index=values.index)
    for mask, problem, fix in checks:
        mask = mask & ~bad
        rows.flag(mask, col.name, problem, fix)
        bad |= mask
    values = values.where(~bad)
    return values.astype("Int64") if col.type == "int" else values


def _as_date(rows: _Rows, col: Col, raw: pd.Series) -> pd.Series:
    text = raw.str.extract(_DATE_RE, expand=False)
    values = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    rows.flag(raw.notna() & values.isna(), col.name, "{value!r} is not a date", _DATE_FIX)
    if col.earliest is not None:
        early = values < pd.Timestamp(col.earliest)
        rows.flag(early, col.name, "{value!r} is before " + col.earliest.isoformat(), "check the year")
        values = values.where(~early)
    if col.past:
        future = values > pd.Timestamp(dt.date.today())
        rows.flag(future, col.name, "{value!r} is in the future", "check the date (YYYY-MM-DD)")
        values = values.where(~future)
    return values


def _as_bool(rows: _Rows, col: Col, raw: pd.Series) -> pd.Series:
    values = raw.str.lower().map(_BOOLEANS)
    rows.flag(raw.notna() & values.isna(), col.name, "{value!r} is not yes or no", "write yes or no")
    return values.astype(object)


def _choice_text(raw: pd.Series) -> pd.Series:
    return raw.str.lower().str.strip().str.replace(r"[\s\-]+", "_", regex=True)


def _as_choice(rows: _Rows, col: Col, raw: pd.Series) -> pd.Series:
    values = _choice_text(raw)
    if col.choices == SEXES:
        values = values.replace(_SEX_SYNONYMS)
    bad = raw.notna() & ~values.isin(col.choices)
    choices = ", ".join(col.choices)
    rows.flag(bad, col.name, "{value!r} is not one of " + choices, f"write one of {choices}")
    return values.where(~bad).astype(object)


def _as_list(rows: _Rows, col: Col, raw: pd.Series) -> pd.Series:
    """';'-separated values (or ODK select_multiple's space-separated ones) as tuples."""
    items = raw.fillna("").str.lower().str.split(r"[;,\s]+", regex=True).map(lambda xs: tuple(x for x in xs if x))
    unknown = items.map(lambda xs: ", ".join(x for x in xs if x not in col.choices))
    rows.flag(unknown != "", col.name, "{value!r} holds an unknown commitment",
              f"separate with ';' values among {', '.join(col.choices)}")
    return items.where(unknown == "").astype(object)


def _parse(kind: str, source: _Source) -> _Rows:
    rows = _Rows(source.raw, source.unit)
    for col in COLUMNS[kind]:
        _parse_column(rows, col)
    return rows


# -- what the registry holds, for references and duplicates -------------------------------------------------------


def _codes(session: Session, model) -> dict[str, int]:
    return {code: id_ for code, id_ in session.execute(select(model.code, model.id))}


def _agreements_table(session: Session) -> pd.DataFrame:
    rows = session.execute(select(Agreement.code, Agreement.id, Household.code, Agreement.signed)
                           .join(Household, Agreement.household_id == Household.id)).all()
    return pd.DataFrame(rows, columns=["agreement_id", "id", "household_id", "signed"])


def _existing(session: Session, statement, columns: list[str], keys: list[str]) -> set[str]:
    frame = pd.DataFrame(session.execute(statement).all(), columns=columns)
    for name in columns:
        if frame[name].map(lambda v: isinstance(v, dt.date)).any():
            frame[name] = pd.to_datetime(frame[name])
    return set(_key_strings(frame, keys)) if len(frame) else set()


def _registry_crs(session: Session) -> str | None:
    return session.scalar(select(Parcel.crs).limit(1))


def _crs_text(crs) -> str:
    from pyproj import CRS

    crs = CRS.from_user_input(crs)
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.to_wkt()


# -- checks per kind --------------------------------------------------------------------------------------------

_IMPORT_HOUSEHOLDS = "import the household first (kind households) or correct the code"
_IMPORT_AGREEMENTS = "import the agreement first (kind agreements) or correct the code"


def _check_communities(session: Session, rows: _Rows, source: _Source) -> None:
    existing = set(session.scalars(select(Community.name)))
    rows.duplicates(["name"], "name", existing)


def _check_households(session: Session, rows: _Rows, source: _Source) -> None:
    rows.duplicates(["household_id"], "household_id", set(_codes(session, Household)))
    known = set(session.scalars(select(Community.name)))
    new = sorted(set(rows.frame["community"].dropna()) - known)
    if new:
        source.notes.append(f"{len(new)} new communit{'y' if len(new) == 1 else 'ies'}: {', '.join(new[:20])}")


def _check_members(session: Session, rows: _Rows, source: _Source) -> None:
    rows.unknown("household_id", _codes(session, Household), "a household", _IMPORT_HOUSEHOLDS)
    statement = select(Household.code, Member.name, Member.birth_year).join(Household)
    existing = _existing(session, statement, ["household_id", "name", "birth_year"],
                         ["household_id", "name", "birth_year"])
    rows.duplicates(["household_id", "name", "birth_year"], "name", existing, " (same household, name and birth year)")


def _check_parcels(session: Session, rows: _Rows, source: _Source) -> None:
    rows.unknown("household_id", _codes(session, Household), "a household", _IMPORT_HOUSEHOLDS)
    rows.duplicates(["parcel_id"], "parcel_id", set(_codes(session, Parcel)))
    _check_crs(session, source)
    _check_geometry(rows, source)


def _check_crs(session: Session, source: _Source) -> None:
    from pyproj import CRS

    registry = _registry_crs(session)
    if registry is not None and CRS.from_user_input(registry) != CRS.from_user_input(source.crs):
        raise InputError(f"{source.path} is in {_crs_text(source.crs)} but the registry's parcels are in {registry}",
                         f"import it with crs={registry!r} (the CLI's --crs) to reproject it")


def _check_geometry(rows: _Rows, source: _Source) -> None:
    geoms = source.geometry
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    rows.flag(missing, "geometry", "has no geometry", "draw the parcel's polygon or delete the feature")
    types = shapely.get_type_id(geoms)
    not_polygon = ~missing & ~np.isin(types, [3, 6])
    rows.flag(not_polygon, "geometry", "is not a polygon", "give polygons (buffer points or lines into areas first)")
    ok = ~missing & ~not_polygon
    invalid = ok & ~shapely.is_valid(geoms)
    reasons = pd.Series(np.where(invalid, shapely.is_valid_reason(geoms), ""), index=rows.frame.index)
    rows.raw = rows.raw.assign(geometry=reasons)
    rows.flag(invalid, "geometry", "is not a valid polygon ({value})", _REPAIR_FIX)
    area_ha = pd.Series(shapely.area(geoms) / 1e4, index=rows.frame.index)  # the CRS is in metres (_read_vector)
    no_area = rows.frame["area_ha"].isna() & (rows.raw["area_ha"] == "" if "area_ha" in rows.raw else True)
    rows.frame["area_ha"] = rows.frame["area_ha"].where(~no_area, area_ha)
    if bool(no_area.any()):
        source.notes.append(f"area_ha computed from the polygons for {int(no_area.sum())} parcel(s)")


def _check_agreements(session: Session, rows: _Rows, source: _Source) -> None:
    frame = rows.frame
    rows.duplicates(["agreement_id"], "agreement_id", set(_codes(session, Agreement)))
    household_known = rows.unknown("household_id", _codes(session, Household), "a household", _IMPORT_HOUSEHOLDS)
    known = pd.DataFrame(session.execute(select(Parcel.code, Parcel.kind, Household.code).join(Household)).all(),
                         columns=["code", "kind", "household"]).set_index("code")
    parcel_known = rows.unknown("conservation_parcel_id", known.index, "a parcel",
                                "import the parcels first (kind parcels) or correct the code")
    parcel = frame["conservation_parcel_id"].where(parcel_known)
    kind = parcel.map(known["kind"])
    rows.flag(parcel_known & (kind != "conservation"), "conservation_parcel_id",
              "{value!r} is not a conservation parcel", "name the household's conservation parcel")
    owner = parcel.map(known["household"])
    rows.flag(parcel_known & household_known & (kind == "conservation") & (owner != frame["household_id"]),
              "conservation_parcel_id", "{value!r} belongs to another household", "check the parcel and household")
    rows.flag(frame["renewed_until"].notna() & frame["signed"].notna() & (frame["renewed_until"] <= frame["signed"]),
              "renewed_until", "{value!r} is not after the signing date", "write the last day in force (YYYY-MM-DD)")


def _agreement_refs(session: Session, rows: _Rows) -> pd.DataFrame:
    table = _agreements_table(session)
    rows.unknown("agreement_id", table["agreement_id"], "an agreement", _IMPORT_AGREEMENTS)
    return table


def _check_benefit_schedule(session: Session, rows: _Rows, source: _Source) -> None:
    frame = rows.frame
    table = _agreement_refs(session, rows).set_index("agreement_id")
    rows.flag(frame["last_year"] < frame["first_year"], "last_year", "{value!r} is before first_year",
              "write a last year on or after the first")
    signed_year = frame["agreement_id"].map(pd.to_datetime(table["signed"]).dt.year)
    rows.flag(frame["first_year"] < signed_year, "first_year", "{value!r} is before the agreement was signed",
              "check the year")
    statement = select(Agreement.code, BenefitSchedule.item, BenefitSchedule.first_year).join(Agreement)
    keys = ["agreement_id", "item", "first_year"]
    rows.duplicates(keys, "item", _existing(session, statement, keys, keys), " (same agreement, item and first year)")


def _check_deliveries(session: Session, rows: _Rows, source: _Source) -> None:
    frame = rows.frame
    _agreement_refs(session, rows)
    cost = _unit_costs(session, frame)
    no_value = frame["value_usd"].isna() & (rows.raw["value_usd"] == "" if "value_usd" in rows.raw else True)
    frame["value_usd"] = frame["value_usd"].where(~no_value, frame["quantity"] * cost)
    rows.flag(no_value & cost.isna() & frame["agreement_id"].notna(), "value_usd",
              "is empty and the item is not in the agreement's benefit schedule",
              "fill in value_usd, or import the benefit schedule first")
    statement = (select(Agreement.code, Delivery.item, Delivery.delivered_on, Delivery.reference).join(Agreement))
    keys = ["agreement_id", "item", "delivered_on", "reference"]
    rows.duplicates(keys, "item", _existing(session, statement, keys, keys),
                    " (same agreement, item, date and reference)")


def _unit_costs(session: Session, frame: pd.DataFrame) -> pd.Series:
    """The schedule's unit cost of each delivery's item in its year (NaN where the schedule has none)."""
    schedule = schedules(session)
    year = frame["delivered_on"].dt.year
    merged = frame[["agreement_id", "item"]].assign(year=year, row=frame.index).merge(
        schedule, on=["agreement_id", "item"], how="inner")
    inside = merged[(merged["year"] >= merged["first_year"]) & (merged["year"] <= merged["last_year"])]
    return inside.drop_duplicates("row").set_index("row")["unit_cost_usd"].reindex(frame.index).astype("float64")


def _check_field_verifications(session: Session, rows: _Rows, source: _Source) -> None:
    frame = rows.frame
    _agreement_refs(session, rows)
    cleared = frame["finding"] == "cleared"
    rows.flag(cleared & frame["cleared_ha"].isna() & (rows.raw.get("cleared_ha", "") == ""), "cleared_ha",
              "is empty for a 'cleared' finding", "write the area found cleared, ha")
    rows.flag(~cleared & frame["finding"].notna() & (frame["cleared_ha"] > 0), "cleared_ha",
              "{value!r} ha cleared with a finding other than 'cleared'", "set finding to cleared, or cleared_ha to 0")
    statement = (select(Agreement.code, FieldVerification.visited_on, FieldVerification.finding,
                        FieldVerification.officer).join(Agreement))
    keys = ["agreement_id", "visited_on", "finding", "officer"]
    rows.duplicates(keys, "visited_on", _existing(session, statement, keys, keys),
                    " (same agreement, date, finding and officer)")


def _check_grievances(session: Session, rows: _Rows, source: _Source) -> None:
    frame = rows.frame
    household_known = rows.unknown("household_id", _codes(session, Household), "a household", _IMPORT_HOUSEHOLDS)
    table = _agreement_refs(session, rows).set_index("agreement_id")
    owner = frame["agreement_id"].map(table["household_id"])
    rows.flag(household_known & owner.notna() & (owner != frame["household_id"]), "agreement_id",
              "{value!r} is another household's agreement", "check the household and the agreement")
    resolved = frame["status"] == "resolved"
    rows.flag(frame["resolved_on"].notna() & frame["status"].notna() & ~resolved, "resolved_on",
              "is given but the status is not 'resolved'", "set status to resolved, or empty resolved_on")
    rows.flag(frame["resolved_on"] < frame["received_on"], "resolved_on", "{value!r} is before received_on",
              "check the dates")
    statement = (select(Household.code, Agreement.code, Grievance.received_on, Grievance.category,
                        Grievance.description).select_from(Grievance)
                 .outerjoin(Household, Grievance.household_id == Household.id)
                 .outerjoin(Agreement, Grievance.agreement_id == Agreement.id))
    keys = ["household_id", "agreement_id", "received_on", "category", "description"]
    rows.duplicates(keys, "description", _existing(session, statement, keys, keys),
                    " (same household, agreement, date, category and description)",
                    optional=("household_id", "agreement_id"))


# -- inserting --------------------------------------------------------------------------------------------------


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of Python values (dates as datetime.date, missing as None) for the database driver."""
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[name]):
            out[name] = out[name].dt.date
    out = out.astype(object)
    return out.where(out.notna(), None).to_dict("records")


def _insert(session: Session, model, frame: pd.DataFrame) -> int:
    if len(frame):
        session.execute(insert(model), _records(frame))
    return len(frame)


def _insert_communities(session: Session, rows: _Rows, source: _Source) -> int:
    return _insert(session, Community, rows.frame[["name", "kind", "district"]])


def _insert_households(session: Session, rows: _Rows, source: _Source) -> int:
    frame = rows.frame
    known = set(session.scalars(select(Community.name)))
    new = sorted(set(frame["community"].dropna()) - known)
    _insert(session, Community, pd.DataFrame({"name": new, "kind": "community"}))
    ids = {name: id_ for name, id_ in session.execute(select(Community.name, Community.id))}
    table = frame.rename(columns={"household_id": "code"}).assign(community_id=frame["community"].map(ids))
    return _insert(session, Household, table[["code", "community_id", "village", "members_count", "settled_year",
                                               "x_m", "y_m"]])


def _insert_members(session: Session, rows: _Rows, source: _Source) -> int:
    frame = rows.frame
    table = frame.assign(household_id=frame["household_id"].map(_codes(session, Household)),
                         birth_year=frame["birth_year"].astype("Int64"))
    return _insert(session, Member, table[["household_id", "name", "sex", "birth_year", "role"]])


def _insert_parcels(session: Session, rows: _Rows, source: _Source) -> int:
    frame = rows.frame
    geoms = shapely.force_2d(source.geometry)
    table = pd.DataFrame({"code": frame["parcel_id"], "household_id": frame["household_id"].map(
        _codes(session, Household)), "kind": frame["kind"], "area_ha": frame["area_ha"],
        "geometry": list(shapely.to_wkb(geoms)), "crs": _crs_text(source.crs)}, index=frame.index)
    return _insert(session, Parcel, table)


def _insert_agreements(session: Session, rows: _Rows, source: _Source) -> int:
    frame = rows.frame
    table = frame.assign(code=frame["agreement_id"],
                         household_id=frame["household_id"].map(_codes(session, Household)),
                         conservation_parcel_id=frame["conservation_parcel_id"].map(_codes(session, Parcel)))
    n = _insert(session, Agreement, table[["code", "household_id", "signed", "term_years", "renewed_until",
                                           "conservation_parcel_id", "tolerance_ha", "needs_field_verification",
                                           "breach_rule", "implementer", "authority"]])
    ids = _codes(session, Agreement)
    pairs = frame[["agreement_id", "commitments"]].explode("commitments").dropna().drop_duplicates()
    _insert(session, Commitment, pd.DataFrame({"agreement_id": pairs["agreement_id"].map(ids).to_numpy(),
                                               "commitment": pairs["commitments"].to_numpy()}))
    return n


def _with_agreement_ids(session: Session, frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(agreement_id=frame["agreement_id"].map(_codes(session, Agreement)))


def _insert_benefit_schedule(session: Session, rows: _Rows, source: _Source) -> int:
    table = _with_agreement_ids(session, rows.frame).astype({"first_year": "Int64", "last_year": "Int64"})
    return _insert(session, BenefitSchedule, table[["agreement_id", "item", "unit", "quantity_per_year",
                                                    "unit_cost_usd", "first_year", "last_year"]])


def _insert_deliveries(session: Session, rows: _Rows, source: _Source) -> int:
    table = _with_agreement_ids(session, rows.frame)
    table["value_usd"] = table["value_usd"].round(2)
    return _insert(session, Delivery, table[["agreement_id", "item", "delivered_on", "quantity", "value_usd",
                                             "reference"]])


def _insert_field_verifications(session: Session, rows: _Rows, source: _Source) -> int:
    table = _with_agreement_ids(session, rows.frame)
    return _insert(session, FieldVerification, table[["agreement_id", "visited_on", "finding", "cleared_ha",
                                                      "officer", "notes"]])


def _insert_grievances(session: Session, rows: _Rows, source: _Source) -> int:
    frame = rows.frame
    table = frame.assign(household_id=frame["household_id"].map(_codes(session, Household)),
                         agreement_id=frame["agreement_id"].map(_codes(session, Agreement)))
    return _insert(session, Grievance, table[["household_id", "agreement_id", "received_on", "category",
                                              "description", "status", "resolved_on"]])


_STEPS: dict[str, tuple[Callable, Callable]] = {
    "communities": (_check_communities, _insert_communities),
    "households": (_check_households, _insert_households),
    "members": (_check_members, _insert_members),
    "parcels": (_check_parcels, _insert_parcels),
    "agreements": (_check_agreements, _insert_agreements),
    "benefit_schedule": (_check_benefit_schedule, _insert_benefit_schedule),
    "deliveries": (_check_deliveries, _insert_deliveries),
    "field_verifications": (_check_field_verifications, _insert_field_verifications),
    "grievances": (_check_grievances, _insert_grievances),
}


def _in_transaction(session: Session, work: Callable[[], Any]) -> Any:
    """Run ``work`` in a savepoint of the session's transaction, or in a transaction of its own (committed)."""
    if session.in_transaction():
        with session.begin_nested():
            return work()
    with session.begin():
        return work()


def import_table(session: Session, kind: str, path: Path | str, *, crs=None) -> ImportReport:
    """Check every row of ``path`` as a ``kind`` file, then insert them all, or raise and insert nothing.

    ``kind``: one of :data:`KINDS`. ``crs`` (parcels only): reproject the polygons to it (e.g.
    ``"EPSG:32718"``); without it they keep the file's CRS, which must then be the registry's.
    Raises :class:`RegistryImportError` listing the bad rows, or :class:`InputError` for a file that
    cannot be read, lacks a required column, or has no CRS.
    """
    if kind not in COLUMNS:
        raise InputError(f"unknown registry table {kind!r}", f"use one of {', '.join(KINDS)}")
    path = Path(path)
    source = _read(kind, path, crs)
    rows = _parse(kind, source)
    check, write = _STEPS[kind]

    def work() -> int:
        check(session, rows, source)
        if rows.errors:
            raise RegistryImportError(path, rows.errors, len(rows.frame), source.unit)
        return write(session, rows, source)

    try:
        inserted = _in_transaction(session, work)
    except (IntegrityError, DataError) as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise InputError(f"{path}: the registry refused the rows ({detail})",
                         "nothing was imported; check for rows added meanwhile and import again") from None
    return ImportReport(kind, path, len(rows.frame), inserted, source.ignored, tuple(source.notes))


# -- queries ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldVisit:
    """A field verification of an agreement's conservation parcel; ``cleared_ha`` in hectares."""

    agreement_id: str
    visited_on: dt.date
    finding: str
    cleared_ha: float | None
    officer: str
    notes: str | None


def table_counts(session: Session) -> dict[str, int]:
    """Rows per registry table, e.g. ``{"agr_households": 1000, ...}``."""
    models = (Community, Household, Member, Parcel, Agreement, Commitment, BenefitSchedule, Delivery,
              ComplianceAssessment, FieldVerification, Grievance)
    return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) for m in models}


def parcels(session: Session, crs=None) -> gpd.GeoDataFrame:
    """Every parcel: parcel_id, household_id, kind, area_ha, geometry (in ``crs``, default the registry's)."""
    rows = session.execute(select(Parcel.code, Household.code, Parcel.kind, Parcel.area_ha, Parcel.geometry,
                                  Parcel.crs).join(Household).order_by(Parcel.code)).all()
    frame = pd.DataFrame(rows, columns=["parcel_id", "household_id", "kind", "area_ha", "wkb", "crs"])
    target = crs if crs is not None else (frame["crs"].iloc[0] if len(frame) else None)
    parts = [gpd.GeoDataFrame(group.drop(columns=["wkb", "crs"]), geometry=shapely.from_wkb(group["wkb"].to_numpy()),
                              crs=name).to_crs(target) for name, group in frame.groupby("crs", sort=False)]
    if not parts:
        return gpd.GeoDataFrame(frame.drop(columns=["wkb", "crs"]), geometry=gpd.GeoSeries([], crs=target), crs=target)
    return pd.concat(parts).sort_values("parcel_id").reset_index(drop=True)


def agreements_table(session: Session) -> pd.DataFrame:
    """Every agreement: agreement_id, household_id, signed, term_years, renewed_until, in_force_until (the last day
    in force: renewed_until, else signed + term_years - 1 day), conservation_parcel_id, tolerance_ha,
    needs_field_verification, breach_rule, commitments (';'-joined), implementer, authority."""
    statement = (select(Agreement.code, Household.code, Agreement.signed, Agreement.term_years,
                        Agreement.renewed_until, Parcel.code, Agreement.tolerance_ha,
                        Agreement.needs_field_verification, Agreement.breach_rule, Agreement.implementer,
                        Agreement.authority)
                 .join(Household, Agreement.household_id == Household.id)
                 .join(Parcel, Agreement.conservation_parcel_id == Parcel.id).order_by(Agreement.code))
    frame = pd.DataFrame(session.execute(statement).all(), columns=[
        "agreement_id", "household_id", "signed", "term_years", "renewed_until", "conservation_parcel_id",
        "tolerance_ha", "needs_field_verification", "breach_rule", "implementer", "authority"])
    frame["in_force_until"] = [_term_end(s, t, r) for s, t, r in
                               zip(frame["signed"], frame["term_years"], frame["renewed_until"])]
    commitments = pd.DataFrame(session.execute(select(Agreement.code, Commitment.commitment).join(Agreement)
                                               .order_by(Commitment.commitment)).all(),
                               columns=["agreement_id", "commitment"])
    joined = commitments.groupby("agreement_id")["commitment"].agg(";".join)
    frame.insert(9, "commitments", frame["agreement_id"].map(joined).fillna(""))
    return frame


def _term_end(signed: dt.date, term_years: int, renewed_until: dt.date | None) -> dt.date:
    if renewed_until is not None and not pd.isna(renewed_until):
        return renewed_until
    try:
        end = signed.replace(year=signed.year + int(term_years))
    except ValueError:  # signed on 29 February
        end = dt.date(signed.year + int(term_years), 3, 1)
    return end - dt.timedelta(days=1)


def agreements_with_parcels(session: Session, crs=None) -> gpd.GeoDataFrame:
    """One row per agreement (the columns of :func:`agreements_table`) with ``geometry`` its conservation parcel
    and ``conservation_area_ha``, plus ``farm_geometry`` and ``coffee_geometry``: the union of the household's
    farm (coffee) parcels, None where it has none. CRS: ``crs``, default the registry's."""
    table = agreements_table(session)
    plots = parcels(session, crs)
    conservation = plots.set_index("parcel_id")
    out = gpd.GeoDataFrame(table.assign(conservation_area_ha=table["conservation_parcel_id"].map(
        conservation["area_ha"])), geometry=table["conservation_parcel_id"].map(conservation.geometry).values,
        crs=plots.crs)
    for kind in ("farm", "coffee"):
        own = plots[plots["kind"] == kind]
        union = own.dissolve(by="household_id").geometry if len(own) else gpd.GeoSeries([], crs=plots.crs)
        out[f"{kind}_geometry"] = gpd.GeoSeries(union.reindex(out["household_id"].to_numpy()).values, crs=plots.crs,
                                                index=out.index)
    return out


def schedules(session: Session) -> pd.DataFrame:
    """The benefit schedule: agreement_id, item, unit, quantity_per_year, unit_cost_usd, first_year, last_year."""
    rows = session.execute(select(Agreement.code, BenefitSchedule.item, BenefitSchedule.unit,
                                  BenefitSchedule.quantity_per_year, BenefitSchedule.unit_cost_usd,
                                  BenefitSchedule.first_year, BenefitSchedule.last_year).join(Agreement)
                           .order_by(Agreement.code, BenefitSchedule.item, BenefitSchedule.first_year)).all()
    return pd.DataFrame(rows, columns=["agreement_id", "item", "unit", "quantity_per_year", "unit_cost_usd",
                                       "first_year", "last_year"]).astype(
        {"quantity_per_year": "float64", "unit_cost_usd": "float64", "first_year": "int64", "last_year": "int64"})


def deliveries(session: Session) -> pd.DataFrame:
    """Every delivery: agreement_id, item, delivered_on, quantity, value_usd, reference."""
    rows = session.execute(select(Agreement.code, Delivery.item, Delivery.delivered_on, Delivery.quantity,
                                  Delivery.value_usd, Delivery.reference).join(Agreement)
                           .order_by(Agreement.code, Delivery.delivered_on, Delivery.item)).all()
    return pd.DataFrame(rows, columns=["agreement_id", "item", "delivered_on", "quantity", "value_usd", "reference"]
                        ).astype({"quantity": "float64", "value_usd": "float64"})


def deliveries_by_agreement(session: Session) -> pd.DataFrame:
    """Deliveries summed per agreement, calendar year and item: agreement_id, year, item, quantity, value_usd."""
    frame = deliveries(session)
    frame["year"] = pd.to_datetime(frame["delivered_on"]).dt.year.astype("int64")
    return (frame.groupby(["agreement_id", "year", "item"], as_index=False)[["quantity", "value_usd"]].sum()
            .sort_values(["agreement_id", "year", "item"]).reset_index(drop=True))


def field_verifications(session: Session) -> list[FieldVisit]:
    """Every field visit, by agreement and date."""
    rows = session.execute(select(Agreement.code, FieldVerification.visited_on, FieldVerification.finding,
                                  FieldVerification.cleared_ha, FieldVerification.officer, FieldVerification.notes)
                           .join(Agreement).order_by(Agreement.code, FieldVerification.visited_on)).all()
    return [FieldVisit(*row) for row in rows]


def compliance(session: Session) -> pd.DataFrame:
    """Every compliance assessment: agreement_id, period_start, period_end, loss_px, loss_ha, status, basis,
    assessed_at."""
    rows = session.execute(select(Agreement.code, ComplianceAssessment.period_start, ComplianceAssessment.period_end,
                                  ComplianceAssessment.loss_px, ComplianceAssessment.loss_ha,
                                  ComplianceAssessment.status, ComplianceAssessment.basis,
                                  ComplianceAssessment.assessed_at).join(Agreement)
                           .order_by(Agreement.code, ComplianceAssessment.period_start)).all()
    return pd.DataFrame(rows, columns=["agreement_id", "period_start", "period_end", "loss_px", "loss_ha", "status",
                                       "basis", "assessed_at"])


def latest_statuses(session: Session) -> dict[str, str]:
    """Each assessed agreement's status in its latest period (latest period_end)."""
    frame = compliance(session)
    if not len(frame):
        return {}
    latest = frame.sort_values(["period_end", "assessed_at"]).groupby("agreement_id").tail(1)
    return dict(zip(latest["agreement_id"], latest["status"]))


def record_assessments(session: Session, rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> int:
    """Write compliance assessments, replacing an agreement's earlier assessment of the same period.

    Each row: agreement_id (code), period_start, period_end (dates or ISO text), loss_px, loss_ha, status
    (compliant, to_verify, breach), basis, and optionally assessed_at (UTC ISO 8601; default now). Returns
    the number of rows written. An unknown agreement, status or a period ending before it starts is an
    :class:`InputError` and nothing is written.
    """
    frame = pd.DataFrame(rows if isinstance(rows, pd.DataFrame) else list(rows))
    if not len(frame):
        return 0
    table = _assessment_rows(session, frame)
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ComplianceAssessment.__table__)
    updated = {c: statement.excluded[c] for c in ("loss_px", "loss_ha", "status", "basis", "assessed_at")}
    statement = statement.on_conflict_do_update(index_elements=["agreement_id", "period_start", "period_end"],
                                                set_=updated)
    _in_transaction(session, lambda: session.execute(statement, _records(table)))
    return len(table)


def _assessment_rows(session: Session, frame: pd.DataFrame) -> pd.DataFrame:
    ids = _codes(session, Agreement)
    unknown = sorted(set(frame["agreement_id"]) - set(ids))
    if unknown:
        raise InputError(f"compliance assessments name {len(unknown)} agreement(s) not in the registry: "
                         f"{', '.join(map(str, unknown[:10]))}", "import the agreements first")
    bad = sorted(set(frame["status"]) - set(COMPLIANCE_STATUSES))
    if bad:
        raise InputError(f"unknown compliance status(es) {', '.join(map(str, bad))}",
                         f"use {', '.join(COMPLIANCE_STATUSES)}")
    start, end = pd.to_datetime(frame["period_start"]), pd.to_datetime(frame["period_end"])
    if bool((end < start).any()):
        raise InputError("a compliance assessment's period ends before it starts", "check period_start, period_end")
    if bool((frame["loss_px"] < 0).any() or (frame["loss_ha"] < 0).any()):
        raise InputError("a compliance assessment has a negative loss", "loss_px and loss_ha are 0 or more")
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
    assessed = frame["assessed_at"] if "assessed_at" in frame else pd.Series(now, index=frame.index)
    table = pd.DataFrame({"agreement_id": frame["agreement_id"].map(ids), "period_start": start, "period_end": end,
                          "loss_px": frame["loss_px"].astype("int64"), "loss_ha": frame["loss_ha"].astype("float64"),
                          "status": frame["status"], "basis": frame["basis"].astype(str),
                          "assessed_at": assessed.fillna(now).astype(str)})
    return table.drop_duplicates(["agreement_id", "period_start", "period_end"], keep="last")


# -- export -----------------------------------------------------------------------------------------------------

STATUS_COLOURS = {"compliant": "26,150,65", "to_verify": "253,174,97", "breach": "215,25,28",
                  NO_ASSESSMENT: "160,160,160"}


def _statuses(session: Session, statuses: Mapping[str, str] | None, codes: Iterable[str]) -> dict[str, str]:
    if statuses is None:
        return latest_statuses(session)
    unknown = sorted(set(statuses) - set(codes))
    bad = sorted(set(statuses.values()) - set(STATUS_COLOURS))
    if unknown or bad:
        raise InputError(f"statuses name unknown agreement(s) {', '.join(unknown[:10]) or '-'} or status(es) "
                         f"{', '.join(bad) or '-'}", f"statuses are {', '.join(STATUS_COLOURS)}")
    return dict(statuses)


def _benefit_totals(session: Session) -> pd.DataFrame:
    """Per agreement: benefits_promised_usd (the whole schedule) and benefits_delivered_usd."""
    plan = schedules(session)
    promised = (plan["quantity_per_year"] * plan["unit_cost_usd"] * (plan["last_year"] - plan["first_year"] + 1)
                ).groupby(plan["agreement_id"]).sum()
    delivered = deliveries(session).groupby("agreement_id")["value_usd"].sum()
    return pd.DataFrame({"benefits_promised_usd": promised, "benefits_delivered_usd": delivered}).fillna(0.0).round(2)


def _iso(values: pd.Series) -> pd.Series:
    return values.map(lambda v: v.isoformat() if isinstance(v, dt.date) else None)


def _export_layers(session: Session, statuses: Mapping[str, str] | None, crs
                   ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    plots = parcels(session, crs)
    table = agreements_table(session)
    status = _statuses(session, statuses, table["agreement_id"])
    table["status"] = table["agreement_id"].map(status).fillna(NO_ASSESSMENT)
    by_signing = table.sort_values(["signed", "agreement_id"])
    latest = by_signing.drop_duplicates("household_id", keep="last").set_index("household_id")
    by_parcel = by_signing.drop_duplicates("conservation_parcel_id", keep="last").set_index("conservation_parcel_id")
    agreement = plots["parcel_id"].map(by_parcel["agreement_id"]).fillna(plots["household_id"].map(
        latest["agreement_id"]))
    plots["agreement_id"] = agreement
    plots["status"] = agreement.map(dict(zip(table["agreement_id"], table["status"]))).fillna(NO_ASSESSMENT)
    totals = _benefit_totals(session)
    geometry = table["conservation_parcel_id"].map(plots.set_index("parcel_id").geometry)
    area = table["conservation_parcel_id"].map(plots.set_index("parcel_id")["area_ha"])
    layer = table.assign(conservation_area_ha=area, **{c: table["agreement_id"].map(totals[c]).fillna(0.0)
                                                        for c in totals.columns})
    for name in ("signed", "renewed_until", "in_force_until"):
        layer[name] = _iso(layer[name])
    agreements = gpd.GeoDataFrame(layer, geometry=geometry.values, crs=plots.crs)
    return plots[["parcel_id", "household_id", "kind", "area_ha", "agreement_id", "status", "geometry"]], agreements


def export_geopackage(session: Session, path: Path | str, *, statuses: Mapping[str, str] | None = None,
                      crs=None) -> Path:
    """Write the registry for QGIS: layers ``parcels`` and ``agreements``, styled by compliance status.

    ``parcels``: every parcel with its household, kind, area_ha, agreement (the one naming it as its
    conservation parcel, else the household's latest) and status. ``agreements``: each agreement's
    attributes on its conservation parcel's polygon, with status, benefits_promised_usd (the whole
    schedule) and benefits_delivered_usd. ``status``: ``statuses[agreement_id]`` where given, else the
    latest compliance assessment of the registry; ``no_assessment`` where none. A ``layer_styles`` table
    holds a categorised QGIS style (compliant green, to_verify orange, breach red, no_assessment grey)
    that QGIS applies when it opens the layers. Written to a temporary file beside ``path``, then renamed.
    """
    parcel_layer, agreement_layer = _export_layers(session, statuses, crs)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'crs' was not provided")  # an empty registry has no CRS yet
        for name, layer in (("parcels", parcel_layer), ("agreements", agreement_layer)):
            layer.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", geometry_type="MultiPolygon",
                          promote_to_multi=True, dataset_options={"VERSION": "1.2"})
        _write_layer_styles(tmp, ("parcels", "agreements"))
    return Path(path)


def _style_qml(field_name: str = "status") -> str:
    """A QGIS categorised fill style on ``field_name`` (QML), one category per status."""
    categories, symbols = [], []
    for i, (value, rgb) in enumerate(STATUS_COLOURS.items()):
        label = value.replace("_", " ")
        categories.append(f'<category render="true" symbol="{i}" value="{value}" label="{label}"/>')
        props = {"color": f"{rgb},255", "outline_color": "35,35,35,255", "outline_style": "solid",
                 "outline_width": "0.26", "outline_width_unit": "MM", "style": "solid"}
        options = "".join(f'<Option type="QString" name="{k}" value="{v}"/>' for k, v in props.items())
        legacy = "".join(f'<prop k="{k}" v="{v}"/>' for k, v in props.items())
        symbols.append(f'<symbol type="fill" name="{i}" alpha="0.8" clip_to_extent="1" force_rhr="0">'
                       f'<layer class="SimpleFill" pass="0" locked="0" enabled="1">'
                       f'<Option type="Map">{options}</Option>{legacy}</layer></symbol>')
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.28.0" styleCategories="Symbology">'
            f'<renderer-v2 type="categorizedSymbol" attr="{field_name}" symbollevels="0" enableorderby="0" '
            f'forceraster="0"><categories>{"".join(categories)}</categories>'
            f'<symbols>{"".join(symbols)}</symbols></renderer-v2></qgis>\n')


_LAYER_STYLES_SQL = """CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
    f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
    useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
    update_time DATETIME DEFAULT CURRENT_TIMESTAMP)"""


def _write_layer_styles(gpkg: Path, layers: tuple[str, ...]) -> None:
    """Add QGIS's ``layer_styles`` table (registered as an attributes table of the GeoPackage) styling ``layers``."""
    qml = _style_qml()
    with sqlite3.connect(gpkg) as db:
        db.execute(_LAYER_STYLES_SQL)
        geometry_columns = dict(db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
        db.executemany("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                       "styleName, styleQML, styleSLD, useAsDefault, description, owner) "
                       "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '')",
                       [(name, geometry_columns[name], f"{name} by compliance status", qml,
                         "icam: compliant green, to verify orange, breach red, no assessment grey")
                        for name in layers])
        db.execute("INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description, "
                   "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles', "
                   "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))")
    db.close()


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")


def households_table(session: Session) -> pd.DataFrame:
    """Every household: household_id, community, village, members_count, settled_year, x_m, y_m."""
    rows = session.execute(select(Household.code, Community.name, Household.village, Household.members_count,
                                  Household.settled_year, Household.x_m, Household.y_m)
                           .outerjoin(Community, Household.community_id == Community.id).order_by(Household.code))
    return pd.DataFrame(rows.all(), columns=["household_id", "community", "village", "members_count", "settled_year",
                                             "x_m", "y_m"]).astype({"members_count": "Int64", "settled_year": "Int64"})


def export_csv(session: Session, folder: Path | str) -> list[Path]:
    """Write households.csv, agreements.csv, deliveries.csv and compliance.csv in ``folder``, each atomically.

    households.csv and agreements.csv have the import columns, so they import again as they are.
    """
    folder = Path(folder)
    agreements = agreements_table(session).drop(columns="in_force_until")
    agreements["needs_field_verification"] = agreements["needs_field_verification"].map({True: "yes", False: "no"})
    tables = {"households.csv": households_table(session), "agreements.csv": agreements,
              "deliveries.csv": deliveries(session), "compliance.csv": compliance(session)}
    for name, frame in tables.items():
        _write_csv(folder / name, frame)
    return [folder / name for name in tables]


__all__ = ["COLUMNS", "KINDS", "FieldVisit", "ImportReport", "RegistryImportError", "RowError",
           "agreements_table", "agreements_with_parcels", "compliance", "deliveries", "deliveries_by_agreement",
           "export_csv", "export_geopackage", "field_verifications", "households_table", "import_table",
           "latest_statuses", "parcels", "record_assessments", "schedules", "table_counts"]
