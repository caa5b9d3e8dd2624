"""Patrol plans: the open alerts of highest priority assigned to a patrol, and alerts of plans that lapsed
without a visit opened again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from icam.core.errors import InputError
from icam.enforcement.models import Alert, PatrolPlan, plan_alerts
from icam.store.writes import in_transaction

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

    in_transaction(session, work)
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

    plan = in_transaction(session, lambda: new_plan(session, alerts, start=start, days=days, zone=zone, team=team))
    return plan, waypoint_table(alerts)


def waypoint_table(alerts: Iterable[Alert]) -> pd.DataFrame:
    """Alerts as the table the field exports take (:func:`icam.enforcement.exports.write_waypoints`): alert_id,
    priority, score, area_ha, first_date, last_date, zone, agreement, lon, lat, in the order given."""
    columns = ["alert_id", "priority", "score", "area_ha", "first_date", "last_date", "zone", "agreement", "lon",
               "lat"]
    return pd.DataFrame([{"alert_id": a.alert_id, "priority": a.priority, "score": a.score, "area_ha": a.area_ha,
                          "first_date": a.first_date, "last_date": a.last_date or a.first_date, "zone": a.zone,
                          "agreement": a.agreement_code, "lon": a.lon, "lat": a.lat} for a in alerts],
                        columns=columns)


def new_plan(session: Session, alerts: list[Alert], *, start: dt.date, days: int, zone: str | None,
             team: str | None) -> PatrolPlan:
    """A plan ``PLAN-<start YYYYMMDD>-<n>`` (n: the next number of that day) to ``alerts``, which become
    ``assigned``; in the caller's transaction."""
    prefix = f"PLAN-{start:%Y%m%d}-"
    n = session.scalar(select(func.count()).select_from(PatrolPlan).where(PatrolPlan.code.like(prefix + "%")))
    plan = PatrolPlan(code=f"{prefix}{n + 1}", planned_start=start, planned_end=start + dt.timedelta(days=days - 1),
                      zone=zone, team=team)
    plan.alerts.extend(alerts)
    session.add(plan)
    for alert in alerts:
        alert.status = "assigned"
    session.flush()
    return plan


__all__ = ["PRIORITY_RANK", "new_plan", "plan_patrol", "release_lapsed", "waypoint_table"]
