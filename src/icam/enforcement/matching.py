"""Alerts checked on the ground: patrol observations matched to the deforestation alerts they verify.

An observation near an alert, made soon after it, gives the alert a verdict (true or false positive); the
match is geodesic (WGS 84, :class:`pyproj.Geod`), after a k-d tree has picked the candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from icam.enforcement.models import Alert, Observation, Patrol
from icam.enforcement.tracks import GEOD
from icam.store.writes import in_transaction

TRUE_CATEGORIES = ("clearing", "logging", "new_settlement", "fire")  # an alert found true on the ground
VERDICT_CATEGORIES = (*TRUE_CATEGORIES, "none")  # "none": the alert's place visited, nothing found


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


def verdict_of(category: str) -> str:
    """The verdict an observation of ``category`` gives the alert it checks: nothing found (``none``) is a false
    positive, anything of :data:`TRUE_CATEGORIES` a true positive."""
    return "false_positive" if category == "none" else "true_positive"


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
        verdict = verdict_of(row["category"])
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

    in_transaction(session, work)
    return [m for _, m in matches]


__all__ = ["TRUE_CATEGORIES", "VERDICT_CATEGORIES", "Match", "match_alerts", "verdict_of"]
