"""The web app's security, one test per item of docs/security.md's OWASP ASVS level 1 checklist (the item's
number in each test's name or docstring): passwords, sessions, CSRF, login limits, headers, redirects,
errors, uploads, the users command and the audit log."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from web_project import AGREEMENTS, ALERT_IDS, PASSWORD, email, make_project

from conftest import assert_refused, folder_state, run_cli
from icam.agreements.models import Delivery
from icam.web.accounts import AuditRecord, Credential, User, digest
from icam.web.app import create_app


@pytest.fixture()
def served(tmp_path):
    tokens = make_project(tmp_path / "project")
    app = create_app(tmp_path / "project")
    with TestClient(app) as client:
        yield app, client, tokens


def login(client: TestClient, who: str, password: str = PASSWORD, next_path: str = "/"):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    return client.post("/login", data={"email": who, "password": password, "csrf_token": token, "next": next_path},
                       follow_redirects=False)


def csrf_of(client: TestClient, path: str = "/agreements") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)[1]


def _deliveries(app) -> int:
    with app.state.engine.connect() as connection:
        return len(connection.execute(select(Delivery.id)).all())


def test_2_4_1_passwords_are_argon2id_hashes_and_tokens_only_their_sha256(served):
    app, _, tokens = served
    with app.state.engine.connect() as connection:
        hashes = connection.execute(select(User.password_hash)).scalars().all()
        stored = set(connection.execute(select(Credential.token_sha256)).scalars())
    assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    assert {digest(t) for t in tokens.values()} <= stored and not set(tokens.values()) & stored


def test_3_4_session_cookie_is_httponly_and_samesite_and_2_2_1_logins_are_limited(served):
    _, client, _ = served
    ok = login(client, email("agreements"))
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"].lower()
    assert "icam_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    client.cookies.clear()
    for _ in range(5):
        assert login(client, email("ranger"), "wrong password!").status_code == 401
    limited = login(client, email("ranger"))  # the right password, too late
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert login(client, "someone-else@example.org", "x" * 12).status_code == 429  # the same address too


def test_3_3_1_logout_ends_the_session_on_the_server(served):
    _, client, _ = served
    login(client, email("agreements"))
    stolen = client.cookies.get("icam_session")
    assert client.get("/agreements", follow_redirects=False).status_code == 200
    client.post("/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    client.cookies.set("icam_session", stolen)  # the old cookie replayed
    page = client.get("/agreements", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_3_3_2_an_expired_session_is_anonymous(served):
    app, client, _ = served
    login(client, email("verifier"))
    with app.state.engine.begin() as connection:
        connection.execute(update(Credential).where(Credential.kind == "session")
                           .values(expires_at=(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1))
                                   .isoformat(timespec="seconds")))
    assert client.get("/audit", follow_redirects=False).status_code == 303


def test_4_2_2_forms_need_the_sessions_csrf_token_and_write_nothing_without_it(served):
    app, client, _ = served
    login(client, email("agreements"))
    form = {"agreement_id": AGREEMENTS[0], "item": "coffee seedlings", "delivered_on": "2020-01-15",
            "quantity": "10", "reference": "CSRF-1"}
    before = _deliveries(app)
    assert client.post("/agreements/deliveries", data=form, follow_redirects=False).status_code == 403
    assert client.post("/agreements/deliveries", data={**form, "csrf_token": "forged"},
                       follow_redirects=False).status_code == 403
    assert client.post("/api/v1/deliveries", json={**form, "quantity": 10}).status_code == 403  # cookie, no header
    assert _deliveries(app) == before
    token = csrf_of(client)
    assert client.post("/agreements/deliveries", data={**form, "csrf_token": token},
                       follow_redirects=False).status_code == 303
    assert client.post("/api/v1/deliveries", json={**form, "quantity": 10, "reference": "CSRF-2"},
                       headers={"X-CSRF-Token": token}).status_code == 201
    assert _deliveries(app) == before + 2
    client.cookies.clear()
    page = client.get("/login")
    assert client.post("/login", data={"email": email("admin"), "password": PASSWORD, "csrf_token": "forged"},
                       cookies=page.cookies, follow_redirects=False).status_code == 403


def test_5_1_5_login_redirects_only_inside_the_site(served):
    _, client, _ = served
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        client.cookies.clear()
        assert login(client, email("admin"), next_path=target).headers["location"] == "/"
    client.cookies.clear()
    assert login(client, email("admin"), next_path="/audit").headers["location"] == "/audit"


def test_14_4_headers_and_no_cache_of_pages(served):
    _, client, _ = served
    response = client.get("/credits")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in response.text  # every script is a file of this server


def test_bad_bearer_token_is_401_with_its_challenge(served):
    _, client, _ = served
    response = client.get("/api/v1/credits", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_7_4_1_an_unexpected_error_shows_no_internals(served):
    app, _, _ = served
    (app.state.project_dir / "outputs" / "results.json").write_text("{ half a file", encoding="utf-8")
    client = TestClient(app, raise_server_exceptions=False)  # as a browser sees it (the server logs the error)
    response = client.get("/api/v1/summary")
    assert response.status_code == 500 and response.json() == {"detail": "internal error"}
    page = client.get("/")
    assert page.status_code == 500 and "Traceback" not in page.text and "results.json" not in page.text


def test_12_1_an_upload_with_a_bad_row_imports_nothing_and_says_why(served):
    app, client, _ = served
    login(client, email("agreements"))
    token = csrf_of(client)
    rows = "agreement_id;item;delivered_on;quantity\n" + "".join(
        f"{AGREEMENTS[k % 3]};coffee seedlings;0{1 + k}/03/2018;1{k},5\n" for k in range(5)) + \
        "AC-0000-0000;coffee seedlings;01/03/2018;3\n"
    before = _deliveries(app)
    page = client.post("/agreements/upload", data={"kind": "deliveries", "csrf_token": token},
                       files={"file": ("entregas.csv", rows.encode("latin-1"), "text/csv")})
    assert page.status_code == 422 and "1 of 6 rows refused" in page.text and "AC-0000-0000" in page.text
    assert _deliveries(app) == before
    good = rows.rsplit("AC-0000", 1)[0]
    done = client.post("/agreements/upload", data={"kind": "deliveries", "csrf_token": token},
                       files={"file": ("entregas.csv", good.encode("latin-1"), "text/csv")}, follow_redirects=False)
    assert done.status_code == 303 and _deliveries(app) == before + 5


def test_7_1_every_write_is_in_the_audit_log_with_who_and_when(served):
    app, client, tokens = served
    client.post("/api/v1/grievances", headers={"Authorization": f"Bearer {tokens['agreements']}"},
                json={"agreement_id": AGREEMENTS[1], "received_on": "2021-04-01", "category": "payment",
                      "description": "Bono no recibido"})
    client.post("/api/v1/alerts/assign", headers={"Authorization": f"Bearer {tokens['ranger']}"},
                json={"alert_ids": [ALERT_IDS[0]], "start": dt.date.today().isoformat()})
    with app.state.engine.connect() as connection:
        rows = connection.execute(select(AuditRecord.actor, AuditRecord.role, AuditRecord.action, AuditRecord.at)
                                  .where(AuditRecord.actor.like("%@example.org"))).all()
    assert [(a, r, what) for a, r, what, _ in rows] == [(email("agreements"), "agreements", "grievances.add"),
                                                         (email("ranger"), "ranger", "alerts.assign")]
    assert all(dt.datetime.fromisoformat(at) > dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
               for *_, at in rows)


def _users_add(project, *args: str, stdin: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from icam.cli import app

    result = CliRunner().invoke(app, ["users", "add", str(project), *args], input=stdin)
    return result.exit_code, result.output


def test_users_command_adds_gives_tokens_and_refuses_cleanly(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    for flags, stdin, match in ((["--role", "admin", "--password-stdin"], "short\n", "at least 12"),
                                (["--role", "chief", "--password-stdin"], PASSWORD + "\n", "unknown role"),
                                (["--role", "admin"], PASSWORD + "\n", "password-stdin"),
                                (["--role", "admin", "--password-stdin"], PASSWORD + "\n", "not an e-mail")):
        address = "not an address" if match == "not an e-mail" else "a@example.org"
        code, out = _users_add(project, "--email", address, *flags, stdin=stdin)
        assert code == 2 and out.startswith("error:") and len(out.strip().splitlines()) == 1 and match in out, out
        assert folder_state(project) == {}  # no database made for a refused user
    code, out = _users_add(project, "--email", "Head@Example.org", "--role", "admin", "--password-stdin",
                           stdin=PASSWORD + "\n")
    assert code == 0 and "head@example.org" in out
    code, first = run_cli("users", "token", project, "--email", "head@example.org")
    code2, second = run_cli("users", "token", project, "--email", "head@example.org")
    assert code == code2 == 0 and first.strip() != second.strip()
    with TestClient(create_app(project)) as client:
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {first.strip()}"}).status_code == 401
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {second.strip()}"}).json()
    assert (me["email"], me["role"]) == ("head@example.org", "admin")
    before = folder_state(project)
    code, out = _users_add(project, "--email", "head@example.org", "--role", "ranger", "--password-stdin",
                           stdin=PASSWORD + "\n")
    assert code == 2 and "already a user" in out and folder_state(project) == before
    assert_refused(project, "users", "token", project, "--email", "nobody@example.org", match="no user")
    actions = sqlite3.connect(project / ".icam" / "ledger.sqlite").execute(
        "SELECT actor, action FROM web_audit_log ORDER BY id").fetchall()
    assert [a for _, a in actions] == ["user.add", "user.token", "user.token"] and actions[0][0].startswith("cli:")


def test_2_1_1_and_2_1_2_password_lengths():
    from icam.core.errors import InputError
    from icam.web.accounts import check_password

    assert check_password("x" * 12) and check_password("una frase de contraseña muy larga " * 3)  # 102 characters
    for bad in ("x" * 11, "x" * 129):
        with pytest.raises(InputError):
            check_password(bad)


def test_3_2_1_each_login_gets_a_new_session_token(served):
    _, client, _ = served
    login(client, email("analyst"))
    first = client.cookies.get("icam_session")
    client.cookies.clear()
    login(client, email("analyst"))
    assert first and client.cookies.get("icam_session") not in (None, first)


def test_5_3_3_what_people_typed_is_escaped_in_the_pages(served):
    _, client, tokens = served
    client.post("/api/v1/grievances", headers={"Authorization": f"Bearer {tokens['agreements']}"},
                json={"agreement_id": AGREEMENTS[1], "received_on": "2021-04-01", "category": "<b>x</b>",
                      "description": "<script>alert('x')</script>"})
    page = client.get("/agreements", headers={"Authorization": f"Bearer {tokens['verifier']}"})
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text


def test_5_3_4_and_12_3_1_no_injection_nor_path_outside_the_outputs(served):
    _, client, tokens = served
    assert client.get("/api/v1/credits/serials/1 OR 1=1").status_code == 404
    analyst = {"Authorization": f"Bearer {tokens['analyst']}"}
    (client.app.state.project_dir / "secret.txt").write_text("not an output", encoding="utf-8")
    for path in ("../secret.txt", "..%2Fsecret.txt", "%2E%2E/secret.txt", "/etc/passwd", "tables/../../secret.txt"):
        response = client.get(f"/outputs/files/{path}", headers=analyst)
        assert response.status_code == 404 and "not an output" not in response.text, path
    assert client.get("/outputs/files/tables/loss_by_period.csv", headers=analyst).text.startswith("period,loss_ha")


def test_12_1_1_an_upload_larger_than_the_limit_is_refused(served):
    from icam.web.pages_field import MAX_UPLOAD_BYTES

    app, client, _ = served
    login(client, email("agreements"))
    big = b"agreement_id,item,delivered_on,quantity\n" + b"x" * MAX_UPLOAD_BYTES
    page = client.post("/agreements/upload", data={"kind": "deliveries", "csrf_token": csrf_of(client)},
                       files={"file": ("big.csv", big, "text/csv")})
    assert page.status_code == 422 and "larger than 20 MB" in page.text


def test_docs_permission_table_is_the_codes_and_every_test_it_names_exists():
    from conftest import REPO_ROOT
    from icam.web.roles import PERMISSIONS, ROLES

    text = (REPO_ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    header = "| permission | what it covers | " + " | ".join(ROLES) + " |"
    assert header in text
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == len(ROLES) + 2 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (tuple(r for r, c in zip(ROLES, cells[2:]) if c == "✔"), cells[1])
    assert rows == {p: (tuple(r for r in ROLES if r in holders), meaning)
                    for p, (holders, meaning) in PERMISSIONS.items()}
    named = set(re.findall(r"`(?:test_web_\w+\.py::)?(test_\w+)`", text))
    defined = set()
    for module in (REPO_ROOT / "tests" / "web").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", module.read_text(encoding="utf-8"), flags=re.M))
    assert len(named) > 15 and named <= defined, named - defined
