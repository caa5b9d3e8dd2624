"""The web app's contract for outside checks (issue 17, Deliver 6), the public registry's privacy, and the
languages: serial lookup worked by hand from the ledger's issuance, households by role, one delivery posted
through the deliveries importer, ``/healthz``, Spanish and English by ``Accept-Language`` with es-PE numbers.
The contract runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from web_project import (
    AGREEMENTS,
    HOUSEHOLDS,
    ISSUED,
    MEMBER_NAMES,
    PROJECT,
    RETIRED,
    first_serials,
)
from web_project import served as serve_project

from icam.agreements.models import Agreement, Delivery
from icam.ledger.models import BUFFER_ACCOUNT
from icam.ledger.serials import block_label
from icam.report import i18n


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, tmp_path_factory):
    with serve_project(request, tmp_path_factory, "web_contract") as project:
        yield project


def _as(tokens: dict, role: str | None) -> dict:
    return {"Authorization": f"Bearer {tokens[role]}"} if role else {}


def test_a_retired_serial_has_its_block_vintage_status_and_history(served):
    _, client, _ = served
    response = client.get(f"/api/v1/credits/serials/{first_serials()['retired']}")
    assert response.status_code == 200
    record = response.json()
    # the first issuance (vintage 2012) made serials 1..120,000; 40,000 went to the buyer, who retired 30,000
    (start, end), vintage, _, _ = ISSUED[0]
    assert (record["serial"], record["vintage"], record["status"], record["project"]) == (1, vintage, "retired",
                                                                                        PROJECT)
    assert (record["first_serial"], record["last_serial"], record["quantity"]) == (1, RETIRED[0], RETIRED[0])
    assert record["block_label"] == block_label(PROJECT, vintage, dt.date.fromisoformat(start), 1, RETIRED[0])
    assert (record["period_start"], record["period_end"]) == (start, end)
    assert [e["event"] for e in record["history"]] == ["issuance", "transfer", "retirement"]
    assert record["history"][2]["beneficiary"] == RETIRED[1]
    seqs = [e["audit_seq"] for e in record["history"]]
    assert seqs == sorted(seqs)


def test_buffer_held_and_missing_serials(served):
    _, client, _ = served
    serials = first_serials()
    buffer = client.get(f"/api/v1/credits/serials/{serials['buffer']}").json()
    assert (buffer["status"], buffer["account"]) == ("held", BUFFER_ACCOUNT)
    assert [e["event"] for e in buffer["history"]] == ["buffer_contribution"]
    held = client.get(f"/api/v1/credits/serials/{serials['buyer']}").json()
    assert (held["status"], held["account"], held["first_serial"]) == ("held", RETIRED[1], RETIRED[0] + 1)
    by_label = client.get(f"/api/v1/credits/serials/{buffer['block_label']}").json()
    assert by_label["first_serial"] == buffer["first_serial"]
    for missing in (serials["none"], 0, "abc", "-5", "99999999999999999999999", "²", "1²"):
        response = client.get(f"/api/v1/credits/serials/{missing}")
        assert response.status_code == 404, missing
        assert "no credit" in response.json()["detail"]


@pytest.mark.parametrize("role,status", [(None, 401), ("public", 403), ("jurisdiction", 403), ("ranger", 403),
                                         ("agreements", 200), ("analyst", 200), ("verifier", 200), ("admin", 200)])
def test_households_by_role(served, role, status):
    _, client, tokens = served
    response = client.get("/api/v1/households", headers=_as(tokens, role))
    assert response.status_code == status, response.text
    if status == 200:
        rows = response.json()
        assert [h["household_id"] for h in rows] == list(HOUSEHOLDS)
        assert [h["members"] for h in rows] == [[name] for name in MEMBER_NAMES]


def test_a_delivery_is_posted_refused_or_forbidden(served):
    app, client, tokens = served
    body = {"agreement_id": AGREEMENTS[2], "item": "coffee seedlings", "delivered_on": "2019-07-01", "quantity": 40,
            "reference": "CONTRACT-1"}
    assert client.post("/api/v1/deliveries", json=body, headers=_as(tokens, "verifier")).status_code == 403
    assert client.post("/api/v1/deliveries", json=body).status_code == 401
    created = client.post("/api/v1/deliveries", json=body, headers=_as(tokens, "agreements"))
    assert created.status_code == 201 and created.json() == {"kind": "deliveries", "inserted": 1}
    with app.state.engine.connect() as connection:
        value = connection.execute(select(Delivery.value_usd).join(Agreement)
                                   .where(Delivery.reference == "CONTRACT-1", Agreement.code == AGREEMENTS[2])).one()
    assert float(value[0]) == pytest.approx(40 * 0.25)  # no value given: quantity × the schedule's unit cost
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    bad = {"again (a duplicate)": body,
           "an unknown agreement": {**body, "agreement_id": "AC-1999-9999", "reference": "X1"},
           "a day in the future": {**body, "delivered_on": tomorrow, "reference": "X2"},
           "a negative quantity": {**body, "quantity": -3, "reference": "X3"},
           "no item": {k: v for k, v in body.items() if k != "item"},
           "an unknown field": {**body, "household": "HH0001"},
           "not a date": {**body, "delivered_on": "yesterday"}}
    for what, payload in bad.items():
        response = client.post("/api/v1/deliveries", json=payload, headers=_as(tokens, "agreements"))
        assert response.status_code == 422, what
        assert isinstance(response.json()["detail"], str) and response.json()["detail"], what
    unknown = client.post("/api/v1/deliveries", json=bad["an unknown agreement"], headers=_as(tokens, "agreements"))
    assert "AC-1999-9999" in json.dumps(unknown.json()["errors"])
    with app.state.engine.connect() as connection:
        assert connection.execute(select(Delivery.id).where(Delivery.reference.like("X%"))).all() == []


def test_healthz(served):
    _, client, _ = served
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_the_public_sees_no_household_owner_or_payment(served):
    """Everything an anonymous visitor or a ``public`` account can open holds no member's name, no household
    or parcel code, and no money paid."""
    _, client, tokens = served
    secrets_shown = [*MEMBER_NAMES, *HOUSEHOLDS, "value_usd", "coffee seedlings", "REC-0001"]
    for role in (None, "public"):
        for path in ("/", "/credits", f"/credits?serial={first_serials()['retired']}", "/api/v1/summary",
                     "/api/v1/credits", f"/api/v1/credits/serials/{first_serials()['buyer']}", "/api/v1/me",
                     "/login"):
            response = client.get(path, headers=_as(tokens, role))
            assert response.status_code == 200, path
            for secret in secrets_shown:
                assert secret not in response.text, (role, path, secret)


def test_pages_follow_the_browsers_language_or_the_users_choice(served):
    _, client, _ = served
    spanish = client.get("/", headers={"Accept-Language": "es"})
    assert spanish.headers["content-language"] == "es" and "Tablero" in spanish.text and 'lang="es"' in spanish.text
    english = client.get("/credits", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Credit registry" in english.text and english.headers["content-language"] == "en"
    chosen = client.get("/credits?lang=en", headers={"Accept-Language": "es"})
    assert "Credit registry" in chosen.text and "icam_lang=en" in chosen.headers["set-cookie"]
    assert "Registro de créditos" in client.get("/credits", headers={"Accept-Language": "es-PE"},
                                                cookies={"icam_lang": "es"}).text
    issued = sum(credits for _, _, credits, _ in ISSUED)
    assert i18n.number(issued, "es") in spanish.text  # the dashboard's credits issued, es-PE grouping


@pytest.mark.parametrize("header,choice,expected", [
    ("es-PE,es;q=0.9,en;q=0.8", None, "es"), ("en-US,en;q=0.9", None, "en"), ("fr-FR,fr;q=0.9", None, "es"),
    ("en;q=0.5, es;q=0.9", None, "es"), ("de, en;q=0.1", None, "en"), ("", None, "es"), (None, None, "es"),
    ("es", "en", "en"), ("en", "xx", "en"), ("*", None, "es"), ("en;q=0", None, "es")])
def test_language_negotiation(header, choice, expected):
    assert i18n.negotiate(header, choice) == expected


def test_numbers_and_dates_per_locale():
    # CLDR: Peru's Spanish groups thousands with "," and writes decimals with "."; months abbreviated
    assert i18n.number(1_234_567.891, "es", 2) == "1,234,567.89"
    assert i18n.number(1_234_567.891, "en") == "1,234,568"
    assert i18n.date(dt.date(2024, 5, 1), "es") == "1 may. 2024"
    assert i18n.date("2024-05-01", "en") == "May 1, 2024"
    assert i18n.number(None, "es") == "" and i18n.date(None, "en") == ""


def test_every_message_of_the_pages_has_its_spanish_translation():
    """What ``pybabel extract`` finds in the pages and the code is all in the Spanish catalogue, translated."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    from conftest import REPO_ROOT

    method_map = [("src/icam/web/templates/**.html", "jinja2"), ("src/icam/web/**.py", "python"),
                  ("src/icam/report/i18n.py", "python")]
    found = {m[2] if isinstance(m[2], str) else m[2][0]
             for m in extract_from_dir(str(REPO_ROOT), method_map, keywords={"_": None, "N_": None, "gettext": None},
                                       options_map={"src/icam/web/templates/**.html":
                                                    {"extensions": "jinja2.ext.i18n"}})}
    with open(REPO_ROOT / "src/icam/report/locale/es/LC_MESSAGES/messages.po", "rb") as f:
        catalogue = read_po(f)
    missing = sorted(m for m in found if m not in catalogue or not catalogue[m].string)
    assert len(found) > 150 and missing == []
    assert i18n.translations("es").gettext("to_verify") == "por verificar"
    assert i18n.translations("en").gettext("to_verify") == "to verify"  # codes get words in English too


@given(header=st.text(max_size=80), choice=st.one_of(st.none(), st.text(max_size=5)))
def test_negotiation_always_answers_a_language_it_has(header, choice):
    lang = i18n.negotiate(header, choice)
    assert lang in i18n.LANGUAGES
    if choice in i18n.LANGUAGES:
        assert lang == choice


def test_a_refused_row_says_its_problem_and_fix_and_nothing_about_the_command_line(served):
    _, client, tokens = served
    response = client.post("/api/v1/deliveries", headers=_as(tokens, "agreements"),
                           json={"agreement_id": "AC-1999-0001", "item": "coffee seedlings",
                                 "delivered_on": "2019-07-01", "quantity": 1, "reference": "MSG-1"})
    detail = response.json()["detail"]
    assert response.status_code == 422 and detail.startswith("1 of 1 row refused, nothing was saved: row 1, ")
    assert "AC-1999-0001" in detail and "--errors-csv" not in detail and "(import" in detail
