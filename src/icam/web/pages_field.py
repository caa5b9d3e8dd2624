"""The field teams' pages: agreements (households, deliveries, grievances, field files uploaded) for the
agreements team, enforcement (alerts, patrols, outcomes, GPX/KML) for the rangers.

Forms go through the same all-or-nothing importers as the command line (:func:`import_records` for one row
typed in, :func:`import_table` for an uploaded file); a refused form comes back with its message, its values
kept, and nothing written.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from icam.agreements.registry import KINDS, import_table
from icam.core.errors import IcamError
from icam.enforcement.exports import gpx_text, kml_text
from icam.enforcement.plans import waypoint_table
from icam.pipeline.config import CONFIG_NAME, load_config
from icam.pipeline.extent import project_extent
from icam.web import actions, views
from icam.web.accounts import Identity, record
from icam.web.deps import db, require, writing
from icam.web.pages import render

router = APIRouter(include_in_schema=False)
UPLOAD_KINDS = tuple(k for k in KINDS if k != "communities")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _agreements_page(request: Request, session: Session, who: Identity, status_code: int = 200, **context):
    context.setdefault("message", None)
    context.setdefault("form", {})
    context.setdefault("done", request.query_params.get("done"))
    items = views.agreement_items(session)
    return render(request, "agreements.html", who, status_code=status_code, households=views.households(session),
                  agreements=views.agreements(session),
                  deliveries=views.deliveries(session, 30), grievances=views.grievances(session, 30), items=items,
                  benefit_items=sorted({item for _, its in items for item in its}), kinds=UPLOAD_KINDS,
                  today=dt.date.today().isoformat(), **context)


@router.get("/agreements", response_class=HTMLResponse)
def agreements(request: Request, session: Session = Depends(db), who: Identity = require("households.read")):
    """Households, agreements, deliveries and grievances; the forms for the agreements team."""
    return _agreements_page(request, session, who)


def _one_row(request: Request, who: Identity, kind: str, row: dict, session: Session) -> Response:
    try:
        actions.add_row(request, who, kind, row)
    except IcamError as exc:
        return _agreements_page(request, session, who, 422, message=actions.said(exc), form={kind: row})
    return RedirectResponse(f"/agreements?done={kind}", status_code=303)


@router.post("/agreements/deliveries", response_class=HTMLResponse)
def add_delivery(request: Request, agreement_id: str = Form(max_length=64), item: str = Form(max_length=200),
                 delivered_on: str = Form(max_length=32), quantity: str = Form(max_length=32),
                 value_usd: str = Form("", max_length=32), reference: str = Form("", max_length=200),
                 session: Session = Depends(db), who: Identity = require("agreements.write")):
    """One benefit delivery, as typed on a phone (decimal commas and day-first dates accepted)."""
    row = {"agreement_id": agreement_id, "item": item, "delivered_on": delivered_on, "quantity": quantity,
           "value_usd": value_usd, "reference": reference}
    return _one_row(request, who, "deliveries", row, session)


@router.post("/agreements/grievances", response_class=HTMLResponse)
def add_grievance(request: Request, household_id: str = Form("", max_length=64),
                  agreement_id: str = Form("", max_length=64), received_on: str = Form(max_length=32),
                  category: str = Form(max_length=64), description: str = Form(max_length=4000),
                  session: Session = Depends(db), who: Identity = require("agreements.write")):
    """One grievance received."""
    row = {"household_id": household_id, "agreement_id": agreement_id, "received_on": received_on,
           "category": category, "description": description}
    return _one_row(request, who, "grievances", row, session)


@router.post("/agreements/upload", response_class=HTMLResponse)
def upload(request: Request, kind: str = Form(max_length=32), file: UploadFile = File(...),
           session: Session = Depends(db), who: Identity = require("agreements.write")):
    """A field file (CSV, an ODK/KoboToolbox export; parcels as GeoPackage/GeoJSON) imported all or nothing."""
    project_dir = request.app.state.project_dir
    name = Path(file.filename or "upload.csv").name
    try:
        if kind not in UPLOAD_KINDS:
            raise IcamError(f"unknown kind of file {kind!r}", f"choose one of {', '.join(UPLOAD_KINDS)}")
        data = file.file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise IcamError(f"{name} is larger than {MAX_UPLOAD_BYTES // 2**20} MB", "split it in several files")
        config = load_config(project_dir) if (project_dir / CONFIG_NAME).is_file() else None
        crs, extent = (config.grid.crs, project_extent(config)) if config else (None, None)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            with writing(request) as write:
                record(write, who, f"{kind}.upload", name, {"bytes": len(data)})
                report = import_table(write, kind, path, crs=crs, extent=extent)
    except IcamError as exc:
        return _agreements_page(request, session, who, 422, message=actions.said(exc))
    return RedirectResponse(f"/agreements?done={kind}&rows={report.inserted}", status_code=303)


@router.get("/enforcement", response_class=HTMLResponse)
def enforcement(request: Request, session: Session = Depends(db), who: Identity = require("alerts.read")):
    """Open alerts by priority, patrol plans, the latest outcomes; forms for rangers."""
    return _enforcement_page(request, session, who)


def _enforcement_page(request: Request, session: Session, who: Identity, status_code: int = 200,
                      message: str | None = None):
    return render(request, "enforcement.html", who, status_code=status_code, message=message,
                  alerts=views.alerts(session, limit=200), plans=views.plans(session, 20),
                  outcomes=views.outcomes(session, 20), today=dt.date.today().isoformat(),
                  now=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M"),
                  done=request.query_params.get("done"))


@router.post("/enforcement/assign", response_class=HTMLResponse)
def assign(request: Request, alert_ids: list[str] = Form(...), start: dt.date = Form(...), days: int = Form(1),
           team: str = Form("", max_length=200), session: Session = Depends(db),
           who: Identity = require("patrols.write")):
    """Send the alerts ticked to a new patrol plan."""
    try:
        code = actions.assign(request, who, alert_ids, start=start, days=days, team=team or None)
    except IcamError as exc:
        return _enforcement_page(request, session, who, 422, actions.said(exc))
    return RedirectResponse(f"/enforcement?done={code}", status_code=303)


@router.post("/enforcement/outcome", response_class=HTMLResponse)
def outcome(request: Request, alert_id: str = Form(max_length=64), observed_at: dt.datetime = Form(...),
            category: str = Form(max_length=16), area_ha: str = Form("", max_length=32),
            severity: str = Form("medium", max_length=8), session: Session = Depends(db),
            who: Identity = require("patrols.write")):
    """What the patrol found at an alert."""
    try:
        area = float(area_ha.replace(",", ".")) if area_ha.strip() else None
        actions.outcome(request, who, alert_id, observed_at=observed_at, category=category, area_ha=area,
                        severity=severity)
    except ValueError:
        return _enforcement_page(request, session, who, 422, f"area {area_ha!r} is not a number of hectares.")
    except IcamError as exc:
        return _enforcement_page(request, session, who, 422, actions.said(exc))
    return RedirectResponse(f"/enforcement?done={alert_id}", status_code=303)


def _waypoints(session: Session) -> pd.DataFrame:
    return waypoint_table(views.ranked_alerts(session, limit=None, open_only=True))


@router.get("/enforcement/alerts.gpx")
def alerts_gpx(session: Session = Depends(db), _: Identity = require("alerts.read")) -> Response:
    """The open alerts as GPX waypoints for a GPS unit."""
    return Response(gpx_text(_waypoints(session)), media_type="application/gpx+xml",
                    headers={"Content-Disposition": 'attachment; filename="alerts_open.gpx"'})


@router.get("/enforcement/alerts.kml")
def alerts_kml(session: Session = Depends(db), _: Identity = require("alerts.read")) -> Response:
    """The open alerts as KML placemarks (Google Earth, phones)."""
    return Response(kml_text(_waypoints(session), "alerts_open"), media_type="application/vnd.google-earth.kml+xml",
                    headers={"Content-Disposition": 'attachment; filename="alerts_open.kml"'})


__all__ = ["router"]
