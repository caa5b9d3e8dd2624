"""Build the HTML report: one self-contained file (figures embedded) that opens offline."""

from __future__ import annotations

import base64
import math
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


def _number(value, spec: str) -> str:
    """``value`` formatted with ``spec``; "–" for None, "" and non-finite numbers."""
    if value is None or value == "" or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, spec)


def _percent(value) -> str:
    """A fraction as a percentage with two decimals; "–" for None and non-finite numbers."""
    text = _number(None if value is None else 100 * value, ".2f")
    return text if text == "–" else f"{text}%"


def _distance_range(row: dict) -> str:
    low, high = row["distance_from_m"], row["distance_to_m"]
    return f"≥ {low:,.0f}" if math.isinf(high) else f"{low:,.0f}–{high:,.0f}"


def _chosen_sentence(risk) -> tuple[str, str]:
    """The part of ``risk.reason`` after the chosen map's name, and what came with the name ("(of 2 passing)")."""
    head, sep, rest = risk.reason.partition(": ")
    if not sep:
        return "", risk.reason
    extra = head.replace("the benchmark", "", 1) if risk.chosen == "benchmark" else head.replace(risk.chosen, "", 1)
    return extra.strip(), rest


def risk_view(risk) -> dict:
    """What the report shows of a :class:`icam.risk.candidates.RiskResult`, ready for the template."""
    bench = risk.benchmark
    rows = []
    for candidate in risk.candidates:
        metrics = candidate.metrics()
        fom = candidate.fom_confirmation
        rows.append({
            "name": candidate.name, "description": metrics["description"], "chosen": candidate.name == risk.chosen,
            "calibration": metrics["calibration"], "confirmation": metrics["confirmation"],
            "auc": candidate.auc_confirmation, "fom": fom,
            "fom_passes": None if not math.isfinite(fom) else bool(fom >= risk.fom_threshold),
            "test": risk.tests.get(candidate.name),
        })
    cal_table, hist_table = bench.calibration.class_table(), bench.historical.class_table()
    classes = [{"class": c["class"], "periods": [
        {"range": _distance_range(r), **r} for r in (c, h)]} for c, h in zip(cal_table, hist_table)]
    extra, rest = _chosen_sentence(risk)
    t1, t2, t3 = bench.calibration.start_year, bench.calibration.end_year, bench.historical.end_year
    return {
        "chosen": risk.chosen, "chosen_extra": extra, "reason_rest": rest,
        "chosen_description": next(r["description"] for r in rows if r["chosen"]),
        "candidates": rows, "years": (t1, t2, t3),
        "cell_ha": risk.candidates[0].confirmation.cell_area_ha,
        "n_cells": {period: rows[0][period]["n_cells"] for period in ("calibration", "confirmation")},
        "fom_threshold": risk.fom_threshold,
        "periods": [bench.calibration, bench.historical], "classes": classes,
        "n_regions": int(bench.historical.fit.region_ids.size),
        "expected_ha": risk.expected_ha, "validity_years": risk.validity_years,
        "expected_ha_per_year": risk.expected_ha / risk.validity_years,
        "expected_source": bench.expected_source,
    }


def baseline_view(baseline) -> dict:
    """What the report shows of a :class:`icam.risk.project.Baseline`: a row per year, a column pair per zone."""
    zones = list(baseline.by_zone_vm0015)
    cells: dict[int, dict[str, dict]] = {}
    for row in baseline.rows():
        cells.setdefault(row["year"], {})[row["zone"]] = row
    years = list(baseline.allocation.years)
    table = [{"year": y, "projected_ha": baseline.projected_ha_by_year.get(y),
              "zones": [cells.get(y, {}).get(z, {"vm0015_ha": None, "vt0007_ha": ""}) for z in zones]}
             for y in years]
    historical = baseline.historical_ha_by_year
    projected = baseline.projected_ha_by_year
    return {
        "zones": zones, "table": table, "years": years, "method": baseline.quantity_method,
        "historical": historical, "projected": projected,
        "historical_mean": sum(historical.values()) / len(historical) if historical else None,
        "projected_mean": sum(projected.values()) / len(projected) if projected else None,
        "vt_first": baseline.vt0007.first_year, "vt_last": baseline.vt0007.last_year,
        "allocation": baseline.allocation,
    }


def render_report(config: IcamConfig, landscape: Landscape, stats: ZoneStats, results: dict,
                  assessments: list = (), risk=None, baseline=None) -> str:
    env = Environment(loader=PackageLoader("icam.report", "templates"), autoescape=select_autoescape())
    env.filters["ha"] = lambda v: "–" if v is None else f"{v:,.0f}"
    env.filters["zone"] = _zone_label
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = _number
    env.filters["pct2"] = _percent
    start_year = config.periods.project_start.year if config.periods else None
    images = {
        "map": base64.b64encode(figures.forest_change_map(landscape)).decode(),
        "loss": base64.b64encode(figures.loss_chart(stats, start_year)).decode(),
    }
    if assessments:
        images["activity"] = base64.b64encode(figures.activity_chart(assessments)).decode()
    risk_info = baseline_info = None
    if risk is not None:
        risk_info = risk_view(risk)
        images["risk_map"] = base64.b64encode(figures.risk_map(
            landscape, risk.risk_ha_per_year, risk.chosen, risk.benchmark.historical.end_year)).decode()
        images["residuals"] = base64.b64encode(figures.residual_maps(landscape, risk.candidates, risk.chosen)).decode()
        if baseline is not None:
            baseline_info = baseline_view(baseline)
            images["baseline"] = base64.b64encode(figures.baseline_chart(baseline, _zone_label)).decode()
    forest_rows = [(zone, stats.forest_area_ha(zone)) for zone in stats.zones]
    risk_zone = config.risk.zone if config.risk is not None else baseline.zone if baseline is not None else "risk zone"
    return env.get_template("report.html.j2").render(
        config=config, results=results, stats=stats, images=images, forest_rows=forest_rows,
        period_labels=stats.period_labels, grid=results["grid"], assessments=assessments,
        class_names=CLASS_NAMES, risk=risk_info, baseline=baseline_info,
        risk_zone=risk_zone,
    )


def write_report(path: Path, config: IcamConfig, landscape: Landscape, stats: ZoneStats, results: dict,
                 assessments: list = (), risk=None, baseline=None) -> None:
    atomic_write_text(path, render_report(config, landscape, stats, results, assessments, risk, baseline))
