"""icam's spatial risk model against forestatrisk's iCAR workflow on Guadeloupe (same data, same protocol).

The protocol is forestatrisk's "Get started" tutorial as benchmarks/peers_forestatrisk.py runs it
(forestatrisk 1.3.2), on the shared Guadeloupe files (EPSG:3395 World Mercator, 30 m,
3340 x 2958 px; ../shared/data/guadeloupe/SOURCES.txt):

  read       fcc23.tif (0 = deforested 2010-2020, 1 = forest in 2020, 255 = nodata; so the 2010
             forest is fcc23 != 255), dist_edge.tif and dist_defor.tif (30 m), dist_road.tif,
             dist_town.tif and dist_river.tif (150 m, read onto the 30 m grid by nearest neighbour,
             as forestatrisk's GDAL VRT does: the 30 m pixels nest exactly in the 150 m ones);
             raw distances in metres (forestatrisk's formula uses scale(x): the models standardise)
  sample     icam.risk.models.balanced_sample(n_per_class=10000, seed=1234): 10,000 deforested and
             10,000 still-forested pixels of the 2010 forest
  fit        SpatialRiskModel on 10 km cells (spatial_cells(shape, round(10000 / 30)) = 9 x 11 cells,
             forestatrisk's 99), iCAR precision chosen on a hold-out (icam's default)
  predict    predict_map with the 2010 covariates on the 2010 forest (all 933,325 pixels)
  validate   the probability map scaled so that it sums to the observed 2010-2020 loss
             (adjust_to_quantity; forestatrisk's defrate_per_cat applies the same single factor)
             and compared per square cell of 50 and 100 pixels with icam.risk.validate
             (assessment_cells, compare_by_cell on the 2010 forest, median_absolute_error), as
             forestatrisk's validation_udef_arp does. Areas are Mercator map hectares (0.09 ha per
             pixel: pixel counts x 0.09), the unit forestatrisk reports in, to compare like with like.

In-sample, as the tutorial: fit and assessment both use 2010-2020. The same validation code is run on
forestatrisk's own probability map (far_prob_2010.tif from peers_forestatrisk.py: UInt16, nodata 0,
p = ((v - 1) * 999999 / 65534 + 1) * 1e-6) when it is present, so both maps are assessed by the
same code; the spatial model is also fitted on forestatrisk's very sample (its sampler replicated
by :func:`forestatrisk_sample`: model against model, without the noise between two random draws);
and icam's LogisticRiskModel and GradientBoostingRiskModel run the same protocol for
context. Each step is timed with time.perf_counter.

    python benchmarks/risk_guadeloupe.py [--far-json FILE] [--far-map FILE] [--json OUT]

Data from $ICAM_SHARED_DATA or ../shared/data beside the repository; exits 0 with a message when absent.
Never part of `make test` (tests/test_risk_guadeloupe.py checks the accuracy, not the time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import reproject
from threadpoolctl import threadpool_info

from icam.risk.covariates import CovariateStack
from icam.risk.models import (
    GradientBoostingRiskModel,
    LogisticRiskModel,
    SpatialRiskModel,
    balanced_sample,
    predict_map,
    spatial_cells,
)
from icam.risk.quantity import adjust_to_quantity
from icam.risk.validate import assessment_cells, compare_by_cell, median_absolute_error

REPO = Path(__file__).resolve().parents[1]
COVARIATES = ("dist_defor", "dist_edge", "dist_road", "dist_town", "dist_river")  # forestatrisk's formula order
N_PER_CLASS = 10_000
SEED = 1234
SPATIAL_CELL_M = 10_000.0  # forestatrisk's csize = 10 km
ASSESSMENT_PX = (50, 100)  # forestatrisk's validation_udef_arp csize_coarse_grid
FAR_JSON = Path("/tmp/peers/out/forestatrisk.json")
FAR_MAP = Path("/tmp/peers/out/far_prob_2010.tif")

# forestatrisk 1.3.2, Get Started protocol (benchmarks/peers_forestatrisk.py) run on 2026-11-24, in-sample
# validation of its 2010 map (Mercator ha); used when its JSON is not at hand.
FAR_FALLBACK = {
    "source": "figures stated in the issue (forestatrisk 1.3.2 Get Started protocol run on 2026-11-24); "
              "forestatrisk.json not found",
    "medae_ha": {"50px": 1.11, "100px": 3.61},
    "n_cells": {"50px": 932, "100px": 281},
    "core_workflow_s": 25.6,
    "fit_s": 19.8,
}


def data_dir() -> Path:
    """$ICAM_SHARED_DATA or ../shared/data beside the repository, its guadeloupe/ folder."""
    return Path(os.environ.get("ICAM_SHARED_DATA", REPO.parent / "shared" / "data")) / "guadeloupe"


# --------------------------------------------------------------------------- protocol steps

def read_data(folder: Path) -> dict:
    """The 2010 forest, the 2010-2020 loss and the five covariates on the 30 m grid of fcc23.tif.

    fcc23: 0 = deforested 2010-2020, 1 = forest in 2020, 255 = nodata (forestatrisk's convention;
    equal to forest_t2 & ~forest_t3 and forest_t3 on these files). Distances in metres, float32;
    150 m grids read onto the 30 m grid by nearest neighbour.
    """
    with rasterio.open(folder / "fcc23.tif") as src:
        fcc23 = src.read(1)
        crs, transform, shape = src.crs, src.transform, src.shape
        nodata = 255 if src.nodata is None else int(src.nodata)
    forest = fcc23 != nodata
    deforested = forest & (fcc23 == 0)
    layers = {}
    for name in COVARIATES:
        with rasterio.open(folder / f"{name}.tif") as src:
            if src.shape == shape and src.transform == transform:
                layers[name] = src.read(1).astype(np.float32)
                continue
            out = np.full(shape, np.nan, dtype=np.float32)
            reproject(src.read(1).astype(np.float32), out, src_transform=src.transform, src_crs=src.crs,
                      src_nodata=np.float32(src.nodata) if src.nodata is not None else None,
                      dst_transform=transform, dst_crs=crs, dst_nodata=np.nan, resampling=Resampling.nearest)
            layers[name] = out
    return {"forest": forest, "deforested": deforested, "layers": layers, "transform": transform,
            "pixel_m": float(abs(transform.a))}


def forestatrisk_sample(data: dict, nsamp: int = N_PER_CLASS, seed: int = SEED, block_px: int = 256) -> np.ndarray:
    """The pixels forestatrisk's ``sample(nsamp, adapt=True, seed, blk_rows=0)`` draws on fcc23 (row-major indices).

    A replica of forestatrisk 1.3.2's sampler (forestatrisk/data/sample.py), to fit icam's model on
    the very sample forestatrisk fitted: ``np.random.seed(seed)``; the raster cut into 256 x 256
    blocks; nsamp blocks drawn with replacement with probability ∝ their deforested pixels, then
    nsamp ∝ their forest pixels (numpy's legacy ``np.random.choice``); in each block, in block
    order, that many deforested then forest pixels drawn without replacement (the whole block's
    pixels when it has no more). adapt=True keeps nsamp = 10,000 below 10 Mha of forest. Returns
    the deforested pixels then the forest pixels, in forestatrisk's order (its sample.txt's rows).
    """
    rng = np.random.RandomState(seed)  # the legacy global stream np.random.seed(seed) starts
    rows, cols = data["forest"].shape
    lost = data["deforested"]
    kept = data["forest"] & ~lost
    blocks = [(r, c) for r in range(0, rows, block_px) for c in range(0, cols, block_px)]
    pools = []
    for r, c in blocks:
        ids = (np.arange(r, min(r + block_px, rows))[:, None] * cols
               + np.arange(c, min(c + block_px, cols))[None, :])
        window = (slice(r, r + block_px), slice(c, c + block_px))
        pools.append((ids[lost[window]], ids[kept[window]]))  # row-major within the block, as np.nonzero
    n_lost = np.array([p[0].size for p in pools])
    n_kept = np.array([p[1].size for p in pools])
    draw_lost = np.bincount(rng.choice(len(blocks), size=nsamp, replace=True, p=n_lost / n_lost.sum()),
                            minlength=len(blocks))
    draw_kept = np.bincount(rng.choice(len(blocks), size=nsamp, replace=True, p=n_kept / n_kept.sum()),
                            minlength=len(blocks))
    chosen_lost, chosen_kept = [], []
    for (pool_lost, pool_kept), k_lost, k_kept in zip(pools, draw_lost, draw_kept):
        for pool, k, chosen in ((pool_lost, k_lost, chosen_lost), (pool_kept, k_kept, chosen_kept)):
            if k > 0:
                chosen.append(pool[rng.choice(pool.size, size=k, replace=False)] if k < pool.size else pool)
    return np.concatenate(chosen_lost + chosen_kept).astype(np.int64)


def make_stack(data: dict) -> CovariateStack:
    return CovariateStack(data["layers"], valid=data["forest"])


def validate_map(probability: np.ndarray, data: dict, pixel_ha: float) -> dict:
    """MedAE (ha) of a probability map scaled to the observed loss, per 50- and 100-pixel cell.

    forestatrisk's defrate_per_cat + validation_udef_arp: predicted ha per pixel = p × λ × pixel
    area with λ = observed loss / Σ p over the forest (adjust_to_quantity: no pixel reaches its
    area here, so its first pass is that factor); actual = loss pixels × pixel area; cells with
    2010 forest are compared.
    """
    forest, deforested = data["forest"], data["deforested"]
    density = np.where(forest, probability, 0.0) * pixel_ha
    observed_ha = float(np.count_nonzero(deforested)) * pixel_ha
    predicted, passes = adjust_to_quantity(density, observed_ha, pixel_ha)
    actual = deforested * pixel_ha
    out = {"observed_loss_ha": round(observed_ha, 2), "predicted_loss_ha": round(float(predicted.sum()), 2),
           "adjust_passes": passes}
    for side in ASSESSMENT_PX:
        cells = assessment_cells(forest.shape, data["pixel_m"], cell_area_ha=(side * data["pixel_m"]) ** 2 / 1e4)
        comparison = compare_by_cell(predicted, actual, cells, mask=forest)
        out[f"{side}px"] = {"medae_ha": round(median_absolute_error(comparison), 4),
                            "n_cells": int(comparison.cell_ids.size)}
    return out


def run_model(kind: str, data: dict, stack: CovariateStack, sample_idx: np.ndarray, pixel_ha: float) -> dict:
    """Fit, predict and validate one model on the balanced sample; times in seconds."""
    times = {}
    t0 = time.perf_counter()
    X = stack.sample(sample_idx)
    y = data["deforested"].ravel()[sample_idx]
    extra = None
    if kind == "spatial":
        cells, cell_shape = spatial_cells(stack.shape, round(SPATIAL_CELL_M / data["pixel_m"]))
        X = np.column_stack([X, cells.ravel()[sample_idx]])
        extra = [cells]
        model = SpatialRiskModel(cell_shape=cell_shape)
    elif kind == "logistic":
        model = LogisticRiskModel()
    elif kind == "gbm":
        model = GradientBoostingRiskModel()
    else:
        raise ValueError(kind)
    model.fit(X, y)
    times["fit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    probability = predict_map(model, stack, data["forest"], extra_columns=extra)
    times["predict"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    validation = validate_map(probability, data, pixel_ha)
    times["validate"] = time.perf_counter() - t0
    result = {"model": type(model).__name__, "validation": validation,
              "mean_p_on_forest": round(float(probability[data["forest"]].mean()), 4)}
    if kind in ("spatial", "logistic"):
        beta = model.beta_ if kind == "spatial" else model.coef_
        sd = stack.sample(sample_idx).std(axis=0)  # patsy's scale(): the sample's sd, ddof 0
        result["beta_per_sd"] = {name: round(float(b * s), 4) for name, b, s in zip(stack.names, beta, sd)}
    if kind == "spatial":
        result["precision"] = model.precision_
        result["spatial_effect_sd"] = round(float(model.spatial_effect_.std()), 4)
    return {**result, "model_obj": model, "probability": probability, "times": times}


def read_far_map(path: Path) -> np.ndarray:
    """forestatrisk's probability raster decoded to p (0 where nodata)."""
    with rasterio.open(path) as src:
        v = src.read(1)
    p = ((v.astype(np.float64) - 1) * 999999 / 65534 + 1) * 1e-6
    return np.where(v > 0, p, 0.0)


def forestatrisk_reference(path: Path) -> dict:
    """forestatrisk's own figures from peers_forestatrisk.py's JSON, else the issue's."""
    if not path.exists():
        return FAR_FALLBACK
    doc = json.loads(path.read_text())
    validation = doc["validation_2010_map_in_sample"]
    runs = {"first": doc["timings_s"]}
    if "timings_s_second_run" in doc:
        runs["second"] = doc["timings_s_second_run"]
    core_key = next(k for k in doc["timings_s"] if k.startswith("core_workflow"))
    return {
        "source": f"{path} (forestatrisk {doc['versions']['forestatrisk']}, {doc['machine']})",
        "medae_ha": {k: v["MedAE"] for k, v in validation.items()},
        "n_cells": {k: v["ncell"] for k, v in validation.items()},
        "core_workflow_s": {run: t[core_key] for run, t in runs.items()},
        "fit_s": {run: t["steps"]["model_binomial_iCAR"] for run, t in runs.items()},
        "issue_figures_s": {"core_workflow": FAR_FALLBACK["core_workflow_s"], "fit": FAR_FALLBACK["fit_s"]},
        "beta_per_sd": {p["name"]: round(p["mean"], 4) for p in doc["parameters"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--far-json", type=Path, default=FAR_JSON,
                        help="forestatrisk's figures (peers_forestatrisk.py)")
    parser.add_argument("--far-map", type=Path, default=FAR_MAP, help="forestatrisk's 2010 probability raster")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    folder = data_dir()
    if not (folder / "fcc23.tif").exists():
        print(f"{folder / 'fcc23.tif'} not found: set ICAM_SHARED_DATA to the shared data folder; nothing to do")
        sys.exit(0)

    load_at_start = [round(x, 2) for x in os.getloadavg()]  # the machine may be shared: say how busy it was
    times: dict[str, float] = {}
    t_start = time.perf_counter()
    data = read_data(folder)
    stack = make_stack(data)
    times["read"] = time.perf_counter() - t_start
    pixel_ha = data["pixel_m"] ** 2 / 1e4  # Mercator map hectares, as forestatrisk reports
    t0 = time.perf_counter()
    sample_idx = balanced_sample(data["deforested"], data["forest"], N_PER_CLASS, SEED)
    times["sample"] = time.perf_counter() - t0
    spatial = run_model("spatial", data, stack, sample_idx, pixel_ha)
    times.update(spatial["times"])
    times["core (read, sample, fit, predict)"] = times["read"] + times["sample"] + times["fit"] + times["predict"]
    times["total"] = time.perf_counter() - t_start

    # the same estimator on forestatrisk's own sample (its sampler replicated): model against model,
    # without the difference between two random draws of 20,000 pixels
    far_sample = run_model("spatial", data, stack, forestatrisk_sample(data), pixel_ha)
    others = {"spatial_far_sample": {k: v for k, v in far_sample.items()
                                     if k not in ("model_obj", "probability", "times")}}
    others["spatial_far_sample"]["times_s"] = {k: round(v, 3) for k, v in far_sample["times"].items()}
    for kind in ("logistic", "gbm"):
        r = run_model(kind, data, stack, sample_idx, pixel_ha)
        others[kind] = {k: v for k, v in r.items() if k not in ("model_obj", "probability", "times")}
        others[kind]["times_s"] = {k: round(v, 3) for k, v in r["times"].items()}

    far = forestatrisk_reference(args.far_json)
    far_map = None
    if args.far_map.exists():
        t0 = time.perf_counter()
        far_map = validate_map(read_far_map(args.far_map), data, pixel_ha)
        far_map["seconds"] = round(time.perf_counter() - t0, 3)
        far_map["reproduces_forestatrisk"] = all(
            round(far_map[k]["medae_ha"], 2) == far["medae_ha"][k] and far_map[k]["n_cells"] == far["n_cells"][k]
            for k in ("50px", "100px"))

    # forestatrisk's sample + cellneigh + fit + interpolate_rho + predict 2010 (its reads included),
    # against icam's read + sample + fit + predict, and against icam's total (validation included)
    far_core = {"issue (25.6 s)": FAR_FALLBACK["core_workflow_s"]}
    if isinstance(far["core_workflow_s"], dict):
        far_core.update({f"forestatrisk.json {run} run": v for run, v in far["core_workflow_s"].items()})
    icam_spatial = {k: v for k, v in spatial.items() if k not in ("model_obj", "probability", "times")}
    doc = {
        "protocol": "forestatrisk Get Started on Guadeloupe (EPSG:3395, 30 m): fit on 2010-2020 loss, "
                    "10,000 + 10,000 balanced sample (seed 1234), 5 distance covariates, iCAR on 10 km cells, "
                    "predict on the 2010 forest, MedAE on 50/100 px cells after scaling to the observed loss "
                    "(in-sample; Mercator ha, 0.09 ha per pixel)",
        "data": str(folder),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "blas_threads": [f"{i['internal_api']}: {i['num_threads']}" for i in threadpool_info()],
        "load_average_at_start": load_at_start,
        "icam_spatial": {**icam_spatial, "times_s": {k: round(v, 3) for k, v in times.items()}},
        "icam_spatial_on_forestatrisk_sample": others["spatial_far_sample"],
        "icam_logistic": others["logistic"],
        "icam_gbm": others["gbm"],
        "forestatrisk": far,
        "forestatrisk_map_validated_by_icam": far_map,
        "comparison": {
            "speedup_core_vs_forestatrisk_core": {k: round(v / times["core (read, sample, fit, predict)"], 1)
                                                  for k, v in far_core.items()},
            "speedup_total_vs_forestatrisk_core": {k: round(v / times["total"], 1) for k, v in far_core.items()},
            "at_least_5x_faster": all(v / times["total"] >= 5 for v in far_core.values()),
            "medae_equal_or_better": {k: icam_spatial["validation"][k]["medae_ha"] <= far["medae_ha"][k]
                                      for k in ("50px", "100px")},
            "medae_equal_or_better_on_forestatrisk_sample": {
                k: others["spatial_far_sample"]["validation"][k]["medae_ha"] <= far["medae_ha"][k]
                for k in ("50px", "100px")},
        },
    }
    text = json.dumps(doc, indent=1, default=float)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
