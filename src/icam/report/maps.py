"""Maps for the report, as PNG bytes: every map has a legend, a scale bar and a north arrow."""

from __future__ import annotations

from math import ceil

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from icam.landscape import Landscape
from icam.report.figures import PRIORITY_STYLES, ZONE_STYLES, _png


def _nice_length_km(width_km: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10^k km) of about a fifth of the map's width."""
    target = max(width_km / 5, 1e-3)
    power = 10 ** np.floor(np.log10(target))
    return float(max(m * power for m in (1, 2, 5) if m * power <= target) if target >= power else power)


def map_furniture(ax, extent_km) -> None:
    """A scale bar (lower right, km) and a north arrow (upper right) on a map whose axes are in km.

    The grid is a projected CRS in metres (UTM for Alto Mayo): its north is grid north, within a degree
    or two of true north over a project's extent.
    """
    xmin, xmax, ymin, ymax = extent_km
    width, height = xmax - xmin, ymax - ymin
    length = _nice_length_km(width)
    x1, y = xmax - 0.04 * width, ymin + 0.05 * height
    x0 = x1 - length
    ax.plot([x0, x1], [y, y], color="black", linewidth=3, solid_capstyle="butt", zorder=10)
    ax.plot([x0, x0 + length / 2], [y, y], color="white", linewidth=1.5, solid_capstyle="butt", zorder=11)
    ax.text((x0 + x1) / 2, y + 0.015 * height, f"{length:g} km", ha="center", va="bottom", fontsize=8, zorder=11,
            bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})
    ax.annotate("", xy=(0.95, 0.93), xytext=(0.95, 0.83), xycoords="axes fraction", zorder=11,
                arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.5})
    ax.text(0.95, 0.955, "N", transform=ax.transAxes, ha="center", va="center", fontsize=10, fontweight="bold",
            zorder=11)


MAX_MAP_PX = 1400




def _zone_outlines(ax, landscape: Landscape, sub, extent_km, linewidth: float = 1.2) -> list[Patch]:
    """Outline each zone of ZONE_STYLES on ``ax`` (the project area last, on top); the legend handles."""
    masks = landscape.zones.masks()
    handles = []
    for name, (colour, label) in reversed(ZONE_STYLES.items()):
        if name in masks:
            ax.contour(masks[name][sub].astype(np.uint8), levels=[0.5], colors=[colour], linewidths=linewidth,
                       extent=extent_km, origin="upper")
            handles.append(Patch(facecolor="none", edgecolor=colour, label=label))
    return handles


def _extent_km(grid) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = grid.bounds
    return xmin / 1000, xmax / 1000, ymin / 1000, ymax / 1000


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
    handles = [Patch(color=cmap(2), label=f"Forest {forest.epochs[-1]}"),
               Patch(color=cmap(1), label=f"Non-forest {forest.epochs[0]}")]
    handles += [Patch(color=loss_colours[0], label=f"Loss {forest.epochs[0]}–{forest.epochs[1]}"),
                Patch(color=loss_colours[-1], label=f"Loss {forest.epochs[-2]}–{forest.epochs[-1]}")]
    handles += _zone_outlines(ax, landscape, sub, extent_km)
    ax.set_xlabel("Easting (km)")
    ax.set_ylabel("Northing (km)")
    ax.set_title(f"Forest change {forest.epochs[0]}–{forest.epochs[-1]}")
    ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.9)
    map_furniture(ax, extent_km)
    return _png(fig)


RISK_CMAP = ListedColormap(plt.get_cmap("YlOrRd")(np.linspace(0.12, 1.0, 256)))


NO_RISK_COLOUR = "#d9d9d9"


def _positive_limits(values: np.ndarray) -> tuple[float, float]:
    """Colour limits of a log scale: the 1st percentile and the maximum of the positive values."""
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        return 1e-6, 1e-5
    vmax = float(positive.max())
    vmin = float(np.percentile(positive, 1))
    return (vmin, vmax) if vmin < vmax else (vmax / 10, vmax)


def risk_map(landscape: Landscape, risk_ha_per_year: np.ndarray, chosen: str, start_year: int) -> bytes:
    """The chosen risk map (ha/pixel/yr) on a log colour scale; zero (non-forest, off the zone) in grey."""

    values = np.asarray(risk_ha_per_year)
    step = max(1, int(np.ceil(max(values.shape) / MAX_MAP_PX)))
    sub = (slice(None, None, step), slice(None, None, step))
    shown = values[sub].astype(np.float64)
    valid = landscape.forest.valid[sub]
    vmin, vmax = _positive_limits(shown)
    extent_km = _extent_km(landscape.grid)

    fig, ax = plt.subplots(figsize=(8, 8 * values.shape[0] / max(values.shape[1], 1) + 0.8))
    background = np.where(valid, 1.0, np.nan)  # grey where valid, white (transparent) off the data
    ax.imshow(np.ma.masked_invalid(background), cmap=ListedColormap([NO_RISK_COLOUR]), vmin=0, vmax=1,
              interpolation="nearest", extent=extent_km)
    image = ax.imshow(np.ma.masked_less_equal(shown, 0), cmap=RISK_CMAP, norm=LogNorm(vmin, vmax, clip=True),
                      interpolation="nearest", extent=extent_km)
    handles = [Patch(color=NO_RISK_COLOUR, label="No expected deforestation (non-forest, outside the risk zone)")]
    handles += _zone_outlines(ax, landscape, sub, extent_km)
    colourbar = fig.colorbar(image, ax=ax, shrink=0.75, pad=0.02)
    colourbar.set_label("Expected deforestation (ha/pixel/yr, log scale)")
    ax.set_xlabel("Easting (km)")
    ax.set_ylabel("Northing (km)")
    ax.set_title(f"Expected deforestation (ha/pixel/yr), {chosen} map, from {start_year}")
    ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.9)
    map_furniture(ax, extent_km)
    return _png(fig)


def residual_maps(landscape: Landscape, candidates, chosen: str, period: str = "confirmation") -> bytes:
    """Actual − predicted deforestation per assessment cell, one panel per candidate, one colour scale."""

    panels = []
    for candidate in candidates:
        assessment = getattr(candidate, period)
        residuals, coarse = assessment.residual_raster(landscape.grid)
        panels.append((candidate.name, assessment, residuals, coarse))
    limit = max((float(np.nanmax(np.abs(r))) for _, _, r, _ in panels if np.isfinite(r).any()), default=1.0) or 1.0
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#cfcfcf")  # grey: cells not assessed (no forest)
    grid = landscape.grid
    step = max(1, int(np.ceil(max(grid.shape) / 400)))  # outlines only: a coarse mask is enough
    sub = (slice(None, None, step), slice(None, None, step))
    extent_km = _extent_km(grid)
    ncols = min(len(panels), 3)
    nrows = ceil(len(panels) / ncols)
    aspect = grid.height / max(grid.width, 1)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols + 1.0, 3.2 * nrows * aspect + 0.8), squeeze=False,
                             layout="constrained")
    image = None
    for ax, (name, assessment, residuals, coarse) in zip(axes.ravel(), panels):
        image = ax.imshow(np.ma.masked_invalid(residuals), cmap=cmap, vmin=-limit, vmax=limit,
                          interpolation="nearest", extent=_extent_km(coarse))
        _zone_outlines(ax, landscape, sub, extent_km, linewidth=0.7)
        if residuals.size <= 64:  # few cells: print each cell's residual
            xmin, xmax, ymin, ymax = _extent_km(coarse)
            rows, cols = residuals.shape
            for (i, j), v in np.ndenumerate(residuals):
                if np.isfinite(v):
                    ax.text(xmin + (j + 0.5) * (xmax - xmin) / cols, ymax - (i + 0.5) * (ymax - ymin) / rows,
                            f"{v:+,.0f}", ha="center", va="center", fontsize=7,
                            color="white" if abs(v) > 0.6 * limit else "black")
        ax.set_xlim(extent_km[0], extent_km[1])
        ax.set_ylim(extent_km[2], extent_km[3])
        map_furniture(ax, extent_km)
        medae = assessment.metrics()["medae_ha"]
        ax.set_title(f"{name}{' (chosen)' if name == chosen else ''}\nMedAE {medae:,.1f} ha", fontsize=9,
                     fontweight="bold" if name == chosen else "normal")
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    if image is not None:
        colourbar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
        colourbar.set_label("Actual − predicted (ha per cell)", fontsize=8)
    first = panels[0][1] if panels else None
    cell = f" of {first.cell_area_ha:,.0f} ha" if first is not None else ""
    fig.suptitle(f"Residuals in the {period} period, per assessment cell{cell} (red: more loss than predicted)",
                 fontsize=10)
    return _png(fig)


AGREEMENT_STATUS_STYLES = {  # drawing order (last on top), colour, legend label
    "no_agreement": ("#555555", "No agreement"),
    "not_in_force": ("#cccccc", "Not in force"),
    "compliant": ("#1a9641", "Compliant"),
    "to_verify": ("#fd8d3c", "To verify"),
    "breach": ("#d7191c", "Breach"),
}


OTHER_STATUS_COLOUR = "#999999"


def _mask_bounds_km(mask: np.ndarray, grid) -> tuple[float, float, float, float] | None:
    """(xmin, xmax, ymin, ymax) in km of the cells of ``mask`` on ``grid``; None for an empty mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    xmin, ymin, xmax, ymax = grid.bounds
    height, width = mask.shape
    dx, dy = (xmax - xmin) / width, (ymax - ymin) / height
    return ((xmin + cols[0] * dx) / 1000, (xmin + (cols[-1] + 1) * dx) / 1000,
            (ymax - (rows[-1] + 1) * dy) / 1000, (ymax - rows[0] * dy) / 1000)


def agreements_map(landscape: Landscape, parcels) -> bytes:
    """The conservation parcels coloured by their status in the last monitoring period, over the forest of the
    last epoch and the zone outlines. Parcels of a few hectares vanish at the scale of a project, so each one
    also gets a marker at its centroid, sized by its area, breaches drawn last (on top).

    ``parcels``: a GeoDataFrame in the grid's CRS with a ``status`` column (compliant, to_verify, breach,
    not_in_force, no_agreement; anything else is drawn grey)."""

    forest = landscape.forest
    grid = landscape.grid
    step = max(1, int(np.ceil(max(forest.shape) / MAX_MAP_PX)))
    sub = (slice(None, None, step), slice(None, None, step))
    # 0 no data / non-forest (white), 1 forest at the last epoch (pale green)
    remaining = forest.valid[sub] & forest.forest_first[sub] & (forest.loss_period[sub] == 0)
    extent_km = _extent_km(grid)

    if parcels.crs is not None and not parcels.crs.equals(grid.crs):
        parcels = parcels.to_crs(grid.crs)
    shapes = parcels[[g is not None and not g.is_empty for g in parcels.geometry]]
    status = (shapes["status"].astype(object).where(shapes["status"].notna(), "unknown").astype(str)
              if "status" in shapes else pd.Series("unknown", index=shapes.index))
    geoms_km = shapes.geometry.scale(1 / 1000, 1 / 1000, origin=(0, 0))
    area_ha = shapes.geometry.area.to_numpy() / 10_000
    centroids = geoms_km.centroid

    # the view: the project area and the parcels, with a margin, within the grid
    boxes = []
    masks = landscape.zones.masks()
    if "project_area" in masks:
        boxes.append(_mask_bounds_km(masks["project_area"], grid))
    if len(shapes):
        x0, y0, x1, y1 = geoms_km.total_bounds
        boxes.append((x0, x1, y0, y1))
    boxes = [b for b in boxes if b is not None] or [extent_km]
    x0, x1 = min(b[0] for b in boxes), max(b[1] for b in boxes)
    y0, y1 = min(b[2] for b in boxes), max(b[3] for b in boxes)
    pad = 0.04 * max(x1 - x0, y1 - y0, 1.0)
    x0, x1 = max(extent_km[0], x0 - pad), min(extent_km[1], x1 + pad)
    y0, y1 = max(extent_km[2], y0 - pad), min(extent_km[3], y1 + pad)

    fig, ax = plt.subplots(figsize=(9, min(12.0, 9 * (y1 - y0) / max(x1 - x0, 1e-9)) + 0.8))
    ax.imshow(remaining.astype(np.uint8), cmap=ListedColormap(["#ffffff", "#e3eedc"]), vmin=0, vmax=1,
              interpolation="nearest", extent=extent_km)
    handles = [Patch(color="#e3eedc", label=f"Forest {forest.epochs[-1]}")]
    handles += _zone_outlines(ax, landscape, sub, extent_km, linewidth=1.0)
    known = list(AGREEMENT_STATUS_STYLES)
    order = [s for s in known if (status == s).any()] + sorted(set(status) - set(known))
    # marker area in points²: from 20 (a small parcel stays visible at the scale of a project) growing with its area
    sizes = np.clip(20 + 3 * area_ha, 20, 100)
    status_handles = []
    for name in order:
        colour, label = AGREEMENT_STATUS_STYLES.get(name, (OTHER_STATUS_COLOUR, name.replace("_", " ")))
        chosen = (status == name).to_numpy()
        zorder = 3 + known.index(name) if name in known else 2
        geoms_km[chosen].plot(ax=ax, facecolor=colour, edgecolor="#222222", linewidth=0.3, zorder=zorder)
        ax.scatter(centroids[chosen].x, centroids[chosen].y, s=sizes[chosen], c=colour, edgecolors="#222222",
                   linewidths=0.4, zorder=zorder + 10)
        status_handles.insert(0, Line2D([], [], linestyle="none", marker="o", markersize=7, markerfacecolor=colour,
                                     markeredgecolor="#222222", markeredgewidth=0.4,
                                     label=f"{label} ({int(chosen.sum()):,})"))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    map_furniture(ax, (x0, x1, y0, y1))
    ax.set_xlabel("Easting (km)")
    ax.set_ylabel("Northing (km)")
    ax.set_title(f"Conservation parcels by status ({len(shapes):,} parcels; markers sized by area)")
    ax.legend(handles=status_handles + handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False, title="Status, last period", title_fontsize=8, alignment="left")
    return _png(fig)






def _alert_marker_size(area_ha):
    """Marker area in points² growing with the event's area: 12 for a pixel, 150 from about 10 ha."""
    return np.clip(12 + 14 * np.asarray(area_ha, dtype=float), 12, 150)


def enforcement_map(landscape: Landscape, events) -> bytes:
    """The alert events as points coloured by priority (high red, medium orange, low grey), sized by area, those
    checked in the field with a black edge, over the forest of the last epoch and the zone outlines.

    ``events``: the events table (x, y in the grid's CRS, metres; priority, area_ha, status)."""

    forest = landscape.forest
    step = max(1, int(np.ceil(max(forest.shape) / MAX_MAP_PX)))
    sub = (slice(None, None, step), slice(None, None, step))
    remaining = forest.valid[sub] & forest.forest_first[sub] & (forest.loss_period[sub] == 0)
    extent_km = _extent_km(landscape.grid)

    fig, ax = plt.subplots(figsize=(9, 9 * forest.shape[0] / max(forest.shape[1], 1) + 0.8))
    ax.imshow(remaining.astype(np.uint8), cmap=ListedColormap(["#ffffff", "#e3eedc"]), vmin=0, vmax=1,
              interpolation="nearest", extent=extent_km)
    outlines = [Patch(color="#e3eedc", label=f"Forest {forest.epochs[-1]}")]
    outlines += _zone_outlines(ax, landscape, sub, extent_km, linewidth=1.0)
    checked = (events["status"] == "checked").to_numpy()
    priority_handles = []
    for zorder, (name, (colour, label)) in enumerate(PRIORITY_STYLES.items(), start=3):
        chosen = (events["priority"] == name).to_numpy()
        for edge, width, these in (("#ffffff", 0.3, chosen & ~checked), ("#000000", 1.0, chosen & checked)):
            ax.scatter(events["x"].to_numpy()[these] / 1000, events["y"].to_numpy()[these] / 1000,
                       s=_alert_marker_size(events["area_ha"].to_numpy()[these]), c=colour, edgecolors=edge,
                       linewidths=width, zorder=zorder)
        priority_handles.insert(0, Line2D([], [], linestyle="none", marker="o", markersize=7, markerfacecolor=colour,
                                          markeredgecolor="#ffffff", label=f"{label} ({int(chosen.sum()):,})"))
    priority_handles.append(Line2D([], [], linestyle="none", marker="o", markersize=7, markerfacecolor="#ffffff",
                                   markeredgecolor="#000000", markeredgewidth=1.0,
                                   label=f"Checked in the field ({int(checked.sum()):,})"))
    sizes = [Line2D([], [], linestyle="none", marker="o", markersize=float(np.sqrt(_alert_marker_size(a))),
                    markerfacecolor="#cccccc", markeredgecolor="#777777", label=f"{a:g} ha") for a in (0.1, 1, 5)]
    ax.set_xlim(extent_km[0], extent_km[1])
    ax.set_ylim(extent_km[2], extent_km[3])
    map_furniture(ax, extent_km)
    ax.set_aspect("equal")
    ax.set_xlabel("Easting (km)")
    ax.set_ylabel("Northing (km)")
    ax.set_title(f"Alert events by priority ({len(events):,} events; markers sized by area)")
    ax.legend(handles=priority_handles + sizes + outlines, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False, title="Priority", title_fontsize=8, alignment="left")
    return _png(fig)
