"""One alert at a time, as a ranger answers it from the web app: sent to a patrol, then its outcome recorded.

:func:`assign_alerts` makes a patrol plan for the alerts a ranger picked (where :func:`plans.plan_patrol`
picks the highest scores itself); :func:`record_outcome` writes what the patrol found at the alert as the
field forms would (a patrol, an observation at the alert linked to it, an incident where something illegal
was found) and gives the alert its verdict by the rule of :func:`matching.match_alerts` (``none``: a false
positive; clearing, logging, new settlement, fire: a true positive). Each is one transaction: refused
with an :class:`InputError`, it writes nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from icam.core.errors import InputError
from icam.enforcement.matching import VERDICT_CATEGORIES, verdict_of
from icam.enforcement.models import SEVERITIES, Alert, Incident, Observation, Patrol, PatrolPlan, plan_alerts
from icam.enforcement.plans import new_plan
from icam.store.writes import in_transaction


def _alerts(session: Session, codes: list[str]) -> list[Alert]:
    found = {a.alert_id: a for a in session.scalars(select(Alert).where(Alert.alert_id.in_(codes)))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise InputError(f"no alert {missing[0]!r} in the registry", "pick an alert from the alerts list")
    return [found[c] for c in codes]


def assign_alerts(session: Session, alert_ids: list[str], *, start: dt.date, days: int = 1,
                  team: str | None = None) -> PatrolPlan:
    """A patrol plan from ``start`` for ``days`` days to the alerts named (their ``alert_id``), which must be
    open (``new``); they become ``assigned``."""
    if not alert_ids:
        raise InputError("no alert named", "pick at least one alert")
    if days < 1:
        raise InputError(f"days ({days}) must be at least 1", "give a positive number of days")
    alerts = _alerts(session, list(dict.fromkeys(alert_ids)))
    taken = [a for a in alerts if a.status != "new"]
    if taken:
        raise InputError(f"alert {taken[0].alert_id} is already {taken[0].status}",
                         "pick open alerts (status new)")
    return in_transaction(session, lambda: new_plan(session, alerts, start=start, days=days, zone=alerts[0].zone,
                                                    team=team))


def _patrol_of(session: Session, alert: Alert, observed_at: dt.datetime, team: str | None) -> Patrol:
    """The patrol of the alert's latest plan (made when the plan has none yet), else one for the alert alone."""
    plan = session.scalar(select(PatrolPlan).join(plan_alerts, plan_alerts.c.plan_id == PatrolPlan.id)
                          .where(plan_alerts.c.alert_id == alert.id).order_by(PatrolPlan.planned_start.desc(),
                                                                              PatrolPlan.id.desc()))
    code = f"{plan.code}-P" if plan is not None else f"PAT-{alert.alert_id}"
    patrol = session.scalar(select(Patrol).where(Patrol.code == code))
    if patrol is None:
        patrol = Patrol(code=code, plan=plan, team=team or (plan.team if plan else None), zone=alert.zone,
                        start_at=observed_at, transport="foot")
        session.add(patrol)
    elif observed_at < patrol.start_at:
        patrol.start_at = observed_at
    return patrol


def record_outcome(session: Session, alert_id: str, *, observed_at: dt.datetime, category: str,
                   area_ha: float | None = None, severity: str = "medium", team: str | None = None) -> Observation:
    """What the patrol found at alert ``alert_id`` at ``observed_at`` (UTC, not in the future): ``category``
    one of clearing, logging, new_settlement, fire, none; ``area_ha`` affected. The alert becomes ``checked``
    with its verdict; an incident of ``severity`` is recorded unless nothing was found."""
    if category not in VERDICT_CATEGORIES:
        raise InputError(f"category {category!r} cannot decide an alert",
                         f"use one of {', '.join(VERDICT_CATEGORIES)}")
    if severity not in SEVERITIES:
        raise InputError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}", "use low, medium or high")
    if area_ha is not None and not area_ha >= 0:
        raise InputError(f"area_ha {area_ha} is negative", "give the area affected in hectares, 0 or more")
    if observed_at > dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(minutes=5):
        raise InputError(f"observed_at {observed_at:%Y-%m-%d %H:%M} is in the future", "give when the patrol was there")
    (alert,) = _alerts(session, [alert_id])
    if alert.status == "checked":
        raise InputError(f"alert {alert_id} was already checked ({alert.verdict})", "pick an open alert")
    if observed_at.date() < alert.first_date:
        raise InputError(f"observed_at {observed_at:%Y-%m-%d} is before the alert ({alert.first_date})",
                         "give the date of the visit")

    def work() -> Observation:
        patrol = _patrol_of(session, alert, observed_at, team)
        obs = Observation(patrol=patrol, observed_at=observed_at, lon=alert.lon, lat=alert.lat, category=category,
                          area_ha=area_ha, alert=alert)
        session.add(obs)
        if category != "none":
            session.add(Incident(observation=obs, category=category, severity=severity, zone=alert.zone))
        alert.status = "checked"
        alert.verdict = verdict_of(category)
        alert.visited_at = observed_at
        session.flush()
        return obs

    return in_transaction(session, work)


__all__ = ["assign_alerts", "record_outcome"]
