"""A simulated project's accounting in hectares against its truth: docs/credibility.md, "Where the project-scale
error comes from".

For each monitoring period of the run (``outputs/results.json``, ``accounting.periods[].areas_ha``) and in
total: the project area's and the leakage belt's baseline against the counterfactual loss
(``truth/counterfactual_lossyear.tif``), and their observed (error-adjusted) loss against the true loss
(``truth/true_lossyear.tif``), the truth pro-rated to the period by days as the accounting is; then the
project area's claimed and true avoided loss, and the belt's excess over its baseline (charged as leakage)
against the clearing the simulator displaced (``truth/truth.json``).

    python benchmarks/decompose_run.py /tmp/r/project_42_0.38_0.2

Never part of `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np
import rasterio

from icam.carbon.periods import MonitoringPeriod, prorate_annual
from icam.pipeline.config import load_config
from icam.pipeline.stages.landscape import load_landscape

YEAR_OFFSET = 2000
FIELDS = (("baseline_project_ha", "observed_project_ha"), ("baseline_belt_ha", "observed_belt_ha"))


def annual_truth(folder: Path, name: str, mask: np.ndarray, cell_ha: float) -> dict[int, float]:
    with rasterio.open(folder / "truth" / name) as src:
        code = src.read(1)
    counts = np.bincount(code[mask].ravel(), minlength=256) * cell_ha
    return {YEAR_OFFSET + i: float(counts[i]) for i in range(1, 256)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    folder = parser.parse_args().project
    landscape = load_landscape(load_config(folder / "icam.toml"))
    cell_ha = float(np.mean(landscape.grid.cell_area_ha()))
    masks = landscape.zones.masks()
    truth = {z: (annual_truth(folder, "counterfactual_lossyear.tif", masks[z], cell_ha),
                 annual_truth(folder, "true_lossyear.tif", masks[z], cell_ha))
             for z in ("project_area", "leakage_belt")}
    periods = json.loads((folder / "outputs/results.json").read_text())["accounting"]["periods"]
    total = np.zeros(8)
    print("| period | project baseline | counterfactual | observed | true | belt baseline | counterfactual | observed "
          "| true |\n|---|" + "---:|" * 8)
    for p in periods:
        period = MonitoringPeriod(dt.date.fromisoformat(p["start"]), dt.date.fromisoformat(p["end"]))
        row = []
        for (base, observed), zone in zip(FIELDS, truth):
            cf, actual = truth[zone]
            row += [p["areas_ha"][base], prorate_annual(cf, period), p["areas_ha"][observed],
                    prorate_annual(actual, period)]
        total += row
        print(f"| {p['start']} – {p['end']} | " + " | ".join(f"{v:,.0f}" for v in row) + " |")
    print("| total | " + " | ".join(f"{v:,.0f}" for v in total) + " |")
    displaced = sum(v["displaced_loss_ha"] for y, v in json.loads((folder / "truth/truth.json").read_text())
                    ["by_year"].items() if int(y) >= int(periods[0]["start"][:4]))
    print(f"\nproject area: baseline {total[0] / total[1] - 1:+.1%}, observed {total[2] / total[3] - 1:+.1%}; "
          f"claimed avoided {total[0] - total[2]:,.0f} ha against a true {total[1] - total[3]:,.0f} ha")
    print(f"leakage belt: baseline {total[4] / total[5] - 1:+.1%}, observed {total[6] / total[7] - 1:+.1%}; "
          f"excess over the baseline {total[6] - total[4]:,.0f} ha against {displaced:,.0f} ha displaced")


if __name__ == "__main__":
    main()
