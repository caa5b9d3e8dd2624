"""Build the HTML report: one self-contained file (figures embedded) that opens offline."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from icam.core.atomic import atomic_write_text
from icam.core.forked import map_shared
from icam.forest.activity import CLASS_NAMES
from icam.forest.zones import ZoneStats
from icam.landscape import Landscape
from icam.report import figures, maps
from icam.report.checks import baseline_by_year, counterfactual_view
from icam.report.views import (
    STATUS_LABELS,
    accounting_view,
    agreements_view,
    alert_zone_label,
    baseline_view,
    enforcement_view,
    number,
    percent,
    risk_view,
    tonnes,
    zone_label,
)


def enforcement_images(landscape: Landscape, enforcement, view: dict) -> dict[str, Callable[[], bytes]]:
    """The section's figures, each as a function drawing its PNG: the map and the monthly chart where the
    enforcement stage's result is given (and has events), the effort chart where patrols or incidents were
    recorded."""
    images = {}
    if enforcement is not None and len(enforcement.events):
        images["enforcement_map"] = lambda: maps.enforcement_map(landscape, enforcement.events.table)
    if enforcement is not None and len(enforcement.monthly):
        images["enforcement_monthly"] = lambda: figures.enforcement_monthly_chart(enforcement.monthly)
    if view["effort"]:
        images["enforcement_effort"] = lambda: figures.enforcement_effort_chart(
            {r["zone"]: r["km"] for r in view["effort"]}, view["indicators"]["incidents_by_category_zone"],
            alert_zone_label)
    return images


def _draw(images: dict[str, Callable[[], bytes]], name: str) -> str:
    return base64.b64encode(images[name]()).decode()


def draw_all(images: dict[str, Callable[[], bytes]]) -> dict[str, str]:
    """Each figure drawn (on every core: forked workers inherit the drawing functions and the data they
    close over, and send back the PNG) and encoded in base64 for the page."""
    return dict(zip(images, map_shared(_draw, images, [(name,) for name in images])))


def render_report(landscape: Landscape, stats: ZoneStats, results: dict,
                  assessments: list = (), risk=None, baseline=None, parcels=None, enforcement=None) -> str:
    """The report's HTML. ``parcels``: the conservation parcels (a GeoDataFrame in the grid's CRS with a
    ``status`` column) for the map of the agreements' section, which shows when ``results["agreements"]`` is
    given (without parcels, the section has no map). ``enforcement``: the
    enforcement stage's result for the map and the monthly chart of the enforcement
    section, which shows when ``results["enforcement"]`` is given (without it, the section has neither)."""
    env = Environment(loader=PackageLoader("icam.report", "templates"), autoescape=select_autoescape())
    env.filters["ha"] = lambda v: "–" if v is None else f"{v:,.0f}"
    env.filters["zone"] = zone_label
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = number
    env.filters["pct2"] = percent
    env.filters["t"] = tonnes
    env.filters["usd"] = tonnes  # whole numbers with thousands separators, as the tonnes
    env.filters["alert_zone"] = alert_zone_label
    periods = results.get("periods")
    start_year = int(str(periods["project_start"])[:4]) if periods else None
    images = {  # name → a function drawing its PNG: all drawn side by side once the page's data is ready
        "map": lambda: maps.forest_change_map(landscape),
        "loss": lambda: figures.loss_chart(stats, start_year),
    }
    if assessments:
        images["activity"] = lambda: figures.activity_chart(assessments)
    risk_info = baseline_info = None
    if risk is not None:
        risk_info = risk_view(risk)
        images["risk_map"] = lambda: maps.risk_map(
            landscape, risk.risk_ha_per_year, risk.chosen, risk.benchmark.historical.end_year)
        images["residuals"] = lambda: maps.residual_maps(landscape, risk.candidates, risk.chosen)
        if baseline is not None:
            baseline_info = baseline_view(baseline)
            images["baseline"] = lambda: figures.baseline_chart(baseline, zone_label)
    accounting = None
    if results.get("accounting") is not None:
        accounting = accounting_view(results["accounting"])
        if accounting["periods"]:
            images["accounting"] = lambda: figures.accounting_chart(accounting["periods"])
    agreements = None
    if results.get("agreements") is not None:
        agreements = agreements_view(results["agreements"], (results.get("outputs") or {}).get("tables") or ())
        if parcels is not None:
            images["agreements_map"] = lambda: maps.agreements_map(landscape, parcels)
        if agreements["money"] is not None and agreements["money"]["by_year"]:
            images["agreements_money"] = lambda: figures.agreements_money_chart(agreements["money"])
    enforcement_info = None
    if results.get("enforcement") is not None:
        enforcement_info = enforcement_view(results["enforcement"])
        images.update(enforcement_images(landscape, enforcement, enforcement_info))
    checks = None
    if results.get("counterfactual") is not None:
        checks = counterfactual_view(results["counterfactual"])
        images["counterfactual"] = lambda: figures.counterfactual_chart(
            results["counterfactual"]["methods"], baseline_by_year(results.get("accounting")), start_year)
    forest_rows = [(zone, stats.forest_area_ha(zone)) for zone in stats.zones]
    risk_zone = (results["risk"]["zone"] if results.get("risk") is not None
                 else baseline.zone if baseline is not None else "risk zone")
    return env.get_template("report.html.j2").render(
        project=results["project"], periods=periods, results=results, stats=stats, images=draw_all(images),
        forest_rows=forest_rows,
        period_labels=stats.period_labels, grid=results["grid"], assessments=assessments,
        class_names=CLASS_NAMES, risk=risk_info, baseline=baseline_info,
        risk_zone=risk_zone, accounting=accounting, agreements=agreements, status_labels=STATUS_LABELS,
        enforcement=enforcement_info, checks=checks,
    )


def write_report(path: Path, landscape: Landscape, stats: ZoneStats, results: dict,
                 assessments: list = (), risk=None, baseline=None, parcels=None, enforcement=None) -> None:
    """``enforcement``: the enforcement stage's result (its events and monthly table
    feed the section's map and charts; results["enforcement"] its figures)."""
    atomic_write_text(path, render_report(landscape, stats, results, assessments, risk, baseline,
                                          parcels=parcels, enforcement=enforcement))
