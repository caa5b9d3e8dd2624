"""The app's writes, one function each, shared by the API and the pages: one transaction that holds the
write and its audit line (:func:`icam.web.deps.writing`), through the same registry functions as the command
line; and :func:`said`, what a refusal tells the person."""

from __future__ import annotations

import datetime as dt

from fastapi import Request

from icam.agreements.registry import ImportReport, import_records
from icam.core.errors import IcamError
from icam.enforcement.outcomes import assign_alerts, record_outcome
from icam.store.forms import FormImportError
from icam.web.accounts import Identity, record
from icam.web.deps import writing


def said(exc: IcamError) -> str:
    """What a refused write tells the person: the problem and how to fix it; for rows, each row's problem and
    fix (the command line's hint about its errors CSV means nothing here)."""
    if not isinstance(exc, FormImportError):
        return str(exc)
    problems = "; ".join(f"{exc.unit} {e.row}, {e.column}: {e.problem} ({e.fix})" for e in exc.errors[:5])
    more = f"; and {len(exc.errors) - 5} more" if len(exc.errors) > 5 else ""
    bad = len({e.row for e in exc.errors})
    units = exc.unit if exc.n_rows == 1 else f"{exc.unit}s"
    return f"{bad} of {exc.n_rows} {units} refused, nothing was saved: {problems}{more}."


def add_row(request: Request, who: Identity, kind: str, row: dict) -> ImportReport:
    """One registry row (a delivery, a grievance) through :func:`import_records`, with its audit line."""
    with writing(request) as session:
        report = import_records(session, kind, [row], name=f"{kind} form")
        record(session, who, f"{kind}.add", row.get("agreement_id") or row.get("household_id"), row)
    return report


def assign(request: Request, who: Identity, alert_ids: list[str], *, start: dt.date, days: int,
           team: str | None) -> str:
    """Open alerts sent to a new patrol plan, with its audit line; the plan's code."""
    with writing(request) as session:
        code = assign_alerts(session, alert_ids, start=start, days=days, team=team).code
        record(session, who, "alerts.assign", code, {"alert_ids": alert_ids, "start": start.isoformat(),
                                                     "days": days, "team": team})
    return code


def outcome(request: Request, who: Identity, alert_id: str, *, observed_at: dt.datetime, category: str,
            area_ha: float | None, severity: str, team: str | None = None) -> dict:
    """What the patrol found at an alert (``observed_at``: UTC when naive), with its audit line; the alert's
    verdict and the patrol's code."""
    if observed_at.tzinfo is not None:
        observed_at = observed_at.astimezone(dt.timezone.utc).replace(tzinfo=None)
    with writing(request) as session:
        obs = record_outcome(session, alert_id, observed_at=observed_at, category=category, area_ha=area_ha,
                             severity=severity, team=team)
        record(session, who, "alerts.outcome", alert_id, {"observed_at": observed_at.isoformat(),
                                                          "category": category, "area_ha": area_ha,
                                                          "severity": severity, "team": team})
        return {"alert_id": alert_id, "verdict": obs.alert.verdict, "patrol": obs.patrol.code}


__all__ = ["add_row", "assign", "outcome", "said"]
