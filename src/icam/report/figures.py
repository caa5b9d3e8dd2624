"""Charts for the report, as PNG bytes (matplotlib, no screen needed); the maps are in :mod:`icam.report.maps`."""

from __future__ import annotations

import datetime as dt
import io

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from icam.forest.activity import FOREST_LOSS
from icam.forest.zones import ZoneStats

ZONE_STYLES = {
    "project_area": ("#111111", "Project area"),
    "leakage_belt": ("#7b3294", "Leakage belt"),
    "reference_region": ("#2166ac", "Reference region"),
}
PRIORITY_STYLES = {  # drawing order (last on top), colour, legend label
    "low": ("#999999", "Low"),
    "medium": ("#fd8d3c", "Medium"),
    "high": ("#d7191c", "High"),
}
VERDICT_STYLES = {"true_positive": ("#b2182b", "o", "Confirmed (true positive)"),
                  "false_positive": ("#2166ac", "s", "No clearing found (false positive)")}


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def loss_chart(stats: ZoneStats, project_start_year: int | None = None) -> bytes:
    """Loss per period in ha (bars) and as an annual rate, % of the forest at the period's start (lines)."""
    zones = [z for z in ZONE_STYLES if z in stats.zones] or [stats.zones[0]]
    labels = stats.period_labels
    years_per_period = np.diff(stats.epochs)
    x = np.arange(len(labels))
    fig, (ax_ha, ax_rate) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    width = 0.8 / len(zones)
    for i, zone in enumerate(zones):
        colour, label = ZONE_STYLES.get(zone, ("#555555", zone))
        ax_ha.bar(x + (i - (len(zones) - 1) / 2) * width, stats.loss_ha[zone], width, color=colour, label=label)
        forest_start = np.asarray(stats.forest_area_ha(zone)[:-1])
        rate = np.divide(stats.loss_ha[zone], forest_start * years_per_period,
                         out=np.zeros(len(labels)), where=forest_start > 0) * 100
        ax_rate.plot(x, rate, marker="o", markersize=3, color=colour, label=label)
    if project_start_year is not None and str(project_start_year) in labels:
        for ax in (ax_ha, ax_rate):
            ax.axvline(labels.index(str(project_start_year)) - 0.5, color="#b2182b", linestyle="--", linewidth=1)
        ax_ha.annotate("project start", (labels.index(str(project_start_year)) - 0.4, 0.92),
                       xycoords=("data", "axes fraction"), color="#b2182b", fontsize=8)
    ax_ha.set_ylabel("Forest loss (ha)")
    ax_ha.set_title("Forest loss by period and zone")
    ax_ha.legend(fontsize=8)
    ax_rate.set_ylabel("Loss rate (%/yr of forest)")
    ax_rate.set_xticks(x, labels, rotation=90 if len(labels) > 12 else 0)
    for ax in (ax_ha, ax_rate):
        ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def activity_chart(assessments) -> bytes:
    """Forest loss per period in ha/yr: the map's pixel count against the sample-based estimate with its 95 % CI."""

    labels = [f"{a.start_year}–{a.end_year}" for a in assessments]
    years = np.array([a.end_year - a.start_year for a in assessments], dtype=float)
    mapped = np.array([a.mapped_area_ha[FOREST_LOSS] for a in assessments]) / years
    estimated = np.array([a.estimate.area_ha.get(FOREST_LOSS, 0.0) for a in assessments]) / years
    ci = np.array([a.estimate.ci95_ha.get(FOREST_LOSS, 0.0) for a in assessments]) / years
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(9, 3.8))
    ax.bar(x - 0.18, mapped, 0.36, color="#bdbdbd", label="Mapped (pixel count)")
    ax.errorbar(x + 0.18, estimated, yerr=ci, fmt="o", color="#b2182b", capsize=4,
                label="Sample-based estimate ± 95 % CI")
    ax.set_xticks(x, labels)
    ax.set_ylabel("Forest loss (ha/yr)")
    ax.set_title("Activity data: forest loss by period")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def baseline_chart(baseline, zone_label=lambda z: z) -> bytes:
    """Baseline deforestation per year: VM0015 allocation (solid) and VT0007 density map (dashed) in the
    project area and leakage belt; the risk zone's projected quantity against its historical loss."""
    vt = baseline.vt0007.by_year
    years = list(baseline.allocation.years)
    fig, (ax_zones, ax_risk) = plt.subplots(1, 2, figsize=(10, 3.8))
    zones = [z for z in ("project_area", "leakage_belt") if z in baseline.by_zone_vm0015]
    for zone in zones:
        colour, _ = ZONE_STYLES[zone]
        label = zone_label(zone)
        ax_zones.plot(years, [baseline.by_zone_vm0015[zone].get(y, 0.0) for y in years], marker="o", markersize=3,
                      color=colour, label=f"{label}: VM0015 allocation")
        if zone in vt:
            ax_zones.plot(list(vt[zone]), list(vt[zone].values()), linestyle="--", color=colour,
                          label=f"{label}: VT0007 density map")
    ax_zones.set_title("Baseline deforestation by zone", fontsize=10)
    ax_zones.set_ylabel("Deforestation (ha/yr)")

    zone = baseline.zone
    colour = ZONE_STYLES.get(zone, ("#555555", ""))[0]
    historical = baseline.historical_ha_by_year
    ax_risk.bar(list(historical), list(historical.values()), color="#bdbdbd", label="Historical loss")
    projected = baseline.projected_ha_by_year
    ax_risk.plot(list(projected), list(projected.values()), color="#111111", linewidth=1.2,
                 label=f"Projected quantity ({baseline.quantity_method})")
    if zone in baseline.by_zone_vm0015:
        ax_risk.plot(years, [baseline.by_zone_vm0015[zone].get(y, 0.0) for y in years], linestyle="none",
                     marker="o", markersize=3, color=colour, label="VM0015 allocation")
    if zone in vt:
        ax_risk.plot(list(vt[zone]), list(vt[zone].values()), linestyle="--", linewidth=2, color=colour,
                     label="VT0007 density map", zorder=3)
    if historical and projected:
        start = (max(historical) + min(projected)) / 2
        ax_risk.axvline(start, color="#b2182b", linestyle=":", linewidth=1)
        ax_risk.annotate("baseline", (start + 0.2, 0.95), xycoords=("data", "axes fraction"), color="#b2182b",
                         fontsize=8)
    ax_risk.set_title(f"Risk zone ({zone_label(zone)}): quantity", fontsize=10)
    for ax in (ax_zones, ax_risk):
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.tick_params(labelsize=8)
    return _png(fig)


ACCOUNTING_STACK = (  # bottom to top: the baseline's emissions split into what happened and what was credited
    ("project_emissions_tco2e", "#b2182b", "Project emissions (actual)"),
    ("leakage_tco2e", "#f4a582", "Leakage"),
    ("uncertainty_deduction_tco2e", "#c2a5cf", "Uncertainty deduction"),
    ("buffer_credits", "#dfc27d", "Buffer credits (non-permanence)"),
    ("credits", "#1b7837", "Credits issued (VCUs)"),
)


def _decimal_year(day) -> float:
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    start = dt.date(day.year, 1, 1)
    return day.year + (day - start).days / (dt.date(day.year + 1, 1, 1) - start).days


def accounting_chart(periods: list[dict]) -> bytes:
    """Per monitoring period, in tCO2e per year of the period (so that periods of different lengths
    compare; each bar spans its period, so its area is the period's total): the baseline emissions
    (black outline, dashed where the baseline is used beyond its validity) against a stack of the
    actual (project) emissions, leakage, the uncertainty deduction, the buffer and the credits issued,
    which together make up the baseline when the project emitted less than it. ``periods``: the rows
    of :func:`icam.report.build.accounting_view` (start, end, years and the tCO2e keys)."""

    fig, ax = plt.subplots(figsize=(9, 4.2))
    handles = {}
    top = 0.0
    for p in periods:
        x0 = _decimal_year(p["start"])
        x1 = _decimal_year(dt.date.fromisoformat(p["end"]) + dt.timedelta(days=1))
        width, years = x1 - x0, p["years"]
        bottom = 0.0
        for key, colour, label in ACCOUNTING_STACK:
            value = p.get(key)
            if key == "buffer_credits" and value is None:
                value = p.get("buffer_tco2e")
            rate = max(0.0, float(value or 0.0)) / years
            if rate > 0:
                handles[label] = ax.bar(x0, rate, width, bottom=bottom, align="edge", color=colour,
                                        edgecolor="white", linewidth=0.5, label=label)
            bottom += rate
        baseline = float(p.get("baseline_emissions_tco2e") or 0.0) / years
        beyond = bool(p.get("beyond_validity"))
        ax.plot([x0, x0, x1, x1], [0, baseline, baseline, 0], color="#111111", linewidth=1.6,
                linestyle="--" if beyond else "-")
        credits = p.get("credits")
        if credits is not None:
            ax.annotate(f"{credits:,.0f}", (x0 + width / 2, max(baseline, bottom)), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7, color="#1b7837")
        top = max(top, baseline, bottom)
    legend = [Line2D([], [], color="#111111", linewidth=1.6, label="Baseline emissions")]
    if any(p.get("beyond_validity") for p in periods):
        legend.append(Line2D([], [], color="#111111", linewidth=1.6, linestyle="--",
                             label="Baseline emissions, beyond the baseline's validity"))
    legend += [handles[label] for _, _, label in ACCOUNTING_STACK if label in handles]
    ax.set_ylim(0, top * 1.12 if top > 0 else 1)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("Year (each bar spans its monitoring period)")
    ax.set_ylabel("tCO₂e per year of the period")
    ax.set_title("Baseline and actual emissions per monitoring period (labels: credits issued, tCO₂e)")
    ax.legend(handles=legend, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def agreements_money_chart(money: dict) -> bytes:
    """By year: the agreements' costs (bars) against the revenue allocated to them (line), the project's whole
    credit revenue (thin dashed line), and, in a small panel below, the cumulative balance of the agreements
    (revenue allocated to them − their costs; red below zero). ``money``: ``results["agreements"]["money"]``
    (``by_year`` rows with year, revenue_usd, agreements_usd, costs_usd, cumulative_usd; ``shares``)."""

    rows = money["by_year"]
    years = np.array([r["year"] for r in rows])

    def column(key):
        return np.array([float(r.get(key) or 0.0) for r in rows])

    revenue, allocated, costs, cumulative = (column(k) for k in ("revenue_usd", "agreements_usd", "costs_usd",
                                                                  "cumulative_usd"))
    shares = money.get("shares") or {}
    if isinstance(shares, list):
        shares = {s["use"]: s["share"] for s in shares}
    share = shares.get("agreements")
    share_text = f" ({100 * share:g} % of the revenue)" if share is not None else ""
    usd = FuncFormatter(lambda v, _: f"{v:,.0f}")
    fig, (ax, ax_cum) = plt.subplots(2, 1, figsize=(9, 5.6), sharex=True, gridspec_kw={"height_ratios": [2.3, 1]})
    ax.bar(years, costs, 0.7, color="#bdbdbd", edgecolor="#777777", linewidth=0.5, label="Costs of the agreements")
    ax.plot(years, allocated, color="#1b7837", marker="o", markersize=4, linewidth=2,
            label=f"Revenue for the agreements{share_text}")
    if np.any(revenue != allocated):
        ax.plot(years, revenue, color="#1b7837", linestyle="--", linewidth=0.9, alpha=0.7,
                label="Credit revenue of the project (all uses)")
    first = money.get("first_deficit_year")
    if first is not None:
        for a in (ax, ax_cum):
            a.axvline(first, color="#b2182b", linestyle=":", linewidth=1)
        ax.annotate("first deficit", (first + 0.1, 0.95), xycoords=("data", "axes fraction"), color="#b2182b",
                    fontsize=8)
    ax.set_ylabel("USD per year")
    ax.set_title("Do the credits pay for the agreements?", pad=24)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    ax_cum.bar(years, cumulative, 0.7, color=np.where(cumulative < 0, "#d7191c", "#4daf4a"))
    ax_cum.axhline(0, color="#333333", linewidth=0.8)
    ax_cum.set_ylabel("Cumulative\nbalance (USD)")
    ax_cum.set_xlabel("Year")
    for a in (ax, ax_cum):
        a.yaxis.set_major_formatter(usd)
        a.grid(axis="y", alpha=0.3)
        a.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylim(bottom=0)
    return _png(fig)


def enforcement_monthly_chart(monthly) -> bytes:
    """Per month: the alerts raised (first alert date), stacked by priority; below, the alerts checked in the
    field (first visit), confirmed (true positives) and not (false positives). ``monthly``: the
    the enforcement stage result's table (month, alerts_<priority>,
    checked_true_positive, checked_false_positive)."""
    months = monthly["month"].astype(str).tolist()
    x = np.arange(len(months))
    fig, (ax, ax_checked) = plt.subplots(2, 1, figsize=(9, 5.2), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    bottom = np.zeros(len(months))
    for name in ("high", "medium", "low"):
        colour, label = PRIORITY_STYLES[name]
        counts = monthly[f"alerts_{name}"].to_numpy(float)
        ax.bar(x, counts, 0.75, bottom=bottom, color=colour, edgecolor="white", linewidth=0.5, label=label)
        bottom += counts
    ax.set_ylabel("Alerts raised")
    ax.set_title("Alerts raised per month by priority, and alerts checked in the field")
    ax.legend(fontsize=8, title="Priority", title_fontsize=8, loc="upper left", frameon=False)
    for key, (colour, marker, label) in VERDICT_STYLES.items():
        ax_checked.plot(x, monthly[f"checked_{key}"].to_numpy(float), color=colour, marker=marker, markersize=4,
                        linewidth=1.2, label=label)
    ax_checked.set_ylabel("Alerts checked")
    ax_checked.legend(fontsize=8, loc="upper left", frameon=False)
    ax_checked.set_xticks(x, months, rotation=90 if len(months) > 12 else 0, fontsize=8)
    for a in (ax, ax_checked):
        a.set_ylim(bottom=0)
        a.yaxis.get_major_locator().set_params(integer=True)
        a.grid(axis="y", alpha=0.3)
    return _png(fig)


def enforcement_effort_chart(effort_km: dict[str, float], incidents: dict[str, dict[str, int]],
                             zone_label=lambda z: z) -> bytes:
    """Patrol effort (km walked or driven) by zone, and incidents by zone stacked by category.
    ``effort_km``: {zone: km}, in the order shown (zones only in ``incidents`` follow); ``incidents``:
    {category: {zone: n}}."""
    zones = list(dict.fromkeys([*effort_km, *(z for counts in incidents.values() for z in counts)]))
    labels = [zone_label(z) for z in zones]
    x = np.arange(len(zones))
    fig, (ax_km, ax_inc) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax_km.bar(x, [effort_km.get(z, 0.0) for z in zones], 0.6,
              color=[ZONE_STYLES.get(z, ("#777777", ""))[0] for z in zones])
    ax_km.set_ylabel("Patrol distance (km)")
    ax_km.set_title("Patrol effort by zone", fontsize=10)
    bottom = np.zeros(len(zones))
    colours = plt.get_cmap("tab10")(np.arange(len(incidents)) % 10)
    for colour, (category, counts) in zip(colours, incidents.items()):
        values = np.array([counts.get(z, 0) for z in zones], dtype=float)
        ax_inc.bar(x, values, 0.6, bottom=bottom, color=colour, label=category.replace("_", " "))
        bottom += values
    ax_inc.set_ylabel("Incidents recorded")
    ax_inc.set_title("Incidents by zone and category", fontsize=10)
    if incidents:
        ax_inc.legend(fontsize=7, frameon=False)
    ax_inc.yaxis.get_major_locator().set_params(integer=True)
    for a in (ax_km, ax_inc):
        a.set_xticks(x, labels, fontsize=8)
        a.set_ylim(bottom=0)
        a.grid(axis="y", alpha=0.3)
    return _png(fig)


def counterfactual_chart(methods: dict, baseline_ha: dict[int, float], start_year: int) -> bytes:
    """Loss in the project area by year (ha): observed, the accounting's baseline and each method's
    counterfactual (as West et al. 2020 draw the project against its synthetic control)."""
    fig, ax = plt.subplots(figsize=(9, 4))
    first = next(iter(methods.values()))["annual"]
    years = sorted(int(y) for y in first)
    ax.plot(years, [first[str(y)]["project_ha"] for y in years], color="#111111", marker="o", markersize=3,
            label="Observed (map)")
    styles = {"pixel_matching": ("#2166ac", "Matched controls (pixel matching)"),
              "synthetic_control": ("#1b9e77", "Synthetic control")}
    for key, method in methods.items():
        if method["avoided_ha"] is None:
            continue
        colour, label = styles.get(key, ("#4d9221", key.replace("_", " ")))
        ax.plot(years, [method["annual"][str(y)]["counterfactual_ha"] for y in years], color=colour,
                linestyle="--", label=label)
    base_years = [y for y in sorted(baseline_ha) if start_year <= y <= years[-1]]
    if base_years:
        ax.plot(base_years, [baseline_ha[y] for y in base_years], color="#d95f02", linewidth=2,
                label="Baseline (the accounting)")
    ax.axvline(start_year - 0.5, color="#b2182b", linestyle=":", linewidth=1)
    ax.annotate("project start", (start_year - 0.3, 0.93), xycoords=("data", "axes fraction"), color="#b2182b",
                fontsize=8)
    ax.set_ylabel("Forest loss in the project area (ha/yr)")
    ax.set_title("Is this baseline over-crediting? Loss by year")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)
