"""Patrols, in the spirit of SMART: GPS tracks (GPX), field observations (ODK / KoboToolbox CSV exports), the
match of observations to deforestation alerts, and the enforcement indicators of the monitoring report.

Positions are WGS 84 lon / lat (degrees); times UTC (a time with an offset is converted, one without is read
as UTC). Distances are geodesic on the WGS 84 ellipsoid (:class:`pyproj.Geod`, Karney 2013).

:func:`import_observations` follows the agreements registry's import rules (:mod:`icam.agreements.registry`):
every row is checked first, every problem is listed with its spreadsheet row, and if there is any a
:class:`~icam.agreements.registry.RegistryImportError` is raised and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
from pyproj import Geod
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from icam.agreements import registry as reg
from icam.core.errors import InputError
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
    TrackPoint,
    plan_alerts,
)

GEOD = Geod(ellps="WGS84")
TRUE_CATEGORIES = ("clearing", "logging", "new_settlement", "fire")  # an alert found true on the ground
VERDICT_CATEGORIES = (*TRUE_CATEGORIES, "none")  # "none": the alert's place visited, nothing found
_GPX_NAMESPACES = ("http://www.topografix.com/GPX/1/1", "http://www.topografix.com/GPX/1/0")

OBSERVATION_COLUMNS: tuple[reg.Col, ...] = (
    reg.Col("patrol_id", required=True, aliases=("patrol", "patrol_code"), length=64),
    reg.Col("observed_at", required=True, aliases=("time", "datetime", "observation_time", "date")),
    reg.Col("location", aliases=("geopoint", "gps", "position", "point")),
    reg.Col("lat", "float", minimum=-90, maximum=90, aliases=("latitude",)),
    reg.Col("lon", "float", minimum=-180, maximum=180, aliases=("longitude", "lng")),
    reg.Col("category", "choice", required=True, choices=CATEGORIES),
    reg.Col("area_ha", "float", minimum=0),
    reg.Col("photos", aliases=("photo", "photo_1", "picture", "image"), length=None),
    reg.Col("severity", "choice", default="medium", choices=SEVERITIES),
    reg.Col("zone", length=64),
    reg.Col("alert_id", aliases=("alert", "alert_code"), length=64),
    reg.Col("uuid", length=64),
)


# -- tracks -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackReport:
    """A GPX import: the patrol, how many points and segments, the track's geodesic length (km), its first and
    last time (UTC) and patrol-days (calendar days with points)."""

    patrol_code: str
    path: Path
    n_points: int
    n_segments: int
    distance_km: float
    start_at: dt.datetime
    end_at: dt.datetime
    days: float


def _utc(text: str) -> dt.datetime:
    """An ISO 8601 time as naive UTC (no offset: read as UTC)."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def read_gpx(path: Path | str) -> pd.DataFrame:
    """The track points of a GPX 1.1 (or 1.0) file: columns segment, t (naive UTC), lon, lat, in file order.

    Every ``trk/trkseg/trkpt`` needs ``lat``, ``lon`` and a ``time``. Raises :class:`InputError` naming the
    file (and the line, for XML errors; the point, for a bad point) for a missing, unparsable or empty file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist", "check the path")
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise InputError(f"{path}: not a GPX file, XML error at line {line}, column {column + 1} ({exc.msg})",
                         "export the track again from the GPS (GPX 1.1)") from None
    ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    if root.tag.split("}")[-1] != "gpx" or (ns and ns not in _GPX_NAMESPACES):
        raise InputError(f"{path}: the root element is {root.tag!r}, not a GPX <gpx>",
                         "give a GPX 1.1 track exported by the GPS or the phone app")
    q = (lambda tag: f"{{{ns}}}{tag}") if ns else (lambda tag: tag)
    rows, segment, n = [], 0, 0
    for trk in root.iter(q("trk")):
        for seg in trk.iter(q("trkseg")):
            points = seg.findall(q("trkpt"))
            for pt in points:
                n += 1
                where = f"{path}: track point {n} (track segment {segment + 1})"
                try:
                    lat, lon = float(pt.attrib["lat"]), float(pt.attrib["lon"])
                except (KeyError, ValueError):
                    raise InputError(f"{where} lacks a numeric lat or lon attribute",
                                     "each <trkpt> needs lat=\"-5.8\" lon=\"-77.3\"") from None
                if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not (math.isfinite(lat) and math.isfinite(lon)):
                    raise InputError(f"{where}: lat {lat}, lon {lon} is not a position on Earth",
                                     "check the GPS export")
                time = pt.find(q("time"))
                if time is None or not (time.text or "").strip():
                    raise InputError(f"{where} has no <time>",
                                     "record the track with times (the GPS's track log, not a route)")
                try:
                    t = _utc(time.text)
                except ValueError:
                    raise InputError(f"{where}: time {time.text.strip()!r} is not ISO 8601",
                                     "times look like 2024-03-05T14:20:00Z") from None
                rows.append((segment, t, lon, lat))
            if points:
                segment += 1
    if not rows:
        raise InputError(f"{path} holds no track points (trk/trkseg/trkpt)",
                         "export the patrol's track (not waypoints or a route) as GPX 1.1")
    return pd.DataFrame(rows, columns=["segment", "t", "lon", "lat"])


def track_length_m(points: pd.DataFrame) -> float:
    """Geodesic length (m, WGS 84) of a track: the sum over consecutive points within each segment (the gap
    between segments, where the GPS was off, is not counted)."""
    total = 0.0
    for _, seg in points.groupby("segment", sort=False):
        if len(seg) > 1:
            total += float(GEOD.line_length(seg["lon"].to_numpy(), seg["lat"].to_numpy()))
    return total


def import_gpx_track(session: Session, patrol_code: str, path: Path | str, *, transport: str = "foot",
                     team: str | None = None, zone: str | None = None) -> TrackReport:
    """Store the GPX track of patrol ``patrol_code`` (replacing any track it had) and set its effort.

    The patrol is created where the registry lacks it (start and end from the track; ``transport``, ``team``,
    ``zone`` as given); an existing one keeps its attributes, and its ``start_at`` / ``end_at`` are widened
    to the track's times. ``distance_km``: :func:`track_length_m` / 1000; ``days``: calendar days (UTC)
    with track points. One transaction (a savepoint of the session's).
    """
    return import_gpx_tracks(session, {patrol_code: path}, transport=transport, team=team, zone=zone)[0]


def import_gpx_tracks(session: Session, tracks: dict[str, Path | str], *, transport: str = "foot",
                      team: str | None = None, zone: str | None = None) -> list[TrackReport]:
    """:func:`import_gpx_track` for many patrols at once (patrol code → GPX file): every file is read and
    checked first, then all are stored in one transaction, or none."""
    if transport not in TRANSPORTS:
        raise InputError(f"transport {transport!r} is not one of {', '.join(TRANSPORTS)}", "use foot, vehicle or boat")
    reports, frames = [], []
    for code, path in tracks.items():
        points = read_gpx(path)
        start, end = points["t"].min().to_pydatetime(), points["t"].max().to_pydatetime()
        reports.append(TrackReport(code, Path(path), len(points), int(points["segment"].nunique()),
                                   track_length_m(points) / 1000.0, start, end, float(points["t"].dt.date.nunique())))
        frames.append(points)

    def work() -> None:
        existing = {p.code: p for p in session.scalars(select(Patrol).where(Patrol.code.in_(list(tracks))))}
        for r in reports:
            patrol = existing.get(r.patrol_code)
            if patrol is None:
                patrol = existing[r.patrol_code] = Patrol(code=r.patrol_code, transport=transport, team=team,
                                                          zone=zone, start_at=r.start_at, end_at=r.end_at)
                session.add(patrol)
            else:
                patrol.start_at = min(patrol.start_at, r.start_at)
                patrol.end_at = max(patrol.end_at or r.end_at, r.end_at)
            patrol.distance_km, patrol.days = r.distance_km, r.days
        session.flush()
        ids = [existing[r.patrol_code].id for r in reports]
        session.execute(delete(TrackPoint).where(TrackPoint.patrol_id.in_(ids)))
        rows = [{"patrol_id": pid, "seq": i, "segment": int(seg), "t": t.to_pydatetime(), "lon": float(x),
                 "lat": float(y)}
                for pid, points in zip(ids, frames)
                for i, (seg, t, x, y) in enumerate(points[["segment", "t", "lon", "lat"]].itertuples(index=False))]
        if rows:
            session.execute(insert(TrackPoint), rows)

    where = reports[0].path if len(reports) == 1 else Path(f"{len(reports)} GPX files")
    _guarded(where, lambda: reg._in_transaction(session, work))
    return reports


def _guarded(path: Path, work):
    try:
        return work()
    except (IntegrityError, DataError) as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise InputError(f"{path}: the registry refused the rows ({detail})",
                         "nothing was imported; check for rows added meanwhile and import again") from None


def import_patrols(session: Session, path: Path | str) -> int:
    """Create the patrols of a CSV (patrol_id, start_at, end_at, transport, team, zone, plan_id); all or nothing
    (bad rows: :class:`~icam.agreements.registry.RegistryImportError`). Returns the number inserted."""
    path = Path(path)
    raw = reg._read_csv(path) if path.exists() else None
    if raw is None:
        raise InputError(f"{path} does not exist", "check the path")
    cols = (reg.Col("patrol_id", required=True, aliases=("code", "patrol"), length=64),
            reg.Col("start_at", required=True), reg.Col("end_at"),
            reg.Col("transport", "choice", default="foot", choices=TRANSPORTS),
            reg.Col("team"), reg.Col("zone", length=64), reg.Col("plan_id", aliases=("plan",), length=64))
    rows = _rows(path, raw, cols)
    for name in ("start_at", "end_at"):
        rows.frame[name] = _times(rows, name, rows.frame[name])
    late = rows.frame["end_at"] < rows.frame["start_at"]
    rows.flag(late, "end_at", "{value!r} is before start_at", "check the times")

    def work() -> int:
        rows.duplicates(["patrol_id"], "patrol_id", set(reg._codes(session, Patrol)))
        plans = reg._codes(session, PatrolPlan)
        rows.unknown("plan_id", plans, "a patrol plan", "import the plan first or leave plan_id empty")
        if rows.errors:
            raise reg.RegistryImportError(path, rows.errors, len(rows.frame))
        f = rows.frame
        table = pd.DataFrame({"code": f["patrol_id"], "plan_id": f["plan_id"].map(plans), "team": f["team"],
                              "zone": f["zone"], "start_at": f["start_at"], "end_at": f["end_at"],
                              "transport": f["transport"]})
        return reg._insert(session, Patrol, _py_times(table, ("start_at", "end_at")))

    return _guarded(path, lambda: reg._in_transaction(session, work))


# -- observations -----------------------------------------------------------------------------------------------


def _rows(path: Path, raw: pd.DataFrame, cols: tuple[reg.Col, ...]) -> reg._Rows:
    """Rename a CSV's columns (group prefixes and form metadata dropped, as the registry does) to ``cols``."""
    columns = [str(c) for c in raw.columns]
    aliases = {a: c.name for c in cols for a in (c.name, *c.aliases)}
    central = {"SubmissionDate", "KEY"} <= set(columns)
    renames = {}
    for name in columns:
        target = None if reg._is_meta(name, central) else aliases.get(reg._canonical_name(name))
        if target is not None and target not in renames.values():
            renames[name] = target
    if "uuid" in aliases.values() and "uuid" not in renames.values():
        ref = reg._reference_column(columns)
        if ref is not None:
            renames[ref] = "uuid"
    required = [c.name for c in cols if c.required and c.name not in renames.values()]
    if required:
        raise InputError(f"{path}: no column {', '.join(required)} (its columns: {', '.join(columns) or 'none'})",
                         f"add the column(s); the file has {', '.join(c.name for c in cols)}")
    rows = reg._Rows(raw.rename(columns=renames)[list(renames.values())], "row")
    for col in cols:
        if col.name in ("observed_at", "start_at", "end_at"):
            rows.frame[col.name] = rows.raw[col.name].where(rows.raw[col.name] != "") if col.name in rows.raw \
                else pd.Series(None, index=rows.frame.index, dtype=object)
            if col.required:
                rows.flag(rows.frame[col.name].isna(), col.name, "is empty", f"fill in {col.name}")
        else:
            reg._parse_column(rows, col)
    return rows


def _times(rows: reg._Rows, column: str, text: pd.Series) -> pd.Series:
    """ISO 8601 times as naive UTC timestamps (an offset converted, none read as UTC); bad ones flagged."""
    values = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    rows.flag(text.notna() & values.isna(), column, "{value!r} is not a date and time",
              "write it as 2024-03-05T14:20:00-05:00 (ODK's dateTime) or 2024-03-05 14:20")
    return values.dt.tz_convert(None)


def _py_times(frame: pd.DataFrame, names) -> pd.DataFrame:
    frame = frame.copy().astype(object)
    for name in names:
        frame[name] = [None if pd.isna(v) else pd.Timestamp(v).to_pydatetime() for v in frame[name]]
    return frame


def _geopoints(rows: reg._Rows) -> None:
    """Fill lat / lon from an ODK geopoint ("lat lon altitude accuracy") where the file has one."""
    f = rows.frame
    if "location" in f:
        parts = f["location"].fillna("").str.split(r"\s+", regex=True, expand=True).reindex(columns=range(2))
        lat = pd.to_numeric(parts[0], errors="coerce")
        lon = pd.to_numeric(parts[1], errors="coerce")
        given = f["location"].notna()
        rows.flag(given & (lat.isna() | lon.isna() | ~lat.between(-90, 90) | ~lon.between(-180, 180)), "location",
                  "{value!r} is not a geopoint", "a geopoint is 'latitude longitude altitude accuracy'")
        for name, values in (("lat", lat), ("lon", lon)):
            f[name] = f[name].where(f[name].notna(), values) if name in f else values
    for name in ("lat", "lon"):
        if name not in f:
            f[name] = np.nan
    missing = f["lat"].isna() | f["lon"].isna()
    bad = {e.row for e in rows.errors if e.column in ("location", "lat", "lon")}
    rows.flag(missing & ~f.index.isin(list(bad)), "location", "has no position",
              "record the GPS point (geopoint) of the observation, or fill lat and lon")


@dataclass(frozen=True)
class ObservationReport:
    """An observation import: rows read, observations and incidents written, alerts linked by the form."""

    path: Path
    rows: int
    inserted: int
    incidents: int


def import_observations(session: Session, path: Path | str) -> ObservationReport:
    """Import a patrol observations CSV (ODK / KoboToolbox export, or hand-made), all or nothing.

    Columns (group prefixes such as ``obs/`` dropped): patrol_id, observed_at (ISO dateTime), a geopoint
    ``location`` ("lat lon alt acc") or ``lat`` and ``lon``, category (clearing, logging, hunting,
    new_settlement, fire, none), area_ha, photos, severity (low / medium / high, default medium), zone,
    alert_id (an alert the patrol was sent to check; optional). The submission's ``_uuid`` (else the
    instanceID / KEY) is kept, so the same export imported twice is refused row by row. Each observation
    of another category than ``none`` makes an incident (its category, severity and zone). Patrols must be
    in the registry (:func:`import_patrols` or :func:`import_gpx_track`).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist", "check the path")
    rows = _rows(path, reg._read_csv(path), OBSERVATION_COLUMNS)
    rows.frame["observed_at"] = _times(rows, "observed_at", rows.frame["observed_at"])
    _geopoints(rows)

    def work() -> ObservationReport:
        patrols = reg._codes(session, Patrol)
        rows.unknown("patrol_id", patrols, "a patrol", "import the patrol (patrols.csv or its GPX track) first")
        alerts = dict(session.execute(select(Alert.alert_id, Alert.id)).all())
        rows.unknown("alert_id", alerts, "an alert", "correct the alert id or leave it empty")
        if "uuid" in rows.raw:
            existing = set(session.scalars(select(Observation.uuid).where(Observation.uuid.is_not(None))))
            rows.duplicates(["uuid"], "uuid", existing, " (same submission)")
        if rows.errors:
            raise reg.RegistryImportError(path, rows.errors, len(rows.frame))
        f = rows.frame
        table = pd.DataFrame({"patrol_id": f["patrol_id"].map(patrols), "uuid": f["uuid"],
                              "observed_at": f["observed_at"], "lon": f["lon"], "lat": f["lat"],
                              "category": f["category"], "area_ha": f["area_ha"], "photos": f["photos"],
                              "alert_id": f["alert_id"].map(alerts)}, index=f.index)
        n = 0
        n_incidents = 0
        for (_, record), severity, zone in zip(_py_times(table, ("observed_at",)).iterrows(), f["severity"],
                                               f["zone"]):
            values = {k: (None if _missing(v) else v) for k, v in record.items()}
            obs = Observation(**values)
            session.add(obs)
            n += 1
            if obs.category != "none":
                session.add(Incident(observation=obs, category=obs.category, severity=severity,
                                     zone=None if _missing(zone) else zone))
                n_incidents += 1
        session.flush()
        return ObservationReport(path, len(f), n, n_incidents)

    return _guarded(path, lambda: reg._in_transaction(session, work))


def import_actions(session: Session, path: Path | str) -> int:
    """Import follow-up actions on incidents (CSV: observation_uuid, action, taken_on, taken_by), all or nothing.

    ``observation_uuid`` is the form submission that found the incident (Kobo's ``_uuid``); ``action`` one of
    report_to_authorities, agreement_warning, sanction, none; ``taken_on`` a date not before the observation.
    Returns the number of actions inserted.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist", "check the path")
    cols = (reg.Col("observation_uuid", required=True, aliases=("uuid", "observation", "_uuid"), length=64),
            reg.Col("action", "choice", required=True, choices=ACTIONS),
            reg.Col("taken_on", "date", required=True, aliases=("date",)),
            reg.Col("taken_by", aliases=("by", "officer")))
    rows = _rows(path, reg._read_csv(path), cols)

    def work() -> int:
        found = pd.DataFrame(session.execute(
            select(Observation.uuid, Incident.id, Observation.observed_at)
            .join(Incident, Incident.observation_id == Observation.id)
            .where(Observation.uuid.is_not(None))).all(), columns=["uuid", "incident", "observed_at"])
        incidents = dict(zip(found["uuid"], found["incident"]))
        rows.unknown("observation_uuid", incidents, "an observation with an incident",
                     "import the observations first; an observation of category none has no incident")
        seen = dict(zip(found["uuid"], pd.to_datetime(found["observed_at"]).dt.normalize()))
        f = rows.frame
        early = [bool(u in seen and pd.notna(d) and pd.Timestamp(d) < seen[u])
                 for u, d in zip(f["observation_uuid"], f["taken_on"])]
        rows.flag(pd.Series(early, index=f.index), "taken_on", "{value!r} is before the observation",
                  "an action comes after the incident was found")
        existing = reg._existing(session, select(Observation.uuid, Action.action, Action.taken_on)
                                 .join(Incident, Action.incident_id == Incident.id)
                                 .join(Observation, Incident.observation_id == Observation.id),
                                 ["observation_uuid", "action", "taken_on"], ["observation_uuid", "action", "taken_on"])
        rows.duplicates(["observation_uuid", "action", "taken_on"], "action", existing,
                        " (same observation, action and date)")
        if rows.errors:
            raise reg.RegistryImportError(path, rows.errors, len(f))
        table = pd.DataFrame({"incident_id": f["observation_uuid"].map(incidents), "action": f["action"],
                              "taken_on": f["taken_on"], "taken_by": f["taken_by"]})
        return reg._insert(session, Action, table)

    return _guarded(path, lambda: reg._in_transaction(session, work))


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


# -- matching alerts and observations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """An alert checked by an observation: its distance (m), days after the alert's first_date, the verdict."""

    alert_id: str
    observation_id: int
    patrol_code: str
    distance_m: float
    days_after: float
    category: str
    verdict: str


def _within(lon: np.ndarray, lat: np.ndarray, other_lon: np.ndarray, other_lat: np.ndarray,
            distance_m: float) -> list[list[int]]:
    """For each point (lon, lat), the indices of the others that may lie within ``distance_m``: a k-d tree on an
    equirectangular projection at the mean latitude, searched with a radius wide enough for the projection's
    error over the points' latitudes (the exact geodesic distance is checked afterwards)."""
    from scipy.spatial import cKDTree

    if not len(lon) or not len(other_lon):
        return [[] for _ in range(len(lon))]
    m_per_degree = 6_378_137.0 * math.pi / 180.0
    lat0 = math.radians(float(np.mean(other_lat)))
    span = math.radians(float(max(np.max(np.abs(lat)), np.max(np.abs(other_lat)))))
    # the x scale error is at most |cos(lat) − cos(lat0)| / cos(lat) of the distance; 1 % more for the ellipsoid
    slack = 1.01 + abs(math.cos(span) - math.cos(lat0)) / max(math.cos(span), 1e-6)
    def xy(x, y):
        return np.column_stack([x * math.cos(lat0) * m_per_degree, y * m_per_degree])
    tree = cKDTree(xy(other_lon, other_lat))
    return tree.query_ball_point(xy(lon, lat), r=distance_m * slack + 1.0)


def match_alerts(session: Session, *, max_distance_m: float = 250.0, max_days_after: float = 180.0) -> list[Match]:
    """Mark alerts checked by a patrol observation and give them a verdict; returns the matches.

    An observation of category clearing, logging, new_settlement, fire (verdict ``true_positive``) or ``none``
    (``false_positive``) checks an alert when it lies within ``max_distance_m`` (geodesic, WGS 84) and was
    made 0 to ``max_days_after`` days after the alert's ``first_date``, or when the form named the alert.
    Of several, the earliest observation decides (then the nearest). The alert's status becomes
    ``checked``, and the observation is linked to the alert. Hunting observations check nothing.
    """
    alerts = session.execute(select(Alert.id, Alert.alert_id, Alert.first_date, Alert.lon, Alert.lat)).all()
    obs = pd.DataFrame(session.execute(
        select(Observation.id, Observation.observed_at, Observation.lon, Observation.lat, Observation.category,
               Observation.alert_id, Patrol.code).join(Patrol, Observation.patrol_id == Patrol.id)
        .where(Observation.category.in_(VERDICT_CATEGORIES))).all(),
        columns=["id", "observed_at", "lon", "lat", "category", "alert_id", "patrol"])
    if not alerts or obs.empty:
        return []
    when_days = (pd.to_datetime(obs["observed_at"]) - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
    when_days, obs_lon, obs_lat = when_days.to_numpy(), obs["lon"].to_numpy(float), obs["lat"].to_numpy(float)
    named_by = obs.groupby("alert_id").indices if obs["alert_id"].notna().any() else {}
    nearby = _within(np.array([a.lon for a in alerts]), np.array([a.lat for a in alerts]), obs_lon, obs_lat,
                     max_distance_m)
    matches: list[tuple[int, Match]] = []
    for (a_id, code, first, lon, lat), near in zip(alerts, nearby):
        idx = np.union1d(np.asarray(near, dtype=np.int64), named_by.get(a_id, np.zeros(0, np.int64)))
        if not len(idx):
            continue
        days = when_days[idx] - (pd.Timestamp(first) - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
        _, _, dist = GEOD.inv(np.full(len(idx), lon), np.full(len(idx), lat), obs_lon[idx], obs_lat[idx])
        named = (obs["alert_id"].to_numpy()[idx] == a_id)
        ok = ((dist <= max_distance_m) & (days >= 0) & (days <= max_days_after)) | named
        if not ok.any():
            continue
        candidates = np.flatnonzero(ok)
        pick = candidates[np.lexsort((dist[candidates], days[candidates]))[0]]
        best = idx[pick]
        row = obs.iloc[best]
        verdict = "false_positive" if row["category"] == "none" else "true_positive"
        matches.append((a_id, Match(code, int(row["id"]), row["patrol"], float(dist[pick]), float(days[pick]),
                                    row["category"], verdict)))

    def work() -> None:
        if not matches:
            return
        session.flush()
        observed = dict(zip(obs["id"], obs["observed_at"]))
        session.execute(update(Alert), [{"id": a_id, "status": "checked", "verdict": m.verdict,
                                         "visited_at": pd.Timestamp(observed[m.observation_id]).to_pydatetime()}
                                        for a_id, m in matches])
        unlinked = set(obs.loc[obs["alert_id"].isna(), "id"])
        link: dict[int, int] = {}
        for a_id, m in matches:  # an observation is linked to the first alert it checks
            if m.observation_id in unlinked:
                link.setdefault(m.observation_id, a_id)
        if link:
            session.execute(update(Observation), [{"id": o, "alert_id": a} for o, a in link.items()])
        session.expire_all()  # the bulk updates bypass the objects already loaded in the session

    reg._in_transaction(session, work)
    return [m for _, m in matches]


# -- patrol plans -----------------------------------------------------------------------------------------------

PRIORITY_RANK = {"high": 0, "medium": 1, "low": 2}


def release_lapsed(session: Session, on: dt.date) -> list[str]:
    """Alerts still ``assigned`` whose latest plan ended before ``on`` (nobody checked them) go back to ``new``,
    so that the next plan can take them again; their ids."""
    latest_end = (select(plan_alerts.c.alert_id, func.max(PatrolPlan.planned_end).label("end"))
                  .join(PatrolPlan, PatrolPlan.id == plan_alerts.c.plan_id)
                  .group_by(plan_alerts.c.alert_id).subquery())
    lapsed = session.execute(select(Alert.id, Alert.alert_id).join(latest_end, latest_end.c.alert_id == Alert.id)
                             .where(Alert.status == "assigned", latest_end.c.end < on)).all()

    def work() -> None:
        if lapsed:
            session.execute(update(Alert), [{"id": a_id, "status": "new"} for a_id, _ in lapsed])
            session.expire_all()

    reg._in_transaction(session, work)
    return [code for _, code in lapsed]


def plan_patrol(session: Session, *, start: dt.date, days: int = 1, team: str | None = None, zone: str | None = None,
                max_alerts: int = 10, min_priority: str = "medium") -> tuple[PatrolPlan, pd.DataFrame]:
    """Plan a patrol to the open alerts: those still ``new`` (not assigned to a plan, not checked; alerts of
    plans that ended before ``start`` without a visit are open again, :func:`release_lapsed`), of priority
    ``min_priority`` or higher, in ``zone`` if given, the ``max_alerts`` highest scores first (then the
    earliest). They become ``assigned`` to a new plan ``PLAN-<start YYYYMMDD>-<n>``. Returns the plan and the
    alerts (columns alert_id, priority, score, area_ha, first_date, last_date, zone, agreement, lon, lat),
    in visiting order. Raises :class:`InputError` when no alert qualifies (nothing is written then)."""
    if min_priority not in PRIORITY_RANK:
        raise InputError(f"min_priority {min_priority!r} is not one of high, medium, low", "use high, medium or low")
    if days < 1 or max_alerts < 1:
        raise InputError(f"days ({days}) and max_alerts ({max_alerts}) must be at least 1", "give positive numbers")
    allowed = [p for p, r in PRIORITY_RANK.items() if r <= PRIORITY_RANK[min_priority]]
    release_lapsed(session, start)
    query = select(Alert).where(Alert.status == "new", Alert.priority.in_(allowed))
    if zone is not None:
        query = query.where(Alert.zone == zone)
    alerts = session.scalars(query.order_by(Alert.score.desc(), Alert.first_date, Alert.alert_id)
                             .limit(max_alerts)).all()
    if not alerts:
        where = f" in zone {zone}" if zone else ""
        raise InputError(f"no open alert of priority {min_priority} or higher{where}",
                         "run `icam run` to raise new alerts, or lower --min-priority")

    def work() -> PatrolPlan:
        prefix = f"PLAN-{start:%Y%m%d}-"
        n = session.scalar(select(func.count()).select_from(PatrolPlan).where(PatrolPlan.code.like(prefix + "%")))
        plan = PatrolPlan(code=f"{prefix}{n + 1}", planned_start=start,
                          planned_end=start + dt.timedelta(days=days - 1), zone=zone, team=team)
        plan.alerts.extend(alerts)
        session.add(plan)
        for alert in alerts:
            alert.status = "assigned"
        session.flush()
        return plan

    plan = reg._in_transaction(session, work)
    table = pd.DataFrame([{"alert_id": a.alert_id, "priority": a.priority, "score": a.score, "area_ha": a.area_ha,
                           "first_date": a.first_date, "last_date": a.last_date or a.first_date, "zone": a.zone,
                           "agreement": a.agreement_code, "lon": a.lon, "lat": a.lat} for a in alerts])
    return plan, table


# -- indicators -------------------------------------------------------------------------------------------------


def indicators(session: Session, as_of: dt.date | str) -> dict:
    """Enforcement indicators as of ``as_of`` (alerts first seen, observations made and patrols started on or
    before that day):

    - ``alerts``: number; ``alerts_by_priority_status``: {priority: {status: n}};
    - ``checked``: alerts checked by then (``visited_at`` on or before ``as_of``; an alert checked later counts
      as ``new`` here); ``share_checked``: checked / alerts (None without alerts);
    - ``median_days_to_visit``: median over checked alerts of days from first_date to ``visited_at``, the
      observation that decided it (None where none);
    - ``precision``: true positives / checked alerts (None where none checked);
    - ``effort_by_zone``: {zone: {"patrols", "km", "days"}} (a patrol's zone, else its plan's, else "unknown");
    - ``incidents_by_category_zone``: {category: {zone: n}} (zone "unknown" where none);
    - ``actions_by_type``: {action: n} taken on or before ``as_of``.
    """
    as_of = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    alerts = session.execute(select(Alert.id, Alert.priority, Alert.status, Alert.verdict, Alert.first_date,
                                    Alert.visited_at).where(Alert.first_date <= as_of)).all()
    checked = [a for a in alerts if a.status == "checked" and (a.visited_at is None or a.visited_at < end)]
    checked_ids = {a.id for a in checked}
    by_ps: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a in alerts:
        by_ps[a.priority]["checked" if a.id in checked_ids else "new" if a.status == "checked" else a.status] += 1
    delays = [(pd.Timestamp(a.visited_at) - pd.Timestamp(a.first_date)) / pd.Timedelta(days=1)
              for a in checked if a.visited_at is not None]
    effort: dict[str, dict[str, float]] = defaultdict(lambda: {"patrols": 0, "km": 0.0, "days": 0.0})
    for zone, plan_zone, km, days in session.execute(
            select(Patrol.zone, PatrolPlan.zone, Patrol.distance_km, Patrol.days)
            .outerjoin(PatrolPlan, Patrol.plan_id == PatrolPlan.id).where(Patrol.start_at < end)):
        e = effort[zone or plan_zone or "unknown"]
        e["patrols"] += 1
        e["km"] += km or 0.0
        e["days"] += days or 0.0
    incidents: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for category, zone in session.execute(select(Incident.category, Incident.zone)
                                          .join(Observation, Incident.observation_id == Observation.id)
                                          .where(Observation.observed_at < end)):
        incidents[category][zone or "unknown"] += 1
    actions = dict(session.execute(select(Action.action, func.count()).where(Action.taken_on <= as_of)
                                   .group_by(Action.action)).all())
    n_true = sum(a.verdict == "true_positive" for a in checked)
    return {
        "as_of": as_of.isoformat(),
        "alerts": len(alerts),
        "alerts_by_priority_status": {p: dict(s) for p, s in sorted(by_ps.items())},
        "checked": len(checked),
        "share_checked": len(checked) / len(alerts) if alerts else None,
        "median_days_to_visit": float(np.median(delays)) if delays else None,
        "precision": n_true / len(checked) if checked else None,
        "effort_by_zone": {z: dict(e) for z, e in sorted(effort.items())},
        "incidents_by_category_zone": {c: dict(z) for c, z in sorted(incidents.items())},
        "actions_by_type": {k: int(v) for k, v in sorted(actions.items())},
    }


__all__ = ["OBSERVATION_COLUMNS", "TRUE_CATEGORIES", "VERDICT_CATEGORIES", "Match", "ObservationReport",
           "TrackReport", "import_actions", "import_gpx_track", "import_gpx_tracks", "import_observations",
           "import_patrols", "indicators", "match_alerts", "plan_patrol", "read_gpx", "release_lapsed",
           "track_length_m"]
