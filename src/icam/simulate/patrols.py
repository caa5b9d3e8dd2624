"""Simulated patrols for tests and demonstrations: GPX tracks, patrols.csv and a KoboToolbox-style
observations.csv that visit some of a list of alerts, deterministic by seed.

A patrol visits ~60 % of high-priority alerts, ~30 % of medium and ~5 % of low ones, ``Gamma(2, 15)`` days
(mean 30) after the alert's first date (at most 170 days, so :func:`icam.enforcement.patrols.match_alerts`'s
default window holds every visit), and none after ``until``. Its track walks from a base 1-3 km away to the
alert and back (points every ~5 minutes, ~2.5 km/h); its observation lies within 60 m of the alert:
``clearing`` for a true alert (``none`` for ~10 % of them: missed on the ground), ``none`` for a false one.
Halfway out, ~10 % of patrols record hunting and ~5 % logging.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import Geod

from icam.core.atomic import write_csv_rows

GEOD = Geod(ellps="WGS84")
VISIT_SHARE = {"high": 0.60, "medium": 0.30, "low": 0.05}
OTHER_VISIT_SHARE = 0.25  # an alert without a known priority
ON_THE_WAY = {"hunting": 0.10, "logging": 0.05}
MISS_SHARE = 0.10
SPEED_M_PER_MIN = 2500 / 60
STEP_MIN = 5
OBSERVATION_HEADER = ["start", "end", "obs/patrol_id", "obs/observed_at", "obs/location", "obs/category",
                      "obs/area_ha", "obs/photo", "obs/zone", "_uuid", "_submission_time", "_index"]
PATROL_HEADER = ["patrol_id", "team", "zone", "start_at", "end_at", "transport", "plan_id"]


def _gpx(points: list[tuple[dt.datetime, float, float]], name: str) -> str:
    pts = "\n".join(f'      <trkpt lat="{lat:.7f}" lon="{lon:.7f}"><time>{t:%Y-%m-%dT%H:%M:%SZ}</time></trkpt>'
                    for t, lon, lat in points)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<gpx version="1.1" creator="icam simulate_patrols" xmlns="http://www.topografix.com/GPX/1/1">\n'
            f'  <trk><name>{name}</name>\n    <trkseg>\n{pts}\n    </trkseg>\n  </trk>\n</gpx>\n')


def simulate_patrols(alerts: Iterable[Mapping[str, Any]], folder: Path | str, seed: int = 0,
                     until: dt.date | None = None) -> dict[str, Any]:
    """Write ``folder/inputs/patrols/{tracks/*.gpx, patrols.csv, observations.csv}`` for ``alerts``.

    ``alerts``: dicts with alert_id, first_date (date or ISO text), lon, lat (WGS 84), zone, priority and
    ``true`` (whether the loss is real). Returns the paths written and the visits (alert_id, patrol_id,
    days_after, category), in alert order. The same alerts and seed give the same files.
    """
    rng = np.random.default_rng(seed)
    root = Path(folder) / "inputs" / "patrols"
    tracks = root / "tracks"
    tracks.mkdir(parents=True, exist_ok=True)
    patrol_rows, obs_rows, visits, gpx_paths = [], [], [], []
    for alert in alerts:
        share = VISIT_SHARE.get(str(alert["priority"]), OTHER_VISIT_SHARE)
        draws = rng.random(8)  # drawn for every alert, so one alert's outcome does not shift the others'
        delay = float(min(rng.gamma(2.0, 15.0), 170.0))
        submission_bytes = rng.bytes(48)
        first = alert["first_date"]
        first = dt.date.fromisoformat(first) if isinstance(first, str) else first
        if draws[0] >= share or (until is not None and first + dt.timedelta(days=delay + 1) > until):
            continue
        code = f"PAT-{len(patrol_rows) + 1:04d}"
        lon, lat = float(alert["lon"]), float(alert["lat"])
        base_lon, base_lat, _ = GEOD.fwd(lon, lat, 360 * draws[1], 1000 + 2000 * draws[2])
        obs_lon, obs_lat, _ = GEOD.fwd(lon, lat, 360 * draws[3], 60 * draws[4])
        arrive = dt.datetime.combine(first, dt.time(13, 0)) + dt.timedelta(days=delay)
        arrive = arrive.replace(second=0, microsecond=0)
        _, _, leg_m = GEOD.inv(base_lon, base_lat, obs_lon, obs_lat)
        n = max(2, int(np.ceil(leg_m / SPEED_M_PER_MIN / STEP_MIN)) + 1)
        out = GEOD.npts(base_lon, base_lat, obs_lon, obs_lat, n - 2)
        leg = [(base_lon, base_lat), *out, (obs_lon, obs_lat)]
        route = leg + leg[::-1][1:]
        start = arrive - dt.timedelta(minutes=STEP_MIN * (len(leg) - 1))
        points = [(start + dt.timedelta(minutes=STEP_MIN * i), x, y) for i, (x, y) in enumerate(route)]
        gpx = tracks / f"{code}.gpx"
        gpx.write_text(_gpx(points, code), encoding="utf-8")
        gpx_paths.append(gpx)
        category = "clearing" if alert.get("true") and draws[5] >= MISS_SHARE else "none"
        area = f"{float(alert.get('area_ha', 0.5)):.2f}" if category == "clearing" else ""
        patrol_rows.append([code, f"team {1 + len(patrol_rows) % 3}", alert.get("zone", ""),
                            f"{points[0][0]:%Y-%m-%dT%H:%M:%SZ}", f"{points[-1][0]:%Y-%m-%dT%H:%M:%SZ}", "foot", ""])
        found = [(arrive, obs_lon, obs_lat, category, area)]
        halfway = points[len(leg) // 2]
        for k, (other, share_on_way) in enumerate(ON_THE_WAY.items()):
            if draws[6 + k] < share_on_way:
                found.append((halfway[0], halfway[1], halfway[2], other, ""))
        for i, (when, lon_, lat_, what, ha) in enumerate(found):
            local = when - dt.timedelta(hours=5)  # the phone writes Peru time (UTC-5)
            stamp = f"{local:%Y-%m-%dT%H:%M:%S}.000-05:00"
            submission = uuid.UUID(bytes=submission_bytes[16 * i:16 * (i + 1)], version=4)
            obs_rows.append([stamp, stamp, code, stamp, f"{lat_:.7f} {lon_:.7f} 1200 5", what, ha,
                             f"{code}-{i + 1}.jpg" if what != "none" else "", alert.get("zone", ""), str(submission),
                             f"{arrive + dt.timedelta(days=2):%Y-%m-%dT%H:%M:%S}", len(obs_rows) + 1])
        visits.append({"alert_id": alert["alert_id"], "patrol_id": code, "days_after": delay, "category": category})
    patrols_csv = write_csv_rows(root / "patrols.csv", PATROL_HEADER, patrol_rows)
    observations_csv = write_csv_rows(root / "observations.csv", OBSERVATION_HEADER, obs_rows)
    return {"tracks": gpx_paths, "patrols": patrols_csv, "observations": observations_csv, "visits": visits}


__all__ = ["simulate_patrols"]
