"""The pages everyone shares: dashboard, login, the public registry, the map, outputs, audit log and users.

Each page names its permission like the API's routes; a page shows a form only to a role that may send it
(the verifier sees no button that writes). Rendering: :func:`render`, with the language of the request.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from icam import __version__
from icam.core.errors import IcamError
from icam.web import maps, views
from icam.web.accounts import Identity, add_user, authenticate, end_session, new_session
from icam.web.deps import CSRF_FIELD, LOGIN_CSRF_COOKIE, SESSION_COOKIE, db, require, writing
from icam.web.roles import PERMISSIONS, PUBLIC, ROLES, allows

router = APIRouter(include_in_schema=False)


def render(request: Request, template: str, who: Identity | None, status_code: int = 200, **context) -> HTMLResponse:
    """``template`` in the request's language, with who is asking, what they may do and the CSRF token."""
    who = who or Identity(None, PUBLIC)
    lang = request.state.lang
    env = request.app.state.templates[lang]
    html = env.get_template(template).render(
        request=request, who=who, lang=lang, csrf=who.csrf or "", csrf_field=CSRF_FIELD,
        can=lambda permission: allows(who.role, permission), version=__version__,
        project=views.results(request.app.state.project_dir).get("project", {}), path=request.url.path, **context)
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    """A page for a refused or failed request (no internals: the message is one a user can act on)."""
    return render(request, "error.html", None, status_code=status_code, status=status_code, message=message)


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this site only (never another host: ASVS 5.1.5)."""
    parsed = urlparse(target or "/")
    return target if target and not parsed.scheme and not parsed.netloc and target.startswith("/") \
        and not target.startswith("//") else "/"


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: Session = Depends(db), who: Identity = require("registry.read")):
    """Forest, loss by year, credits, agreements' compliance and open alerts."""
    data = views.summary(session, request.app.state.project_dir)
    years = data["loss_ha_by_year"]
    top = max(years.values(), default=0) or 1
    bars = [{"year": y, "ha": v, "pct": round(100 * v / top, 1)} for y, v in sorted(years.items())]
    return render(request, "dashboard.html", who, data=data, bars=bars)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, who: Identity = require("registry.read"), next: str = "/"):
    """The login form, with a fresh anti-forgery token in a cookie and the form (double submit)."""
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", who, login_csrf=token, next=_safe_next(next), failed=False)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return response


@router.post("/login")
def login(request: Request, email: str = Form(max_length=254), password: str = Form(max_length=200),
          csrf_token: str = Form(""), next: str = Form("/"), _: Identity = require("registry.read")):
    """Check the e-mail and password; start a session (HttpOnly, SameSite cookie) or say no, slowly after
    repeated failures (at most five per address and per e-mail in 15 minutes)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        raise HTTPException(403, "the form's security token is missing or stale: reload the page")
    limiter = request.app.state.login_limiter
    keys = (f"ip:{request.client.host if request.client else '?'}", f"email:{email.strip().lower()}")
    wait_s = limiter.retry_after_s(*keys)
    if wait_s:
        response = render(request, "login.html", None, status_code=429, login_csrf=cookie, next=_safe_next(next),
                          failed=True, wait_s=wait_s)
        response.headers["Retry-After"] = str(wait_s)
        return response
    with writing(request) as session:
        user = authenticate(session, email, password)
        if user is None:
            limiter.failed(*keys)
            return render(request, "login.html", None, status_code=401, login_csrf=cookie, next=_safe_next(next),
                          failed=True, wait_s=0)
        token, _csrf = new_session(session, user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        max_age=12 * 3600)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form(""), who: Identity = require("registry.read")):
    """End the session (its credential is deleted) and forget the cookie."""
    if who.credential_id is not None and who.csrf and secrets.compare_digest(csrf_token, who.csrf):
        with writing(request) as session:
            end_session(session, who.credential_id)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/credits", response_class=HTMLResponse)
def credits(request: Request, session: Session = Depends(db), who: Identity = require("registry.read"),
            serial: str = ""):
    """The public registry: issuance blocks by vintage, balances, retirements; search by serial."""
    found = _lookup(session, serial) if serial else None
    return render(request, "credits.html", who, data=views.credits(session), serial=serial, found=found)


def _lookup(session: Session, text: str) -> dict:
    number = views.parse_serial(text)
    return {"query": text, "record": views.serial(session, number) if number is not None else None}


@router.get("/credits/serial", response_class=HTMLResponse)
def serial_fragment(request: Request, session: Session = Depends(db), who: Identity = require("registry.read"),
                    serial: str = ""):
    """The serial search's answer alone (for HTMX), or the whole page when asked by a plain browser."""
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"/credits?serial={serial}", status_code=303)
    return render(request, "serial.html", who, found=_lookup(session, serial))


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, who: Identity = require("map.read")):
    """The map: project, leakage belt, parcels by compliance, alerts by priority, risk and loss."""
    return render(request, "map.html", who, rasters=maps.RASTERS, today=dt.date.today().isoformat())


@router.get("/map/boundaries.geojson")
def map_boundaries(request: Request, _: Identity = require("map.read")) -> JSONResponse:
    """The project area and leakage belt (WGS 84)."""
    return JSONResponse(maps.boundaries(request.app.state.project_dir))


@router.get("/map/parcels.geojson")
def map_parcels(session: Session = Depends(db), _: Identity = require("parcels.read")) -> JSONResponse:
    """Conservation parcels by compliance status (WGS 84)."""
    return JSONResponse(maps.parcels(session))


@router.get("/map/rasters/{name}.png")
def map_raster(name: str, request: Request, _: Identity = require("map.read")) -> Response:
    """A run's raster as a picture on Web Mercator."""
    made = maps.raster(request.app.state.project_dir, name)
    if made is None:
        raise HTTPException(404, f"no raster {name!r} in this project's outputs")
    return Response(made[0], media_type="image/png")


@router.get("/map/rasters/{name}.json")
def map_raster_legend(name: str, request: Request, _: Identity = require("map.read")) -> JSONResponse:
    """Where the raster's picture lies and its legend."""
    made = maps.raster(request.app.state.project_dir, name)
    if made is None:
        raise HTTPException(404, f"no raster {name!r} in this project's outputs")
    return JSONResponse(made[1])


@router.get("/outputs", response_class=HTMLResponse)
def outputs(request: Request, who: Identity = require("outputs.read")):
    """The run's outputs and report to download, with their SHA-256, and the manifest's inputs."""
    project_dir = request.app.state.project_dir
    return render(request, "outputs.html", who, files=views.outputs(project_dir),
                  inputs=views.manifest(project_dir).get("inputs", []))


@router.get("/outputs/files/{path:path}")
def output_file(path: str, request: Request, _: Identity = require("outputs.read")) -> FileResponse:
    """One output file, only from inside the outputs folder."""
    folder = (request.app.state.project_dir / "outputs").resolve()
    target = (folder / path).resolve()
    if folder not in target.parents or not target.is_file():
        raise HTTPException(404, "no such output file")
    return FileResponse(target, filename=Path(path).name)


@router.get("/allocation", response_class=HTMLResponse)
def allocation(request: Request, who: Identity = require("allocation.read")):
    """The baseline: the risk model chosen, VT0007's hectares per year per zone, VM0015's allocation by year."""
    data = views.allocation(request.app.state.project_dir)
    by_zone = data["baseline"].get("vm0015", {}).get("by_zone", {})
    years = sorted({year for zone in by_zone.values() for year in zone})
    return render(request, "allocation.html", who, data=data, by_zone=by_zone, years=years,
                  vt0007=data["baseline"].get("vt0007", {}))


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, session: Session = Depends(db), who: Identity = require("audit.read")):
    """Who wrote what and when through the app, and the ledger's hash chain."""
    return render(request, "audit.html", who, data=views.audit(session))


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: Session = Depends(db), who: Identity = require("users.manage")):
    """The project's users, and the form to add one; the permission table."""
    return render(request, "users.html", who, people=views.people(session), roles=ROLES, permissions=PERMISSIONS,
                  message=None)


@router.post("/users", response_class=HTMLResponse)
def add_user_page(request: Request, email: str = Form(max_length=254), role: str = Form(max_length=16),
                  password: str = Form(max_length=200), who: Identity = require("users.manage")):
    """Add a user with a role (the admin gives them their password by a safe channel)."""
    try:
        with writing(request) as session:
            add_user(session, email, role, password, who)
        message, status = None, 303
    except IcamError as exc:
        message, status = str(exc), 422
    if status == 303:
        return RedirectResponse("/users", status_code=303)
    with writing(request) as session:
        people = views.people(session)
    return render(request, "users.html", who, status_code=status, people=people, roles=ROLES,
                  permissions=PERMISSIONS, message=message)


__all__ = ["error_page", "render", "router"]
