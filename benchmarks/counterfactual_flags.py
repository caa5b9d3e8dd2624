"""The over-crediting flag's hits and false alarms: docs/credibility.md, "Counterfactual checks against the truth".

For each simulated project already scored by ``benchmarks/counterfactual_truth.py`` (its rows in
``benchmarks/counterfactual.json``), this runs the pipeline through the accounting (``icam run``'s stages,
cached in the project folder) for the baseline's avoided loss in the project area, A = Σ (baseline − observed),
and sets the flag as ``icam check counterfactual`` does: A > 1.5 × the largest upper 90 % bound of the methods
the baseline does not rest on. The inflated baseline ``[carbon] baseline_multiplier = 2.0`` doubles every
baseline area, so its avoided loss is 2 × Σ baseline − Σ observed (tests/cli/test_check_cli.py checks that
identity on a run); it is computed, not rerun.

    python benchmarks/counterfactual_flags.py --scale project --seeds 42,43,44 --effects 0.38,0 --dir /tmp/cf

Prints a Markdown row per project. Never part of `make test`; about four minutes a project-scale project.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from counterfactual_truth import HERE, seeds
from icam.pipeline.config import load_config
from icam.pipeline.project import build_stages
from icam.pipeline.runner import Pipeline
from icam.pipeline.stages.counterfactual import SHARED_WITH_BASELINE

THROUGH_ACCOUNTING = ("landscape", "activity_data", "risk", "baseline", "renewals", "accounting")


def baseline_areas(folder: Path) -> tuple[float, float, str]:
    """(Σ baseline, Σ observed) loss in the project area over the monitoring periods, ha; the methodology."""
    config = load_config(folder)
    stages = [s for s in build_stages(config, project_dir=folder) if s.name in THROUGH_ACCOUNTING]
    run = Pipeline(folder, stages, config.model_dump(mode="json")).run()
    run.discard()
    periods = run.results["accounting"].ex_post.periods
    return (sum(p.areas_ha["baseline_project_ha"] for p in periods),
            sum(p.areas_ha["observed_project_ha"] for p in periods), config.carbon.methodology)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="project")
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--effects", default="0.38,0")
    parser.add_argument("--displacement", type=float, default=0.2)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/icam-counterfactual"))
    parser.add_argument("--margin", type=float, default=0.5)
    parser.add_argument("--scored", type=Path, default=HERE / "counterfactual.json")
    args = parser.parse_args()
    out_path = HERE / "counterfactual_flags.json"
    rows = json.loads(out_path.read_text()) if out_path.exists() else []
    print("| scale | seed | effect | true avoided (ha) | baseline avoided (ha) | ×2 baseline avoided (ha) | largest "
          "upper bound (ha) | flag, calibrated | flag, ×2 |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for seed in seeds(args.seeds):
        for effect in (float(e) for e in args.effects.split(",")):
            displacement = args.displacement if effect > 0 else 0.0
            folder = args.dir / f"{args.scale}_{seed}_{effect}_{displacement}"
            baseline, observed, methodology = baseline_areas(folder)
            scored = json.loads(args.scored.read_text())
            methods = [r for r in scored if (r["scale"], r["seed"], r["effect"], r["displacement"])
                       == (args.scale, seed, effect, displacement)]
            shared = SHARED_WITH_BASELINE.get(methodology, ())
            uppers = [r["ci90_ha"][1] for r in methods if r["method"] not in shared and r["ci90_ha"]]
            upper = max(uppers) if uppers else None
            calibrated, inflated = baseline - observed, 2 * baseline - observed
            flags = [None if upper is None else a > (1 + args.margin) * upper for a in (calibrated, inflated)]
            row = {"scale": args.scale, "seed": seed, "effect": effect, "displacement": displacement,
                   "truth_ha": methods[0]["truth_ha"] if methods else None, "baseline_ha": baseline,
                   "observed_ha": observed, "baseline_avoided_ha": calibrated, "inflated_avoided_ha": inflated,
                   "largest_upper_ha": upper, "flag_calibrated": flags[0], "flag_inflated": flags[1]}
            truth = "–" if row["truth_ha"] is None else f"{row['truth_ha']:,.0f}"
            print(f"| {args.scale} | {seed} | {effect} | {truth} | {calibrated:,.0f} | {inflated:,.0f} "
                  f"| {'–' if upper is None else f'{upper:,.0f}'} | {flags[0]} | {flags[1]} |", flush=True)
            rows = [r for r in rows if (r["scale"], r["seed"], r["effect"], r["displacement"])
                    != (args.scale, seed, effect, displacement)] + [row]
            out_path.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
