"""Figures for the report, as PNG bytes (matplotlib, no screen needed)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from icam.forest.zones import ZoneStats  # noqa: E402
from icam.landscape import Landscape  # noqa: E402

MAX_MAP_PX = 1400
ZONE_STYLES = {
    "project_area": ("#111111", "Project area"),
    "leakage_belt": ("#7b3294", "Leakage belt"),
    "reference_region": ("#2166ac", "Reference region"),
}


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def forest_change_map(landscape: Landscape) -> bytes:
    """Forest at the last epoch, loss coloured by period, non-forest, and zone outlines."""
    forest = landscape.forest
    step = max(1, int(np.ceil(max(forest.shape) / MAX_MAP_PX)))
    sub = (slice(None, None, step), slice(None, None, step))
    lp = forest.loss_period[sub]
    first, valid = forest.forest_first[sub], forest.valid[sub]
    n = forest.n_periods
    # 0 no data, 1 non-forest, 2 forest remaining, 3..n+2 loss in period 1..n
    image = np.where(~valid, 0, np.where(~first, 1, np.where(lp == 0, 2, lp.astype(np.int32) + 2)))
    loss_colours = plt.get_cmap("YlOrRd")(np.linspace(0.25, 1.0, n))
    cmap = ListedColormap(np.vstack([[1, 1, 1, 1], [0.93, 0.89, 0.80, 1], [0.13, 0.45, 0.2, 1], loss_colours]))
    xmin, ymin, xmax, ymax = landscape.grid.bounds
    extent_km = (xmin / 1000, xmax / 1000, ymin / 1000, ymax / 1000)

    fig, ax = plt.subplots(figsize=(9, 9 * forest.shape[0] / max(forest.shape[1], 1) + 0.8))
    ax.imshow(image, cmap=cmap, vmin=0, vmax=n + 2, interpolation="nearest", extent=extent_km)
    handles = [Patch(color=cmap(2), label=f"Forest {forest.epochs[-1]}"), Patch(color=cmap(1), label=f"Non-forest {forest.epochs[0]}")]
    handles += [Patch(color=loss_colours[0], label=f"Loss {forest.epochs[0]}–{forest.epochs[1]}"),
                Patch(color=loss_colours[-1], label=f"Loss {forest.epochs[-2]}–{forest.epochs[-1]}")]
    masks = landscape.zones.masks()
    for name, (colour, label) in reversed(ZONE_STYLES.items()):  # the project area last, on top
        if name in masks:
            ax.contour(masks[name][sub].astype(np.uint8), levels=[0.5], colors=[colour], linewidths=1.2,
                       extent=extent_km, origin="upper")
            handles.append(Patch(facecolor="none", edgecolor=colour, label=label))
    ax.set_xlabel("Easting (km)")
    ax.set_ylabel("Northing (km)")
    ax.set_title(f"Forest change {forest.epochs[0]}–{forest.epochs[-1]}")
    ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.9)
    return _png(fig)


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
    from icam.forest.activity import FOREST_LOSS

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
