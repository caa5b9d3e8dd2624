"""Patrol GPS tracks: GPX files read, checked against the registry and the project, and stored with their effort.

Positions are WGS 84 lon / lat (degrees); times UTC (a time with an offset is converted, one without is read
as UTC). Distances are geodesic on the WGS 84 ellipsoid (:class:`pyproj.Geod`, Karney 2013). A track belongs
to a patrol already in the registry (``icam enforcement import patrols``): a track of an unknown patrol, one
far from the project (another continent, latitude and longitude swapped) or dated after today is refused,
and nothing of the batch is stored.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
from pyproj import Geod
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from icam.core.errors import InputError
from icam.enforcement.models import Patrol, TrackPoint
from icam.store.extent import Extent, far_and_swapped
from icam.store.writes import guarded, in_transaction

GEOD = Geod(ellps="WGS84")
MAX_OUTSIDE_M = 50_000.0  # a track point or an observation farther than this from the project is refused
_GPX_NAMESPACES = ("http://www.topografix.com/GPX/1/1", "http://www.topografix.com/GPX/1/0")


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


def utc(text: str) -> dt.datetime:
    """An ISO 8601 time as naive UTC (no offset: read as UTC)."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _root(path: Path) -> tuple[ElementTree.Element, str]:
    if not path.is_file():
        raise InputError(f"{path} does not exist", "check the path")
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise InputError(f"{path}: not a GPX file, XML error at line {line}, column {column + 1} ({exc.msg})",
                         "export the track again from the GPS (GPX 1.1)") from None
    ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    if root.tag.split("}")[-1] != "gpx" or (ns and ns not in _GPX_NAMESPACES):
        raise InputError(f"{path}: the root element is {root.tag[:60]!r}, not a GPX <gpx>",
                         "give a GPX 1.1 track exported by the GPS or the phone app")
    return root, ns


def _point(pt: ElementTree.Element, q, where: str) -> tuple[dt.datetime, float, float]:
    try:
        lat, lon = float(pt.attrib["lat"]), float(pt.attrib["lon"])
    except (KeyError, ValueError):
        raise InputError(f"{where} lacks a numeric lat or lon attribute",
                         "each <trkpt> needs lat=\"-5.8\" lon=\"-77.3\"") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"{where}: lat {lat}, lon {lon} is not a position on Earth", "check the GPS export")
    time = pt.find(q("time"))
    if time is None or not (time.text or "").strip():
        raise InputError(f"{where} has no <time>", "record the track with times (the GPS's track log, not a route)")
    try:
        return utc(time.text), lon, lat
    except ValueError:
        raise InputError(f"{where}: time {time.text.strip()[:40]!r} is not ISO 8601",
                         "times look like 2024-03-05T14:20:00Z") from None


def read_gpx(path: Path | str) -> pd.DataFrame:
    """The track points of a GPX 1.1 (or 1.0) file: columns segment, t (naive UTC), lon, lat, in file order.

    Every ``trk/trkseg/trkpt`` needs ``lat``, ``lon`` and a ``time``. Raises :class:`InputError` naming the
    file (and the line, for XML errors; the point, for a bad point) for a missing, unparsable or empty file.
    """
    return pd.DataFrame(_track_points(Path(path)), columns=POINT_COLUMNS)


POINT_COLUMNS = ["segment", "t", "lon", "lat"]


def _track_points(path: Path) -> list[tuple[int, dt.datetime, float, float]]:
    """:func:`read_gpx`'s rows."""
    root, ns = _root(path)
    q = (lambda tag: f"{{{ns}}}{tag}") if ns else (lambda tag: tag)
    rows, segment, n = [], 0, 0
    for trk in root.iter(q("trk")):
        for seg in trk.iter(q("trkseg")):
            points = seg.findall(q("trkpt"))
            for pt in points:
                n += 1
                rows.append((segment, *_point(pt, q, f"{path}: track point {n} (track segment {segment + 1})")))
            if points:
                segment += 1
    if not rows:
        raise InputError(f"{path} holds no track points (trk/trkseg/trkpt)",
                         "export the patrol's track (not waypoints or a route) as GPX 1.1")
    return rows


def track_length_m(points: pd.DataFrame) -> float:
    """Geodesic length (m, WGS 84) of a track: the sum over consecutive points within each segment (the gap
    between segments, where the GPS was off, is not counted)."""
    total = 0.0
    for _, seg in points.groupby("segment", sort=False):
        if len(seg) > 1:
            total += float(GEOD.line_length(seg["lon"].to_numpy(), seg["lat"].to_numpy()))
    return total


def _refused(points: pd.DataFrame, extent: Extent | None, max_outside_m: float = MAX_OUTSIDE_M
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point: dated after today; farther than ``max_outside_m`` from ``extent``; of those, within it with
    latitude and longitude swapped (all False without an extent)."""
    future = points["t"].to_numpy() >= np.datetime64(dt.date.today() + dt.timedelta(days=1), "ns")
    if extent is None:
        return future, np.zeros_like(future), np.zeros_like(future)
    return future, *far_and_swapped(extent, points["lon"].to_numpy(), points["lat"].to_numpy(), max_outside_m)


def check_track(path: Path, points: pd.DataFrame, extent: Extent | None, max_outside_m: float = MAX_OUTSIDE_M
                ) -> None:
    """Refuse a track dated after today, or with a point farther than ``max_outside_m`` from ``extent``."""
    future, far, swapped = _refused(points, extent, max_outside_m)
    if future.any():
        k = int(np.flatnonzero(future)[0])
        raise InputError(f"{path.name}: track point {k + 1} is dated {points['t'].iloc[k]:%Y-%m-%d}, after today",
                         "check the GPS's date and time settings and export the track again")
    if far.any():
        k = int(np.flatnonzero(far)[0])
        where = f"{path.name}: track point {k + 1} (lat {points['lat'].iloc[k]:.5f}, lon {points['lon'].iloc[k]:.5f})"
        if swapped[k]:
            raise InputError(f"{where} lies outside the project, where it would be with latitude and longitude "
                             "swapped", "write lat= the latitude and lon= the longitude in each <trkpt>")
        raise InputError(f"{where} lies more than {max_outside_m / 1000:g} km outside the project",
                         "check that it is this project's patrol and the GPS's export")


def _check_tracks(paths: list[Path], points: pd.DataFrame, track: np.ndarray, extent: Extent | None) -> None:
    """:func:`check_track` of every track at once: where a point is refused, the first track holding one is
    checked alone, for its message."""
    future, far, _ = _refused(points, extent)
    if (bad := future | far).any():
        first = track[np.flatnonzero(bad)[0]]
        check_track(paths[first], points[track == first].reset_index(drop=True), extent)


def _lengths_m(points: pd.DataFrame, track: np.ndarray, n_tracks: int) -> np.ndarray:
    """:func:`track_length_m` of every track at once: the geodesic lengths of consecutive points of one segment,
    summed by segment, then the segments' sums by track (the order :func:`track_length_m` adds them in)."""
    lon, lat, segment = points["lon"].to_numpy(), points["lat"].to_numpy(), points["segment"].to_numpy()
    same = (track[1:] == track[:-1]) & (segment[1:] == segment[:-1])
    _, _, step_m = GEOD.inv(lon[:-1][same], lat[:-1][same], lon[1:][same], lat[1:][same])
    opens = np.r_[True, ~same]  # a point opening a segment
    segment_id = np.cumsum(opens) - 1  # each point's (track, segment) number
    by_segment = np.bincount(segment_id[1:][same], weights=step_m, minlength=segment_id[-1] + 1)
    return np.bincount(track[opens], weights=by_segment, minlength=n_tracks)


def import_gpx_track(session: Session, patrol_code: str, path: Path | str, *, extent: Extent | None = None
                     ) -> TrackReport:
    """Store the GPX track of patrol ``patrol_code`` (replacing any track it had) and set its effort.

    The patrol must be in the registry; its ``start_at`` / ``end_at`` are widened to the track's times.
    ``distance_km``: :func:`track_length_m` / 1000; ``days``: calendar days (UTC) with track points.
    ``extent``: where the project lies (points farther than :data:`MAX_OUTSIDE_M` are refused). One
    transaction (a savepoint of the session's).
    """
    return import_gpx_tracks(session, {patrol_code: path}, extent=extent)[0]


def _unknown_patrols(tracks: dict[str, Path | str], known: set[str]) -> None:
    unknown = [(code, Path(path).name) for code, path in tracks.items() if code not in known]
    if unknown:
        shown = ", ".join(f"{code} ({name})" for code, name in unknown[:3])
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise InputError(f"{len(unknown)} track(s) of patrols not in the registry: {shown}{more}",
                         "import the patrols first (icam enforcement import patrols FILE); a track file is named "
                         "<patrol_id>.gpx")


def import_gpx_tracks(session: Session, tracks: dict[str, Path | str], *, extent: Extent | None = None
                      ) -> list[TrackReport]:
    """:func:`import_gpx_track` for many patrols at once (patrol code → GPX file): every file is read and
    checked first, then all are stored in one transaction, or none."""
    if not tracks:
        return []
    existing = {p.code: p for p in session.scalars(select(Patrol).where(Patrol.code.in_(list(tracks))))}
    _unknown_patrols(tracks, set(existing))
    paths = [Path(path) for path in tracks.values()]
    read = [_track_points(path) for path in paths]
    # the points of every track in one table: checks, lengths, times and days at once, not track by track
    points = pd.DataFrame([row for rows in read for row in rows], columns=POINT_COLUMNS)
    track = np.repeat(np.arange(len(read)), [len(rows) for rows in read])
    _check_tracks(paths, points, track, extent)
    times = points["t"].groupby(track)
    track_days = np.unique(np.stack([track, points["t"].dt.floor("D").to_numpy().view("int64")]), axis=1)
    days = np.bincount(track_days[0], minlength=len(read))  # calendar days with points, by track
    reports = [TrackReport(code, path, len(rows), len({row[0] for row in rows}), length_m / 1000.0,
                           start.to_pydatetime(), end.to_pydatetime(), float(n_days))
               for code, path, rows, length_m, start, end, n_days in zip(
                   tracks, paths, read, _lengths_m(points, track, len(read)), times.min(), times.max(), days)]

    def work() -> None:
        for r in reports:
            patrol = existing[r.patrol_code]
            patrol.start_at = min(patrol.start_at, r.start_at)
            patrol.end_at = max(patrol.end_at or r.end_at, r.end_at)
            patrol.distance_km, patrol.days = r.distance_km, r.days
        session.flush()
        ids = [existing[r.patrol_code].id for r in reports]
        session.execute(delete(TrackPoint).where(TrackPoint.patrol_id.in_(ids)))
        rows = [{"patrol_id": pid, "seq": i, "segment": seg, "t": t, "lon": x, "lat": y}
                for pid, track_rows in zip(ids, read) for i, (seg, t, x, y) in enumerate(track_rows)]
        if rows:
            session.execute(insert(TrackPoint), rows)

    where = reports[0].path if len(reports) == 1 else Path(f"{len(reports)} GPX files")
    guarded(where, lambda: in_transaction(session, work))
    return reports


__all__ = ["GEOD", "MAX_OUTSIDE_M", "TrackReport", "check_track", "import_gpx_track", "import_gpx_tracks",
           "read_gpx", "track_length_m", "utc"]
