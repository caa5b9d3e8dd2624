"""The JSON API, ``/api/v1``: what the pages show, for scripts and outside checks (OpenAPI at
``/api/v1/openapi.json``). Every route names its permission (:mod:`icam.web.roles`); writes go through the
same all-or-nothing importers and registry functions as the command line, and land with their audit line.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from icam.core.errors import IcamError
from icam.store.forms import FormImportError
from icam.web import actions, views
from icam.web.accounts import Identity
from icam.web.deps import db, require
from icam.web.roles import permissions_of

router = APIRouter(prefix="/api/v1", tags=["api"])
Text = Annotated[str, Field(min_length=1, max_length=200)]


class DeliveryIn(BaseModel):
    """One benefit delivered to a household under its agreement (a row of the deliveries import)."""

    model_config = ConfigDict(extra="forbid")
    agreement_id: Annotated[str, Field(min_length=1, max_length=64, examples=["AC-2012-0040"])]
    item: Text
    delivered_on: dt.date
    quantity: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    value_usd: Annotated[float | None, Field(ge=0, allow_inf_nan=False)] = None
    reference: Annotated[str | None, Field(max_length=200)] = None


class GrievanceIn(BaseModel):
    """A grievance received from a household or about an agreement (a row of the grievances import)."""

    model_config = ConfigDict(extra="forbid")
    household_id: Annotated[str | None, Field(max_length=64)] = None
    agreement_id: Annotated[str | None, Field(max_length=64)] = None
    received_on: dt.date
    category: Annotated[str, Field(min_length=1, max_length=64)]
    description: Annotated[str, Field(min_length=1, max_length=4000)]


class AssignIn(BaseModel):
    """Alerts (their ids) sent to a new patrol plan from ``start`` for ``days`` days."""

    model_config = ConfigDict(extra="forbid")
    alert_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1,
                                                                                         max_length=100)]
    start: dt.date
    days: Annotated[int, Field(ge=1, le=60)] = 1
    team: Annotated[str | None, Field(max_length=200)] = None


class OutcomeIn(BaseModel):
    """What the patrol found at the alert: ``none`` (nothing: a false alert) or what was cleared."""

    model_config = ConfigDict(extra="forbid")
    observed_at: dt.datetime
    category: Annotated[str, Field(pattern="^(clearing|logging|new_settlement|fire|none)$")]
    area_ha: Annotated[float | None, Field(ge=0, le=100_000, allow_inf_nan=False)] = None
    severity: Annotated[str, Field(pattern="^(low|medium|high)$")] = "medium"
    team: Annotated[str | None, Field(max_length=200)] = None


def refused(exc: IcamError) -> JSONResponse:
    """A refused write as 422: the one-line message, and every row's problem for a form import."""
    body: dict = {"detail": actions.said(exc)}
    if isinstance(exc, FormImportError):
        body["errors"] = [{"row": e.row, "column": e.column, "value": e.value, "problem": e.problem, "fix": e.fix}
                          for e in exc.errors]
    return JSONResponse(body, status_code=422)


@router.get("/me")
def me(who: Identity = require("registry.read")) -> dict:
    """Who is asking, their role and what it may do."""
    return {"email": who.email, "role": who.role, "permissions": sorted(permissions_of(who.role))}


@router.get("/summary")
def summary(request: Request, session: Session = Depends(db), _: Identity = require("registry.read")) -> dict:
    """The project's aggregate figures: forest, loss per year, credits, agreements' compliance, alerts."""
    return views.summary(session, request.app.state.project_dir)


@router.get("/credits")
def credits(session: Session = Depends(db), _: Identity = require("registry.read")) -> dict:
    """The public registry: totals, issuance blocks by vintage, balances, retirements and beneficiaries."""
    return views.credits(session)


@router.get("/credits/serials/{serial}")
def serial(serial: str, session: Session = Depends(db), _: Identity = require("registry.read")) -> dict:
    """The block that holds ``serial`` (a whole number, or a block label), its vintage, status and history."""
    number = views.parse_serial(serial)
    found = views.serial(session, number) if number is not None else None
    if found is None:
        raise HTTPException(404, f"no credit with serial {serial!r} in this registry")
    return found


@router.get("/households")
def households(session: Session = Depends(db), _: Identity = require("households.read"),
               offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> list[dict]:
    """Households with their community, members and agreements, by code (``offset``, ``limit`` to page)."""
    return views.households(session, offset=offset, limit=limit)


@router.get("/agreements")
def agreements(session: Session = Depends(db), _: Identity = require("households.read")) -> list[dict]:
    """Agreements: household, term, conservation parcel and its hectares, latest compliance status."""
    return views.agreements(session)


@router.get("/deliveries")
def deliveries(session: Session = Depends(db), _: Identity = require("households.read")) -> list[dict]:
    """The latest benefit deliveries, newest first."""
    return views.deliveries(session)


@router.post("/deliveries", status_code=201, responses={422: {"description": "the delivery is refused"}})
def add_delivery(body: DeliveryIn, request: Request, who: Identity = require("agreements.write")):
    """Register one benefit delivery (checked as a row of the deliveries import: the agreement exists, the
    date is not in the future, the value comes from the benefit schedule when not given, no duplicate)."""
    try:
        return {"kind": "deliveries", "inserted": actions.add_row(request, who, "deliveries",
                                                                   body.model_dump(mode="json")).inserted}
    except IcamError as exc:
        return refused(exc)


@router.get("/grievances")
def grievances(session: Session = Depends(db), _: Identity = require("households.read")) -> list[dict]:
    """The latest grievances, newest first."""
    return views.grievances(session)


@router.post("/grievances", status_code=201, responses={422: {"description": "the grievance is refused"}})
def add_grievance(body: GrievanceIn, request: Request, who: Identity = require("agreements.write")):
    """Register one grievance (checked as a row of the grievances import)."""
    try:
        return {"kind": "grievances", "inserted": actions.add_row(request, who, "grievances",
                                                                   body.model_dump(mode="json")).inserted}
    except IcamError as exc:
        return refused(exc)


@router.get("/alerts")
def alerts(session: Session = Depends(db), _: Identity = require("alerts.read"),
           status: Annotated[str | None, Query(pattern="^(new|assigned|checked)$")] = None,
           limit: Annotated[int, Query(ge=1, le=20_000)] = 2_000) -> dict:
    """Alerts as GeoJSON points (WGS 84): open ones first, by priority and score, then the checked ones."""
    return views.alerts_geojson(views.alerts(session, status=status, limit=limit))


@router.post("/alerts/assign", status_code=201, responses={422: {"description": "the assignment is refused"}})
def assign(body: AssignIn, request: Request, who: Identity = require("patrols.write")):
    """Send open alerts to a new patrol plan."""
    try:
        code = actions.assign(request, who, body.alert_ids, start=body.start, days=body.days, team=body.team)
        return {"plan": code, "alerts": body.alert_ids}
    except IcamError as exc:
        return refused(exc)


@router.post("/alerts/{alert_id}/outcome", status_code=201,
             responses={422: {"description": "the outcome is refused"}})
def outcome(alert_id: str, body: OutcomeIn, request: Request, who: Identity = require("patrols.write")):
    """Record what the patrol found at an alert; the alert is checked and gets its verdict."""
    try:
        return actions.outcome(request, who, alert_id, observed_at=body.observed_at, category=body.category,
                               area_ha=body.area_ha, severity=body.severity, team=body.team)
    except IcamError as exc:
        return refused(exc)


@router.get("/outputs")
def outputs(request: Request, _: Identity = require("outputs.read")) -> list[dict]:
    """The last run's output files, their sizes and SHA-256."""
    return views.outputs(request.app.state.project_dir)


@router.get("/manifest")
def manifest(request: Request, _: Identity = require("outputs.read")) -> dict:
    """The last run's manifest: inputs and their SHA-256, parameters, library versions, timings."""
    return views.manifest(request.app.state.project_dir)


@router.get("/allocation")
def allocation(request: Request, _: Identity = require("allocation.read")) -> dict:
    """The baseline's allocation per zone and the risk model it rests on."""
    return views.allocation(request.app.state.project_dir)


@router.get("/audit")
def audit(session: Session = Depends(db), _: Identity = require("audit.read")) -> dict:
    """The web app's audit log and the ledger's hash chain (head and latest entries)."""
    return views.audit(session)


@router.get("/users")
def users(session: Session = Depends(db), _: Identity = require("users.manage")) -> list[dict]:
    """The project's users and their roles."""
    return views.people(session)


__all__ = ["router"]
