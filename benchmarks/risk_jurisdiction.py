"""The VT0007 benchmark map and the baseline allocation at jurisdiction scale (about 57 million pixels).

Simulates the jurisdiction-scale landscape (or reuses ``--dir``), then, in a fresh process:
reads the landscape, fits the benchmark on the calibration period, tests it on the confirmation
period, refits it on the historical period, maps it on the forest at t3, and allocates the
projected baseline year by year (VM0015) and as a density (VT0007). Prints a JSON with the
seconds of each part and the child's peak resident memory. Run: ``python benchmarks/risk_jurisdiction.py``.
"""

from __future__ import annotations

from pathlib import Path

from jurisdiction_child import main, measure_in_child

CHILD = """
import json, resource, sys, time
from pathlib import Path
from icam.pipeline.config import load_config
from icam.pipeline.stages.landscape import load_landscape
from icam.risk.candidates import run_candidates
from icam.pipeline.stages.risk import build_baseline, expected_validity_ha, risk_setting

folder = Path(sys.argv[1])
t0 = time.perf_counter()
config = load_config(folder)
config = config.model_copy(update={"risk": config.risk.model_copy(update={"models": []})})
landscape = load_landscape(config)
t1 = time.perf_counter()
setting = risk_setting(config, landscape)
risk = run_candidates(setting, [], expected_validity_ha(config, landscape), config.baseline.validity_years)
t2 = time.perf_counter()
baseline = build_baseline(config, landscape, risk)
t3 = time.perf_counter()
print(json.dumps({
    "pixels": landscape.grid.n_px,
    "forest_px_t3": int(setting.forest[2].sum()),
    "read_landscape_s": round(t1 - t0, 2),
    "benchmark_map_s": round(t2 - t1, 2),
    "allocation_s": round(t3 - t2, 2),
    "benchmark_map_plus_allocation_s": round(t3 - t1, 2),
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    "calibration_medae_ha": risk.benchmark.to_dict()["calibration"]["medae_ha"],
    "confirmation_medae_ha": risk.benchmark.to_dict()["confirmation"]["medae_ha"],
    "threshold_m": [risk.benchmark.calibration.nrt_m, risk.benchmark.historical.nrt_m],
    "baseline_ha_first_year": baseline.allocation.allocated_ha[baseline.allocation.years[0]],
}))
"""


def measure(folder: Path) -> dict:
    return measure_in_child(CHILD, folder, "risk")


if __name__ == "__main__":
    main(measure, __doc__.splitlines()[0])
