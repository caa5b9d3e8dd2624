"""Four journeys through the web app in a real browser (Debian's Chromium driven by Playwright) against a real
uvicorn server, on the small web project of :mod:`web_project`.

1. A ranger logs in, sees a new alert on the map, sends it to a patrol from its popup and records the outcome:
   the alert is then checked with its verdict, in the page, the API and the audit log.
2. A field officer registers a delivery in Spanish on a phone-sized screen (no sideways scrolling, a decimal
   comma): it is saved and listed; a bad one shows its error in the Spanish page and writes nothing.
3. A verifier opens every page their nav offers and sees everything, and no form or button that writes.
4. The public finds a serial in the registry (HTMX search): a retired one with its vintage and beneficiary, an
   unknown one with the not-found message; no household member's name on any page anonymous visitors open.

Needs /usr/bin/chromium: skipped where it is absent, failed in CI ($CI set). Nothing is downloaded.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from web_project import AGREEMENTS, ALERT_IDS, MEMBER_NAMES, PASSWORD, email, first_serials, make_project

from icam.report import i18n
from icam.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "es-PE"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The web project served by uvicorn on a free port of 127.0.0.1 (a thread), for the whole module."""
    folder = tmp_path_factory.mktemp("web-browser") / "project"
    tokens = make_project(folder)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(folder), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not _healthy(url):
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web app's server did not answer /healthz")
        time.sleep(0.05)
    yield SimpleNamespace(url=url, tokens=tokens)
    server.should_exit = True
    thread.join(10)
    sock.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless (never a downloaded browser)."""
    if not CHROMIUM.is_file():
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"CI must run the browser tests, but {CHROMIUM} is missing (apt-get install chromium)",
                        pytrace=False)
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextmanager
def opened(browser: Browser, site, **options):
    """A page in a fresh browser context (no cookies) on the site; fails on a script error or a CSP violation."""
    context = browser.new_context(base_url=site.url, **{"locale": "en-US", **options})
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        yield page
    finally:
        context.close()
    assert not problems, problems


def log_in(page: Page, role: str) -> None:
    """Log in through the login form as the test user of ``role``."""
    page.goto("/login")
    form = page.locator("form[action='/login']")
    form.locator("input[name=email]").fill(email(role))
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page.locator(".account .who")).to_contain_text(email(role))


def api(site, role: str, path: str):
    """GET ``path`` of the JSON API with the API token of ``role``'s user."""
    response = httpx.get(f"{site.url}{path}", headers={"Authorization": f"Bearer {site.tokens[role]}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _no_sideways_scroll(page: Page) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{page.url}: the page is {width} px wide on a {inner} px screen"


def test_ranger_sends_an_alert_from_the_map_to_a_patrol_and_records_the_outcome(browser, site, tmp_path):
    alert = ALERT_IDS[-1]  # 0.05° (about 18 px at the first zoom) from its neighbours: nothing hides it
    category, verdict, shown = "clearing", "true_positive", "confirmed"  # "confirmed": true_positive in English
    with opened(browser, site) as page:
        log_in(page, "ranger")
        page.goto("/map")
        page.locator(f"path.alert-marker.alert-{alert}").click()
        popup = page.locator(".leaflet-popup .alert-popup")
        expect(popup).to_contain_text(alert)
        page.screenshot(path=tmp_path / "ranger-map.png")
        popup.get_by_role("button", name="Send to a patrol").click()
        expect(page).to_have_url(re.compile(r"/enforcement\?done=\S+"))
        row = page.locator(f"#alert-{alert}")
        expect(row).to_contain_text("assigned")
        form = page.locator("#outcome-form")
        form.locator("select[name=alert_id]").select_option(alert)
        visited = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=2)
        form.locator("input[name=observed_at]").fill(visited.strftime("%Y-%m-%dT%H:%M"))
        form.locator("select[name=category]").select_option(category)
        form.locator("input[name=area_ha]").fill("0,8")
        form.get_by_role("button", name="Save outcome").click()
        expect(page).to_have_url(f"{site.url}/enforcement?done={alert}")
        expect(row).to_contain_text(f"checked · {shown}")
        expect(row.locator("input[type=checkbox]")).to_have_count(0)
        expect(page.locator("#outcomes tbody tr").first).to_contain_text(alert)
        page.screenshot(path=tmp_path / "ranger-enforcement.png", full_page=True)
    found = {f["properties"]["alert_id"]: f["properties"] for f in api(site, "ranger", "/api/v1/alerts")["features"]}
    assert (found[alert]["status"], found[alert]["verdict"]) == ("checked", verdict)
    writes = [(e["action"], e["target"]) for e in api(site, "admin", "/api/v1/audit")["web"]
              if e["actor"] == email("ranger")]
    assert sorted(w[0] for w in writes) == ["alerts.assign", "alerts.outcome"], writes
    assert dict(writes)["alerts.outcome"] == alert and dict(writes)["alerts.assign"].startswith("PLAN-"), writes


def test_field_officer_registers_a_delivery_in_spanish_on_a_phone(browser, site, tmp_path):
    before = api(site, "agreements", "/api/v1/deliveries")
    with opened(browser, site, **PHONE) as page:
        log_in(page, "agreements")
        page.goto("/agreements")
        expect(page.get_by_role("heading", level=1)).to_have_text("Acuerdos de conservación")
        form = page.locator("#delivery-form")
        expect(form.locator("button[type=submit]")).to_have_text("Guardar entrega")
        _no_sideways_scroll(page)
        form.locator("input[name=agreement_id]").fill(AGREEMENTS[2])
        form.locator("input[name=item]").fill("coffee seedlings")
        form.locator("input[name=delivered_on]").fill("2024-05-03")
        form.locator("input[name=quantity]").fill("250,5")
        form.locator("input[name=reference]").fill("REC-MOVIL-1")
        form.locator("button[type=submit]").tap()
        expect(page.locator(".message.ok")).to_have_text("Guardado.")
        row = page.locator("#deliveries tbody tr", has_text="REC-MOVIL-1")
        expect(row).to_contain_text(AGREEMENTS[2])
        expect(row).to_contain_text(i18n.number(250.5, "es", 2))  # as Peru writes it (CLDR: a decimal point)
        _no_sideways_scroll(page)
        page.screenshot(path=tmp_path / "delivery-phone.png", full_page=True)
        saved = api(site, "agreements", "/api/v1/deliveries")
        assert len(saved) == len(before) + 1
        new = next(d for d in saved if d["reference"] == "REC-MOVIL-1")
        assert (new["agreement_id"], new["item"], new["delivered_on"], new["quantity"]) == (
            AGREEMENTS[2], "coffee seedlings", "2024-05-03", 250.5)

        form.locator("input[name=agreement_id]").fill("AC-2099-9999")
        form.locator("input[name=item]").fill("coffee seedlings")
        form.locator("input[name=quantity]").fill("12,5")
        form.locator("input[name=reference]").fill("REC-MOVIL-2")
        form.locator("button[type=submit]").tap()
        error = page.locator(".message.error")
        expect(error).to_contain_text("AC-2099-9999")
        expect(page.get_by_role("heading", level=1)).to_have_text("Acuerdos de conservación")
        expect(form.locator("input[name=quantity]")).to_have_value("12,5")  # the form keeps what was typed
        expect(page.locator("#deliveries")).not_to_contain_text("REC-MOVIL-2")
        _no_sideways_scroll(page)
    assert api(site, "agreements", "/api/v1/deliveries") == saved
    assert not [e for e in api(site, "admin", "/api/v1/audit")["web"] if "REC-MOVIL-2" in str(e["detail"])]


POST_FORMS = "[...document.forms].filter(f => f.method === 'post').map(f => f.getAttribute('action'))"
POST_BUTTONS = ("[...document.querySelectorAll('button, input[type=submit]')].filter(b => !b.form || "
                "b.form.method === 'post').map(b => (b.textContent || b.value).trim())")


def test_verifier_sees_every_page_and_no_button_that_writes(browser, site, tmp_path):
    with opened(browser, site) as page:
        log_in(page, "verifier")
        for path in ("/", "/map", "/agreements", "/enforcement", "/credits", "/outputs", "/audit"):
            response = page.goto(path)
            assert response is not None and response.status == 200, path
            if path == "/map":  # an open alert's popup: no "send to a patrol" for a verifier
                page.locator(f"path.alert-marker.alert-{ALERT_IDS[-4]}").click()
                expect(page.locator(".leaflet-popup .alert-popup")).to_contain_text(ALERT_IDS[-4])
            nav = page.locator("nav.menu a")
            hrefs = [nav.nth(k).get_attribute("href") for k in range(nav.count())]
            assert {"/agreements", "/enforcement", "/outputs", "/audit"} <= set(hrefs), (path, hrefs)
            assert "/users" not in hrefs
            assert page.evaluate(POST_FORMS) == ["/logout"], path
            assert page.evaluate(POST_BUTTONS) == ["Log out"], path
        page.goto("/enforcement")
        expect(page.locator("#alerts tbody tr")).to_have_count(len(ALERT_IDS))
        page.screenshot(path=tmp_path / "verifier-enforcement.png", full_page=True)


def test_the_public_finds_a_serial(browser, site, tmp_path):
    serials = first_serials()
    with opened(browser, site) as page:
        page.goto("/credits")
        search = page.locator("form.search")
        search.locator("input[name=serial]").fill(str(serials["retired"]))
        search.get_by_role("button", name="Search").click()
        card = page.locator("#serial-result #serial-card")
        expect(card.locator("h2")).to_have_text(f"Serial {serials['retired']}")
        expect(card.locator("dd.status-retired")).to_have_text("retired")
        expect(card.locator("dt:text-is('Vintage') + dd")).to_have_text("2012")
        expect(card.locator(".history")).to_contain_text("Café Alto Mayo S.A.C.")
        assert page.url == f"{site.url}/credits"  # swapped in place by HTMX, not a new page
        page.screenshot(path=tmp_path / "public-serial.png", full_page=True)
        seen = [page.content()]

        search.locator("input[name=serial]").fill(str(serials["none"]))
        search.get_by_role("button", name="Search").click()
        expect(page.locator("#serial-result .message.error")).to_have_text(
            f"No credit with serial {serials['none']} in this registry.")
        seen.append(page.content())
        for path in ("/", "/credits", "/login", "/agreements", "/enforcement"):
            page.goto(path)
            seen.append(page.content())
        expect(page).to_have_url(re.compile(r"/login\?next=/enforcement$"))
    for name in MEMBER_NAMES:
        assert not [html for html in seen if name in html], name
