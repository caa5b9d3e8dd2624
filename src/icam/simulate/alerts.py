"""Simulated sub-annual deforestation alerts (GLAD / RADD-like) and the head office's patrol history.

The alerts see the simulated truth through an error model (:data:`ALERT_ERRORS`, written to
``truth/alerts.json``):

- every true clearing of the alert year (a connected patch of ``truth/true_lossyear.tif``) is cleared on a
  day drawn uniformly in the year, its pixels over the next ``clearing_spread_days``;
- the satellite sees it ``Gamma(2, detection_delay_mean_days / 2)`` days later (clouds, revisit time);
  an alert that would come after ``as_of`` is not out yet;
- a patch is missed with probability ``omission_small`` below ``small_patch_ha``, ``omission_large`` above;
- confidence: 3 (highest) for 60 % of patches of ``small_patch_ha`` or more, else 2 (high) for 70 %, else 1;
- false alerts: ``false_per_true`` per true patch, squares of 1–3 pixels a side on forest that stands all
  year, dated uniformly, confidence 1 (80 %) or 2.

The patrols (:func:`icam.simulate.patrols.simulate_patrols`) answer the alerts in the project
area and the leakage belt as icam ranks them on the day each comes out; follow-up actions are drawn for the
clearings found.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio.windows import Window
from scipy import ndimage

from icam.core.atomic import atomic_path, write_csv_rows
from icam.core.indices import flat_indices
from icam.enforcement.alerts import AlertRaster, cluster_alerts, date_to_days, describe
from icam.enforcement.priority import PriorityRule
from icam.landscape.grid import Grid
from icam.simulate.params import GEOTIFF_OPTIONS
from icam.simulate.patrols import simulate_patrols

ALERT_YEAR = 2024
ALERT_ERRORS = {
    "clearing_spread_days": 21,
    "detection_delay_mean_days": 20.0,
    "small_patch_ha": 0.5,
    "omission_small": 0.30,
    "omission_large": 0.05,
    "confidence_highest_share_large": 0.6,
    "confidence_high_share": 0.7,
    "false_per_true": 0.15,
    "false_confidence_low_share": 0.8,
}
ACTION_SHARES = {"report_to_authorities": 0.7, "sanction": 0.25}


def alert_layer(true_loss_code: np.ndarray, standing_forest: np.ndarray, grid: Grid, year: int,
                as_of: dt.date, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """Alert dates (days since 2015-01-01, int32) and confidence (uint8) for ``year``, and what was drawn.

    ``true_loss_code``: true loss year − 2000 (0 = none); ``standing_forest``: pixels that are forest all
    of ``year`` (where false alerts may fall).
    """

    e = ALERT_ERRORS
    lost = true_loss_code == year - 2000
    labels, n = ndimage.label(lost, structure=np.ones((3, 3), dtype=bool))
    rows, cols = np.nonzero(lost)
    lab = labels[rows, cols]
    del labels, lost  # the grid's labels (0.25 GB at a jurisdiction) are in ``lab`` now, at the lost cells
    # each patch's area from its own cells (row-major, as a bincount over the grid adds them): label 0's, the
    # rest of the grid, is never read, and the grid's areas as weights were 0.98 GB at a jurisdiction
    patch_ha = np.bincount(lab, weights=grid.cell_area_ha()[rows, 0], minlength=n + 1)
    jan1 = date_to_days(dt.date(year, 1, 1))
    days_in_year = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    cleared = jan1 + rng.integers(0, days_in_year, n + 1)
    delay = np.rint(rng.gamma(2.0, e["detection_delay_mean_days"] / 2.0, n + 1)).astype(np.int64)
    small = patch_ha < e["small_patch_ha"]
    missed = rng.random(n + 1) < np.where(small, e["omission_small"], e["omission_large"])
    u = rng.random(n + 1)
    confidence = np.where(~small & (u < e["confidence_highest_share_large"]), 3,
                          np.where(rng.random(n + 1) < e["confidence_high_share"], 2, 1))
    spread = rng.integers(0, e["clearing_spread_days"] + 1, rows.size)
    day = cleared[lab] + spread + delay[lab]
    seen = ~missed[lab] & (day <= date_to_days(as_of))
    date = np.zeros(grid.shape, np.int32)
    conf = np.zeros(grid.shape, np.uint8)  # 1–3: a byte a cell (written as the file's int32 band)
    date[rows[seen], cols[seen]] = day[seen]
    conf[rows[seen], cols[seen]] = confidence[lab[seen]]
    true_mask = date > 0

    n_false = int(round(e["false_per_true"] * n))
    candidates = flat_indices(standing_forest)  # int32 where the grid allows: the same draws, half the memory
    seeds = rng.choice(candidates, size=min(n_false, candidates.size), replace=False)
    side = rng.integers(1, 4, seeds.size)
    false_day = jan1 + rng.integers(0, days_in_year, seeds.size)
    false_conf = np.where(rng.random(seeds.size) < e["false_confidence_low_share"], 1, 2)
    r0, c0 = np.unravel_index(seeds, grid.shape)
    for dr in range(3):
        for dc in range(3):
            use = (dr < side) & (dc < side)
            r, c = np.minimum(r0[use] + dr, grid.height - 1), np.minimum(c0[use] + dc, grid.width - 1)
            ok = standing_forest[r, c] & (date[r, c] == 0) & (false_day[use] <= date_to_days(as_of))
            date[r[ok], c[ok]] = false_day[use][ok]
            conf[r[ok], c[ok]] = false_conf[use][ok]
    drawn = {"true_patches": int(n), "true_patches_missed": int(missed[1:].sum()),
             "true_alert_px": int(true_mask.sum()), "false_seeds": int(seeds.size),
             "false_alert_px": int(((date > 0) & ~true_mask).sum()),
             "mean_detection_delay_days": float(delay[1:][~missed[1:]].mean()) if n else None}
    return date, conf, {"true_mask": true_mask, **drawn}


def write_alert_raster(path: Path, date: np.ndarray, confidence: np.ndarray, grid: Grid, crs: str) -> None:
    """A 2-band int32 GeoTIFF: band 1 alert date (days since 2015-01-01), band 2 confidence; written atomically."""
    profile = dict(driver="GTiff", width=grid.width, height=grid.height, count=2, dtype="int32", crs=crs,
                   transform=grid.transform, predictor=2, **GEOTIFF_OPTIONS)
    rows = GEOTIFF_OPTIONS["blockysize"]
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.set_band_description(1, "alert date, days since 2015-01-01 (0 = no alert)")
        dst.set_band_description(2, "confidence: 1 low, 2 high, 3 highest")
        # a row of tiles at a time, both bands: each tile holds both (pixel interleaving), and band by band a tile
        # that leaves GDAL's block cache before its second band came was written twice, the first copy left dead
        for r0 in range(0, grid.height, rows):
            window = Window(0, r0, grid.width, min(rows, grid.height - r0))
            dst.write(np.stack([date[r0:r0 + rows], confidence[r0:r0 + rows]]), window=window)


def ranked_events(date: np.ndarray, confidence: np.ndarray, true_mask: np.ndarray, grid: Grid,
                  zones: dict[str, np.ndarray], parcels: gpd.GeoDataFrame) -> list[dict]:
    """The alert events as icam ranks each on the day it comes out, with whether it is a true clearing."""

    events = describe(cluster_alerts(AlertRaster(date, confidence), grid), zones=zones, parcels=parcels)
    table = events.table
    true_px = np.bincount(events.labels[true_mask], minlength=int(events.labels.max(initial=0)) + 1)
    rule = PriorityRule()
    terms = rule.terms(table, 0)
    recent = rule.w_recent  # on the day an alert comes out its recency term is full
    score = terms.drop(columns="p_recent").sum(axis=1) + recent
    priority = rule.classify(score)
    out = pd.DataFrame({"alert_id": table["alert_id"], "first_date": table["first_date"], "lon": table["lon"],
                        "lat": table["lat"], "zone": table["zone"], "area_ha": table["area_ha"],
                        "agreement": table["agreement"], "priority": priority,
                        "true": true_px[table["event"].to_numpy()] * 2 > table["n_px"].to_numpy()})
    return out.to_dict("records")


def write_actions(path: Path, observations_csv: Path, visits: list[dict], alerts: list[dict], seed: int) -> int:
    """Follow-up actions on the clearings the patrols found: a report to the authorities (70 %), a sanction for a
    quarter of those reported, a warning to the household where the clearing is in an agreement's parcel.
    Returns the number of actions written."""
    rng = np.random.default_rng([seed, 9300])
    agreement = {a["alert_id"]: a.get("agreement") for a in alerts}
    alert_of_patrol = {v["patrol_id"]: v["alert_id"] for v in visits}
    with open(observations_csv, encoding="utf-8", newline="") as f:
        observations = list(csv.DictReader(f))
    rows = []
    for obs in observations:
        if obs["obs/category"] != "clearing":
            continue
        seen = dt.date.fromisoformat(obs["obs/observed_at"][:10])
        if rng.random() < ACTION_SHARES["report_to_authorities"]:
            rows.append([obs["_uuid"], "report_to_authorities", seen + dt.timedelta(days=int(rng.integers(1, 15))),
                         "Jefatura BPAM"])
            if rng.random() < ACTION_SHARES["sanction"]:
                rows.append([obs["_uuid"], "sanction", seen + dt.timedelta(days=int(rng.integers(30, 120))),
                             "SERNANP"])
        if isinstance(agreement.get(alert_of_patrol.get(obs["obs/patrol_id"])), str):  # None or NaN: no agreement
            rows.append([obs["_uuid"], "agreement_warning", seen + dt.timedelta(days=int(rng.integers(3, 30))),
                         "Conservation International"])
    write_csv_rows(path, ["observation_uuid", "action", "taken_on", "taken_by"], rows)
    return len(rows)


def write_enforcement_history(out_dir: Path, true_loss_code: np.ndarray, forest_2000: np.ndarray, grid: Grid,
                              crs: str, zones: dict[str, np.ndarray], parcels: gpd.GeoDataFrame, seed: int,
                              year: int = ALERT_YEAR) -> dict:
    """Write ``inputs/alerts/alerts_<year>.tif`` and the patrol files (``inputs/patrols/``); return the truth.

    ``parcels``: the conservation parcels with ``agreement`` and ``household`` columns. The patrols answer
    the alerts of the project area and the leakage belt until 31 December of ``year`` (the demo's as_of).
    """

    out_dir = Path(out_dir)
    as_of = dt.date(year, 12, 31)
    rng = np.random.default_rng([seed, 9100])
    standing = forest_2000 & ((true_loss_code == 0) | (true_loss_code > year - 2000))
    date, conf, drawn = alert_layer(true_loss_code, standing, grid, year, as_of, rng)
    path = out_dir / "inputs" / "alerts" / f"alerts_{year}.tif"
    write_alert_raster(path, date, conf, grid, crs)
    alerts = ranked_events(date, conf, drawn.pop("true_mask"), grid, zones, parcels)
    patrolled = [a for a in alerts if a["zone"] in ("project_area", "leakage_belt")]
    patrols = simulate_patrols(patrolled, out_dir, seed=seed, until=as_of)
    actions = out_dir / "inputs" / "patrols" / "actions.csv"
    n_actions = write_actions(actions, patrols["observations"], patrols["visits"], alerts, seed)
    true_events = sum(bool(a["true"]) for a in alerts)
    visits = patrols["visits"]
    truth_of = {a["alert_id"]: a for a in alerts}
    write_csv_rows(out_dir / "truth" / "patrol_visits.csv",
                   ["alert_id", "patrol_id", "days_after", "category", "true", "priority", "zone"],
                   [[v["alert_id"], v["patrol_id"], f"{v['days_after']:.4f}", v["category"],
                     int(bool(truth_of[v["alert_id"]]["true"])), truth_of[v["alert_id"]]["priority"],
                     truth_of[v["alert_id"]]["zone"]] for v in visits])
    return {
        "alert_year": year, "as_of": as_of.isoformat(), "errors": ALERT_ERRORS, "drawn": drawn,
        "events": len(alerts), "true_events": true_events, "false_events": len(alerts) - true_events,
        "events_patrolled_zones": len(patrolled),
        "patrol_visits": len(visits),
        "visits_true_alerts": sum(bool(a["true"]) for a in patrolled if a["alert_id"] in
                                  {v["alert_id"] for v in visits}),
        "visits_found_clearing": sum(v["category"] == "clearing" for v in visits),
        "mean_days_to_visit": float(np.mean([v["days_after"] for v in visits])) if visits else None,
        "actions": n_actions,
        "files": {"alerts": str(path.relative_to(out_dir)), "patrols": "inputs/patrols/",
                  "visits": "truth/patrol_visits.csv"},
    }
