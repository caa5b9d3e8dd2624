"""Parcels for the agreements registry: read from a GeoPackage, GeoJSON or Shapefile, put in the registry's CRS,
and checked (polygons, place, overlaps) before :mod:`icam.agreements.registry_import` inserts them.

- **CRS.** A file without a CRS is refused. Parcels are stored in one projected CRS in metres: the registry's
  (that of the parcels already in it), else the project's (``crs``, from icam.toml's grid), else the file's
  own. A file in another CRS (EPSG:4326 GeoJSON from a phone, a neighbouring UTM zone) is reprojected and the
  import report says so; a file whose coordinates are metres labelled as degrees is refused.
- **Polygons.** Invalid polygons are refused with their reason, never repaired silently. Missing ``area_ha``
  is computed from the polygon (m² / 10,000 in the metric CRS).
- **Place.** With the project's extent, a parcel farther than ``max_outside_m`` from it is refused.
- **Overlaps.** Conservation parcels that overlap each other (in the file, or one of the registry's) by more
  than :data:`OVERLAP_M2` are refused, unless the import allows them (then listed in the report): a pixel
  of forest loss would count against two households' agreements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from sqlalchemy import select
from sqlalchemy.orm import Session

from icam.agreements.models import Household, Parcel
from icam.core.errors import InputError
from icam.landscape.vector import overlapping_pairs
from icam.store.extent import Extent
from icam.store.forms import Rows, text_table
from icam.store.writes import codes, insert_rows

VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip", ".fgb")
OVERLAP_M2 = 1.0  # shared area above which two conservation parcels overlap (below: a shared boundary's rounding)
_REPAIR_FIX = "repair it (QGIS: Vector > Geometry Tools > Fix Geometries; shapely.make_valid) and import again"


@dataclass
class Source:
    """A file being imported: its cells as text (index = spreadsheet row or feature number), the columns
    ignored, and for parcels the polygons in the registry's CRS; ``notes`` for the import report."""

    path: Path
    raw: pd.DataFrame
    unit: str = "row"
    ignored: tuple[str, ...] = ()
    geometry: np.ndarray | None = None
    crs: Any = None
    notes: list[str] = field(default_factory=list)
    extent: Extent | None = None
    max_outside_m: float = np.inf
    allow_overlap: bool = False


def crs_text(crs) -> str:
    """``EPSG:<code>`` of a CRS, or its WKT where it has none."""
    crs = CRS.from_user_input(crs)
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.to_wkt()


def points(x, y) -> np.ndarray:
    """Shapely points of coordinate arrays."""
    return shapely.points(np.asarray(x, dtype=float), np.asarray(y, dtype=float))


def _metric(crs) -> bool:
    return crs.is_projected and crs.axis_info[0].unit_name in ("metre", "meter")


def _read_layer(path: Path) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputError(f"{path} does not exist", "check the path")
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
        layer = "parcels" if "parcels" in layers else layers[0] if len(layers) == 1 else None
        if layer is None:
            raise InputError(f"{path.name} has layers {', '.join(layers)[:80]} and none is named 'parcels'",
                             "rename the parcels' layer to 'parcels' or export it alone")
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (DataSourceError, DataLayerError, RuntimeError, ValueError, OSError) as exc:
        raise InputError(f"{path.name} cannot be read as a vector file ({' '.join(str(exc).split())[:120]})",
                         "give a GeoPackage, GeoJSON or Shapefile") from None
    if not len(gdf):
        raise InputError(f"{path.name} holds no parcel", "export the layer with its features")
    if gdf.crs is None:
        raise InputError(f"{path.name} has no CRS",
                         "assign one (QGIS: Layer > Layer CRS > Set CRS; for a Shapefile, add its .prj file)")
    return gdf


def _target_crs(path: Path, file_crs, registry: str | None, crs) -> CRS:
    """The CRS the parcels are stored in (module docstring)."""
    if registry is not None and crs is not None and CRS.from_user_input(crs) != CRS.from_user_input(registry):
        raise InputError(f"the project's CRS is {crs_text(crs)} but the registry's parcels are in {registry}",
                         "import into the registry of this project, or keep its CRS")
    target = registry or crs
    if target is None:
        if not _metric(file_crs):
            raise InputError(f"{path.name} is in {crs_text(file_crs)} (not metres) and the project's CRS is unknown",
                             "import from the project folder (icam.toml names the grid's CRS), or give --crs "
                             "with the project's CRS in metres, e.g. EPSG:32718")
        return file_crs
    target = CRS.from_user_input(target)
    if not _metric(target):
        raise InputError(f"parcels are stored in a projected CRS in metres, not {crs_text(target)}",
                         "give the project's CRS, e.g. EPSG:32718 (UTM 18S)")
    return target


def read(session: Session, path: Path, crs) -> Source:
    """The parcels of a vector file as a :class:`Source`: attributes as text (index = feature 1, 2, ...) and the
    polygons in the registry's CRS (module docstring)."""
    gdf = _read_layer(path)
    notes = []
    if gdf.crs.is_geographic:
        x0, y0, x1, y1 = gdf.total_bounds
        if min(x0, y0) < -180 or max(x1, y1) > 180 or min(y0, y1) < -90 or max(y0, y1) > 90:
            raise InputError(f"{path.name} says its CRS is {crs_text(gdf.crs)} (degrees) but its coordinates reach "
                             f"({x0:.0f}, {y0:.0f}): metres?", "set the file's true CRS (QGIS: Layer > Set CRS), "
                             "e.g. the project's UTM zone")
    registry = session.scalar(select(Parcel.crs).limit(1))
    target = _target_crs(path, gdf.crs, registry, crs)
    if gdf.crs != target:
        notes.append(f"reprojected from {crs_text(gdf.crs)} to {crs_text(target)}")
        gdf = gdf.to_crs(target)
    table = text_table(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)))
    return Source(path, table, "feature", geometry=np.asarray(gdf.geometry.values), crs=target, notes=notes)


def check(session: Session, rows: Rows, source: Source) -> None:
    """Flag parcels of unknown households, repeated codes, bad polygons, far from the project, or overlapping
    (module docstring); fills ``area_ha`` where missing."""
    rows.unknown("household_id", codes(session, Household), "a household",
                 "import the household first (kind households) or correct the code")
    rows.duplicates(["parcel_id"], "parcel_id", set(codes(session, Parcel)))
    ok = _check_geometry(rows, source)
    if source.extent is not None:
        distance = np.zeros(len(ok))
        distance[ok] = source.extent.distance_m(source.geometry[ok], source.crs)
        rows.flag(distance > source.max_outside_m, "geometry", pd.Series(distance, index=rows.frame.index).map(
            lambda d: f"lies {d / 1000:,.0f} km outside the project's boundaries"),
            f"check the parcel's coordinates and the file's CRS (read as {crs_text(source.crs)})")
    _check_overlaps(session, rows, source, ok & (rows.frame["kind"] == "conservation").to_numpy())


def _check_geometry(rows: Rows, source: Source) -> np.ndarray:
    """Flag missing, non-polygon and invalid geometries; fill area_ha from the polygons; the mask of good ones."""
    geoms = source.geometry
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    rows.flag(missing, "geometry", "has no geometry", "draw the parcel's polygon or delete the feature")
    not_polygon = ~missing & ~np.isin(shapely.get_type_id(geoms), [3, 6])
    rows.flag(not_polygon, "geometry", "is not a polygon", "give polygons (buffer points or lines into areas first)")
    ok = ~missing & ~not_polygon
    invalid = ok & ~shapely.is_valid(geoms)
    reasons = pd.Series(np.where(invalid, shapely.is_valid_reason(geoms), ""), index=rows.frame.index)
    rows.raw = rows.raw.assign(geometry=reasons)
    rows.flag(invalid, "geometry", "is not a valid polygon ({value})", _REPAIR_FIX)
    area_ha = pd.Series(shapely.area(geoms) / 1e4, index=rows.frame.index)  # the CRS is in metres (_target_crs)
    no_area = rows.frame["area_ha"].isna() & (rows.raw["area_ha"] == "" if "area_ha" in rows.raw else True)
    rows.frame["area_ha"] = rows.frame["area_ha"].where(~no_area, area_ha)
    if bool(no_area.any()):
        source.notes.append(f"area_ha computed from the polygons for {int(no_area.sum())} parcel(s)")
    return ok & ~invalid


def _check_overlaps(session: Session, rows: Rows, source: Source, conservation: np.ndarray) -> None:
    """Conservation parcels overlapping another of the file or of the registry: flagged, or noted when allowed."""
    stored = session.execute(select(Parcel.code, Parcel.geometry).where(Parcel.kind == "conservation")).all()
    index = np.flatnonzero(conservation)
    names = [*rows.frame["parcel_id"].to_numpy()[index], *(code for code, _ in stored)]
    geoms = np.concatenate([source.geometry[index], shapely.from_wkb([wkb for _, wkb in stored])]) \
        if stored else source.geometry[index]
    left, right, shared = overlapping_pairs(geoms)  # left < right: a pair with a row of the file has it left
    over = (shared > OVERLAP_M2) & (left < len(index))
    left, right, shared = left[over], right[over], shared[over]
    if not len(left):
        return
    pairs = [f"{names[i]} and {names[j]} ({a / 1e4:.2f} ha)" for i, j, a in zip(left, right, shared)]
    if source.allow_overlap:
        more = f" and {len(pairs) - 5} more" if len(pairs) > 5 else ""
        source.notes.append(f"{len(pairs)} overlapping pair(s) of conservation parcels accepted: "
                            f"{'; '.join(pairs[:5])}{more}")
        return
    problem = pd.Series("", index=rows.frame.index)
    for i, j, a in zip(left, right, shared):
        row = rows.frame.index[index[i]]
        if not problem[row]:
            problem[row] = f"overlaps conservation parcel {names[j]} by {a / 1e4:.2f} ha"
    rows.flag(problem != "", "geometry", problem,
              "correct the boundaries (QGIS: Vector > Geoprocessing > Difference), or import with --allow-overlap "
              "if the overlap is real")


def insert(session: Session, rows: Rows, source: Source) -> int:
    """Insert the checked parcels (2-D WKB in the registry's CRS); returns how many."""
    frame = rows.frame
    table = pd.DataFrame({"code": frame["parcel_id"], "household_id": frame["household_id"].map(
        codes(session, Household)), "kind": frame["kind"], "area_ha": frame["area_ha"],
        "geometry": list(shapely.to_wkb(shapely.force_2d(source.geometry))), "crs": crs_text(source.crs)},
        index=frame.index)
    return insert_rows(session, Parcel, table)


__all__ = ["OVERLAP_M2", "VECTOR_SUFFIXES", "Source", "check", "crs_text", "insert", "points", "read"]
