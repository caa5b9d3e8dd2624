"""The map's layers: the project's boundaries and parcels as GeoJSON (WGS 84), and the run's rasters as PNG
images on Web Mercator for Leaflet, made here so the map needs no tile server and no internet.

A raster is warped once onto EPSG:3857 at most :data:`MAX_SIDE_PX` pixels a side (average of the cells it
covers, so the picture shows densities rather than aliasing) and coloured; Leaflet stretches the picture
linearly between its corners, which is exact on Web Mercator.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from matplotlib import colormaps
from matplotlib.image import imsave
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject
from sqlalchemy.orm import Session

from icam.agreements.registry import agreements_with_parcels, latest_statuses
from icam.pipeline.config import CONFIG_NAME, load_config

MAX_SIDE_PX = 1200
BOUNDARIES = ("project_area", "leakage_belt")
# raster name -> (file under outputs/rasters, colour map, what a pixel means; the legend says it)
RASTERS = {"risk": ("risk_ha_per_year.tif", "YlOrRd", "expected deforestation, ha per pixel per year"),
           "loss": ("loss_year.tif", "plasma", "year of forest loss")}
STATUS_COLOURS = {"compliant": "#1a9850", "to_verify": "#fdae61", "breach": "#d73027", "not_in_force": "#999999"}


def boundaries(project_dir: Path) -> dict:
    """The project area and leakage belt of ``icam.toml`` as one FeatureCollection (property ``zone``)."""
    if not (project_dir / CONFIG_NAME).is_file():
        return {"type": "FeatureCollection", "features": []}
    b = load_config(project_dir).boundaries
    frames = []
    for zone in BOUNDARIES:
        path = getattr(b, zone)
        if path is not None and Path(path).is_file():
            gdf = gpd.read_file(path, engine="pyogrio").to_crs("EPSG:4326")
            frames.append(gpd.GeoDataFrame({"zone": [zone]}, geometry=[gdf.union_all().simplify(0.0005)],
                                           crs="EPSG:4326"))
    if not frames:
        return {"type": "FeatureCollection", "features": []}
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326").__geo_interface__


def parcels(session: Session) -> dict:
    """Conservation parcels with their agreement and latest compliance status (no owner's name)."""
    table = agreements_with_parcels(session)
    if not len(table):
        return {"type": "FeatureCollection", "features": []}
    status = latest_statuses(session)
    out = gpd.GeoDataFrame({"agreement_id": table["agreement_id"].astype(str),
                            "status": [status.get(code, "not_assessed") for code in table["agreement_id"]],
                            "area_ha": table["conservation_area_ha"].astype(float).round(2)},
                           geometry=table.geometry.values, crs=table.crs).to_crs("EPSG:4326")
    out["geometry"] = out.geometry.simplify(0.00005)
    return out.__geo_interface__


@lru_cache(maxsize=8)
def _warped(path: str, mtime_ns: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The raster's first band on EPSG:3857 (NaN off the data) and its (south, west, north, east) in degrees."""
    with rasterio.open(path) as src:
        transform, width, height = calculate_default_transform(src.crs, "EPSG:3857", src.width, src.height,
                                                               *src.bounds)
        scale = max(width, height) / MAX_SIDE_PX
        if scale > 1:
            width, height = int(np.ceil(width / scale)), int(np.ceil(height / scale))
            transform = transform @ transform.scale(scale)
        out = np.full((height, width), np.nan, dtype="float32")
        data = src.read(1, out_dtype="float32", masked=True)
        nodata = src.nodata
        values = data.filled(np.nan) if nodata is not None else data.data
        reproject(values, out, src_transform=src.transform, src_crs=src.crs, dst_transform=transform,
                  dst_crs="EPSG:3857", resampling=Resampling.average, src_nodata=np.nan, dst_nodata=np.nan)
    west, north = transform @ (0, 0)
    east, south = transform @ (width, height)
    to_wgs = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    (lon0, lon1), (lat0, lat1) = to_wgs.transform([west, east], [south, north])
    return out, (lat0, lon0, lat1, lon1)


def raster(project_dir: Path, name: str) -> tuple[bytes, dict] | None:
    """The raster ``name`` (:data:`RASTERS`) as a PNG and its legend (bounds, value range, colours); None where
    the run has not written it."""
    if name not in RASTERS:
        return None
    file, cmap_name, meaning = RASTERS[name]
    path = project_dir / "outputs" / "rasters" / file
    if not path.is_file():
        return None
    values, bounds = _warped(str(path), path.stat().st_mtime_ns)
    shown = np.isfinite(values) & (values > 0)  # 0: no loss, no risk; negative: off the zone
    low, high = (float(np.nanmin(values[shown])), float(np.nanmax(values[shown]))) if shown.any() else (0.0, 1.0)
    scaled = np.clip((values - low) / ((high - low) or 1.0), 0, 1)
    rgba = colormaps[cmap_name](np.where(shown, scaled, 0))
    rgba[..., 3] = np.where(shown, 0.8, 0.0)
    buffer = io.BytesIO()
    imsave(buffer, rgba, format="png")
    colours = [colormaps[cmap_name](k / 4) for k in range(5)]
    legend = {"bounds": [[bounds[0], bounds[1]], [bounds[2], bounds[3]]], "min": low, "max": high,
              "meaning": meaning,
              "colours": ["#%02x%02x%02x" % tuple(int(255 * c) for c in rgb[:3]) for rgb in colours]}
    return buffer.getvalue(), legend


__all__ = ["BOUNDARIES", "RASTERS", "STATUS_COLOURS", "boundaries", "parcels", "raster"]
