"""Credits against the truth: the credibility table of docs/credibility.md.

For each simulated project (scale, seed, project effect, displacement) this runs ``icam demo`` and
compares what the accounting claims with the simulator's counterfactual.

The truth is computed from ``truth/*.tif`` alone, never from icam's accounting code: per calendar
year y, the true net reductions over the whole simulated landscape are

    T_y = Σ_cells EF × a × ([counterfactual loss year = y] − [actual loss year = y])

with EF the cell's ``truth/emission_factor_tco2e_per_ha.tif`` (tCO2e/ha) and a its area in ha (the
grid's cell, read from the raster's transform); a monitoring period's truth is Σ_y T_y × d_y / D_y
(its days in year y over the year's days). Clearing displaced into the leakage belt is in the actual
loss, so it is netted out.

    python benchmarks/credibility.py --scale small --seeds 1-10 --effects 0,0.38,0.59 --displacements 0,0.2
    python benchmarks/credibility.py --scale project --seeds 42,43,44 --methodologies VM0015,VM0048,dynamic

Each simulated project is made once; every methodology of ``--methodologies`` (``[carbon] methodology``) is then
run on it with ``icam run`` (its landscape and risk stages come from the cache).

Prints a Markdown table; the raw rows go to ``benchmarks/credibility.json``. Never part of `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio

HERE = Path(__file__).resolve().parent
YEAR_OFFSET = 2000  # the loss rasters hold year − 2000, 0 for no loss


def _read(path: Path) -> tuple[np.ndarray, float]:
    with rasterio.open(path) as src:
        return src.read(1), abs(src.transform.a * src.transform.e) / 10_000


def true_reductions_by_year(folder: Path) -> dict[int, float]:
    """T_y (tCO2e) per calendar year from the truth's rasters alone (module docstring)."""
    truth = Path(folder) / "truth"
    actual, cell_ha = _read(truth / "true_lossyear.tif")
    counterfactual, _ = _read(truth / "counterfactual_lossyear.tif")
    ef, _ = _read(truth / "emission_factor_tco2e_per_ha.tif")
    tonnes = np.where(np.isfinite(ef) & (ef > 0), ef, 0.0).astype(np.float64) * cell_ha
    n = int(max(actual.max(), counterfactual.max())) + 1
    avoided = np.bincount(counterfactual.ravel(), weights=tonnes.ravel(), minlength=n)
    emitted = np.bincount(actual.ravel(), weights=tonnes.ravel(), minlength=n)
    return {YEAR_OFFSET + code: float(avoided[code] - emitted[code]) for code in range(1, n)}


def prorated(by_year: dict[int, float], start: dt.date, end: dt.date) -> float:
    """Σ_y value_y × (days of [start, end] in y) / (days in y)."""
    total = 0.0
    for year in range(start.year, end.year + 1):
        first, last = max(start, dt.date(year, 1, 1)), min(end, dt.date(year, 12, 31))
        days_in_year = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
        total += by_year.get(year, 0.0) * ((last - first).days + 1) / days_in_year
    return total


def score(folder: Path) -> dict:
    """The accounting's claims against the truth, per period and over the crediting period so far."""
    results = json.loads((Path(folder) / "outputs" / "results.json").read_text(encoding="utf-8"))
    by_year = true_reductions_by_year(folder)
    periods = []
    for p in results["accounting"]["periods"]:
        start, end = dt.date.fromisoformat(p["start"]), dt.date.fromisoformat(p["end"])
        u = p.get("uncertainty") or {}
        periods.append({"start": p["start"], "end": p["end"], "claimed_tco2e": p["net_reductions_tco2e"],
                        "lower_tco2e": u.get("lower_tco2e"), "upper_tco2e": u.get("upper_tco2e"),
                        "credits": p["credits"], "truth_tco2e": prorated(by_year, start, end),
                        "baseline_emissions_tco2e": p["baseline_emissions_tco2e"]})
    lower = [p["lower_tco2e"] for p in periods]
    upper = [p["upper_tco2e"] for p in periods]
    total = results["accounting"]["totals"].get("uncertainty") or {}
    if total.get("lower_tco2e") is not None:  # one Monte Carlo over every period (icam.carbon.crediting)
        lower, upper = [total["lower_tco2e"]], [total["upper_tco2e"]]
    return {"periods": periods,
            "claimed_tco2e": sum(p["claimed_tco2e"] for p in periods),
            "truth_tco2e": sum(p["truth_tco2e"] for p in periods),
            "credits": sum(p["credits"] for p in periods),
            "baseline_emissions_tco2e": sum(p["baseline_emissions_tco2e"] for p in periods),
            # the crediting period's interval, else the periods' 90 % intervals summed (an outer bound)
            "lower_tco2e": sum(lower) if None not in lower else None,
            "upper_tco2e": sum(upper) if None not in upper else None}


def run_demo(folder: Path, scale: str, seed: int, effect: float, displacement: float) -> None:
    """``icam demo`` into ``folder`` with the given scenario (a fresh process, as a user runs it)."""
    args = [sys.executable, "-m", "icam", "demo", "--dir", str(folder), "--scale", scale, "--seed", str(seed),
            "--project-effect", str(effect), "--displacement", str(displacement)]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args[2:])} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")


def rerun_with(folder: Path, methodology: str) -> None:
    """``icam run`` on ``folder`` after setting ``[carbon] methodology``, on a fresh ledger (each methodology
    issues its own credits; the ledger rightly refuses to reissue a vintage with other figures)."""
    toml = folder / "icam.toml"
    text = toml.read_text(encoding="utf-8")
    if f'\nmethodology = "{methodology}"\n' in text:  # the demo's own: its run is the one to score
        return
    (folder / ".icam" / "ledger.sqlite").unlink(missing_ok=True)
    text, n = re.subn(r'(?m)^methodology = "[^"]*"$', f'methodology = "{methodology}"', text)
    if n == 0:
        text = text.replace("[carbon]\n", f'[carbon]\nmethodology = "{methodology}"\n', 1)
    toml.write_text(text, encoding="utf-8")
    args = [sys.executable, "-m", "icam", "run", str(folder)]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"icam run with methodology {methodology} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")


def _seeds(text: str) -> list[int]:
    if "-" in text:
        first, last = (int(x) for x in text.split("-"))
        return list(range(first, last + 1))
    return [int(x) for x in text.split(",")]


def _row(scale: str, seed: int, effect: float, displacement: float, methodology: str, s: dict) -> str:
    truth, claimed = s["truth_tco2e"], s["claimed_tco2e"]
    error = f"{100 * (claimed - truth) / truth:+.0f} %" if truth > 0 else "–"
    interval = (f"{s['lower_tco2e']:,.0f} – {s['upper_tco2e']:,.0f}" if s["lower_tco2e"] is not None else "–")
    covered = ("yes" if s["lower_tco2e"] is not None and s["lower_tco2e"] <= truth <= s["upper_tco2e"] else "no")
    return (f"| {scale} | {seed} | {effect:g} | {displacement:g} | {methodology} | {truth:,.0f} | {claimed:,.0f} | "
            f"{error} | {interval} | {covered} | {s['credits']:,} | {s['baseline_emissions_tco2e']:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seeds", default="1-10")
    parser.add_argument("--effects", default="0,0.38,0.59")
    parser.add_argument("--displacements", default="0,0.2")
    parser.add_argument("--methodologies", default="", help="comma-separated [carbon] methodology values; "
                        "default: the demo's own")
    parser.add_argument("--out", type=Path, default=HERE / "credibility.json")
    args = parser.parse_args()
    rows, lines = [], []
    print("| scale | seed | effect | displacement | methodology | true net reductions (tCO2e) | claimed | error | "
          "claimed 90 % interval | covers the truth | credits | baseline emissions |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---|---|---:|---:|")
    methodologies = [m for m in args.methodologies.split(",") if m] or [None]
    for seed in _seeds(args.seeds):
        for effect in (float(x) for x in args.effects.split(",")):
            for displacement in (float(x) for x in args.displacements.split(",")):
                with tempfile.TemporaryDirectory() as tmp:
                    folder = Path(tmp) / "project"
                    run_demo(folder, args.scale, seed, effect, displacement)
                    for methodology in methodologies:
                        if methodology is not None:
                            rerun_with(folder, methodology)
                        s = score(folder)
                        name = methodology or "demo default"
                        rows.append({"scale": args.scale, "seed": seed, "effect": effect,
                                     "displacement": displacement, "methodology": name, **s})
                        lines.append(_row(args.scale, seed, effect, displacement, name, s))
                        print(lines[-1], flush=True)
                        # after every row: an interrupted benchmark keeps the rows it has
                        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
