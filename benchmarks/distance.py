"""The exact distance to the forest edge on a jurisdiction-sized forest: icam's transform (icam.core.distance)
against the ``edt`` package's, side by side in one process, and whether they agree to the bit.

The forest is Guadeloupe's in 2000 (riskmapjnr's change map ``guadeloupe/fcc123_GLP_utm20n.tif``, 30 m,
2934 x 3186 px: classes 1-3) tiled 2 x 3 (56 Mpx, about a jurisdiction's 61 Mpx), each copy mirrored so that
the edges meet as they would. The two run alternately, ``--repeats`` times each, on every core; the table
gives each one's median seconds and their ratio, and the rows go to benchmarks/distance.json.

    python benchmarks/distance.py [--repeats 3]

Needs the test extra (``edt``); never part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import edt
import numpy as np
import rasterio

from icam.core.blocks import cores
from icam.core.distance import euclidean_distance
from peers_common import DATA

HERE = Path(__file__).resolve().parent


def tiled_forest() -> tuple[np.ndarray, tuple[float, float]]:
    """Guadeloupe's forest in 2000, 2 x 3 copies, mirrored where they meet; its (row, column) spacing in m."""
    with rasterio.open(DATA / "fcc123_GLP_utm20n.tif") as src:
        forest = src.read(1) > 0
        spacing = (abs(src.transform.e), src.transform.a)
    row = np.hstack([forest, forest[:, ::-1], forest])
    return np.ascontiguousarray(np.vstack([row, row[::-1]])), spacing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not (DATA / "fcc123_GLP_utm20n.tif").exists():
        sys.exit(f"{DATA / 'fcc123_GLP_utm20n.tif'} not found (set ICAM_SHARED_DATA)")
    forest, spacing = tiled_forest()
    euclidean_distance(forest[:64, :64], spacing)  # compiled (or read from numba's cache) before timing
    runs = {"icam": [], "edt": []}
    same = True
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ours = euclidean_distance(forest, spacing)
        runs["icam"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        theirs = edt.edt(forest, anisotropy=spacing, black_border=False, parallel=cores())
        runs["edt"].append(time.perf_counter() - t0)
        same &= bool(np.array_equal(ours.view(np.uint32), theirs.view(np.uint32)))
        del ours, theirs
    median = {name: statistics.median(seconds) for name, seconds in runs.items()}
    doc = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {cores()} cores",
           "megapixels": round(forest.size / 1e6, 1), "seconds": runs, "median_s": median,
           "edt_over_icam": round(median["edt"] / median["icam"], 2), "identical": same}
    (HERE / "distance.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"| transform | median s ({forest.size / 1e6:.0f} Mpx, {cores()} cores) |\n|---|---|")
    for name in runs:
        print(f"| {name} | {median[name]:.2f} |")
    print(f"edt / icam: {doc['edt_over_icam']}; identical to the bit: {same}")


if __name__ == "__main__":
    main()
