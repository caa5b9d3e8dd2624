"""What the report shows of each section of ``results.json``: the views its template renders, and the filters
that format their numbers."""

from __future__ import annotations

import math
from datetime import date

from jinja2 import Undefined


def zone_label(zone: str) -> str:
    """A zone's name in words ("Project area", "Unit: Rioja")."""
    return {"grid": "Whole grid", "project_area": "Project area", "leakage_belt": "Leakage belt",
            "reference_region": "Reference region"}.get(zone, zone.replace("admin:", "Unit: "))


def number(value, spec: str) -> str:
    """``value`` formatted with ``spec``; "–" for None, a missing key, "" and non-finite numbers."""
    if (value is None or isinstance(value, Undefined) or value == ""
            or (isinstance(value, float) and not math.isfinite(value))):
        return "–"
    return format(value, spec)


def percent(value) -> str:
    """A fraction as a percentage with two decimals; "–" for None and non-finite numbers."""
    text = number(None if value is None else 100 * value, ".2f")
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
    """What the report shows of the baseline stage's result: a row per year, a column pair per zone."""
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


# --------------------------------------------------------------------------- carbon accounting

BASELINE_SOURCES = {
    "vt0007_density": "the VT0007 risk map's expected deforestation (ha/yr) summed over each zone",
    "vm0015_allocation": "the VM0015 allocation of the projected quantity to the highest-risk forest pixels",
    "matched_controls": "the loss each year in matched control areas outside the project and its leakage belt, "
                        "scaled by each zone's own historical loss (a dynamic baseline)",
}
PERIOD_KEYS = ("baseline_emissions_tco2e", "project_emissions_tco2e", "leakage_tco2e", "net_reductions_tco2e",
               "uncertainty_deduction_tco2e", "buffer_tco2e", "buffer_credits", "credits")


def tonnes(value) -> str:
    """Whole tonnes with thousands separators ("214,986"); "–" for None, a missing key and non-finite numbers."""
    if (value is None or isinstance(value, Undefined) or value == ""
            or (isinstance(value, float) and not math.isfinite(value))):
        return "–"
    return f"{round(value):,}"  # an int: no "-0"


def _years(start: str, end: str) -> float:
    """The length of a period whose ``end`` day is included, in years of 365.25 days."""
    return ((date.fromisoformat(end) - date.fromisoformat(start)).days + 1) / 365.25


def _period_label(start: str, end: str) -> str:
    """"2012" for a calendar year, else "2008-06-15 – 2012-06-14"."""
    if start[4:] == "-01-01" and end[4:] == "-12-31" and start[:4] == end[:4]:
        return start[:4]
    return f"{start} – {end}"


def _overlap_share(period: dict, first: str, last: str) -> float:
    """The share of ``period``'s days that fall within ``first`` – ``last`` (both included)."""
    start, end = date.fromisoformat(period["start"]), date.fromisoformat(period["end"])
    days = (min(end, date.fromisoformat(last)) - max(start, date.fromisoformat(first))).days + 1
    return max(0, days) / ((end - start).days + 1)


def _sum(rows: list, key: str):
    """Σ ``row[key]``, None when a row lacks it."""
    values = [row.get(key) for row in rows]
    return None if not values or any(v is None for v in values) else sum(values)


def _period_row(period: dict) -> dict:
    """One monitoring period for the tables and the chart: its label, length and per-year values."""
    years = _years(period["start"], period["end"])
    uncertainty = period.get("uncertainty") or {}
    net = period.get("net_reductions_tco2e")
    if net is None and all(period.get(k) is not None for k in PERIOD_KEYS[:3]):
        net = max(0.0, period["baseline_emissions_tco2e"] - period["project_emissions_tco2e"] - period["leakage_tco2e"])
    leakage_parts = [(label, period.get(f"{key}_leakage_tco2e")) for label, key in
                     (("activity shifting", "activity_shifting"), ("market", "market"), ("other", "other"))]
    return {
        **dict.fromkeys((*PERIOD_KEYS, "buffer_pct", "by_stratum")), **period,
        "label": _period_label(period["start"], period["end"]), "years": years, "net_reductions_tco2e": net,
        "buffer_credits": period.get("buffer_credits", _sum(period.get("vintages") or [], "buffer_credits")),
        "half_width_pct": uncertainty.get("half_width_pct"),
        "deduction_fraction": uncertainty.get("deduction_fraction"),
        "uncertainty_source": uncertainty.get("source"), "n_draws": uncertainty.get("n_draws"),
        "eligibility": _eligibility_text(uncertainty.get("eligibility")),
        "leakage_detail": "; ".join(f"{label} {tonnes(v)}" for label, v in leakage_parts if v is not None),
        "beyond_validity": bool(period.get("baseline_beyond_validity")),
        "shortfall_tco2e": period.get("shortfall_tco2e") or 0.0,
    }


SOURCE_NAMES = {"activity_data": "the activity data (the reference samples)",
                "emission_factors": "the emission factors", "baseline": "the baseline"}


def _eligibility_text(eligibility: dict | None) -> str:
    """Why a period's uncertainty is above the rule's limit and what would bring it under (None: it is not)."""
    if not eligibility or eligibility.get("limit_pct") is None:
        return ""
    alone = eligibility.get("half_width_pct_by_source") or {}
    parts = ", ".join(f"{SOURCE_NAMES[k]} {'∞' if v is None else f'{v:,.0f} %'}" for k, v in alone.items())
    text = f"alone, {parts}. "
    factor = eligibility.get("sample_factor")
    if factor is not None:
        return text + (f"About {factor:,.1f} times the period's reference sample (the same allocation) would bring "
                       f"U under {eligibility['limit_pct']:g} %.")
    exact = eligibility.get("half_width_pct_exact_activity_data")
    worst = max((k for k in alone if k != "activity_data"), key=lambda k: math.inf if alone[k] is None else alone[k])
    return text + (f"Even exact activity data would leave U at {'∞' if exact is None else f'{exact:,.0f} %'}: "
                   f"no sample fixes this period; the uncertainty of {SOURCE_NAMES[worst]} keeps it above the limit.")


def _table_view(periods: list, totals: dict | None) -> dict:
    """Rows and a totals row (the given totals, completed by summing the rows)."""
    rows = [_period_row(p) for p in periods]
    total = {k: _sum(rows, k) for k in PERIOD_KEYS}
    total.update({k: v for k, v in (totals or {}).items() if v is not None})
    total["years"] = sum(r["years"] for r in rows)
    return {"periods": rows, "totals": total}


def _rule_text(rule: dict) -> str:
    """The uncertainty rule in words: when there is a deduction and how large."""
    if not rule:
        return ""
    conf = f"{100 * rule.get('confidence', 0.9):g} %"
    threshold = rule.get("threshold_pct", 0.0)
    if rule.get("form") == "scaled":
        share = f"{rule.get('scale', 1.0):g} × U / {rule.get('z', 1.0):g}"
    else:
        share = f"U − {threshold:g} %"
    text = (f"Uncertainty: U is the half-width of the {conf} confidence interval of the net reductions, as a "
            f"percentage of their mean; " + (f"no deduction while U ≤ {threshold:g} %, else " if threshold else "")
            + f"a share of {share} of the net reductions is deducted")
    if rule.get("ineligible_above_pct") is not None:
        text += f"; above U = {rule['ineligible_above_pct']:g} % nothing is credited"
    return text


def _assessment_view(assessment: dict) -> dict:
    """The NPRT scores grouped by category ("internal.project_management" → internal, project management)."""
    groups: dict[str, list] = {}
    for key, score in assessment.get("scores", {}).items():
        category, _, factor = key.partition(".")
        groups.setdefault(category, []).append({"factor": (factor or category).replace("_", " "), "score": score})
    categories = [{"name": c, "total": assessment.get(c), "factors": groups.get(c, [])}
                  for c in dict.fromkeys(["internal", "external", "natural", *groups])]
    return {**assessment, "categories": [c for c in categories if c["factors"] or c["total"] is not None]}


def _baselines(periods: list[dict]) -> list[dict]:
    """The baselines the periods are measured against, each with the labels of its periods."""
    named: dict[str, list[str]] = {}
    for p in periods:
        if p.get("baseline"):
            named.setdefault(p["baseline"], []).append(p["label"])
    return [{"name": name, "periods": labels} for name, labels in named.items()]


def accounting_view(accounting: dict) -> dict:
    """What the report shows of ``results["accounting"]``, ready for the template."""
    stocks = [{**s, "ipcc_default": s.get("source") == "IPCC default"} for s in accounting.get("stocks") or []]
    factors = accounting.get("emission_factors") or []
    pools = list(dict.fromkeys(pool for f in factors for pool in (f.get("by_pool_tco2e_ha") or {})))
    ex_post = _table_view(accounting.get("periods") or [], accounting.get("totals"))
    vintages: dict[int, dict] = {}
    for period in accounting.get("periods") or []:
        for v in period.get("vintages") or []:
            row = vintages.setdefault(v["year"], {"year": v["year"], "credits": 0, "buffer_credits": 0, "periods": 0})
            row["credits"] += v.get("credits") or 0
            row["buffer_credits"] += v.get("buffer_credits") or 0
            row["periods"] += 1
    vintage_rows = [vintages[y] for y in sorted(vintages)]
    strata = list(dict.fromkeys(s for p in ex_post["periods"] for s in (p.get("by_stratum") or {})))
    ex_ante = accounting.get("ex_ante")
    ex_ante_view = _table_view(ex_ante.get("periods") or [], ex_ante.get("totals")) if ex_ante else None
    same_span = None
    if ex_ante_view and ex_ante_view["periods"] and ex_post["periods"]:
        first, last = ex_post["periods"][0]["start"], ex_post["periods"][-1]["end"]
        shares = [(p.get("credits"), _overlap_share(p, first, last)) for p in ex_ante_view["periods"]]
        if all(c is not None for c, _ in shares):
            same_span = sum(c * share for c, share in shares)
    buffer = accounting.get("buffer") or {}
    valid = accounting.get("baseline_valid_years")
    source = accounting.get("baseline_source")
    return {
        "project_id": accounting.get("project_id"), "kind": accounting.get("kind", "ex-post"),
        "baseline_source": source, "baseline_source_text": BASELINE_SOURCES.get(source, source),
        "valid_years": tuple(valid) if valid else None,
        "post_class": accounting.get("post_deforestation_class"),
        "rule": accounting.get("uncertainty_rule") or {}, "rule_text": _rule_text(accounting.get("uncertainty_rule")),
        "buffer_pct": buffer.get("pct"), "buffer_source": buffer.get("source"),
        "assessment": _assessment_view(buffer["assessment"]) if buffer.get("assessment") else None,
        "stocks": stocks, "defaults": [s["stratum"] for s in stocks if s["ipcc_default"]],
        "emission_factors": factors, "pools": pools,
        **ex_post,
        "beyond_validity": [p for p in ex_post["periods"] if p["beyond_validity"]],
        "shortfalls": [p for p in ex_post["periods"] if p["shortfall_tco2e"] > 0],
        "ineligible": [p for p in ex_post["periods"] if p["eligibility"]],
        "vintages": vintage_rows,
        "vintage_totals": {"credits": sum(v["credits"] for v in vintage_rows),
                           "buffer_credits": sum(v["buffer_credits"] for v in vintage_rows)},
        "strata": strata,
        "baselines": _baselines(ex_post["periods"]),
        "has_areas": any("baseline_project_ha" in (b or {}) for p in ex_post["periods"]
                         for b in (p.get("by_stratum") or {}).values()),
        "ex_ante": ex_ante_view if ex_ante_view and ex_ante_view["periods"] else None,
        "ex_ante_same_span": same_span,
        "multiplier": accounting.get("baseline_multiplier", 1.0),
    }


# --------------------------------------------------------------------------- conservation agreements

STATUSES = ("compliant", "to_verify", "breach", "not_in_force")
STATUS_WORDS = {"compliant": "compliant", "to_verify": "to verify", "breach": "in breach",
                "not_in_force": "not in force", "no_agreement": "no agreement"}
STATUS_LABELS = {"compliant": "Compliant", "to_verify": "To verify", "breach": "Breach",
                 "not_in_force": "Not in force", "no_agreement": "No agreement"}
MONEY_KEYS = ("revenue_usd", "agreements_usd", "costs_usd", "balance_usd")
BENEFIT_KEYS = ("promised_usd", "due_usd", "delivered_usd", "outstanding_usd")
MAX_FLAGGED = 30
FLAGGED_KEYS = ("agreement", "household", "period_start", "period_end", "loss_ha", "loss_px", "status", "basis")
MONEY_SUMMARY_KEYS = ("price_usd_per_tco2e", "sold_share", "shares", "revenue_usd_total", "by_year",
                      "first_deficit_year", "coverage_ratio")
OPPORTUNITY_KEYS = ("land_use", "npv_usd_per_ha", "forest_npv_usd_per_ha", "opportunity_cost_usd_per_ha")
BREAK_EVEN_KEYS = ("median_usd_per_tco2e", "p10_usd_per_tco2e", "p90_usd_per_tco2e", "share_below_price",
                   "n_agreements")


def _status_words(counts: dict) -> str:
    """"312 compliant, 4 to verify, 2 in breach" (and "5 not in force" where there are any)."""
    parts = [f"{counts.get(s) or 0:,} {STATUS_WORDS[s]}" for s in STATUSES[:3]]
    if counts.get("not_in_force"):
        parts.append(f"{counts['not_in_force']:,} {STATUS_WORDS['not_in_force']}")
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _flagged_order(row: dict) -> tuple:
    """Breaches first, then by decreasing loss (then agreement and period, for a stable order)."""
    return (row.get("status") != "breach", -(row.get("loss_ha") or 0.0), str(row.get("agreement")),
            str(row.get("period_start")))


def _finite_or_none(value):
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _complete(row: dict | None, keys) -> dict:
    """``row`` with every one of ``keys`` (None where missing), so that the template shows "–" for them."""
    return {**dict.fromkeys(keys), **(row or {})}


def agreements_view(agreements: dict, tables: list | tuple = ()) -> dict:
    """What the report shows of ``results["agreements"]``, ready for the template: the last period's counts in
    words, the periods with their totals, the flagged list (breaches first, then by loss; at most MAX_FLAGGED
    rows), the benefits with a totals row and the money by year. ``tables``: the run's CSV tables (the one
    named "compliance" holds the whole flagged list)."""
    counts = {s: (agreements.get("counts_by_status") or {}).get(s) or 0 for s in STATUSES}
    periods = [{**p, "label": _period_label(p["start"], p["end"]),
                "counts": {s: (p.get("counts") or {}).get(s) or 0 for s in STATUSES}}
               for p in agreements.get("periods") or []]
    for p in periods:
        p["total"] = sum(p["counts"].values())
    flagged = sorted((_complete(f, FLAGGED_KEYS) for f in agreements.get("flagged") or []), key=_flagged_order)
    benefits = agreements.get("benefits") or {}
    items = [_complete(i, ("item", *BENEFIT_KEYS)) for i in benefits.get("by_item") or []]
    benefit_totals = {k: benefits.get(k) if benefits.get(k) is not None else _sum(items, k) for k in BENEFIT_KEYS}
    money = agreements.get("money")
    money_view = None
    if money is not None:
        money = _complete(money, MONEY_SUMMARY_KEYS)
        by_year = [_complete(r, ("year", *MONEY_KEYS, "cumulative_usd")) for r in money.get("by_year") or []]
        shares = money.get("shares") or {}
        totals = {k: _sum(by_year, k) for k in MONEY_KEYS}
        coverage = _finite_or_none(money.get("coverage_ratio"))
        money_view = {
            **money, "by_year": by_year, "totals": totals,
            "shares": [{"use": use, "share": share,
                        "amount_usd": None if money["revenue_usd_total"] is None or share is None
                        else money["revenue_usd_total"] * share} for use, share in shares.items()],
            "agreements_share": shares.get("agreements"),
            "coverage_ratio": coverage,
            "final_cumulative_usd": by_year[-1].get("cumulative_usd") if by_year else None,
            "deficit_years": [r["year"] for r in by_year if (r.get("balance_usd") or 0) < 0],
        }
    break_even = agreements.get("break_even")
    if break_even is not None:
        break_even = _complete(break_even, BREAK_EVEN_KEYS)
    grievances = {k: (agreements.get("grievances") or {}).get(k) or 0 for k in ("open", "in_progress", "resolved")}
    last = agreements.get("last_period") or {}
    return {
        **agreements,
        "last_label": _period_label(last["start"], last["end"]) if last.get("start") and last.get("end") else None,
        "counts": counts, "status_words": _status_words(counts),
        "periods": periods, "loss_total_ha": _sum(periods, "loss_ha_in_conservation_areas"),
        "flagged": flagged[:MAX_FLAGGED], "n_flagged": len(flagged), "n_hidden": max(0, len(flagged) - MAX_FLAGGED),
        "n_breach_flagged": sum(1 for r in flagged if r.get("status") == "breach"),
        "map_error": _complete(agreements.get("map_error"), ("users_accuracy", "source", "min_mapping_unit_ha"))
        if agreements.get("map_error") else {},
        "benefits": {"by_item": items, "totals": benefit_totals},
        "money": money_view,
        "opportunity_cost": [_complete(o, OPPORTUNITY_KEYS) for o in agreements.get("opportunity_cost") or []],
        "break_even": break_even,
        "price": money.get("price_usd_per_tco2e") if money else None,
        "grievances": {**grievances, "total": sum(grievances.values())},
        "geopackage": (agreements.get("files") or {}).get("geopackage", "agreements.gpkg"),
        "compliance_table": next((t for t in tables if "agreements" in t and "compliance" in t), None),
    }


# --------------------------------------------------------------------------- enforcement

PRIORITIES = ("high", "medium", "low")  # as icam.enforcement.priority.PRIORITIES (not imported: geopandas, scipy)
ZONE_ORDER = ("project_area", "leakage_belt")


def alert_zone_label(zone: str) -> str:
    """An alert's or a patrol's zone in words: also "outside" (the zones) and "unknown" (not recorded)."""
    return {"outside": "Outside the zones", "unknown": "Zone not recorded"}.get(zone) or zone_label(zone)


def _zone_order(zones) -> list[str]:
    """The project area, then the leakage belt, then the other zones by name, "outside" and "unknown" last."""
    rest = sorted(set(zones) - set(ZONE_ORDER), key=lambda z: (z in ("outside", "unknown"), z))
    return [z for z in ZONE_ORDER if z in zones] + rest


def _priority_rows(alerts: dict) -> list[dict]:
    """Per priority, then all: the events, those new this run, those already seen and those still open."""
    rows = [{"priority": p, "events": alerts["by_priority"][p], "new": alerts["new_by_priority"][p],
             "already_seen": alerts["by_priority"][p] - alerts["new_by_priority"][p],
             "open": alerts["open_by_priority"][p]} for p in PRIORITIES]
    return rows + [{"priority": "all", "events": alerts["events"], "new": alerts["new"],
                    "already_seen": alerts["already_seen"], "open": alerts["open"]}]


def _effort_rows(indicators: dict) -> tuple[list[str], list[dict]]:
    """The incident categories, and per zone: the patrols, their km and days, and the incidents by category."""
    effort, incidents = indicators["effort_by_zone"], indicators["incidents_by_category_zone"]
    categories = list(incidents)
    zones = _zone_order({*effort, *(z for counts in incidents.values() for z in counts)})
    rows = []
    for zone in zones:
        counts = [incidents[c].get(zone, 0) for c in categories]
        rows.append({"zone": zone, **effort.get(zone, {"patrols": 0, "km": 0.0, "days": 0.0}), "incidents": counts,
                     "incidents_total": sum(counts)})
    return categories, rows


def _max_score(weights: dict) -> float:
    """The highest score the priority rule can give (every term full, the heaviest zone)."""
    return (sum(weights[k] for k in ("w_area", "w_recent", "w_agreement", "w_road", "w_risk", "w_confidence"))
            + max(weights["zone_weights"].values(), default=0.0))


def enforcement_view(enforcement: dict) -> dict:
    """What the report shows of ``results["enforcement"]``, ready for the template: the counts by priority, the
    zones in order (project area, leakage belt, the others), patrol effort and incidents by zone, the actions and
    the priority rule's weights (``weights``) with its highest score."""
    alerts, indicators = enforcement["alerts"], enforcement["indicators"]
    response = enforcement["response_by_zone"]
    categories, effort = _effort_rows(indicators)
    weights = enforcement["parameters"]["priority"]
    return {
        **enforcement,
        "priority_rows": _priority_rows(alerts),
        "zones": [{"zone": z, "alerts": alerts["by_zone"][z], "share": alerts["by_zone"][z] / alerts["events"]}
                  for z in _zone_order(alerts["by_zone"])],
        "response": [{"zone": z, **response[z]} for z in _zone_order(response)],
        "categories": categories, "effort": effort,
        "actions": [{"action": a.replace("_", " "), "n": n} for a, n in indicators["actions_by_type"].items()],
        "weights": weights, "max_score": _max_score(weights),
    }
