"""The counterfactual checks against the truth: docs/credibility.md, "Counterfactual checks against the truth".

For each simulated project (scale, seed, project effect, displacement) this runs the pipeline's counterfactual
methods, pixel matching and the synthetic control (``[counterfactual]`` of its icam.toml, placebos in time
included) on the landscape the pipeline reads,
and compares each method's avoided loss inside the project area with the truth, computed from the
simulator's rasters alone:

    truth = Σ_y w_y × a × (#[counterfactual loss year = y] − #[actual loss year = y])   over the project area

w_y the share of year y inside the monitoring periods, a the cell's area (ha). Displaced clearing lies in the
leakage belt, outside this sum: the checks answer "what did the project avoid inside itself".

    python benchmarks/counterfactual_truth.py --scale project --seeds 42,43,44 --effects 0,0.38,0.59
    python benchmarks/counterfactual_truth.py --scale small --seeds 1-10 --effects 0,0.38 --dir /tmp/cf

Prints a Markdown row per project as it goes; the raw rows go to ``benchmarks/counterfactual.json``. Never part
of `make test`; a project-scale row takes about five minutes (one to simulate, the rest the matching).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import rasterio

from icam.carbon.periods import MonitoringPeriod
from icam.counterfactual.verdict import year_weights
from icam.pipeline.config import load_config
from icam.pipeline.stages.carbon import stratum_masks, stratum_stocks
from icam.pipeline.stages.carbon_dynamic import matching_landscape
from icam.pipeline.stages.counterfactual import matching_estimate, synthetic_estimate
from icam.pipeline.stages.landscape import load_landscape
from icam.pipeline.stages.risk import zone_mask
from icam.simulate import simulate

HERE = Path(__file__).resolve().parent
YEAR_OFFSET = 2000


def seeds(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def scenario_arguments(parser: argparse.ArgumentParser, scale: str, seeds_: str, effects: str) -> None:
    """The options naming the simulated projects: scale, seeds, effects, displacement and their folder."""
    parser.add_argument("--scale", default=scale)
    parser.add_argument("--seeds", default=seeds_)
    parser.add_argument("--effects", default=effects)
    parser.add_argument("--displacement", type=float, default=0.2)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/icam-counterfactual"))


def scenarios(args: argparse.Namespace) -> Iterator[tuple[dict, Path]]:
    """Each simulated project of the options: its key (scale, seed, effect, displacement; none without an
    effect) and its folder."""
    for seed in seeds(args.seeds):
        for effect in (float(e) for e in args.effects.split(",")):
            displacement = args.displacement if effect > 0 else 0.0
            key = {"scale": args.scale, "seed": seed, "effect": effect, "displacement": displacement}
            yield key, args.dir / f"{args.scale}_{seed}_{effect}_{displacement}"


def same(row: dict, key: dict) -> bool:
    """Whether a stored row is of the project ``key`` names."""
    return all(row[k] == v for k, v in key.items())


def stored_rows(path: Path) -> list[dict]:
    """The raw rows stored at ``path`` (none yet if it does not exist)."""
    return json.loads(path.read_text()) if path.exists() else []


def store_row(path: Path, rows: list[dict], row: dict, key: dict) -> list[dict]:
    """``rows`` with ``row`` in place of the one ``key`` names, written to ``path`` (a long run keeps what it
    has measured)."""
    rows = [r for r in rows if not same(r, key)] + [row]
    path.write_text(json.dumps(rows, indent=1))
    return rows


def true_avoided_ha(folder: Path, project: np.ndarray, weights: dict[int, float]) -> float:
    """The truth above, from truth/counterfactual_lossyear.tif and truth/true_lossyear.tif."""
    counts = {}
    for name in ("counterfactual_lossyear.tif", "true_lossyear.tif"):
        with rasterio.open(folder / "truth" / name) as src:
            code, cell_ha = src.read(1), abs(src.transform.a * src.transform.e) / 10_000
        counts[name] = np.bincount(code[project].ravel(), minlength=64) * cell_ha
    avoided = counts["counterfactual_lossyear.tif"] - counts["true_lossyear.tif"]
    return float(sum(w * avoided[y - YEAR_OFFSET] for y, w in weights.items()))


def score(folder: Path, methods: tuple[str, ...] = ("pixel_matching", "synthetic_control")) -> list[dict]:
    """One row per method of ``methods``: its estimate beside the truth, with its diagnostics."""
    config = load_config(folder)
    landscape = load_landscape(config)
    masks = stratum_masks(config, landscape, [s.name for s, _, _ in stratum_stocks(config)])
    land = matching_landscape(config, landscape, masks)
    project_area = landscape.zones.masks()["project_area"]
    project = project_area & zone_mask(landscape, config.risk.zone, "risk.zone")
    weights = year_weights([MonitoringPeriod(p.start, p.end) for p in config.periods.monitoring])
    start, last = config.periods.project_start.year, int(landscape.forest.epochs[-1])
    truth = true_avoided_ha(folder, project_area, weights)
    rows = []
    run = {"pixel_matching": lambda: matching_estimate(config.counterfactual, land, project,
                                                       landscape.zones.admin_id, start, last, weights),
           "synthetic_control": lambda: synthetic_estimate(config.counterfactual, land, project, start, last,
                                                           weights)}
    for name in methods:
        t0 = time.perf_counter()
        est = run[name]()
        d = est.diagnostics
        placebo = d.get("placebo_in_time", {})
        rows.append({"method": est.name, "truth_ha": truth, "avoided_ha": est.avoided_ha,
                     "ci90_ha": list(est.ci90_ha) if est.ci90_ha else None,
                     "max_abs_smd": max((abs(r["smd_after"]) for r in d.get("balance", [])), default=None),
                     "match_rate": d.get("match_rate"), "donors": d.get("donors"), "p_value": d.get("p_value"),
                     "parallel_trends_p": (d.get("parallel_trends") or {}).get("p_value"),
                     "placebo_runs": placebo.get("runs"), "placebo_estimated": placebo.get("estimated"),
                     "placebo_share_covering_zero": placebo.get("share_covering_zero"),
                     "placebo_sd_ha": placebo.get("sd_ha"), "seconds": time.perf_counter() - t0})
    return rows


def _fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def row(r: dict) -> str:
    if r["avoided_ha"] is None:
        estimate, err, interval, covers = "no estimate", "–", "–", "–"
    else:
        lo, hi = r["ci90_ha"]
        estimate, interval = f"{r['avoided_ha']:,.0f}", f"{lo:,.0f} – {hi:,.0f}"
        err = f"{100 * (r['avoided_ha'] / r['truth_ha'] - 1):+.0f} %" if r["truth_ha"] > 0 else "–"
        covers = "yes" if lo <= r["truth_ha"] <= hi else "no"
    diagnostic = (f"SMD {_fmt(r['max_abs_smd'], '.2f')}, matched {_fmt(r['match_rate'], '.3f')}, trends p "
                  f"{_fmt(r['parallel_trends_p'], '.2f')}" if r["method"] == "pixel_matching" else
                  f"{r['donors']} donors, p {_fmt(r['p_value'], '.2f')}")
    return (f"| {r['scale']} | {r['seed']} | {r['effect']} | {r['displacement']} | {r['method']} | "
            f"{r['truth_ha']:,.0f} | {estimate} | {err} | {interval} | {covers} | {diagnostic} | "
            f"{_fmt(r['placebo_share_covering_zero'], '.2f')} of {r['placebo_estimated']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scenario_arguments(parser, "small", "1-4", "0,0.38")
    parser.add_argument("--methods", default="pixel_matching,synthetic_control")
    args = parser.parse_args()
    out_path = HERE / "counterfactual.json"
    rows = stored_rows(out_path)
    print("| scale | seed | effect | displacement | method | true avoided (ha) | estimate | error | 90 % interval "
          "| covers | diagnostics | placebos in time holding 0 |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---|---|---|---|")
    for key, folder in scenarios(args):
        if not (folder / "icam.toml").exists():
            simulate(folder, key["scale"], key["seed"], project_effect=key["effect"],
                     displacement=key["displacement"])
        for scored in score(folder, tuple(args.methods.split(","))):
            r = {**key, **scored}
            print(row(r), flush=True)
            rows = store_row(out_path, rows, r, {**key, "method": r["method"]})


if __name__ == "__main__":
    main()
