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
    path = Path(path)
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
    return pd.DataFrame(rows, columns=["segment", "t", "lon", "lat"])


def track_length_m(points: pd.DataFrame) -> float:
    """Geodesic length (m, WGS 84) of a track: the sum over consecutive points within each segment (the gap
    between segments, where the GPS was off, is not counted)."""
    total = 0.0
    for _, seg in points.groupby("segment", sort=False):
        if len(seg) > 1:
            total += float(GEOD.line_length(seg["lon"].to_numpy(), seg["lat"].to_numpy()))
    return total


def check_track(path: Path, points: pd.DataFrame, extent: Extent | None, max_outside_m: float = MAX_OUTSIDE_M
                ) -> None:
    """Refuse a track dated after today, or with a point farther than ``max_outside_m`` from ``extent``."""
    tomorrow = np.datetime64(dt.date.today() + dt.timedelta(days=1), "ns")
    future = np.flatnonzero(points["t"].to_numpy() >= tomorrow)  # dated after today
    if future.size:
        k = int(future[0])
        raise InputError(f"{path.name}: track point {k + 1} is dated {points['t'].iloc[k]:%Y-%m-%d}, after today",
                         "check the GPS's date and time settings and export the track again")
    if extent is None:
        return
    far, swapped = far_and_swapped(extent, points["lon"].to_numpy(), points["lat"].to_numpy(), max_outside_m)
    if far.any():
        k = int(np.flatnonzero(far)[0])
        where = f"{path.name}: track point {k + 1} (lat {points['lat'].iloc[k]:.5f}, lon {points['lon'].iloc[k]:.5f})"
        if swapped[k]:
            raise InputError(f"{where} lies outside the project, where it would be with latitude and longitude "
                             "swapped", "write lat= the latitude and lon= the longitude in each <trkpt>")
        raise InputError(f"{where} lies more than {max_outside_m / 1000:g} km outside the project",
                         "check that it is this project's patrol and the GPS's export")


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
    reports, frames = [], []
    for code, path in tracks.items():
        points = read_gpx(path)
        check_track(Path(path), points, extent)
        start, end = points["t"].min().to_pydatetime(), points["t"].max().to_pydatetime()
        reports.append(TrackReport(code, Path(path), len(points), int(points["segment"].nunique()),
                                   track_length_m(points) / 1000.0, start, end,
                                   float(points["t"].dt.floor("D").nunique())))
        frames.append(points)

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
                for pid, points in zip(ids, frames)
                for i, (seg, t, x, y) in enumerate(zip(points["segment"].tolist(), points["t"].dt.to_pydatetime(),
                                                       points["lon"].tolist(), points["lat"].tolist()))]
        if rows:
            session.execute(insert(TrackPoint), rows)

    where = reports[0].path if len(reports) == 1 else Path(f"{len(reports)} GPX files")
    guarded(where, lambda: in_transaction(session, work))
    return reports


__all__ = ["GEOD", "MAX_OUTSIDE_M", "TrackReport", "check_track", "import_gpx_track", "import_gpx_tracks",
           "read_gpx", "track_length_m", "utc"]
