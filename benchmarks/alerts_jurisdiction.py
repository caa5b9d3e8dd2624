"""Alert generation for one year of alerts at jurisdiction scale (about 61 million pixels).

Simulates the jurisdiction-scale landscape (or reuses ``--dir``), then, in a fresh process: reads the
config and the landscape (timed apart: reading the landscape is not alert generation), makes a
stand-in risk surface and reads the agreements' conservation parcels (both untimed), then times
:func:`icam.pipeline.stages.enforcement.alert_events` (the ``[enforcement] alerts`` raster read onto the grid,
clustered into events, described: zone, risk percentile, agreement parcel, distances to roads and
settlements; ranked) and the field exports (every event as GeoPackage with footprints, the high and
medium ones as GPX, KML and GeoJSON, the field sheet of the first 60 of those, with the forest map
behind) into a temporary folder, as the enforcement stage's ``write_outputs`` does.

The risk surface is a stand-in: no risk map is fitted here (``benchmarks/risk_jurisdiction.py`` times
that). It is exp(``truth/hazard_static.tif``) as float32 on the forest standing at the start of the
alert year, 0 elsewhere, so the risk percentile is taken among ~35 M forest pixels as with a real map.

Prints a JSON with the counts, the seconds of each part and the child's peak resident memory.
Run: ``python benchmarks/alerts_jurisdiction.py [--dir FOLDER]``.
"""

from __future__ import annotations

from pathlib import Path

from jurisdiction_child import main, measure_in_child

CHILD = """
import json, resource, sys, tempfile, time
from pathlib import Path
import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from icam.pipeline.config import load_config
from icam.pipeline.stages.landscape import load_landscape
from icam.enforcement.exports import write_alerts, write_field_sheet
from icam.pipeline.stages.enforcement import FIELD_SHEET_MAX, alert_events
from icam.simulate.alerts import ALERT_YEAR

folder = Path(sys.argv[1])
t0 = time.perf_counter()
config = load_config(folder)
landscape = load_landscape(config)
t1 = time.perf_counter()

# stand-in risk surface (untimed): exp(static hazard) on the forest standing at the start of the alert year
forest = landscape.forest
year = ALERT_YEAR - 1 if ALERT_YEAR - 1 in forest.epochs else forest.epochs[-1]
with rasterio.open(folder / "truth" / "hazard_static.tif") as src:
    hazard = src.read(1)
risk = np.where(forest.forest_in(year), np.exp(hazard.astype(np.float32)), np.float32(0)).astype(np.float32)
del hazard
# the agreements' conservation parcels (untimed), as the agreements stage hands them to the enforcement stage
parcels = gpd.read_file(folder / "inputs" / "parcels.gpkg", engine="pyogrio")
parcels = parcels[parcels["kind"] == "conservation"]
agreements = pd.read_csv(folder / "inputs" / "agreements.csv", usecols=["agreement_id", "conservation_parcel_id"])
parcels = parcels.merge(agreements, left_on="parcel_id", right_on="conservation_parcel_id", how="inner")
parcels = gpd.GeoDataFrame({"agreement": parcels["agreement_id"].to_numpy(),
                            "household": parcels["household_id"].to_numpy()},
                           geometry=parcels.geometry.values, crs=parcels.crs)
t2 = time.perf_counter()

events, source, as_of = alert_events(config, landscape, risk, parcels)
t3 = time.perf_counter()
with tempfile.TemporaryDirectory(prefix="icam-bench-alerts-") as out:
    write_alerts(events, out, "alerts", formats=("gpkg",))
    urgent = events.with_table(events.table[events.table["priority"].isin(["high", "medium"])])
    write_alerts(urgent, out, "alerts_field", formats=("gpx", "kml", "geojson"))
    background = forest.forest_in(forest.epochs[-1]).astype(np.uint8)  # as write_outputs does
    write_field_sheet(urgent.with_table(urgent.table.head(FIELD_SHEET_MAX)), Path(out) / "alerts_field_sheet.html",
                      landscape_map=background)
    t4 = time.perf_counter()

by_priority = events.table["priority"].value_counts()
print(json.dumps({
    "pixels": landscape.grid.n_px,
    "alert_px": int(np.count_nonzero(events.labels)),
    "events": len(events),
    "events_by_priority": {p: int(by_priority.get(p, 0)) for p in ("high", "medium", "low")},
    "events_in_agreements": int(events.table["agreement"].notna().sum()),
    "risk_forest_px": int(np.count_nonzero(risk)),
    "parcels": len(parcels),
    "as_of": as_of.isoformat(),
    "read_landscape_s": round(t1 - t0, 2),
    "stand_in_inputs_s": round(t2 - t1, 2),
    "alert_events_s": round(t3 - t2, 2),
    "exports_s": round(t4 - t3, 2),
    "alert_generation_s": round(t4 - t2, 2),
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
}))
"""


def measure(folder: Path) -> dict:
    return measure_in_child(CHILD, folder, "alerts")


if __name__ == "__main__":
    main(measure, __doc__.splitlines()[0])
