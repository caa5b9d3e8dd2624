"""Reference figures from forestatrisk's iCAR workflow on Guadeloupe (a peer tool, not icam).

Runs, in this one process, forestatrisk's "Get started" tutorial (docsrc/notebooks/get_started.ipynb
at commit fe11224, the commit the shared data come from) on the Mercator (EPSG:3395, 30 m) files:

  sample                 far.sample(nsamp=10000, adapt=True, seed=1234, csize=10) on fcc23.tif
                         (0 = lost 2010-2020, 1 = forest 2020), covariates at 2010
  cellneigh              10 km cells, rank 1
  model_binomial_iCAR    I(1-fcc23) + trial ~ scale(dist_defor) + scale(dist_edge) + scale(dist_road)
                         + scale(dist_town) + scale(dist_river) + cell; priorVrho = -1,
                         burnin = 1000, mcmc = 1000, thin = 1, beta_start = -99 (the tutorial's)
  interpolate_rho        10 km -> 1 km
  predict 2010           predict_raster_binomial_iCAR with the 2010 covariates on forest_t2.tif:
                         the map for 2010-2020 (the fitting period itself)
  predict 2020           the tutorial's own prediction: 2020 covariates (dist_edge from forest_t3,
                         dist_defor from the 2010-2020 loss, computed as forestatrisk does) on forest_t3.tif
  validate 2010 map      far.defrate_per_cat + far.validation_udef_arp on 50- and 100-pixel cells
                         (2010-2020, as the deforisk plugin validates forestatrisk maps; in-sample)

Deviation from the tutorial: altitude and slope are not in the shared data, so the formula has the
five distance covariates only (the tutorial has seven; its "pa" is sampled but not in the formula).

Needs forestatrisk (and GDAL's Python bindings) in the running interpreter; icam's venv does not
have them, see docs/benchmarks.md. Never imported by the tests.

    python benchmarks/peers_forestatrisk.py [--out DIR] [--json FILE]
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
    from forestatrisk.data.compute import compute_distance
    from osgeo import gdal
except ImportError:
    print("forestatrisk not installed; see docs/benchmarks.md")
    sys.exit(0)

allow_with_on_gdal_datasets(gdal)

COVARIATES = ["dist_defor", "dist_edge", "dist_road", "dist_town", "dist_river"]
MCMC = {"burnin": 1000, "mcmc": 1000, "thin": 1, "beta_start": -99, "priorVrho": -1}
CELLS_PX = (50, 100)


def var_dir(folder: Path, files: dict[str, Path]) -> str:
    """A folder holding only the tutorial's rasters (far.sample and predict read every *.tif in it)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, target in files.items():
        link = folder / f"{name}.tif"
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    return str(folder)


def prob_summary(path: Path) -> dict:
    """Probability map (UInt16, nodata 0, p = ((v - 1) * 999999 / 65534 + 1) * 1e-6)."""
    ds = gdal.Open(str(path))  # keep the dataset alive while its band is read (GDAL < 3.8 segfaults otherwise)
    v = ds.GetRasterBand(1).ReadAsArray()
    p = ((v[v > 0].astype(np.float64) - 1) * 999999 / 65534 + 1) * 1e-6
    return {"file": str(path), "nodata": 0, "n_pixels": int(p.size), "mean_p": float(p.mean()),
            "quantiles_p": {q: float(np.quantile(p, float(q))) for q in ("0.01", "0.5", "0.99")}}


def parameters(model) -> list[dict]:
    names = list(model._x_design_info.column_names[:-1]) + ["Vrho", "Deviance"]
    m = model.mcmc
    return [{"name": n, "mean": float(m[:, i].mean()), "sd": float(m[:, i].std()),
             "ci_low": float(np.percentile(m[:, i], 2.5)), "ci_high": float(np.percentile(m[:, i], 97.5))}
            for i, n in enumerate(names)]


def run(out: Path) -> dict:
    t0 = time.perf_counter()
    fcc23 = str(DATA / "fcc23.tif")
    data = var_dir(out / "data", {"fcc23": DATA / "fcc23.tif", **{c: DATA / f"{c}.tif" for c in COVARIATES}})
    dataset = timed("sample", far.sample, nsamp=10000, adapt=True, seed=1234, csize=10, var_dir=data,
                    input_forest_raster="fcc23.tif", output_file=str(out / "sample.txt"), blk_rows=0, verbose=False)
    n_sampled = len(dataset)
    dataset = dataset.dropna(axis=0)
    dataset["trial"] = 1
    nneigh, adj = timed("cellneigh", far.cellneigh, raster=fcc23, csize=10, rank=1)
    formula = "I(1-fcc23) + trial ~ " + " + ".join(f"scale({c})" for c in COVARIATES) + " + cell"
    model = timed("model_binomial_iCAR", far.model_binomial_iCAR, suitability_formula=formula, data=dataset,
                  n_neighbors=nneigh, neighbors=adj, **MCMC)
    (out / "summary_icar.txt").write_text(str(model))
    timed("interpolate_rho", far.interpolate_rho, rho=model.rho, input_raster=fcc23,
          output_file=str(out / "rho.tif"), csize_orig=10, csize_new=1)
    prob_2010 = out / "far_prob_2010.tif"
    timed("predict 2010 (covariates 2010, forest_t2)", far.predict_raster_binomial_iCAR, model, var_dir=data,
          input_cell_raster=str(out / "rho.tif"), input_forest_raster=str(DATA / "forest_t2.tif"),
          output_file=str(prob_2010), blk_rows=10, verbose=False)
    core = time.perf_counter() - t0

    # the tutorial's own prediction: the covariates at 2020 ("forecast" files, computed as forestatrisk does)
    timed("distances at 2020", lambda: (
        compute_distance(str(DATA / "forest_t3.tif"), str(out / "dist_edge_t3.tif"), values=0, nodata=0,
                         input_nodata=True, verbose=False),
        compute_distance(fcc23, str(out / "dist_defor_t3.tif"), values=0, nodata=0, input_nodata=True,
                         verbose=False)))
    data_2020 = var_dir(out / "data_2020", {"fcc23": DATA / "fcc23.tif", "dist_edge": out / "dist_edge_t3.tif",
                                            "dist_defor": out / "dist_defor_t3.tif",
                                            **{c: DATA / f"{c}.tif" for c in COVARIATES[2:]}})
    prob_2020 = out / "far_prob_2020.tif"
    timed("predict 2020 (covariates 2020, forest_t3)", far.predict_raster_binomial_iCAR, model, var_dir=data_2020,
          input_cell_raster=str(out / "rho.tif"), input_forest_raster=str(DATA / "forest_t3.tif"),
          output_file=str(prob_2020), blk_rows=10, verbose=False)

    # validation of the 2010 map over 2010-2020 (in-sample: the model was fitted on 2010-2020)
    fcc123, tab = str(DATA / "fcc123.tif"), out / "defrate_cat_icar_validation.csv"
    timed("defrate_per_cat 2010 map", far.defrate_per_cat, fcc123, str(prob_2010), 10, period="validation",
          tab_file_defrate=str(tab), verbose=False)
    indices = {}
    for c in CELLS_PX:
        ifile = out / f"indices_icar_validation_{c}.csv"
        timed(f"validation_udef_arp {c} px", far.validation_udef_arp, fcc123, 10, str(prob_2010), str(tab),
              period="validation", csize_coarse_grid=c, indices_file_pred=str(ifile),
              tab_file_pred=str(out / f"pred_obs_icar_validation_{c}.csv"),
              fig_file_pred=str(out / f"pred_obs_icar_validation_{c}.png"), verbose=False)
        indices[f"{c}px"] = pd.read_csv(ifile).to_dict(orient="records")[0]

    y = (1 - dataset["fcc23"]).astype(int)
    return {
        "settings": {"formula": formula, **MCMC, "nsamp": 10000, "adapt": True, "seed": 1234, "csize_km": 10,
                     "rank": 1, "predict_blk_rows": 10, "interpolate_rho_km": [10, 1]},
        "sample": {"n_drawn": n_sampled, "n_used": len(dataset), "n_deforested": int(y.sum()),
                   "n_forest": int((1 - y).sum()), "n_cells": int(len(nneigh))},
        "parameters": parameters(model), "summary": str(model),
        "rho": {"n_cells": int(model.rho.size), "values": [float(r) for r in model.rho]},
        "prob_2010": prob_summary(prob_2010), "prob_2020": prob_summary(prob_2020),
        "validation_2010_map_in_sample": indices,
        "timings_s": {"core_workflow (sample, cellneigh, fit, interpolate_rho, predict 2010)": round(core, 3),
                      "all_steps": round(time.perf_counter() - t0, 3),
                      "process_incl_imports": round(time.perf_counter() - T_START, 3), "steps": TIMES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="keep forestatrisk's rasters and tables here")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not (DATA / "fcc23.tif").exists():
        sys.exit(f"{DATA / 'fcc23.tif'} not found (set ICAM_SHARED_DATA)")
    gdal.UseExceptions()
    with tempfile.TemporaryDirectory(prefix="peers-far-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        res = run(out)
    doc = {"tool": "forestatrisk binomial iCAR (Get started tutorial)", "data": str(DATA),
           "versions": {"forestatrisk": far.__version__, "gdal": gdal.__version__, "numpy": np.__version__,
                        "pandas": pd.__version__, "python": platform.python_version()},
           "machine": f"{platform.machine()}, {os.cpu_count()} cores", **res}
    report(doc, args.json)


if __name__ == "__main__":
    main()
