"""Labelled reference samples and strata tables read back (Collect Earth, AcATaMa, SEPAL or QGIS files).

:func:`read_labels` reads a labelled sample (CSV through the one form reader, or GeoPackage) and checks
its ids, coordinates and classes; :func:`read_strata` reads the strata table (areas or pixel counts).
File layouts: docs/methods.md, "Sampling designs".
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from icam.core.errors import InputError
from icam.landscape.grid import Grid
from icam.store.forms import decimal_comma, numbers, read_csv

_LIST_MAX = 10

_INT = re.compile(r"^[+-]?\d+$")


def class_code(v):
    """A class or stratum code from a cell: an int where it reads as one ("1", "1.0", 1), else the stripped text."""
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return ""
        return int(v) if float(v).is_integer() else float(v)
    text = str(v).strip()
    if _INT.match(text):
        return int(text)
    try:
        f = float(text)
    except ValueError:
        return text
    return int(f) if f.is_integer() else text


def _list(ids: list) -> str:
    shown = ", ".join(str(i) for i in ids[:_LIST_MAX])
    return shown + (f" and {len(ids) - _LIST_MAX} more" if len(ids) > _LIST_MAX else "")


def _read_table(path: Path | str, what: str) -> tuple[pd.DataFrame, Path]:
    """A sample or strata table as text cells; index = the row (CSV: as a spreadsheet numbers it, header = 1;
    vector file: the feature, from 1). CSV files are read by :func:`icam.store.forms.read_csv` (UTF-8 or
    Latin-1, ``,`` ``;`` or tab separated)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what}: {path} does not exist", "check the path")
    if path.is_dir():
        raise InputError(f"{what}: {path} is a folder, not a file", "name the CSV or GeoPackage file itself")
    if path.suffix.lower() not in (".gpkg", ".geojson", ".shp", ".fgb"):
        return read_csv(path, f"{what}: "), path
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a bad file
        reason = " ".join(str(exc).split())[:160]
        raise InputError(f"{what}: {path} cannot be read ({reason})",
                         "give a CSV file with a header row, or a GeoPackage") from None
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name) if gdf.geometry is not None else gdf)
    if gdf.geometry is not None and len(gdf) and ("x" not in df.columns or "y" not in df.columns):
        if gdf.geometry.geom_type.eq("Point").all():
            df["x"], df["y"] = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
    df.columns = [str(c).strip() for c in df.columns]
    df.index = pd.RangeIndex(1, len(df) + 1, name="row")
    return df, path


def _ids(df: pd.DataFrame, mask: np.ndarray) -> list:
    if "id" in df.columns:
        return [df["id"].iloc[i] for i in np.flatnonzero(mask)]
    return [f"row {df.index[i]}" for i in np.flatnonzero(mask)]


def _numbers(df: pd.DataFrame, column: str, comma: bool) -> np.ndarray:
    """A column's numbers (NaN where empty or not a number), decimal commas read where the file uses them."""
    values = df[column]
    if pd.api.types.is_numeric_dtype(values):  # a vector file's numeric attribute
        return pd.to_numeric(values, errors="coerce").to_numpy(float)
    return numbers(values.astype(str), comma).to_numpy(float)


def read_labels(path: Path | str, *, known_classes=None, map_extent=None) -> pd.DataFrame:
    """Labelled samples from a CSV or GeoPackage: stratum, map_class, ref_class (+ id, x, y where present).

    Class and stratum codes that read as whole numbers become ints. ``known_classes`` (the map's
    legend) and ``map_extent`` (a :class:`Grid` or (xmin, ymin, xmax, ymax) in the samples' CRS)
    add checks. Every problem is an InputError naming the offending samples by id.
    """
    df, path = _read_table(path, "samples")
    need = ["stratum", "map_class", "ref_class"] + (["x", "y"] if map_extent is not None else [])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(f"samples: {path} lacks column(s) {', '.join(missing)} "
                         f"(it has {', '.join(df.columns) or 'none'})",
                         "give every sample stratum, map_class and ref_class")
    if len(df) == 0:
        raise InputError(f"samples: {path} holds no sample", "label at least 2 samples per stratum")
    out = pd.DataFrame(index=range(len(df)))
    if "id" in df.columns:
        ids = [class_code(v) for v in df["id"].tolist()]
        blank = np.array([v == "" for v in ids])
        if blank.any():
            rows = [f"row {df.index[i]}" for i in np.flatnonzero(blank)]
            raise InputError(f"samples: {path}: {int(blank.sum())} sample(s) have no id: {_list(rows)}",
                             "give every sample an id")
        seen = pd.Series([str(v) for v in ids])
        dup = seen.duplicated(keep=False).to_numpy()
        if dup.any():
            dups = list(dict.fromkeys(seen[dup].tolist()))
            raise InputError(f"samples: {path}: duplicate id(s) {_list(dups)}", "give every sample its own id")
        out["id"] = ids
        df = df.assign(id=ids)
    for c in ("stratum", "map_class", "ref_class"):
        vals = [class_code(v) for v in df[c].tolist()]
        blank = np.array([v == "" for v in vals])
        if blank.any():
            what = "are unlabelled (empty ref_class)" if c == "ref_class" else f"have an empty {c}"
            raise InputError(f"samples: {path}: {int(blank.sum())} sample(s) {what}: id {_list(_ids(df, blank))}",
                             f"fill in every sample's {c} or drop the sample")
        out[c] = vals
    if known_classes is not None:
        known = {class_code(k) for k in known_classes}
        unknown = np.array([v not in known for v in out["ref_class"]])
        if unknown.any():
            bad = sorted({str(v) for v in out["ref_class"][unknown]})
            raise InputError(f"samples: {path}: {int(unknown.sum())} sample(s) have a ref_class not in the legend "
                             f"({', '.join(bad)}): id {_list(_ids(df, unknown))}",
                             f"use one of {', '.join(str(k) for k in sorted(known, key=str))}")
    comma = decimal_comma(df, ["x", "y"])
    for c in ("x", "y"):
        if c in df.columns:
            xy = _numbers(df, c, comma)
            bad = ~np.isfinite(xy)
            if bad.any() and map_extent is not None:
                raise InputError(f"samples: {path}: {int(bad.sum())} sample(s) have no numeric {c}: "
                                 f"id {_list(_ids(df, bad))}", "give every sample its map coordinates")
            out[c] = xy
    if map_extent is not None:
        xmin, ymin, xmax, ymax = map_extent.bounds if isinstance(map_extent, Grid) else map_extent
        x, y = out["x"].to_numpy(float), out["y"].to_numpy(float)
        outside = (x < xmin) | (x > xmax) | (y < ymin) | (y > ymax)
        if outside.any():
            raise InputError(f"samples: {path}: {int(outside.sum())} sample(s) lie outside the map "
                             f"({xmin:.6g}, {ymin:.6g}, {xmax:.6g}, {ymax:.6g}): id {_list(_ids(df, outside))}",
                             "check the coordinates are in the map's CRS")
    cols = [c for c in ("id", "x", "y") if c in out.columns] + ["stratum", "map_class", "ref_class"]
    return out[cols]


def read_strata(path: Path | str, pixel_area_ha: float | None = None) -> pd.DataFrame:
    """STRATA.csv: ``stratum`` and ``area_ha``, or ``mapped_px`` with ``pixel_area_ha``.

    Returns stratum, area_ha (and mapped_px where given). Where both columns are given,
    area_ha is used unless ``pixel_area_ha`` is passed.
    """
    df, path = _read_table(path, "strata")
    has_px, has_area = "mapped_px" in df.columns, "area_ha" in df.columns
    missing = ["stratum"] if "stratum" not in df.columns else []
    if not has_px and not has_area:
        missing.append("area_ha (or mapped_px)")
    if missing:
        raise InputError(f"strata: {path} lacks column(s) {', '.join(missing)} "
                         f"(it has {', '.join(df.columns) or 'none'})",
                         "give stratum and area_ha, or stratum and mapped_px with --pixel-area-ha")
    if len(df) == 0:
        raise InputError(f"strata: {path} holds no stratum", "give one row per stratum")
    if pixel_area_ha is not None and not (math.isfinite(pixel_area_ha) and pixel_area_ha > 0):
        raise InputError(f"the pixel area is {pixel_area_ha!r} ha", "give a positive --pixel-area-ha (0.09 at 30 m)")
    strata = [class_code(v) for v in df["stratum"].tolist()]
    blank = [f"row {df.index[i]}" for i, s in enumerate(strata) if s == ""]
    if blank:
        raise InputError(f"strata: {path}: empty stratum at {_list(blank)}", "name every stratum")
    keys = pd.Series([str(s) for s in strata])
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputError(f"strata: {path}: duplicate stratum/strata {_list(list(dict.fromkeys(keys[dup])))}",
                         "give each stratum one row")
    out = pd.DataFrame({"stratum": strata})
    comma = decimal_comma(df, ["mapped_px", "area_ha"])

    def column_numbers(col: str) -> np.ndarray:
        vals = _numbers(df, col, comma)
        bad = ~np.isfinite(vals)
        if bad.any():
            which = [str(strata[i]) for i in np.flatnonzero(bad)]
            raise InputError(f"strata: {path}: {col} of stratum/strata {_list(which)} is not a number",
                             f"give every stratum its {col}")
        neg = vals < 0
        if neg.any():
            which = [f"{strata[i]} ({vals[i]:g})" for i in np.flatnonzero(neg)]
            raise InputError(f"strata: {path}: negative {col} for stratum/strata {_list(which)}",
                             f"give every stratum a {col} ≥ 0")
        return vals

    if has_px:
        px = column_numbers("mapped_px")
        out["mapped_px"] = px
    if has_px and (pixel_area_ha is not None or not has_area):
        if pixel_area_ha is None:
            raise InputError(f"strata: {path} gives mapped_px, which needs the area of one pixel",
                             "pass --pixel-area-ha (0.09 for 30 m pixels) or give an area_ha column")
        out["area_ha"] = px * float(pixel_area_ha)
    else:
        out["area_ha"] = column_numbers("area_ha")
    if out["area_ha"].sum() <= 0:
        raise InputError(f"strata: {path}: the strata areas sum to zero", "give each stratum its mapped area")
    return out
