"""Export of the agreements registry: a GeoPackage for QGIS, styled by compliance status, and CSV files for
spreadsheets (households.csv and agreements.csv import again as they are). Every file is written atomically."""

from __future__ import annotations

import datetime as dt
import sqlite3
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from icam.agreements.registry_queries import (
    agreements_table,
    compliance,
    deliveries,
    households_table,
    latest_statuses,
    parcels,
    schedules,
)
from icam.core.atomic import atomic_path
from icam.core.errors import InputError

NO_ASSESSMENT = "no_assessment"
STATUS_COLOURS = {"compliant": "26,150,65", "to_verify": "253,174,97", "breach": "215,25,28",
                  NO_ASSESSMENT: "160,160,160"}


def _statuses(session: Session, statuses: Mapping[str, str] | None, codes: Iterable[str]) -> dict[str, str]:
    if statuses is None:
        return latest_statuses(session)
    unknown = sorted(set(statuses) - set(codes))
    bad = sorted(set(statuses.values()) - set(STATUS_COLOURS))
    if unknown or bad:
        raise InputError(f"statuses name unknown agreement(s) {', '.join(unknown[:10]) or '-'} or status(es) "
                         f"{', '.join(bad) or '-'}", f"statuses are {', '.join(STATUS_COLOURS)}")
    return dict(statuses)


def _benefit_totals(session: Session) -> pd.DataFrame:
    """Per agreement: benefits_promised_usd (the whole schedule) and benefits_delivered_usd."""
    plan = schedules(session)
    promised = (plan["quantity_per_year"] * plan["unit_cost_usd"] * (plan["last_year"] - plan["first_year"] + 1)
                ).groupby(plan["agreement_id"]).sum()
    delivered = deliveries(session).groupby("agreement_id")["value_usd"].sum()
    return pd.DataFrame({"benefits_promised_usd": promised, "benefits_delivered_usd": delivered}).fillna(0.0).round(2)


def _iso(values: pd.Series) -> pd.Series:
    return values.map(lambda v: v.isoformat() if isinstance(v, dt.date) else None)


def _export_layers(session: Session, statuses: Mapping[str, str] | None, crs
                   ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    plots = parcels(session, crs)
    table = agreements_table(session)
    status = _statuses(session, statuses, table["agreement_id"])
    table["status"] = table["agreement_id"].map(status).fillna(NO_ASSESSMENT)
    by_signing = table.sort_values(["signed", "agreement_id"])
    latest = by_signing.drop_duplicates("household_id", keep="last").set_index("household_id")
    by_parcel = by_signing.drop_duplicates("conservation_parcel_id", keep="last").set_index("conservation_parcel_id")
    agreement = plots["parcel_id"].map(by_parcel["agreement_id"]).fillna(plots["household_id"].map(
        latest["agreement_id"]))
    plots["agreement_id"] = agreement
    plots["status"] = agreement.map(dict(zip(table["agreement_id"], table["status"]))).fillna(NO_ASSESSMENT)
    totals = _benefit_totals(session)
    geometry = table["conservation_parcel_id"].map(plots.set_index("parcel_id").geometry)
    area = table["conservation_parcel_id"].map(plots.set_index("parcel_id")["area_ha"])
    layer = table.assign(conservation_area_ha=area, **{c: table["agreement_id"].map(totals[c]).fillna(0.0)
                                                        for c in totals.columns})
    for name in ("signed", "renewed_until", "in_force_until"):
        layer[name] = _iso(layer[name])
    agreements = gpd.GeoDataFrame(layer, geometry=geometry.values, crs=plots.crs)
    return plots[["parcel_id", "household_id", "kind", "area_ha", "agreement_id", "status", "geometry"]], agreements


def export_geopackage(session: Session, path: Path | str, *, statuses: Mapping[str, str] | None = None,
                      crs=None) -> Path:
    """Write the registry for QGIS: layers ``parcels`` and ``agreements``, styled by compliance status.

    ``parcels``: every parcel with its household, kind, area_ha, agreement (the one naming it as its
    conservation parcel, else the household's latest) and status. ``agreements``: each agreement's
    attributes on its conservation parcel's polygon, with status, benefits_promised_usd (the whole
    schedule) and benefits_delivered_usd. ``status``: ``statuses[agreement_id]`` where given, else the
    latest compliance assessment of the registry; ``no_assessment`` where none. A ``layer_styles`` table
    holds a categorised QGIS style (compliant green, to_verify orange, breach red, no_assessment grey)
    that QGIS applies when it opens the layers. Written to a temporary file beside ``path``, then renamed.
    """
    parcel_layer, agreement_layer = _export_layers(session, statuses, crs)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'crs' was not provided")  # an empty registry has no CRS yet
        for name, layer in (("parcels", parcel_layer), ("agreements", agreement_layer)):
            layer.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", geometry_type="MultiPolygon",
                          promote_to_multi=True, dataset_options={"VERSION": "1.2"})
        _write_layer_styles(tmp, ("parcels", "agreements"))
    return Path(path)


def _style_qml(field_name: str = "status") -> str:
    """A QGIS categorised fill style on ``field_name`` (QML), one category per status."""
    categories, symbols = [], []
    for i, (value, rgb) in enumerate(STATUS_COLOURS.items()):
        label = value.replace("_", " ")
        categories.append(f'<category render="true" symbol="{i}" value="{value}" label="{label}"/>')
        props = {"color": f"{rgb},255", "outline_color": "35,35,35,255", "outline_style": "solid",
                 "outline_width": "0.26", "outline_width_unit": "MM", "style": "solid"}
        options = "".join(f'<Option type="QString" name="{k}" value="{v}"/>' for k, v in props.items())
        legacy = "".join(f'<prop k="{k}" v="{v}"/>' for k, v in props.items())
        symbols.append(f'<symbol type="fill" name="{i}" alpha="0.8" clip_to_extent="1" force_rhr="0">'
                       f'<layer class="SimpleFill" pass="0" locked="0" enabled="1">'
                       f'<Option type="Map">{options}</Option>{legacy}</layer></symbol>')
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.28.0" styleCategories="Symbology">'
            f'<renderer-v2 type="categorizedSymbol" attr="{field_name}" symbollevels="0" enableorderby="0" '
            f'forceraster="0"><categories>{"".join(categories)}</categories>'
            f'<symbols>{"".join(symbols)}</symbols></renderer-v2></qgis>\n')


_LAYER_STYLES_SQL = """CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
    f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
    useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
    update_time DATETIME DEFAULT CURRENT_TIMESTAMP)"""


def _write_layer_styles(gpkg: Path, layers: tuple[str, ...]) -> None:
    """Add QGIS's ``layer_styles`` table (registered as an attributes table of the GeoPackage) styling ``layers``."""
    qml = _style_qml()
    with sqlite3.connect(gpkg) as db:
        db.execute(_LAYER_STYLES_SQL)
        geometry_columns = dict(db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
        db.executemany("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                       "styleName, styleQML, styleSLD, useAsDefault, description, owner) "
                       "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '')",
                       [(name, geometry_columns[name], f"{name} by compliance status", qml,
                         "icam: compliant green, to verify orange, breach red, no assessment grey")
                        for name in layers])
        db.execute("INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description, "
                   "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles', "
                   "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))")
    db.close()


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")



def export_csv(session: Session, folder: Path | str) -> list[Path]:
    """Write households.csv, agreements.csv, deliveries.csv and compliance.csv in ``folder``, each atomically.

    households.csv and agreements.csv have the import columns, so they import again as they are.
    """
    folder = Path(folder)
    agreements = agreements_table(session).drop(columns="in_force_until")
    agreements["needs_field_verification"] = agreements["needs_field_verification"].map({True: "yes", False: "no"})
    tables = {"households.csv": households_table(session), "agreements.csv": agreements,
              "deliveries.csv": deliveries(session), "compliance.csv": compliance(session)}
    for name, frame in tables.items():
        _write_csv(folder / name, frame)
    return [folder / name for name in tables]


__all__ = ["NO_ASSESSMENT", "STATUS_COLOURS", "export_csv", "export_geopackage"]
