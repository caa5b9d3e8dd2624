"""Every role × every route of the web app, against the one permission table (icam.web.roles.PERMISSIONS).

Each route is called as each role (an API token of a user with that role) and as an anonymous visitor
(``public``'s permissions, no credentials), with a request that succeeds when the caller may make it. A
caller whose role holds the route's permission gets the route's success code; one that does not gets 401
(anonymous, API), a redirect to the login page (anonymous, page) or 403 (a user), and writes nothing. The
table of calls must name every route the app has: a new route without its line fails here.
Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from web_project import AGREEMENTS, ALERT_IDS, HOUSEHOLDS, PASSWORD, email, first_serials, served

from icam.web.accounts import AuditRecord
from icam.web.roles import PERMISSIONS, PUBLIC, ROLES, allows, writes

TODAY = dt.date.today().isoformat()
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None).isoformat()


ANONYMOUS = "anonymous"
CALLERS = (*ROLES, ANONYMOUS)


def _index(caller: str) -> int:
    return CALLERS.index(caller)


# route (method, path template) -> how to call it as a role: (path, kind of body, body, success code)
CALLS = {
    ("GET", "/healthz"): lambda r: ("/healthz", None, None, 200),
    ("GET", "/api/v1/me"): lambda r: ("/api/v1/me", None, None, 200),
    ("GET", "/api/v1/summary"): lambda r: ("/api/v1/summary", None, None, 200),
    ("GET", "/api/v1/credits"): lambda r: ("/api/v1/credits", None, None, 200),
    ("GET", "/api/v1/credits/serials/{serial}"): lambda r: (
        f"/api/v1/credits/serials/{first_serials()['buyer']}", None, None, 200),
    ("GET", "/api/v1/households"): lambda r: ("/api/v1/households", None, None, 200),
    ("GET", "/api/v1/agreements"): lambda r: ("/api/v1/agreements", None, None, 200),
    ("GET", "/api/v1/deliveries"): lambda r: ("/api/v1/deliveries", None, None, 200),
    ("POST", "/api/v1/deliveries"): lambda r: ("/api/v1/deliveries", "json", {
        "agreement_id": AGREEMENTS[1], "item": "coffee seedlings", "delivered_on": "2015-05-04", "quantity": 100,
        "reference": f"API-{r}"}, 201),
    ("GET", "/api/v1/grievances"): lambda r: ("/api/v1/grievances", None, None, 200),
    ("POST", "/api/v1/grievances"): lambda r: ("/api/v1/grievances", "json", {
        "household_id": HOUSEHOLDS[2], "received_on": "2016-01-20", "category": "boundary",
        "description": f"Neighbour's fence ({r})"}, 201),
    ("GET", "/api/v1/alerts"): lambda r: ("/api/v1/alerts", None, None, 200),
    ("POST", "/api/v1/alerts/assign"): lambda r: ("/api/v1/alerts/assign", "json", {
        "alert_ids": [ALERT_IDS[_index(r)]], "start": TODAY, "days": 2, "team": "Patrulla 1"}, 201),
    ("POST", "/api/v1/alerts/{alert_id}/outcome"): lambda r: (
        f"/api/v1/alerts/{ALERT_IDS[7 + _index(r)]}/outcome", "json",
        {"observed_at": NOW, "category": "clearing", "area_ha": 0.8}, 201),
    ("GET", "/api/v1/outputs"): lambda r: ("/api/v1/outputs", None, None, 200),
    ("GET", "/api/v1/manifest"): lambda r: ("/api/v1/manifest", None, None, 200),
    ("GET", "/api/v1/allocation"): lambda r: ("/api/v1/allocation", None, None, 200),
    ("GET", "/api/v1/audit"): lambda r: ("/api/v1/audit", None, None, 200),
    ("GET", "/api/v1/users"): lambda r: ("/api/v1/users", None, None, 200),
    ("GET", "/"): lambda r: ("/", None, None, 200),
    ("GET", "/login"): lambda r: ("/login", None, None, 200),
    ("POST", "/login"): lambda r: ("/login", "login", None, 303),
    ("POST", "/logout"): lambda r: ("/logout", "form", {}, 303),
    ("GET", "/credits"): lambda r: (f"/credits?serial={first_serials()['retired']}", None, None, 200),
    ("GET", "/credits/serial"): lambda r: (f"/credits/serial?serial={first_serials()['buffer']}", "htmx", None, 200),
    ("GET", "/map"): lambda r: ("/map", None, None, 200),
    ("GET", "/map/boundaries.geojson"): lambda r: ("/map/boundaries.geojson", None, None, 200),
    ("GET", "/map/parcels.geojson"): lambda r: ("/map/parcels.geojson", None, None, 200),
    ("GET", "/map/rasters/{name}.png"): lambda r: ("/map/rasters/risk.png", None, None, 200),
    ("GET", "/map/rasters/{name}.json"): lambda r: ("/map/rasters/risk.json", None, None, 200),
    ("GET", "/outputs"): lambda r: ("/outputs", None, None, 200),
    ("GET", "/outputs/files/{path:path}"): lambda r: ("/outputs/files/tables/loss_by_period.csv", None, None, 200),
    ("GET", "/allocation"): lambda r: ("/allocation", None, None, 200),
    ("GET", "/audit"): lambda r: ("/audit", None, None, 200),
    ("GET", "/users"): lambda r: ("/users", None, None, 200),
    ("POST", "/users"): lambda r: ("/users", "form", {"email": f"new-{r}@example.org", "role": "verifier",
                                                      "password": PASSWORD}, 303),
    ("GET", "/agreements"): lambda r: ("/agreements", None, None, 200),
    ("POST", "/agreements/deliveries"): lambda r: ("/agreements/deliveries", "form", {
        "agreement_id": AGREEMENTS[2], "item": "coffee seedlings", "delivered_on": "04/05/2016", "quantity": "250,5",
        "reference": f"FORM-{r}"}, 303),
    ("POST", "/agreements/grievances"): lambda r: ("/agreements/grievances", "form", {
        "agreement_id": AGREEMENTS[0], "received_on": "2017-03-01", "category": "payment",
        "description": f"Late payment ({r})"}, 303),
    ("POST", "/agreements/upload"): lambda r: ("/agreements/upload", "upload", (
        "deliveries", f"agreement_id;item;delivered_on;quantity;reference\n{AGREEMENTS[1]};coffee seedlings;"
                      f"02/06/2017;120;UP-{r}\n".encode("latin-1")), 303),
    ("GET", "/enforcement"): lambda r: ("/enforcement", None, None, 200),
    ("POST", "/enforcement/assign"): lambda r: ("/enforcement/assign", "form", {
        "alert_ids": ALERT_IDS[14 + _index(r)], "start": TODAY, "days": "1"}, 303),
    ("POST", "/enforcement/outcome"): lambda r: ("/enforcement/outcome", "form", {
        "alert_id": ALERT_IDS[14 + _index(r)], "observed_at": NOW[:16], "category": "none"}, 303),
    ("GET", "/enforcement/alerts.gpx"): lambda r: ("/enforcement/alerts.gpx", None, None, 200),
    ("GET", "/enforcement/alerts.kml"): lambda r: ("/enforcement/alerts.kml", None, None, 200),
}
UNGUARDED = {("GET", "/healthz")}  # liveness for a load balancer: says nothing but "ok" and the version


def permission_of(route: APIRoute) -> str | None:
    """The permission a route requires (the ``require`` dependency among its own), or None."""
    found = [d.call.permission for d in route.dependant.dependencies if hasattr(d.call, "permission")]
    assert len(found) <= 1, f"{route.path} names {len(found)} permissions"
    return found[0] if found else None


def _api_routes(items) -> list[APIRoute]:
    """The app's API routes, also those of routers it included (FastAPI keeps those behind a wrapper)."""
    found = []
    for r in items:
        if isinstance(r, APIRoute):
            found.append(r)
        elif hasattr(r, "original_router"):
            found.extend(_api_routes(r.original_router.routes))
    return found


def routes(app) -> dict[tuple[str, str], str | None]:
    """(method, path) of every route of the app -> the permission it requires."""
    return {(method, r.path): permission_of(r) for r in _api_routes(app.routes) for method in r.methods
            if method != "HEAD"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def project(request, tmp_path_factory):
    with served(request, tmp_path_factory, "web_roles") as project:
        yield project


def _call(client: TestClient, role: str, tokens: dict, method: str, call) -> object:
    path, kind, body, _ = call(role)
    headers = {"Authorization": f"Bearer {tokens[role]}"} if role != ANONYMOUS else {}
    client.cookies.clear()
    if kind == "login":
        form_page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form_page.text)[1]
        return client.post(path, data={"email": email(role) if role != ANONYMOUS else "nobody@example.org",
                                       "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    if kind == "htmx":
        headers["HX-Request"] = "true"
    if kind == "json":
        return client.request(method, path, json=body, headers=headers, follow_redirects=False)
    if kind == "form":
        return client.request(method, path, data=body, headers=headers, follow_redirects=False)
    if kind == "upload":
        upload_kind, content = body
        return client.post(path, data={"kind": upload_kind}, files={"file": ("entregas.csv", content, "text/csv")},
                           headers=headers, follow_redirects=False)
    return client.request(method, path, headers=headers, follow_redirects=False)


def test_every_route_names_one_permission_of_the_table_and_has_its_call(project):
    app, _, _ = project
    table = routes(app)
    assert set(table) == set(CALLS), f"routes without a call: {set(table) - set(CALLS)}; " \
                                     f"calls without a route: {set(CALLS) - set(table)}"
    for route, permission in table.items():
        if route in UNGUARDED:
            assert permission is None
        else:
            assert permission in PERMISSIONS, route
    used = {p for p in table.values() if p}
    assert used == set(PERMISSIONS), f"permissions no route uses: {set(PERMISSIONS) - used}"


@pytest.mark.parametrize("role", CALLERS)
def test_each_role_gets_exactly_what_the_table_gives_it(project, role):
    app, client, tokens = project
    for (method, template), permission in sorted(routes(app).items(), key=lambda kv: kv[0][1]):
        call = CALLS[(method, template)]
        expected = call(role)[3]
        response = _call(client, role, tokens, method, call)
        where = f"{role} {method} {template}: {response.status_code} {response.text[:200]}"
        if permission is None or allows(PUBLIC if role == ANONYMOUS else role, permission):
            if template == "/login" and method == "POST" and role == ANONYMOUS:
                assert response.status_code == 401, where  # nobody@example.org is no user
            else:
                assert response.status_code == expected, where
        elif role == ANONYMOUS and template.startswith("/api/"):
            assert response.status_code == 401, where
        elif role == ANONYMOUS:
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), where
        else:
            assert response.status_code == 403, where


def test_only_allowed_writes_were_recorded_each_with_who_and_when(project):
    """After every role tried every route, the audit log holds the writes of the roles allowed them, no
    other: a refused request writes nothing."""
    app, client, tokens = project
    with app.state.engine.connect() as connection:
        rows = connection.execute(select(AuditRecord.actor, AuditRecord.role, AuditRecord.action, AuditRecord.at)
                                  .where(AuditRecord.actor.like("%@example.org"))).all()
    if not rows:
        pytest.skip("runs after the role matrix")
    writers = {role for actor, role, _, _ in rows}
    may_write = {role for role in ROLES if any(allows(role, p) for p in PERMISSIONS if writes(p))}
    assert writers <= may_write
    assert "verifier" not in writers and "jurisdiction" not in writers and "analyst" not in writers
    assert all(at.startswith(str(dt.date.today().year)) for *_, at in rows)
    with app.state.engine.connect() as connection:
        per_action = dict(connection.execute(select(AuditRecord.action, func.count())
                                             .where(AuditRecord.actor.like("%@example.org"))
                                             .group_by(AuditRecord.action)).all())
    # agreements.write: admin and agreements; patrols.write: admin and ranger; users.manage: admin
    assert per_action == {"deliveries.add": 4, "grievances.add": 4, "deliveries.upload": 2, "alerts.assign": 4,
                          "alerts.outcome": 4, "user.add": 1}
