"""Import of the agreements registry's field files, all or nothing (:func:`import_table`).

Every row of the file is checked first (types, required fields, choices, references to households /
parcels / agreements already in the registry, duplicates in the file and against the registry, impossible
values, polygons, places far from the project), every problem is collected with its row as a spreadsheet
shows it (header = row 1; for a vector file, feature 1 is its first feature) and how to fix it; if there is
any, :class:`~icam.store.forms.FormImportError` is raised and nothing is written. Otherwise every row is
inserted in the session's transaction (a savepoint of it, or a transaction of its own).

Files are read by :mod:`icam.store.forms` (encodings, separators, decimal commas, ODK / KoboToolbox exports);
a deliveries file without a ``reference`` column takes the submission's ``_uuid`` (else its instanceID, else
ODK Central's ``KEY``). Parcels are read by :mod:`icam.agreements.parcel_import`. The columns of each kind are
:data:`COLUMNS`; other columns are ignored and named in the :class:`ImportReport`. A household's
``community`` that the registry does not know yet is created (kind ``community``); the report names them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from icam.agreements import parcel_import
from icam.agreements.models import (
    BREACH_RULES,
    COMMITMENTS,
    COMMUNITY_KINDS,
    FINDINGS,
    GRIEVANCE_STATUSES,
    PARCEL_KINDS,
    SEXES,
    Agreement,
    BenefitSchedule,
    Commitment,
    Community,
    Delivery,
    FieldVerification,
    Grievance,
    Household,
    Member,
    Parcel,
)
from icam.agreements.parcel_import import Source
from icam.agreements.registry_queries import schedules
from icam.core.errors import InputError
from icam.store.extent import Extent
from icam.store.forms import Col, FormImportError, Rows, match_columns, read_csv
from icam.store.writes import codes, existing_keys, guarded, in_transaction, insert_rows

FIRST_AGREEMENT_DATE = dt.date(1987, 1, 1)  # the Alto Mayo Protected Forest was established in 1987
MAX_OUTSIDE_M = 10_000.0  # a parcel or a house farther than this from the project's boundaries is refused
CODE = 64  # characters of a household, parcel or agreement code
MAX_NAMED = 1_000  # agreements a duplicate check names in its query (more: it reads the whole table)
_SEX_SYNONYMS = {"f": "female", "m": "male", "x": "other", "mujer": "female", "hombre": "male", "woman": "female",
                 "man": "male"}
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
    "members": (_HOUSEHOLD, Col("name", required=True),
                Col("sex", "choice", choices=SEXES, synonyms=_SEX_SYNONYMS),
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


@dataclass(frozen=True)
class ImportReport:
    """What an import did: ``rows`` read, ``inserted`` rows written (commitments and communities not counted),
    columns ignored, and notes (communities created, areas computed, a reprojection, overlaps accepted)."""

    kind: str
    path: Path
    rows: int
    inserted: int
    ignored_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


# -- checks per kind --------------------------------------------------------------------------------------------

_IMPORT_HOUSEHOLDS = "import the household first (kind households) or correct the code"
_IMPORT_AGREEMENTS = "import the agreement first (kind agreements) or correct the code"


def _check_communities(session: Session, rows: Rows, source: Source) -> None:
    rows.duplicates(["name"], "name", set(session.scalars(select(Community.name))))


def _check_households(session: Session, rows: Rows, source: Source) -> None:
    rows.duplicates(["household_id"], "household_id", set(codes(session, Household)))
    known = set(session.scalars(select(Community.name)))
    new = sorted(set(rows.frame["community"].dropna()) - known)
    if new:
        source.notes.append(f"{len(new)} new communit{'y' if len(new) == 1 else 'ies'}: {', '.join(new[:20])}")
    if source.extent is None:
        return
    x, y = rows.frame["x_m"].to_numpy(float), rows.frame["y_m"].to_numpy(float)
    given = np.isfinite(x) & np.isfinite(y)
    distance = np.zeros(len(x))
    distance[given] = source.extent.distance_m(parcel_import.points(x[given], y[given]), source.extent.crs)
    degrees = given & (np.abs(x) <= 180) & (np.abs(y) <= 90)
    far = given & (distance > source.max_outside_m) & ~degrees
    rows.flag(degrees, "x_m", "({value}, y_m) looks like longitude and latitude in degrees",
              f"give x_m and y_m in the project's CRS ({source.extent.crs}), metres")
    rows.flag(far, "x_m", pd.Series(distance, index=rows.frame.index).map(
        lambda d: f"the house lies {d / 1000:,.0f} km outside the project's boundaries"),
        f"check x_m and y_m (metres in {source.extent.crs})")


def _check_members(session: Session, rows: Rows, source: Source) -> None:
    rows.unknown("household_id", codes(session, Household), "a household", _IMPORT_HOUSEHOLDS)
    statement = select(Household.code, Member.name, Member.birth_year).join(Household)
    keys = ["household_id", "name", "birth_year"]
    rows.duplicates(keys, "name", existing_keys(session, statement, keys, keys),
                    " (same household, name and birth year)")


def _check_agreements(session: Session, rows: Rows, source: Source) -> None:
    frame = rows.frame
    rows.duplicates(["agreement_id"], "agreement_id", set(codes(session, Agreement)))
    household_known = rows.unknown("household_id", codes(session, Household), "a household", _IMPORT_HOUSEHOLDS)
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


def _named(frame: pd.DataFrame) -> list[str] | None:
    """The agreements a file names, where few enough to name in a query (None: read them all); a form's one row
    then costs a lookup of one agreement, not a read of the registry."""
    named = frame["agreement_id"].dropna().unique().tolist()
    return named if len(named) <= MAX_NAMED else None


def _of_named(statement, named: list[str] | None):
    return statement if named is None else statement.where(Agreement.code.in_(named))


def _agreement_refs(session: Session, rows: Rows) -> pd.DataFrame:
    statement = (select(Agreement.code, Household.code, Agreement.signed)
                 .join(Household, Agreement.household_id == Household.id))
    table = pd.DataFrame(session.execute(_of_named(statement, _named(rows.frame))).all(),
                         columns=["agreement_id", "household_id", "signed"])
    rows.unknown("agreement_id", table["agreement_id"], "an agreement", _IMPORT_AGREEMENTS)
    return table.set_index("agreement_id")


def _check_benefit_schedule(session: Session, rows: Rows, source: Source) -> None:
    frame = rows.frame
    table = _agreement_refs(session, rows)
    rows.flag(frame["last_year"] < frame["first_year"], "last_year", "{value!r} is before first_year",
              "write a last year on or after the first")
    signed_year = frame["agreement_id"].map(pd.to_datetime(table["signed"]).dt.year)
    rows.flag(frame["first_year"] < signed_year, "first_year", "{value!r} is before the agreement was signed",
              "check the year")
    statement = select(Agreement.code, BenefitSchedule.item, BenefitSchedule.first_year).join(Agreement)
    keys = ["agreement_id", "item", "first_year"]
    rows.duplicates(keys, "item", existing_keys(session, statement, keys, keys),
                    " (same agreement, item and first year)")


def _check_deliveries(session: Session, rows: Rows, source: Source) -> None:
    frame = rows.frame
    _agreement_refs(session, rows)
    cost = _unit_costs(session, frame)
    no_value = frame["value_usd"].isna() & (rows.raw["value_usd"] == "" if "value_usd" in rows.raw else True)
    frame["value_usd"] = frame["value_usd"].where(~no_value, frame["quantity"] * cost)
    rows.flag(no_value & cost.isna() & frame["agreement_id"].notna(), "value_usd",
              "is empty and the item is not in the agreement's benefit schedule",
              "fill in value_usd, or import the benefit schedule first")
    statement = _of_named(select(Agreement.code, Delivery.item, Delivery.delivered_on, Delivery.reference)
                          .join(Agreement), _named(frame))
    references = frame["reference"]
    if references.notna().all() and references.nunique() <= MAX_NAMED:  # a duplicate shares its reference
        statement = statement.where(Delivery.reference.in_(references.unique().tolist()))
    keys = ["agreement_id", "item", "delivered_on", "reference"]
    rows.duplicates(keys, "item", existing_keys(session, statement, keys, keys),
                    " (same agreement, item, date and reference)")


def _unit_costs(session: Session, frame: pd.DataFrame) -> pd.Series:
    """The schedule's unit cost of each delivery's item in its year (NaN where the schedule has none)."""
    schedule = schedules(session, _named(frame))
    year = frame["delivered_on"].dt.year
    merged = frame[["agreement_id", "item"]].assign(year=year, row=frame.index).merge(
        schedule, on=["agreement_id", "item"], how="inner")
    inside = merged[(merged["year"] >= merged["first_year"]) & (merged["year"] <= merged["last_year"])]
    return inside.drop_duplicates("row").set_index("row")["unit_cost_usd"].reindex(frame.index).astype("float64")


def _check_field_verifications(session: Session, rows: Rows, source: Source) -> None:
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
    rows.duplicates(keys, "visited_on", existing_keys(session, statement, keys, keys),
                    " (same agreement, date, finding and officer)")


def _check_grievances(session: Session, rows: Rows, source: Source) -> None:
    frame = rows.frame
    household_known = rows.unknown("household_id", codes(session, Household), "a household", _IMPORT_HOUSEHOLDS)
    owner = frame["agreement_id"].map(_agreement_refs(session, rows)["household_id"])
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
    rows.duplicates(keys, "description", existing_keys(session, statement, keys, keys),
                    " (same household, agreement, date, category and description)",
                    optional=("household_id", "agreement_id"))


# -- inserting --------------------------------------------------------------------------------------------------


def _insert_communities(session: Session, rows: Rows, source: Source) -> int:
    return insert_rows(session, Community, rows.frame[["name", "kind", "district"]])


def _insert_households(session: Session, rows: Rows, source: Source) -> int:
    frame = rows.frame
    known = set(session.scalars(select(Community.name)))
    new = sorted(set(frame["community"].dropna()) - known)
    insert_rows(session, Community, pd.DataFrame({"name": new, "kind": "community"}))
    ids = {name: id_ for name, id_ in session.execute(select(Community.name, Community.id))}
    table = frame.rename(columns={"household_id": "code"}).assign(community_id=frame["community"].map(ids))
    return insert_rows(session, Household, table[["code", "community_id", "village", "members_count", "settled_year",
                                                   "x_m", "y_m"]])


def _insert_members(session: Session, rows: Rows, source: Source) -> int:
    frame = rows.frame
    table = frame.assign(household_id=frame["household_id"].map(codes(session, Household)),
                         birth_year=frame["birth_year"].astype("Int64"))
    return insert_rows(session, Member, table[["household_id", "name", "sex", "birth_year", "role"]])


def _insert_agreements(session: Session, rows: Rows, source: Source) -> int:
    frame = rows.frame
    table = frame.assign(code=frame["agreement_id"],
                         household_id=frame["household_id"].map(codes(session, Household)),
                         conservation_parcel_id=frame["conservation_parcel_id"].map(codes(session, Parcel)))
    n = insert_rows(session, Agreement, table[["code", "household_id", "signed", "term_years", "renewed_until",
                                               "conservation_parcel_id", "tolerance_ha", "needs_field_verification",
                                               "breach_rule", "implementer", "authority"]])
    ids = codes(session, Agreement)
    pairs = frame[["agreement_id", "commitments"]].explode("commitments").dropna().drop_duplicates()
    insert_rows(session, Commitment, pd.DataFrame({"agreement_id": pairs["agreement_id"].map(ids).to_numpy(),
                                                   "commitment": pairs["commitments"].to_numpy()}))
    return n


def _with_agreement_ids(session: Session, frame: pd.DataFrame) -> pd.DataFrame:
    ids = dict(session.execute(_of_named(select(Agreement.code, Agreement.id), _named(frame))).all())
    return frame.assign(agreement_id=frame["agreement_id"].map(ids))


def _insert_benefit_schedule(session: Session, rows: Rows, source: Source) -> int:
    table = _with_agreement_ids(session, rows.frame).astype({"first_year": "Int64", "last_year": "Int64"})
    return insert_rows(session, BenefitSchedule, table[["agreement_id", "item", "unit", "quantity_per_year",
                                                        "unit_cost_usd", "first_year", "last_year"]])


def _insert_deliveries(session: Session, rows: Rows, source: Source) -> int:
    table = _with_agreement_ids(session, rows.frame)
    table["value_usd"] = table["value_usd"].round(2)
    return insert_rows(session, Delivery, table[["agreement_id", "item", "delivered_on", "quantity", "value_usd",
                                                 "reference"]])


def _insert_field_verifications(session: Session, rows: Rows, source: Source) -> int:
    table = _with_agreement_ids(session, rows.frame)
    return insert_rows(session, FieldVerification, table[["agreement_id", "visited_on", "finding", "cleared_ha",
                                                          "officer", "notes"]])


def _insert_grievances(session: Session, rows: Rows, source: Source) -> int:
    frame = rows.frame
    table = frame.assign(household_id=frame["household_id"].map(codes(session, Household)),
                         agreement_id=frame["agreement_id"].map(codes(session, Agreement)))
    return insert_rows(session, Grievance, table[["household_id", "agreement_id", "received_on", "category",
                                                  "description", "status", "resolved_on"]])


_STEPS: dict[str, tuple[Callable, Callable]] = {
    "communities": (_check_communities, _insert_communities),
    "households": (_check_households, _insert_households),
    "members": (_check_members, _insert_members),
    "parcels": (parcel_import.check, parcel_import.insert),
    "agreements": (_check_agreements, _insert_agreements),
    "benefit_schedule": (_check_benefit_schedule, _insert_benefit_schedule),
    "deliveries": (_check_deliveries, _insert_deliveries),
    "field_verifications": (_check_field_verifications, _insert_field_verifications),
    "grievances": (_check_grievances, _insert_grievances),
}


def _read(session: Session, kind: str, path: Path, crs, extent: Extent | None) -> Source:
    vector = kind == "parcels"
    if path.is_file() and vector != (path.suffix.lower() in parcel_import.VECTOR_SUFFIXES):
        need = "a GeoPackage, GeoJSON or Shapefile" if vector else "a CSV file (or an ODK/KoboToolbox CSV export)"
        raise InputError(f"{path.name}: {kind} come as {need}", f"give {need}")
    if vector:
        source = parcel_import.read(session, path, crs)
    else:
        source = Source(path, read_csv(path))
    return _matched(kind, path, source, extent)


def _matched(kind: str, path: Path, source: Source, extent: Extent | None) -> Source:
    """``source`` with its columns renamed to :data:`COLUMNS`' names (others dropped and named as ignored)."""
    columns = [str(c) for c in source.raw.columns]
    renames, source.ignored = match_columns(path, COLUMNS[kind], columns,
                                            reference="reference" if kind == "deliveries" else None)
    source.raw = source.raw.rename(columns=renames)[list(renames.values())]
    source.extent = extent
    return source


def import_table(session: Session, kind: str, path: Path | str, *, crs=None, extent: Extent | None = None,
                 allow_overlap: bool = False, max_outside_m: float = MAX_OUTSIDE_M) -> ImportReport:
    """Check every row of ``path`` as a ``kind`` file, then insert them all, or raise and insert nothing.

    ``kind``: one of :data:`KINDS`. ``crs`` (parcels): the project's CRS in metres, e.g. ``"EPSG:32718"``;
    parcels in another CRS (EPSG:4326 GeoJSON, a neighbouring UTM zone) are reprojected to the registry's
    CRS, else to ``crs``, else kept in the file's own (which must then be in metres). ``extent``: where the
    project lies; parcels and houses more than ``max_outside_m`` (m) outside it are refused.
    ``allow_overlap``: accept conservation parcels that overlap each other (reported in the notes), refused
    otherwise. Raises :class:`~icam.store.forms.FormImportError` listing the bad rows, or
    :class:`InputError` for a file that cannot be read, lacks a required column, or has no CRS.
    """
    _known(kind)
    path = Path(path)
    source = _read(session, kind, path, crs, extent)
    source.max_outside_m, source.allow_overlap = max_outside_m, allow_overlap
    return _import(session, kind, path, source)


def import_records(session: Session, kind: str, records: list[dict], *, name: str = "form",
                   extent: Extent | None = None) -> ImportReport:
    """:func:`import_table` for rows that come as mappings of column to value (a web form, a JSON body) rather
    than as a file: the same columns, checks and all-or-nothing writing. Values are read as a CSV's cells
    (text; decimal commas and day-first dates accepted); ``name`` stands for the file in messages. Parcels,
    which need geometries, come as files only."""
    _known(kind)
    if kind == "parcels":
        raise InputError("parcels come as a GeoPackage, GeoJSON or Shapefile", "upload the parcels' file")
    if not records:
        raise InputError(f"{name}: no {kind} row given", "give at least one row")
    cells = pd.DataFrame([{str(k): "" if v is None else str(v).strip() for k, v in r.items()} for r in records])
    cells.index = pd.RangeIndex(1, len(cells) + 1, name="row")
    path = Path(name)
    source = Source(path, cells.fillna(""))
    source = _matched(kind, path, source, extent)
    return _import(session, kind, path, source)


def _known(kind: str) -> None:
    if kind not in COLUMNS:
        raise InputError(f"unknown registry table {kind!r}", f"use one of {', '.join(KINDS)}")


def _import(session: Session, kind: str, path: Path, source: Source) -> ImportReport:
    rows = Rows(source.raw, source.unit)
    rows.parse(COLUMNS[kind])
    check, write = _STEPS[kind]

    def work() -> int:
        check(session, rows, source)
        if rows.errors:
            raise FormImportError(path, rows.errors, len(rows.frame), source.unit)
        return write(session, rows, source)

    inserted = guarded(path, lambda: in_transaction(session, work))
    return ImportReport(kind, path, len(rows.frame), inserted, source.ignored, tuple(source.notes))


__all__ = ["COLUMNS", "FIRST_AGREEMENT_DATE", "KINDS", "MAX_OUTSIDE_M", "ImportReport", "import_records",
           "import_table"]
