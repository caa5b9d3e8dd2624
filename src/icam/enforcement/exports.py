"""Alert events for the field: GeoPackage, GeoJSON, KML and GPX files, and a printable HTML sheet.

Every point is an event's centroid (:mod:`icam.enforcement.alerts`), named by its ``alert_id``, with
a description a ranger reads on a GPS or phone: priority, area, dates, zone, agreement. The
GeoPackage is in the grid's CRS with two layers, ``<stem>`` (points) and ``<stem>_footprints``
(the events' pixels as polygons); GeoJSON, KML and GPX are in WGS84 (EPSG:4326), as those formats
expect. GPX is written here as GPX 1.1 XML (waypoints: lat, lon, time, name, desc), since GDAL's
GPX driver only writes its own fixed fields. Every file is written atomically (temporary file, then
rename) and the XML ones are parsed back before the rename.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import pyogrio
from pyproj import Transformer

matplotlib.use("Agg")  # the field sheet's thumbnails are drawn off-screen
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

from icam.core.atomic import atomic_path, atomic_write_text
from icam.core.errors import InputError
from icam.core.forked import map_shared
from icam.enforcement.alerts import Events

FORMATS = ("gpkg", "geojson", "kml", "gpx")
_PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def _text(value, fmt: str = "{}") -> str:
    if value is None or (np.isscalar(value) and pd.isna(value)):
        return "–"
    return fmt.format(value)


def descriptions(table: pd.DataFrame) -> list[str]:
    """One line per event: priority, area, dates, zone, agreement (what a GPS shows under the name)."""
    out = []
    for row in table.itertuples(index=False):
        get = row._asdict().get
        parts = [f"priority {_text(get('priority'))}" + (f" ({get('score'):.1f})" if get("score") is not None else ""),
                 f"{row.area_ha:.2f} ha", f"{row.first_date.isoformat()} to {row.last_date.isoformat()}",
                 f"zone {_text(get('zone'))}", f"agreement {_text(get('agreement'))}"]
        if get("household") is not None and not pd.isna(get("household")):
            parts.append(f"household {get('household')}")
        out.append("; ".join(parts))
    return out


def _ordered(events: Events) -> pd.DataFrame:
    """The events' table, highest priority first (by score when scored, else by first date)."""
    table = events.table
    if "score" in table.columns:
        return table.sort_values(["score", "alert_id"], ascending=[False, True], kind="stable")
    return table


def _flat(table: pd.DataFrame) -> pd.DataFrame:
    """Columns that every driver writes: dates as ISO strings, objects as strings."""
    out = table.copy()
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = [None if v is None or (np.isscalar(v) and pd.isna(v)) else
                         (v.isoformat() if isinstance(v, dt.date) else str(v)) for v in out[name]]
    return out


def _gpx(table: pd.DataFrame, desc: list[str]) -> str:
    ns = "http://www.topografix.com/GPX/1/1"
    root = ET.Element("gpx", {"version": "1.1", "creator": "icam", "xmlns": ns})
    for row, text in zip(table.itertuples(index=False), desc):
        wpt = ET.SubElement(root, "wpt", {"lat": f"{row.lat:.7f}", "lon": f"{row.lon:.7f}"})
        ET.SubElement(wpt, "time").text = f"{row.first_date.isoformat()}T00:00:00Z"  # schema order: time, name, desc
        ET.SubElement(wpt, "name").text = str(row.alert_id)
        ET.SubElement(wpt, "desc").text = text
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _kml(table: pd.DataFrame, desc: list[str], name: str) -> str:
    ns = "http://www.opengis.net/kml/2.2"
    root = ET.Element("kml", {"xmlns": ns})
    doc = ET.SubElement(root, "Document")
    ET.SubElement(doc, "name").text = name
    for row, text in zip(table.itertuples(index=False), desc):
        mark = ET.SubElement(doc, "Placemark")
        ET.SubElement(mark, "name").text = str(row.alert_id)
        ET.SubElement(mark, "description").text = text
        point = ET.SubElement(mark, "Point")
        ET.SubElement(point, "coordinates").text = f"{row.lon:.7f},{row.lat:.7f}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def gpx_text(table: pd.DataFrame) -> str:
    """Alerts as GPX 1.1 waypoints (name: the alert id; description: :func:`descriptions`), in the table's order;
    the table as for :func:`write_waypoints`. What a download serves without writing a file."""
    return _gpx(table, descriptions(table))


def kml_text(table: pd.DataFrame, name: str) -> str:
    """Alerts as KML placemarks in a document called ``name``; see :func:`gpx_text`."""
    return _kml(table, descriptions(table), name)


def _write_xml(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        ET.parse(tmp)  # refuse to publish a file that does not parse


def write_alerts(events: Events, folder: Path | str, stem: str = "alerts", *,
                 formats: Iterable[str] = FORMATS) -> dict[str, Path]:
    """Write the events as ``<folder>/<stem>.<format>`` for each of ``formats``; returns format → path.

    gpkg: layers ``<stem>`` (centroids) and ``<stem>_footprints`` (polygons), grid CRS, every column;
    geojson: centroids in EPSG:4326, every column; kml, gpx: one placemark / waypoint per event, named
    by ``alert_id``, described by :func:`descriptions`. Events come highest priority first.
    KML goes through GDAL's KML driver (pyogrio) where the wheels carry it, else is written here as
    KML 2.2 XML; either way it is parsed back before it replaces an older file.
    """
    formats = tuple(formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise InputError(f"unknown alert export format(s): {', '.join(unknown)}", f"use {', '.join(FORMATS)}")
    folder = Path(folder)
    ordered = events.with_table(_ordered(events))
    table = ordered.table
    desc = descriptions(table)
    out: dict[str, Path] = {}
    if "gpkg" in formats:
        path = folder / f"{stem}.gpkg"
        points = ordered.points()
        points.insert(1, "name", table["alert_id"].to_numpy())
        points.insert(2, "description", desc)
        with atomic_path(path) as tmp:
            _flat_gdf(points).to_file(tmp, layer=stem, driver="GPKG", engine="pyogrio")
            _flat_gdf(ordered.footprints()).to_file(tmp, layer=f"{stem}_footprints", driver="GPKG", engine="pyogrio")
        out["gpkg"] = path
    out.update(write_waypoints(table, folder, stem, formats=[f for f in formats if f != "gpkg"]))
    return out


def write_waypoints(table: pd.DataFrame, folder: Path | str, stem: str, *,
                    formats: Iterable[str] = ("geojson", "kml", "gpx")) -> dict[str, Path]:
    """Alerts as WGS84 points for phones and GPS units, from a table with ``alert_id``, ``lon``, ``lat``,
    ``first_date``, ``last_date``, ``area_ha`` (and, if known, priority, score, zone, agreement, household):
    ``<stem>.geojson`` (every column), ``<stem>.kml`` and ``<stem>.gpx`` (name and description), in the
    table's order. Used for a run's events and for a patrol plan read back from the registry."""
    folder = Path(folder)
    desc = descriptions(table)
    out: dict[str, Path] = {}
    wgs = gpd.GeoDataFrame(table.reset_index(drop=True), geometry=gpd.points_from_xy(table["lon"], table["lat"]),
                           crs="EPSG:4326")
    if "geojson" in formats:
        path = folder / f"{stem}.geojson"
        points = wgs.copy()
        points.insert(1, "name", table["alert_id"].to_numpy())
        points.insert(2, "description", desc)
        with atomic_path(path) as tmp:
            _flat_gdf(points).to_file(tmp, driver="GeoJSON", engine="pyogrio", layer=stem)
        out["geojson"] = path
    if "kml" in formats:
        path = folder / f"{stem}.kml"
        if len(table) and "KML" in pyogrio.list_drivers(write=True):
            marks = gpd.GeoDataFrame({"Name": table["alert_id"].to_numpy(), "Description": desc},
                                     geometry=wgs.geometry.values, crs="EPSG:4326")
            with atomic_path(path) as tmp:
                # KML folder names are XML names: no dashes or leading digits
                marks.to_file(tmp, driver="KML", engine="pyogrio", layer="_" + re.sub(r"\W", "_", stem)
                              if stem[:1].isdigit() else re.sub(r"\W", "_", stem))
                ET.parse(tmp)
        else:
            _write_xml(path, _kml(table, desc, stem))
        out["kml"] = path
    if "gpx" in formats:
        path = folder / f"{stem}.gpx"
        _write_xml(path, _gpx(table, desc))
        out["gpx"] = path
    return out


def _flat_gdf(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geom = gdf.geometry
    flat = _flat(pd.DataFrame(gdf.drop(columns=geom.name)))
    return gpd.GeoDataFrame(flat, geometry=geom.values, crs=gdf.crs)


# ------------------------------------------------------------------------------------------- field sheet


def utm_coordinates(lon: np.ndarray, lat: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """UTM zone label (e.g. ``"18S"``: zone and hemisphere), easting and northing (m) of WGS84 points."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    zone = (np.floor((lon + 180.0) / 6.0).astype(int) % 60) + 1
    south = lat < 0
    epsg = np.where(south, 32700, 32600) + zone
    east, north = np.full(lon.shape, np.nan), np.full(lon.shape, np.nan)
    for code in np.unique(epsg):
        sel = epsg == code
        east[sel], north[sel] = Transformer.from_crs("EPSG:4326", f"EPSG:{code}", always_xy=True).transform(
            lon[sel], lat[sel])
    labels = [f"{z}{'S' if s else 'N'}" for z, s in zip(zone, south)]
    return labels, east, north


def _thumbnail(events: Events, event: int, row, background: np.ndarray, margin_m: float = 300.0) -> str:
    """A base64 PNG of ``background`` around the event, its pixels outlined in red."""
    t, grid = events.grid.transform, events.grid
    c0 = max(int(math.floor((row.xmin - margin_m - t.c) / t.a)), 0)
    c1 = min(int(math.ceil((row.xmax + margin_m - t.c) / t.a)), grid.width)
    r0 = max(int(math.floor((row.ymax + margin_m - t.f) / t.e)), 0)
    r1 = min(int(math.ceil((row.ymin - margin_m - t.f) / t.e)), grid.height)
    crop = background[r0:r1, c0:c1]
    mine = events.labels[r0:r1, c0:c1] == event
    fig, ax = plt.subplots(figsize=(2.4, 2.4), dpi=80)
    ax.imshow(crop, cmap=None if crop.ndim == 3 else "Greens", interpolation="nearest")
    ax.contour(mine.astype(float), levels=[0.5], colors="red", linewidths=1.2)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout(pad=0.1)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _thumbnail_of_row(shared: tuple, i: int) -> str:
    """The ``i``-th row's thumbnail (a task of :func:`map_shared`: the row's position, not the row, is sent)."""
    events, table, background = shared
    row = next(table.iloc[i:i + 1].itertuples(index=False))
    return _thumbnail(events, int(row.event), row, background)


_CSS = """
body { font-family: sans-serif; font-size: 11pt; margin: 1cm; }
.card { border: 1px solid #555; border-radius: 4px; padding: 0.4cm; margin-bottom: 0.4cm;
        page-break-inside: avoid; break-inside: avoid; display: flex; gap: 0.5cm; }
.card h2 { margin: 0 0 0.2cm 0; font-size: 13pt; }
.high { border-left: 8px solid #c0392b; } .medium { border-left: 8px solid #e67e22; }
.low { border-left: 8px solid #7f8c8d; }
table { border-collapse: collapse; } td { padding: 1px 8px 1px 0; vertical-align: top; }
.notes { border-top: 1px dotted #999; margin-top: 0.3cm; height: 1.2cm; }
"""


def write_field_sheet(events: Events, path: Path | str, *, landscape_map: np.ndarray | None = None,
                      title: str = "Deforestation alerts: field sheet") -> Path:
    """A printable HTML page, one card per event, highest priority first.

    Each card: alert id, priority and score, area, dates, confidence, zone, agreement and household,
    distances, the centroid in decimal degrees (WGS84) and UTM (zone, easting, northing), and, when
    ``landscape_map`` is given (an array on the grid: e.g. forest cover, or an RGB image (rows, cols, 3)),
    a small map of it around the event with the event's pixels outlined.
    """
    if landscape_map is not None:
        landscape_map = np.asarray(landscape_map)
        if landscape_map.shape[:2] != events.grid.shape:
            raise InputError(f"the background map is {landscape_map.shape[:2]} but the grid is {events.grid.shape}",
                             "give a map on the project grid")
    table = _ordered(events)
    if "priority" in table.columns:
        rank = table["priority"].map(_PRIORITY_ORDER).fillna(3)
        table = table.assign(_rank=rank).sort_values("_rank", kind="stable")
    zone_labels, east, north = utm_coordinates(table["lon"].to_numpy(), table["lat"].to_numpy())
    # the cards' small maps drawn side by side on forked workers, which inherit the events and the map
    thumbnails = ([] if landscape_map is None else
                  map_shared(_thumbnail_of_row, (events, table, landscape_map), [(i,) for i in range(len(table))]))
    cards = []
    for i, row in enumerate(table.itertuples(index=False)):
        get = row._asdict().get
        priority = get("priority") or ""
        facts = [
            ("Priority", f"{priority} ({get('score'):.2f})" if get("score") is not None else "not scored"),
            ("Area", f"{row.area_ha:.2f} ha ({row.n_px} pixels)"),
            ("Dates", f"{row.first_date.isoformat()} to {row.last_date.isoformat()}"),
            ("Confidence", f"max {row.max_confidence}, mean {row.mean_confidence:.1f}"),
            ("Zone", _text(get("zone"))),
            ("Agreement", f"{_text(get('agreement'))} (household {_text(get('household'))})"),
            ("Lat, lon", f"{row.lat:.6f}, {row.lon:.6f}"),
            ("UTM", f"{zone_labels[i]} {east[i]:.0f} E {north[i]:.0f} N"),
        ]
        facts += [(name[:-3].replace("_", " ").capitalize() + " distance", f"{value:.2f} km")
                  for name, value in row._asdict().items()
                  if name.endswith("_km") and value is not None and not math.isnan(value)]
        rows_html = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in facts)
        image = ""
        if landscape_map is not None:
            image = f'<img alt="map of {html.escape(row.alert_id)}" src="data:image/png;base64,{thumbnails[i]}"/>'
        cards.append(f'<div class="card {html.escape(priority)}"><div><h2>{html.escape(row.alert_id)}</h2>'
                     f'<table>{rows_html}</table><div class="notes">Notes:</div></div>{image}</div>')
    body = "\n".join(cards) if cards else "<p>No alerts.</p>"
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{len(table)} alert(s), highest priority first.</p>\n{body}\n</body></html>\n")
    atomic_write_text(path, page)
    return Path(path)
