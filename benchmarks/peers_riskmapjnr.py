"""Reference figures from riskmapjnr's VT0007 benchmark workflow on Guadeloupe (a peer tool, not icam).

Runs, in this one process, the benchmark steps of riskmapjnr (Vieilledent) as the deforisk QGIS
plugin chains them (rmj_functions/bm_calibrate.py, bm_predict.py; val_functions/validate.py,
allocate.py) on fcc123_GLP_utm20n.tif (EPSG:5490, 30 m; 1 = lost 2000-2010, 2 = lost 2010-2020,
3 = forest 2020, 0 = nodata):

  calibration 2000-2010  dist_edge_threshold (99.5 %, loss = 1) -> compute_dist_bins ->
                         vulnerability_map at 2000 -> defrate_per_class("calibration", 10 yr)
  historical 2000-2020   the same with loss = [1, 2] and 20 yr
  confirmation 2010-2020 vulnerability_map at 2010 with the calibration bins ->
                         defrate_per_class("validation", calibration rates) ->
                         forestatrisk.validation_udef_arp on 50- and 100-pixel cells
  forecast 2020-2030     vulnerability_map at 2020 with the historical bins ->
                         defrate_per_class("forecast", historical rates) ->
                         forestatrisk.allocate_deforestation of the historical mean (ha/yr) x 10 yr

One subjurisdiction covering the whole grid (the plugin rasterizes a country border instead).
riskmapjnr's own makemap/validation are not used: makemap fails in 1.3.2 and validation() wants
a "rate" column that the benchmark tables do not have; the plugin validates with forestatrisk.

Needs riskmapjnr and forestatrisk (and GDAL's Python bindings) in the running interpreter; icam's
venv does not have them, see docs/benchmarks.md. Never imported by the tests.

    python benchmarks/peers_riskmapjnr.py [--out DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from peers_common import DATA, TIMES, allow_with_on_gdal_datasets, report, timed

T_START = time.perf_counter()
try:
    import forestatrisk as far
    import numpy as np
    import pandas as pd
    import riskmapjnr as rmj
    from osgeo import gdal, ogr
except ImportError:
    print("riskmapjnr not installed; see docs/benchmarks.md")
    sys.exit(0)

allow_with_on_gdal_datasets(gdal)

FCC = DATA / "fcc123_GLP_utm20n.tif"
THRESHOLD_PCT = 99.5  # riskmapjnr's default and VT0007's share
CELLS_PX = (50, 100)


def write_like(path, array, ref, dtype=gdal.GDT_Byte, nodata=None):
    """GeoTIFF of ``array`` on the grid of the open dataset ``ref``."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), ref.RasterXSize, ref.RasterYSize, 1, dtype,
                                              ["COMPRESS=DEFLATE"])
    ds.SetGeoTransform(ref.GetGeoTransform())
    ds.SetProjection(ref.GetProjection())
    if nodata is not None:
        ds.GetRasterBand(1).SetNoDataValue(nodata)
    ds.GetRasterBand(1).WriteArray(array)
    ds = None


def prepare(out: Path) -> None:
    """Forest masks at 2000/2010/2020 (1/0), one subjurisdiction, the whole-grid border polygon."""
    ref = gdal.Open(str(FCC))
    fcc = ref.GetRasterBand(1).ReadAsArray()
    for name, values in (("forest_t1", (1, 2, 3)), ("forest_t2", (2, 3)), ("forest_t3", (3,))):
        write_like(out / f"{name}.tif", np.isin(fcc, values).astype(np.uint8), ref)
    write_like(out / "subj.tif", np.ones_like(fcc), ref, nodata=0)
    x0, dx, _, y0, _, dy = ref.GetGeoTransform()
    x1, y1 = x0 + dx * ref.RasterXSize, y0 + dy * ref.RasterYSize
    ring = f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"
    src = ogr.GetDriverByName("GPKG").CreateDataSource(str(out / "jurisdiction.gpkg"))
    layer = src.CreateLayer("jurisdiction", ref.GetSpatialRef(), ogr.wkbPolygon)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt(ring))
    layer.CreateFeature(feature)
    src = None


def table(path: Path) -> list[dict]:
    return pd.read_csv(path).to_dict(orient="records")


def fit(out: Path, period: str, loss, years: int) -> dict:
    """Threshold, bins, vulnerability map at 2000 and the per-class table of one fitting period."""
    dist_t1 = out / "dist_edge_t1.tif"
    if period == "calibration":  # dist_edge_threshold's own call, values=0, fails in 1.3.2 (int not iterable)
        timed(f"{period}: dist_values", rmj.dist_values, str(FCC), str(dist_t1), values=[0], verbose=False)
    thr = timed(f"{period}: dist_edge_threshold", rmj.dist_edge_threshold,
                fcc_file=str(FCC), defor_values=loss, defor_threshold=THRESHOLD_PCT, dist_file=str(dist_t1),
                dist_bins=np.arange(0, 1080, step=30), tab_file_dist=str(out / f"perc_dist_{period}.csv"),
                fig_file_dist=str(out / f"perc_dist_{period}.png"), dist_file_available=True,
                check_fcc=True, verbose=False)
    bins = timed(f"{period}: compute_dist_bins", rmj.benchmark.compute_dist_bins, str(dist_t1), thr["dist_thresh"])
    vuln = out / f"prob_bm_t1_{period}.tif"
    timed(f"{period}: vulnerability_map", rmj.benchmark.vulnerability_map, str(out / "forest_t1.tif"),
          str(dist_t1), bins, str(out / "subj.tif"), output_file=str(vuln), verbose=False)
    tab = out / f"defrate_cat_bm_{period}.csv"
    timed(f"{period}: defrate_per_class", rmj.benchmark.defrate_per_class, str(FCC), str(vuln), years,
          period=period, tab_file_defrate=str(tab), verbose=False)
    return {"defor_values": loss, "time_interval_yr": years, "defor_threshold_pct": THRESHOLD_PCT,
            "dist_thresh_m": float(thr["dist_thresh"]), "perc_thresh_pct": float(thr["perc_thresh"]),
            "tot_def_ha": float(thr["tot_def"]), "dist_bins_m": [float(b) for b in bins],
            "defrate_per_class": table(tab), "perc_dist": table(out / f"perc_dist_{period}.csv")}


def apply(out: Path, period: str, date: str, bins: list, model_tab: Path) -> Path:
    """Vulnerability map at ``date`` with a fit's bins and the rates of that fit's table."""
    dist = out / f"dist_edge_{date}.tif"
    timed(f"{period}: dist_values", rmj.dist_values, str(out / f"forest_{date}.tif"), str(dist),
          values=[0], verbose=False)
    vuln = out / f"prob_bm_{date}_{period}.tif"
    timed(f"{period}: vulnerability_map", rmj.benchmark.vulnerability_map, str(out / f"forest_{date}.tif"),
          str(dist), bins, str(out / "subj.tif"), output_file=str(vuln), verbose=False)
    tab = out / f"defrate_cat_bm_{period}.csv"
    timed(f"{period}: defrate_per_class", rmj.benchmark.defrate_per_class, str(FCC), str(vuln), 10,
          period=period, deforate_model=str(model_tab), tab_file_defrate=str(tab), verbose=False)
    return vuln


def validate(out: Path, period: str, vuln: Path, csize: int) -> dict:
    indices = out / f"indices_bm_{period}_{csize}.csv"
    timed(f"{period}: validation_udef_arp {csize} px", far.validation_udef_arp, str(FCC), 10, str(vuln),
          str(out / f"defrate_cat_bm_{period}.csv"), period=period, csize_coarse_grid=csize,
          indices_file_pred=str(indices), tab_file_pred=str(out / f"pred_obs_bm_{period}_{csize}.csv"),
          fig_file_pred=str(out / f"pred_obs_bm_{period}_{csize}.png"), verbose=False)
    return table(indices)[0]


def run(out: Path) -> dict:
    t0 = time.perf_counter()
    timed("prepare forest masks, subjurisdiction, border", prepare, out)
    res = {"calibration": fit(out, "calibration", 1, 10), "historical": fit(out, "historical", [1, 2], 20)}
    vuln = apply(out, "validation", "t2", res["calibration"]["dist_bins_m"], out / "defrate_cat_bm_calibration.csv")
    res["validation"] = {"defrate_per_class": table(out / "defrate_cat_bm_validation.csv"),
                         "indices": {f"{c}px": validate(out, "validation", vuln, c) for c in CELLS_PX}}
    core = time.perf_counter() - t0
    res["calibration"]["indices"] = {f"{c}px": validate(out, "calibration", out / "prob_bm_t1_calibration.tif", c)
                                     for c in CELLS_PX}
    vuln = apply(out, "forecast", "t3", res["historical"]["dist_bins_m"], out / "defrate_cat_bm_historical.csv")
    expected_ha = res["historical"]["tot_def_ha"] / 20 * 10  # historical mean (ha/yr) x 10 yr
    timed("forecast: allocate_deforestation", far.allocate_deforestation, str(vuln),
          str(out / "defrate_cat_bm_forecast.csv"), expected_ha, 10, str(out / "jurisdiction.gpkg"),
          output_file=str(out / "defor_project.csv"))
    res["forecast"] = {"defrate_per_class": table(out / "defrate_cat_bm_forecast.csv"), "expected_ha": expected_ha,
                       "allocated": table(out / "defor_project.csv")}
    res["timings_s"] = {"core_workflow (calibration, historical, confirmation + validation)": round(core, 3),
                        "all_steps": round(time.perf_counter() - t0, 3),
                        "process_incl_imports": round(time.perf_counter() - T_START, 3), "steps": TIMES}
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="keep riskmapjnr's rasters and tables here")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not FCC.exists():
        sys.exit(f"{FCC} not found (set ICAM_SHARED_DATA)")
    gdal.UseExceptions()
    with tempfile.TemporaryDirectory(prefix="peers-rmj-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        res = run(out)
    doc = {"tool": "riskmapjnr benchmark (VT0007)", "data": str(FCC),
           "versions": {"riskmapjnr": rmj.__version__, "forestatrisk": far.__version__, "gdal": gdal.__version__,
                        "numpy": np.__version__, "pandas": pd.__version__, "python": platform.python_version()},
           "machine": f"{platform.machine()}, {os.cpu_count()} cores", "subjurisdictions": "one, the whole grid",
           **res}
    report(doc, args.json)


if __name__ == "__main__":
    main()
