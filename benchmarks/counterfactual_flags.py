"""The over-crediting flag's hits and false alarms: docs/credibility.md, "Counterfactual checks against the truth".

For each simulated project already scored by ``benchmarks/counterfactual_truth.py`` (its rows in
``benchmarks/counterfactual.json``), this runs the pipeline through the accounting (``icam run``'s stages,
cached in the project folder) for the baseline's avoided loss in the project area, A = Σ (baseline − observed),
and sets the flag as ``icam check counterfactual`` does: A > 1.5 × the largest upper 90 % bound of the methods
the baseline does not rest on. The inflated baseline ``[carbon] baseline_multiplier = 2.0`` doubles every
baseline area, so its avoided loss is 2 × Σ baseline − Σ observed (tests/cli/test_check_cli.py checks that
identity on a run); it is computed, not rerun.

    python benchmarks/counterfactual_flags.py --scale project --seeds 42,43,44 --effects 0.38,0 --dir /tmp/cf
    python benchmarks/counterfactual_flags.py --methodology VM0048 ...   (another baseline than the project's)

Prints a Markdown row per project. Never part of `make test`; about four minutes a project-scale project.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from counterfactual_truth import HERE, same, scenario_arguments, scenarios, store_row, stored_rows
from icam.counterfactual.verdict import MethodEstimate, verdict
from icam.pipeline.config import load_config
from icam.pipeline.project import build_stages
from icam.pipeline.runner import Pipeline
from icam.pipeline.stages.counterfactual import SHARED_WITH_BASELINE

THROUGH_ACCOUNTING = ("landscape", "activity_data", "risk", "baseline", "renewals", "accounting")


def baseline_areas(folder: Path, methodology: str | None = None) -> tuple[float, float, str]:
    """(Σ baseline, Σ observed) loss in the project area over the monitoring periods, ha; the methodology
    (``[carbon] methodology``, or ``methodology`` in its place)."""
    config = load_config(folder)
    if methodology:
        config = config.model_copy(update={"carbon": config.carbon.model_copy(update={"methodology": methodology})})
    stages = [s for s in build_stages(config, project_dir=folder) if s.name in THROUGH_ACCOUNTING]
    run = Pipeline(folder, stages, config.model_dump(mode="json")).run()
    run.discard()
    periods = run.results["accounting"].ex_post.periods
    return (sum(p.areas_ha["baseline_project_ha"] for p in periods),
            sum(p.areas_ha["observed_project_ha"] for p in periods), config.carbon.methodology)


def flags(scored: list[dict], key: dict, methodology: str, avoided_ha: tuple[float, ...], margin: float) -> list:
    """The verdict's flag (:func:`icam.counterfactual.verdict.verdict`) for each baseline's avoided loss, from
    the scored methods' rows of the project ``key`` names."""
    estimates = [MethodEstimate(r["method"], r["avoided_ha"], tuple(r["ci90_ha"]) if r["ci90_ha"] else None)
                 for r in scored if same(r, key)]
    shared = SHARED_WITH_BASELINE.get(methodology, ())
    return [verdict(a, estimates, shared, margin) for a in avoided_ha]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scenario_arguments(parser, "project", "42,43,44", "0.38,0")
    parser.add_argument("--margin", type=float, default=0.5)
    parser.add_argument("--methodology", default=None, help="the baseline's [carbon] methodology (the project's "
                        "own by default)")
    parser.add_argument("--scored", type=Path, default=HERE / "counterfactual.json")
    args = parser.parse_args()
    out_path = HERE / "counterfactual_flags.json"
    rows = stored_rows(out_path)
    scored = json.loads(args.scored.read_text())
    print("| scale | seed | effect | baseline | true avoided (ha) | baseline avoided (ha) | ×2 baseline avoided (ha) "
          "| largest upper bound (ha) | flag, calibrated | flag, ×2 |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---|---|")
    for key, folder in scenarios(args):
        baseline, observed, methodology = baseline_areas(folder, args.methodology)
        calibrated, inflated = baseline - observed, 2 * baseline - observed
        judged = flags(scored, key, methodology, (calibrated, inflated), args.margin)
        upper = judged[0]["largest_upper_ha"]
        truth = next((r["truth_ha"] for r in scored if same(r, key)), None)
        row = {**key, "methodology": methodology, "truth_ha": truth, "baseline_ha": baseline, "observed_ha": observed,
               "baseline_avoided_ha": calibrated, "inflated_avoided_ha": inflated, "largest_upper_ha": upper,
               "flag_calibrated": judged[0]["over_crediting_flag"], "flag_inflated": judged[1]["over_crediting_flag"]}
        print(f"| {key['scale']} | {key['seed']} | {key['effect']} | {methodology} "
              f"| {'–' if truth is None else f'{truth:,.0f}'} "
              f"| {calibrated:,.0f} | {inflated:,.0f} | {'–' if upper is None else f'{upper:,.0f}'} "
              f"| {row['flag_calibrated']} | {row['flag_inflated']} |", flush=True)
        rows = store_row(out_path, rows, row, {**key, "methodology": methodology})


if __name__ == "__main__":
    main()
