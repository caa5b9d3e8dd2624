"""The simulator's calibration to the real Alto Mayo Protected Forest, measured from the truth files.

For each seed, simulates a project (or reads one already simulated) and reports, from truth/*.tif and the
boundaries alone: the mean with-project loss inside the project area ("the protected forest") over
2001–2012 and 2018–2022 (ha/yr), its forest in 2014 (ha), and the reference region's mean loss rate
(%/yr of the remaining forest). At the small scale the areas are also given scaled to the project's
182,000 ha (× 182,000 / the small project's area), the figures issue 15's calibration targets are in:
250–450 ha/yr (2001–2012; SERNANP ~340), 120–300 ha/yr (2018–2022; ~195 by 2020), 144,000 ha ± 5 % (2014),
reference region 0.5–1 %/yr.

    python benchmarks/simulator_calibration.py [--scale project] [--seeds 42 43 44] [--dir DIR] [--json OUT]

Never part of `make test` (tests/simulate/ checks the same figures at the small scale).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="project")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--dir", type=Path, help="simulate into DIR/<scale>_<seed> (default: a temporary folder)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    from icam.simulate import simulate
    from icam.simulate.calibration import calibration_figures

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.dir or Path(tmp)
        for seed in args.seeds:
            folder = base / f"{args.scale}_{seed}"
            t0 = time.perf_counter()
            simulate(folder, args.scale, seed)
            row = {"scale": args.scale, "seed": seed, **calibration_figures(folder),
                   "simulate_s": round(time.perf_counter() - t0, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
