"""The enforcement stage of a project run: alerts for the field, the patrol record, the response indicators.

1. **Alerts** (:func:`alert_events`): the ``[enforcement] alerts`` raster (or, without one, the annual loss
   map's ``annual_loss_year`` dated 1 July) is read onto the grid, clustered into events, described (zone,
   distance from the event's centroid to the nearest road and settlement, the risk map's percentile among
   the pixels it gives a risk, the conservation agreement whose parcel holds most of it) and ranked by the priority
   rule of ``[enforcement.priority]`` as of ``as_of`` (default: the latest alert date).
2. **Registry** (the project database, shared with the ledger and the agreements): alerts not yet in it are
   new and are raised; on the first run, when it holds no patrol, the ``[enforcement]`` patrol files seed it
   (patrols, GPX tracks, observations, follow-up actions); then observations are matched to alerts
   (:func:`icam.enforcement.patrols.match_alerts`) and the indicators computed as of ``as_of``.
   The stage does this in a transaction it rolls back; :func:`record` does it again and commits once the
   outputs are published, so a failed run raises nothing (the alerts stay new for the next run).
3. **Outputs** (``outputs/enforcement/``): ``alerts.gpkg`` (every event of the window with its registry
   status, and the footprints), ``alerts_new.gpx`` / ``.kml`` / ``.geojson`` (the field list: the alerts of
   the window raised and not yet handed to a patrol, i.e. neither assigned to a patrol plan nor checked,
   of priority ``field_min_priority`` or higher; raised by this run or an earlier one, so that a rerun
   keeps them),
   ``alerts_new_field_sheet.html`` (its first :data:`FIELD_SHEET_MAX` alerts, highest priority first, with a
   small map each) and CSV tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, insert, select

from icam.core.errors import InputError
from icam.core.spilled import SpilledRaster
from icam.enforcement import patrols as pt
from icam.enforcement.alerts import (
    AlertRaster,
    Events,
    cluster_alerts,
    date_to_days,
    days_to_date,
    describe,
)
from icam.enforcement.exports import write_alerts, write_field_sheet
from icam.enforcement.models import Alert, Patrol
from icam.enforcement.priority import PRIORITIES, PriorityRule
from icam.landscape import Landscape
from icam.landscape.raster import expand_paths, open_raster, read_layer
from icam.landscape.vector import read_features
from icam.pipeline.config import IcamConfig
from icam.pipeline.extent import project_extent
from icam.pipeline.inputs import expand_input
from icam.store.db import open_session

FOLDER = "enforcement"
FIELD_SHEET_MAX = 60
TOP_ALERTS = 20


@dataclass(frozen=True, eq=False)
class EnforcementResult:
    """What the stage computed; ``summary`` is results.json's ``enforcement``."""

    summary: dict
    events: Events  # every event of the window, ranked, with registry status (``status``, ``verdict``, ``new``)
    monthly: pd.DataFrame  # alerts raised and checked per month
    as_of: dt.date
    files: dict[str, list[str]] = field(default_factory=dict)  # what :func:`write_outputs` wrote, by kind


# --------------------------------------------------------------------------- alerts


def read_alerts(config: IcamConfig, landscape: Landscape) -> tuple[AlertRaster, dict]:
    """The alert layer on the grid and where it comes from."""

    e = config.enforcement
    if e.alerts is None:
        year = e.annual_loss_year or landscape.forest.epochs[-1]
        loss = landscape.forest.loss_year()
        # one pass for the year asked, not a sort of the loss years (millions of pixels at a jurisdiction)
        if year != landscape.forest.epochs[-1] and not (year > 0 and np.any(loss == year)):
            raise InputError(f"enforcement.annual_loss_year = {year} is not a loss year of the forest data",
                             "give a year the loss map covers, or an alert raster (enforcement.alerts)")
        return AlertRaster.from_annual_loss(np.where(landscape.forest.valid, loss, 0), year), {
            "kind": "annual_loss", "year": int(year)}
    # a band at a time: the two bands' array held the dates' band, which the alerts keep, and the confidence's, of
    # which they keep a byte a cell (a jurisdiction's: 0.49 GB where 0.31 serve)
    what = "enforcement.alerts"
    first = read_layer(e.alerts, landscape.grid, what=what, allow_reproject=True, band=1)
    if not np.issubdtype(first.data.dtype, np.integer):
        raise InputError(f"enforcement.alerts: {e.alerts} holds {first.data.dtype} values, not whole numbers",
                         "alert layers hold integer dates and confidence codes")
    source = {"kind": "alert_raster", "path": str(e.alerts), "encoding": e.alerts_encoding}
    if e.alerts_encoding != "date_confidence":
        first.data[~first.valid] = 0
        return decode_gfw_integrated(first.data, e.alerts), source
    with open_raster(expand_paths(e.alerts, what)[0], what) as src:
        n_bands = src.count
    if n_bands != 2:
        raise InputError(f"enforcement.alerts: {e.alerts} has {n_bands} band(s), not 2 (date, confidence)",
                         "give band 1 = days since 2015-01-01, band 2 = confidence, or set "
                         "alerts_encoding = \"gfw_integrated\"")
    second = read_layer(e.alerts, landscape.grid, what=what, allow_reproject=True, band=2)
    invalid = ~(first.valid & second.valid)  # no data in either band: no alert
    date, confidence = first.data, second.data
    del first, second
    date[invalid] = 0
    confidence[invalid] = 0
    del invalid
    return AlertRaster(date, confidence), source


def decode_gfw_integrated(value: np.ndarray, path="the alert layer") -> AlertRaster:
    """GFW integrated alerts: leading digit 2 low, 3 high, 4 highest; then days since 2014-12-31 (0 = none).

    Day d since 2014-12-31 is day d − 1 since 2015-01-01; an alert of 2015-01-01 (d = 1) becomes day 1, since
    day 0 means "no alert" here.
    """
    alert = value > 0
    code = np.where(alert, value // 10000, 0)
    bad = alert & ~np.isin(code, (2, 3, 4))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"{path}: value {int(value[r, c])} at row {r}, column {c} is not a GFW "
                         "integrated alert (2xxxx, 3xxxx or 4xxxx)", "check alerts_encoding")
    days = np.where(alert, np.maximum(value % 10000 - 1, 1), 0)
    return AlertRaster(days.astype(np.int32), np.where(alert, code - 1, 0).astype(np.uint8))


def _distances_km(events: Events, paths: dict[str, Path]) -> dict[str, np.ndarray]:
    """Distance (km) from each event's centroid to the nearest feature of each file (shapely STRtree)."""

    out = {}
    points = shapely.points(events.table["x"].to_numpy(float), events.table["y"].to_numpy(float))
    for name, path in paths.items():
        geoms = read_features(path, events.grid.crs, f"enforcement.{name}")
        if len(points) == 0:
            out[f"{name}_km"] = np.zeros(0)
            continue
        _, distance = shapely.STRtree(geoms).query_nearest(points, return_distance=True, all_matches=False)
        out[f"{name}_km"] = distance / 1000.0
    return out


def priority_rule(config: IcamConfig) -> PriorityRule:
    """The [enforcement.priority] weights as the alerts' priority rule."""
    return PriorityRule(**config.enforcement.priority.model_dump())


def alert_events(config: IcamConfig, landscape: Landscape, risk_ha_per_year: np.ndarray | SpilledRaster | None = None,
                 parcels=None) -> tuple[Events, dict, dt.date]:
    """Cluster, describe and rank the alerts of ``[enforcement]``; the events, their source and ``as_of``."""
    e = config.enforcement
    raster, source = read_alerts(config, landscape)
    events = cluster_alerts(raster, landscape.grid, max_gap_m=e.max_gap_m, since_days=e.since,
                            min_confidence=e.min_confidence)
    del raster  # the layer read (0.55 GB at a jurisdiction) is done with once its events are formed
    latest = int(events.table["last_days"].max()) if len(events) else None
    as_of = e.as_of or (days_to_date(latest) if latest is not None else dt.date.today())
    if latest is not None and e.as_of is not None and date_to_days(e.as_of) < int(events.table["first_days"].min()):
        first = events.table["first_date"].min()
        raise InputError(f"enforcement.as_of = {e.as_of} is before the first alert ({first})",
                         "give a later as_of, or leave it out (the latest alert date)")
    zones = {name: mask for name, mask in (("project_area", landscape.zones.project),
                                           ("leakage_belt", landscape.zones.leakage_belt)) if mask is not None}
    # the percentile among the pixels the risk map gives a risk (its forest), not among all pixels
    risk = None
    if risk_ha_per_year is not None:  # read here, once the alerts' layer is gone (a spilled map: the pipeline's)
        values = np.asarray(risk_ha_per_year)
        risk = np.where(values > 0, values, np.nan)
        del values
    events = describe(events, zones=zones or None, risk=risk, parcels=parcels)
    for name, km in _distances_km(events, _distance_files(config)).items():
        events.table[name] = km
    return priority_rule(config).apply(events, as_of), source, as_of


def _distance_files(config: IcamConfig) -> dict[str, Path]:
    e, cov = config.enforcement, (config.risk.covariates if config.risk is not None else None)
    files = {"road": e.roads or (cov.roads if cov else None),
             "settlement": e.settlements or (cov.settlements if cov else None)}
    return {k: v for k, v in files.items() if v is not None}


# --------------------------------------------------------------------------- registry


def _seed(session, config: IcamConfig) -> list[dict]:
    """Import the ``[enforcement]`` patrol files when the registry holds no patrol yet; tracks and observations
    far outside the project's extent are refused, as ``icam enforcement import`` refuses them."""
    e = config.enforcement
    if session.scalar(select(func.count()).select_from(Patrol)):
        return []
    done = []
    extent = project_extent(config)
    if e.patrols is not None:
        done.append({"kind": "patrols", "rows": pt.import_patrols(session, e.patrols)})
    if e.tracks is not None:
        tracks = expand_input("enforcement.tracks", e.tracks)
        pt.import_gpx_tracks(session, {path.stem: path for path in tracks}, extent=extent)
        done.append({"kind": "tracks", "rows": len(tracks)})
    if e.observations is not None:
        report = pt.import_observations(session, e.observations, extent=extent)
        done.append({"kind": "observations", "rows": report.inserted})
    if e.actions is not None:
        done.append({"kind": "actions", "rows": pt.import_actions(session, e.actions)})
    return done


def _raise_new(session, events: Events, raised_at: dt.datetime) -> list[str]:
    """Insert the events not yet in the registry as new alerts; their ids."""

    seen = set(session.scalars(select(Alert.alert_id)))
    t = events.table
    new = t[~t["alert_id"].isin(seen)]
    rows = [{"alert_id": r.alert_id, "first_date": r.first_date, "last_date": r.last_date, "area_ha": float(r.area_ha),
             "lon": float(r.lon), "lat": float(r.lat), "zone": getattr(r, "zone", None), "priority": r.priority,
             "score": float(r.score), "agreement_code": None if pd.isna(getattr(r, "agreement", None)) else r.agreement,
             "status": "new", "raised_at": raised_at} for r in new.itertuples()]
    if rows:
        session.execute(insert(Alert), rows)
    return new["alert_id"].tolist()


def sync(session, config: IcamConfig, events: Events, as_of: dt.date) -> dict:
    """Seed, raise the new alerts, match the observations, read back statuses and indicators (one session)."""

    e = config.enforcement
    imported = _seed(session, config)
    new_ids = _raise_new(session, events, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    matches = pt.match_alerts(session, max_distance_m=e.match_distance_m, max_days_after=e.match_days)
    indicators = pt.indicators(session, as_of)
    # every alert of the registry (an IN list of the events' ids would pass SQLite's bound-parameter limit)
    status = pd.DataFrame(session.execute(select(Alert.alert_id, Alert.status, Alert.verdict, Alert.visited_at)).all(),
                          columns=["alert_id", "status", "verdict", "first_visit"])
    status = status[status["alert_id"].isin(set(events.alert_ids))]
    return {"imported": imported, "new_ids": new_ids, "matches": len(matches), "indicators": indicators,
            "status": status}


# --------------------------------------------------------------------------- the stage


def run_enforcement(config: IcamConfig, project_dir: Path, landscape: Landscape, risk=None,
                    agreements=None) -> EnforcementResult:
    """Alerts, then the registry in a rolled-back transaction (module docstring), then the summary."""

    parcels = agreements.parcels if agreements is not None else None
    events, source, as_of = alert_events(config, landscape, risk.risk_ha_per_year if risk is not None else None,
                                         parcels)
    with open_session(project_dir, create=True) as s:
        state = sync(s, config, events, as_of)
        s.rollback()  # the registry is changed only when the outputs are published (icam.pipeline.publish)
    table = events.table.merge(state["status"], on="alert_id", how="left", validate="one_to_one")
    table["new"] = table["alert_id"].isin(set(state["new_ids"]))
    events = events.with_table(table)
    monthly = _monthly(table, as_of)
    summary = _summary(config, events, source, as_of, state)
    return EnforcementResult(summary=summary, events=events, monthly=monthly, as_of=as_of)


def _monthly(table: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Per month: alerts by priority (first date), and alerts checked (first visit) with their verdicts."""
    first = pd.to_datetime(table["first_date"]).dt.to_period("M")
    raised = pd.crosstab(first, table["priority"]).reindex(columns=list(PRIORITIES), fill_value=0)
    visits = table.dropna(subset=["first_visit"])
    visited = pd.to_datetime(visits["first_visit"]).dt.to_period("M")
    checked = pd.crosstab(visited, visits["verdict"]).reindex(columns=["true_positive", "false_positive"],
                                                              fill_value=0)
    months = pd.period_range(min([first.min()] + ([visited.min()] if len(visited) else [])),
                             pd.Period(as_of, "M"), freq="M") if len(table) else pd.PeriodIndex([], freq="M")
    out = pd.concat([raised.reindex(months, fill_value=0).add_prefix("alerts_"),
                     checked.reindex(months, fill_value=0).add_prefix("checked_")], axis=1)
    out.index = out.index.astype(str)
    return out.rename_axis("month").reset_index()


def _counts(series: pd.Series, keys) -> dict[str, int]:
    counts = series.value_counts()
    return {k: int(counts.get(k, 0)) for k in keys}


def _summary(config: IcamConfig, events: Events, source: dict, as_of: dt.date, state: dict) -> dict:
    t = events.table
    e = config.enforcement
    new = t[t["new"]]
    to_visit = t[t["status"].fillna("new") != "checked"]
    zones = t["zone"].value_counts().to_dict() if "zone" in t else {}
    top = to_visit.head(TOP_ALERTS)
    columns = [c for c in ("alert_id", "priority", "score", "area_ha", "first_date", "last_date", "zone", "agreement",
                           "household", "road_km", "settlement_km", "risk_percentile", "lon", "lat") if c in t]
    return {
        "source": source,
        "as_of": as_of.isoformat(),
        "since": e.since.isoformat() if e.since else None,
        "parameters": {"max_gap_m": e.max_gap_m, "min_confidence": e.min_confidence,
                       "field_min_priority": e.field_min_priority,
                       "priority": e.priority.model_dump(), "match_distance_m": e.match_distance_m,
                       "match_days": e.match_days},
        "alerts": {
            "events": int(len(t)), "area_ha": float(t["area_ha"].sum()),
            "first_date": str(t["first_date"].min()) if len(t) else None,
            "last_date": str(t["last_date"].max()) if len(t) else None,
            "by_priority": _counts(t["priority"], PRIORITIES),
            "by_zone": {str(k): int(v) for k, v in sorted(zones.items())},
            "in_agreements": int(t["agreement"].notna().sum()) if "agreement" in t else 0,
            "new": int(len(new)), "new_by_priority": _counts(new["priority"], PRIORITIES),
            "already_seen": int(len(t) - len(new)),
            "open": int(len(to_visit)), "open_by_priority": _counts(to_visit["priority"], PRIORITIES),
        },
        "top_open_alerts": [{k: (None if pd.isna(v) else (str(v) if isinstance(v, dt.date) else
                                                          (float(v) if isinstance(v, (float, np.floating)) else v)))
                             for k, v in row.items()} for row in top[columns].to_dict("records")],
        "response_by_zone": _response_by_zone(t),
        "indicators": state["indicators"],
        "imported": state["imported"],
        "field_list": int(field_list(t, e.field_min_priority).sum()),
        "files": {"geopackage": f"{FOLDER}/alerts.gpkg", "field": [f"{FOLDER}/alerts_new.{x}" for x in
                                                                   ("gpx", "kml", "geojson")],
                  "field_sheet": f"{FOLDER}/alerts_new_field_sheet.html"},
    }


def _response_by_zone(t: pd.DataFrame) -> dict[str, dict]:
    """Per zone: alerts, alerts checked, their share, the median days from alert to first visit, precision."""
    out = {}
    if "zone" not in t:
        return out
    for zone, g in t.groupby("zone", sort=True):
        checked = g[g["status"] == "checked"]
        days = ((pd.to_datetime(checked["first_visit"]) - pd.to_datetime(checked["first_date"]))
                / pd.Timedelta(days=1)).dropna()
        out[str(zone)] = {"alerts": int(len(g)), "checked": int(len(checked)),
                          "share_checked": len(checked) / len(g),
                          "median_days_to_visit": float(days.median()) if len(days) else None,
                          "precision": float((checked["verdict"] == "true_positive").mean()) if len(checked) else None}
    return out


def field_list(table: pd.DataFrame, min_priority: str) -> pd.Series:
    """The rangers' list: alerts not yet handed to a patrol (registry status ``new``: neither assigned to a
    plan nor checked), whether this run or an earlier one raised them, of priority ``min_priority`` or higher."""
    allowed = PRIORITIES[:PRIORITIES.index(min_priority) + 1]
    return (table["status"].fillna("new") == "new") & table["priority"].isin(allowed)


def write_outputs(result: EnforcementResult, landscape: Landscape, out_dir: Path) -> dict[str, list[str]]:
    """The alert files for QGIS and the field, the field sheet and the tables (module docstring)."""

    folder = out_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    events = result.events
    write_alerts(events, folder, "alerts", formats=("gpkg",))
    table = events.table
    field = events.with_table(table[field_list(table, result.summary["parameters"]["field_min_priority"])])
    write_alerts(field, folder, "alerts_new", formats=("gpx", "kml", "geojson"))
    background = landscape.forest.forest_in(landscape.forest.epochs[-1]).astype(np.uint8)
    write_field_sheet(field.with_table(field.table.head(FIELD_SHEET_MAX)), folder / "alerts_new_field_sheet.html",
                      landscape_map=background, title=f"Deforestation alerts to visit, as of {result.as_of}")
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    keep = [c for c in table.columns if c not in ("xmin", "ymin", "xmax", "ymax")]
    table[keep].to_csv(out_dir / "tables/enforcement_alerts.csv", index=False)
    result.monthly.to_csv(out_dir / "tables/enforcement_monthly.csv", index=False)
    vectors = [f"{FOLDER}/alerts.gpkg"] + [f"{FOLDER}/alerts_new.{x}" for x in ("gpx", "kml", "geojson")]
    return {"vectors": vectors, "report": [f"{FOLDER}/alerts_new_field_sheet.html"],
            "tables": ["tables/enforcement_alerts.csv", "tables/enforcement_monthly.csv"]}


def record(s, config: IcamConfig, result: EnforcementResult) -> int:
    """Raise the run's new alerts and store the matches, in the publishing transaction ``s``; returns how many
    alerts were raised."""
    return len(sync(s, config, result.events, result.as_of)["new_ids"])
