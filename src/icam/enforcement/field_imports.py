"""The head office's field files into the enforcement registry, all or nothing: patrols (CSV), patrol
observations (ODK / KoboToolbox exports) and follow-up actions on incidents.

Files are read by :mod:`icam.store.forms` (encodings, separators, decimal commas, ODK group prefixes and form
metadata); every row is checked first, every problem is listed with its spreadsheet row, and if there is any a
:class:`~icam.store.forms.FormImportError` is raised and nothing is written. Positions are WGS 84 lon / lat
(degrees), times UTC. With the project's extent, an observation farther than
:data:`~icam.enforcement.tracks.MAX_OUTSIDE_M` from it is refused (saying so when latitude and longitude
look swapped); times and dates after today are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from icam.enforcement.models import (
    ACTIONS,
    CATEGORIES,
    SEVERITIES,
    TRANSPORTS,
    Action,
    Alert,
    Incident,
    Observation,
    Patrol,
    PatrolPlan,
)
from icam.enforcement.tracks import MAX_OUTSIDE_M
from icam.store.extent import Extent, far_and_swapped
from icam.store.forms import Col, FormImportError, Rows, match_columns, read_csv
from icam.store.writes import codes, existing_keys, guarded, in_transaction, insert_rows

PATROL_COLUMNS: tuple[Col, ...] = (
    Col("patrol_id", required=True, aliases=("code", "patrol"), length=64),
    Col("start_at", "datetime", required=True, past=True), Col("end_at", "datetime", past=True),
    Col("transport", "choice", default="foot", choices=TRANSPORTS),
    Col("team"), Col("zone", length=64), Col("plan_id", aliases=("plan",), length=64))
OBSERVATION_COLUMNS: tuple[Col, ...] = (
    Col("patrol_id", required=True, aliases=("patrol", "patrol_code"), length=64),
    Col("observed_at", "datetime", required=True, past=True,
        aliases=("time", "datetime", "observation_time", "date")),
    Col("location", aliases=("geopoint", "gps", "position", "point")),
    Col("lat", "float", minimum=-90, maximum=90, aliases=("latitude",)),
    Col("lon", "float", minimum=-180, maximum=180, aliases=("longitude", "lng")),
    Col("category", "choice", required=True, choices=CATEGORIES),
    Col("area_ha", "float", minimum=0),
    Col("photos", aliases=("photo", "photo_1", "picture", "image"), length=None),
    Col("severity", "choice", default="medium", choices=SEVERITIES),
    Col("zone", length=64),
    Col("alert_id", aliases=("alert", "alert_code"), length=64),
    Col("uuid", length=64),
)
ACTION_COLUMNS: tuple[Col, ...] = (
    Col("observation_uuid", required=True, aliases=("uuid", "observation", "_uuid"), length=64),
    Col("action", "choice", required=True, choices=ACTIONS),
    Col("taken_on", "date", required=True, past=True, aliases=("date",)),
    Col("taken_by", aliases=("by", "officer")))


def _rows(path: Path, cols: tuple[Col, ...], reference: str | None = None) -> Rows:
    """The file's rows, columns matched to ``cols`` and parsed."""
    raw = read_csv(path)
    renames, _ = match_columns(path, cols, [str(c) for c in raw.columns], reference=reference)
    rows = Rows(raw.rename(columns=renames)[list(renames.values())])
    rows.parse(cols)
    return rows


def _py_times(frame: pd.DataFrame, names) -> pd.DataFrame:
    frame = frame.copy().astype(object)
    for name in names:
        frame[name] = [None if pd.isna(v) else pd.Timestamp(v).to_pydatetime() for v in frame[name]]
    return frame


def import_patrols(session: Session, path: Path | str) -> int:
    """Create the patrols of a CSV (patrol_id, start_at, end_at, transport, team, zone, plan_id); all or nothing
    (bad rows: :class:`~icam.store.forms.FormImportError`). Returns the number inserted."""
    path = Path(path)
    rows = _rows(path, PATROL_COLUMNS)
    rows.flag(rows.frame["end_at"] < rows.frame["start_at"], "end_at", "{value!r} is before start_at",
              "check the times")

    def work() -> int:
        rows.duplicates(["patrol_id"], "patrol_id", set(codes(session, Patrol)))
        plans = codes(session, PatrolPlan)
        rows.unknown("plan_id", plans, "a patrol plan", "import the plan first or leave plan_id empty")
        if rows.errors:
            raise FormImportError(path, rows.errors, len(rows.frame))
        f = rows.frame
        table = pd.DataFrame({"code": f["patrol_id"], "plan_id": f["plan_id"].map(plans), "team": f["team"],
                              "zone": f["zone"], "start_at": f["start_at"], "end_at": f["end_at"],
                              "transport": f["transport"]})
        return insert_rows(session, Patrol, _py_times(table, ("start_at", "end_at")))

    return guarded(path, lambda: in_transaction(session, work))


def _geopoints(rows: Rows) -> None:
    """Fill lat / lon from an ODK geopoint ("lat lon altitude accuracy") where the file has one."""
    f = rows.frame
    if f["location"].notna().any():
        parts = f["location"].fillna("").str.split(r"\s+", regex=True, expand=True).reindex(columns=range(2))
        lat = pd.to_numeric(parts[0], errors="coerce")
        lon = pd.to_numeric(parts[1], errors="coerce")
        given = f["location"].notna()
        rows.flag(given & (lat.isna() | lon.isna() | ~lat.between(-90, 90) | ~lon.between(-180, 180)), "location",
                  "{value!r} is not a geopoint", "a geopoint is 'latitude longitude altitude accuracy'")
        f["lat"] = f["lat"].where(f["lat"].notna(), lat)
        f["lon"] = f["lon"].where(f["lon"].notna(), lon)
    missing = f["lat"].isna() | f["lon"].isna()
    bad = {e.row for e in rows.errors if e.column in ("location", "lat", "lon")}
    rows.flag(missing & ~f.index.isin(list(bad)), "location", "has no position",
              "record the GPS point (geopoint) of the observation, or fill lat and lon")


def _check_place(rows: Rows, extent: Extent | None, max_outside_m: float) -> None:
    """Flag observations farther than ``max_outside_m`` from the project, saying when lat and lon look swapped."""
    f = rows.frame
    given = f["lat"].notna() & f["lon"].notna()
    if extent is None or not given.any():
        return
    far, swapped = (pd.Series(False, index=f.index) for _ in range(2))
    far[given], swapped[given] = far_and_swapped(extent, f.loc[given, "lon"], f.loc[given, "lat"], max_outside_m)
    column = "location" if "location" in rows.raw else "lat"
    where = "(lat " + f["lat"].map("{:.5f}".format) + ", lon " + f["lon"].where(given, 0).map("{:.5f}".format) + ")"
    rows.flag(swapped, column, where + " looks like latitude and longitude swapped (outside the project, inside "
              "once swapped)", "swap the latitude and the longitude (a geopoint is 'latitude longitude ...')")
    rows.flag(far & ~swapped, column, where + f" lies more than {max_outside_m / 1000:g} km outside the project",
              "check the position (is it this project's observation?)")


@dataclass(frozen=True)
class ObservationReport:
    """An observation import: rows read, observations and incidents written, alerts linked by the form."""

    path: Path
    rows: int
    inserted: int
    incidents: int


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def _store_observations(session: Session, f: pd.DataFrame, patrols: dict, alerts: dict) -> tuple[int, int]:
    """Insert the checked observations and an incident for each of a category other than ``none``."""
    table = pd.DataFrame({"patrol_id": f["patrol_id"].map(patrols), "uuid": f["uuid"],
                          "observed_at": f["observed_at"], "lon": f["lon"], "lat": f["lat"],
                          "category": f["category"], "area_ha": f["area_ha"], "photos": f["photos"],
                          "alert_id": f["alert_id"].map(alerts)}, index=f.index)
    n = n_incidents = 0
    for (_, record), severity, zone in zip(_py_times(table, ("observed_at",)).iterrows(), f["severity"], f["zone"]):
        obs = Observation(**{k: (None if _missing(v) else v) for k, v in record.items()})
        session.add(obs)
        n += 1
        if obs.category != "none":
            session.add(Incident(observation=obs, category=obs.category, severity=severity,
                                 zone=None if _missing(zone) else zone))
            n_incidents += 1
    session.flush()
    return n, n_incidents


def import_observations(session: Session, path: Path | str, *, extent: Extent | None = None,
                        max_outside_m: float = MAX_OUTSIDE_M) -> ObservationReport:
    """Import a patrol observations CSV (ODK / KoboToolbox export, or hand-made), all or nothing.

    Columns (group prefixes such as ``obs/`` dropped): patrol_id, observed_at (ISO dateTime, not after today),
    a geopoint ``location`` ("lat lon alt acc") or ``lat`` and ``lon``, category (clearing, logging, hunting,
    new_settlement, fire, none), area_ha, photos, severity (low / medium / high, default medium), zone,
    alert_id (an alert the patrol was sent to check; optional). The submission's ``_uuid`` (else the
    instanceID / KEY) is kept, so the same export imported twice is refused row by row. Each observation
    of another category than ``none`` makes an incident (its category, severity and zone). Patrols must be
    in the registry (:func:`import_patrols`). ``extent``: where the project lies; observations farther than
    ``max_outside_m`` (m) from it are refused.
    """
    path = Path(path)
    rows = _rows(path, OBSERVATION_COLUMNS, reference="uuid")
    _geopoints(rows)
    _check_place(rows, extent, max_outside_m)

    def work() -> ObservationReport:
        patrols = codes(session, Patrol)
        rows.unknown("patrol_id", patrols, "a patrol", "import the patrol (patrols.csv) first")
        alerts = dict(session.execute(select(Alert.alert_id, Alert.id)).all())
        rows.unknown("alert_id", alerts, "an alert", "correct the alert id or leave it empty")
        if rows.frame["uuid"].notna().any():
            existing = set(session.scalars(select(Observation.uuid).where(Observation.uuid.is_not(None))))
            rows.duplicates(["uuid"], "uuid", existing, " (same submission)")
        if rows.errors:
            raise FormImportError(path, rows.errors, len(rows.frame))
        n, n_incidents = _store_observations(session, rows.frame, patrols, alerts)
        return ObservationReport(path, len(rows.frame), n, n_incidents)

    return guarded(path, lambda: in_transaction(session, work))


def import_actions(session: Session, path: Path | str) -> int:
    """Import follow-up actions on incidents (CSV: observation_uuid, action, taken_on, taken_by), all or nothing.

    ``observation_uuid`` is the form submission that found the incident (Kobo's ``_uuid``); ``action`` one of
    report_to_authorities, agreement_warning, sanction, none; ``taken_on`` a date not before the observation
    and not after today. Returns the number of actions inserted.
    """
    path = Path(path)
    rows = _rows(path, ACTION_COLUMNS)

    def work() -> int:
        found = pd.DataFrame(session.execute(
            select(Observation.uuid, Incident.id, Observation.observed_at)
            .join(Incident, Incident.observation_id == Observation.id)
            .where(Observation.uuid.is_not(None))).all(), columns=["uuid", "incident", "observed_at"])
        incidents = dict(zip(found["uuid"], found["incident"]))
        rows.unknown("observation_uuid", incidents, "an observation with an incident",
                     "import the observations first; an observation of category none has no incident")
        f = rows.frame
        seen = f["observation_uuid"].map(dict(zip(found["uuid"], pd.to_datetime(found["observed_at"]).dt.normalize())))
        rows.flag(seen.notna() & (f["taken_on"] < seen), "taken_on", "{value!r} is before the observation",
                  "an action comes after the incident was found")
        statement = (select(Observation.uuid, Action.action, Action.taken_on)
                     .join(Incident, Action.incident_id == Incident.id)
                     .join(Observation, Incident.observation_id == Observation.id))
        keys = ["observation_uuid", "action", "taken_on"]
        rows.duplicates(keys, "action", existing_keys(session, statement, keys, keys),
                        " (same observation, action and date)")
        if rows.errors:
            raise FormImportError(path, rows.errors, len(f))
        table = pd.DataFrame({"incident_id": f["observation_uuid"].map(incidents), "action": f["action"],
                              "taken_on": f["taken_on"], "taken_by": f["taken_by"]})
        return insert_rows(session, Action, table)

    return guarded(path, lambda: in_transaction(session, work))


__all__ = ["ACTION_COLUMNS", "OBSERVATION_COLUMNS", "PATROL_COLUMNS", "ObservationReport", "import_actions",
           "import_observations", "import_patrols"]
