"""Build the HTML report: one self-contained file (figures embedded) that opens offline."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from icam.config import IcamConfig
from icam.forest.activity import CLASS_NAMES
from icam.forest.zones import ZoneStats
from icam.landscape import Landscape
from icam.atomic import atomic_write_text
from icam.report import figures


def _zone_label(zone: str) -> str:
    return {"grid": "Whole grid", "project_area": "Project area", "leakage_belt": "Leakage belt",
            "reference_region": "Reference region"}.get(zone, zone.replace("admin:", "Unit: "))


def render_report(config: IcamConfig, landscape: Landscape, stats: ZoneStats, results: dict,
                  assessments: list = (), risk=None, baseline=None) -> str:
    env = Environment(loader=PackageLoader("icam.report", "templates"), autoescape=select_autoescape())
    env.filters["ha"] = lambda v: "–" if v is None else f"{v:,.0f}"
    env.filters["zone"] = _zone_label
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.1f}%"
    start_year = config.periods.project_start.year if config.periods else None
    images = {
        "map": base64.b64encode(figures.forest_change_map(landscape)).decode(),
        "loss": base64.b64encode(figures.loss_chart(stats, start_year)).decode(),
    }
    if assessments:
        images["activity"] = base64.b64encode(figures.activity_chart(assessments)).decode()
    forest_rows = [(zone, stats.forest_area_ha(zone)) for zone in stats.zones]
    return env.get_template("report.html.j2").render(
        config=config, results=results, stats=stats, images=images, forest_rows=forest_rows,
        period_labels=stats.period_labels, grid=results["grid"], assessments=assessments,
        class_names=CLASS_NAMES,
    )


def write_report(path: Path, config: IcamConfig, landscape: Landscape, stats: ZoneStats, results: dict,
                 assessments: list = (), risk=None, baseline=None) -> None:
    atomic_write_text(path, render_report(config, landscape, stats, results, assessments, risk, baseline))
