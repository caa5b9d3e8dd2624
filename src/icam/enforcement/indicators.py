"""The enforcement indicators of the monitoring report: alerts checked, days to visit, precision, patrol effort,
incidents and actions, as of a day."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from icam.enforcement.models import Action, Alert, Incident, Observation, Patrol, PatrolPlan


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


__all__ = ["indicators"]
