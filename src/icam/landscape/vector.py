"""Boundaries: polygons from GeoPackage, Shapefile or GeoJSON, checked and rasterised onto the grid.

A boundary file must have a CRS, at least one feature, and only valid, non-empty polygons; each
problem is an :class:`~icam.core.errors.InputError` naming the file, the feature (its index and, when
given, its name) and the fix. Polygons are reprojected to the grid's CRS and burnt with the
cell-centre rule (a cell belongs to a polygon when its centre lies inside it).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from pyogrio.errors import DataLayerError, DataSourceError
from rasterio.features import rasterize

from icam.core.errors import InputError
from icam.landscape.grid import Grid, coordinates_problem

_REPAIR_HINT = "repair it (QGIS: Fix geometries; shapely.make_valid)"
_CRS_HINT = "set the right CRS (QGIS: Layer > Set CRS, then export; for a Shapefile, its .prj file)"


def _feature(gdf: gpd.GeoDataFrame, i: int, field: str | None) -> str:
    label = f"feature {i}"
    if field is not None and field in gdf.columns:
        label += f" ({field} = {gdf[field].iloc[i]!r})"
    return label


def read_polygons(path: Path | str, grid_crs, what: str, field: str | None = None, *,
                  field_key: str | None = None) -> gpd.GeoDataFrame:
    """Polygons of ``path`` reprojected to ``grid_crs``, checked; ``what`` is the configuration key named in errors.

    ``field``: a column that must exist (e.g. the admin units' names); ``field_key`` is the configuration
    key that names it, for the error message.
    """

    path = Path(path)
    if not path.exists():
        raise InputError(f"{what}: {path} does not exist",
                         "check the path in icam.toml (relative paths start at the project folder)")
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except (DataSourceError, DataLayerError, RuntimeError, ValueError, OSError) as exc:
        reason = " ".join(str(exc).replace(str(path), path.name).split())[:120]
        raise InputError(f"{what}: {path.name} cannot be read as a vector file ({reason})",
                         "give a GeoPackage, Shapefile or GeoJSON file") from None
    if len(gdf) == 0:
        raise InputError(f"{what}: {path.name} holds no features",
                         "draw the polygon(s) or point to the right file")
    if gdf.crs is None:
        raise InputError(f"{what}: {path.name} has no CRS",
                         "assign one (QGIS: Layer > Layer CRS > Set CRS; for a Shapefile, add its .prj file)")
    if field is not None and field not in gdf.columns:
        columns = ", ".join(c for c in gdf.columns if c != gdf.geometry.name) or "none"
        key = field_key or "the field"
        raise InputError(f"{what}: {path.name} has no column {field!r} (named by {key}); its columns are: "
                         f"{columns}", f"set {key} to one of them")
    geoms = gdf.geometry.values
    missing = np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if missing.size:
        i = int(missing[0])
        raise InputError(f"{what}: {path.name} {_feature(gdf, i, field)} has an empty geometry",
                         "delete the feature or draw its polygon")
    types = shapely.get_type_id(geoms)
    not_polygon = np.flatnonzero(~np.isin(types, [3, 6]))  # Polygon, MultiPolygon
    if not_polygon.size:
        i = int(not_polygon[0])
        raise InputError(f"{what}: {path.name} {_feature(gdf, i, field)} is a {geoms[i].geom_type}, not a polygon",
                         "give polygons (buffer points or lines into areas first)")
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    if invalid.size:
        i = int(invalid[0])
        reason = shapely.is_valid_reason(geoms[i])
        raise InputError(f"{what}: {path.name} {_feature(gdf, i, field)} is not a valid polygon ({reason})",
                         _REPAIR_HINT)
    problem = coordinates_problem(tuple(gdf.total_bounds), gdf.crs)
    if problem is not None:
        raise InputError(f"{what}: {path.name} {problem}", _CRS_HINT)
    try:
        projected = gdf.to_crs(grid_crs)
    except Exception as exc:  # noqa: BLE001 - PROJ errors come in several classes
        raise InputError(f"{what}: {path.name} cannot be reprojected to the grid CRS ({exc})",
                         "check the file's CRS") from None
    if not np.all(np.isfinite(projected.total_bounds)):
        raise InputError(f"{what}: {path.name} lies where the grid CRS cannot express it (its coordinates become "
                         "infinite)", "check the file's CRS and grid.crs")
    return projected


def read_features(path: Path | str, grid_crs, what: str) -> np.ndarray:
    """The non-empty geometries of any type (roads, settlements, rivers) of ``path`` in ``grid_crs``, as a
    shapely array; ``what`` is the configuration key named in errors (unreadable, no CRS, no geometry)."""
    path = Path(path)
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several classes for unreadable files
        reason = " ".join(str(exc).replace(str(path), path.name).split())[:120]
        raise InputError(f"{what}: {path.name} cannot be read as a vector file ({reason})",
                         "give a GeoPackage, Shapefile or GeoJSON file") from None
    if gdf.crs is None:
        raise InputError(f"{what}: {path.name} has no CRS", "assign one in QGIS (Layer > Layer CRS > Set CRS)")
    geoms = gdf.to_crs(grid_crs).geometry
    geoms = geoms[~(geoms.is_empty | geoms.isna())]
    if len(geoms) == 0:
        raise InputError(f"{what}: {path.name} holds no geometry", "point to the right file")
    return geoms.values


def rasterize_mask(gdf: gpd.GeoDataFrame, grid: Grid) -> np.ndarray:
    """bool (rows, cols): cells whose centre lies in any polygon of ``gdf`` (already in the grid CRS)."""
    if len(gdf) == 0:
        return np.zeros(grid.shape, dtype=bool)
    return rasterize_values([(geom, 1) for geom in gdf.geometry.values], grid, np.uint8).view(bool)


def rasterize_ids(gdf: gpd.GeoDataFrame, grid: Grid) -> np.ndarray:
    """(rows, cols): 1 + the row number of the polygon holding each cell centre, 0 outside all, in the smallest
    unsigned type that holds them (a few hundred parcels as uint16: 0.12 GB over a jurisdiction, not 0.24).

    Where polygons overlap, the later row wins.
    """
    ids = np.min_scalar_type(len(gdf))
    if len(gdf) == 0:
        return np.zeros(grid.shape, dtype=ids)
    return rasterize_values([(geom, i) for i, geom in enumerate(gdf.geometry.values, start=1)], grid, ids)


STRIP_PX = 1 << 24  # cells :func:`rasterize_values` burns at a time (64 MB of uint32)


def rasterize_values(shapes: list, grid: Grid, dtype) -> np.ndarray:
    """rasterio's ``rasterize`` of ``shapes`` (geometry, value) onto ``grid``, 0 elsewhere, a band of rows at a
    time, each with the grid's transform moved down to its first row: rasterio burns into a dataset of its own
    and copies it out, which over a jurisdiction's 61 Mpx was a second raster of the output's size."""
    out = np.zeros(grid.shape, dtype)
    rows = max(1, STRIP_PX // max(grid.width, 1))
    for r0 in range(0, grid.height, rows):
        strip = out[r0:r0 + rows]
        strip[...] = rasterize(shapes, out_shape=strip.shape, transform=grid.transform @ Affine.translation(0, r0),
                               fill=0, dtype=dtype)
    return out


def overlapping_pairs(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs (i < j) of the polygons that intersect, and each intersection's area (CRS units²)."""
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    return left, right, shapely.area(shapely.intersection(geoms[left], geoms[right]))
