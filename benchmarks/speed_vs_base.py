"""`icam run` on one simulated project, side by side: this checkout against an earlier commit (issue 18's base).

The scenario is simulated once (``icam.simulate``, the demo's Alto Mayo at ``--scale``, seed 42) and copied
into one folder per run, so every run starts from an empty cache and an empty ledger. The earlier commit's
``src/`` is extracted with ``git archive`` and run by the same interpreter and virtual environment
(``PYTHONPATH`` puts it before this checkout's editable install), so both use the same libraries; the runs
alternate (base, this, base, this, ...) so that a change in the machine's load hits both alike. Each run is a
fresh process: imports and file reads count.

Reported per version: the median wall-clock seconds and peak resident memory of ``icam run``, each stage's
seconds from the run's manifest, and the ratio base / this. Then whether the two give the same numbers:
the largest relative difference over every number of ``results.json`` (both versions' files, key by key).

    python benchmarks/speed_vs_base.py                      # project scale, base cf86df3, 1 run each
    python benchmarks/speed_vs_base.py --repeats 3 --scale small

Writes benchmarks/speed_vs_base.json (``--out``). Never part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from memory import run_measured

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASE = "cf86df3"  # main when issue 18 (speed and scale) was taken up
def extract(rev: str, into: Path) -> Path:
    """``rev``'s src/ folder, unpacked under ``into`` (git archive: no worktree to clean up)."""
    archive = into / "base.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), rev, "src"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def icam_run(folder: Path, src: Path | None) -> dict:
    """``icam run FOLDER`` in a fresh process (with ``src`` first on the path where given): seconds, peak MiB
    (of it and the workers it forks, summed), and each stage's seconds from the manifest."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    done, seconds, peak_mib = run_measured([sys.executable, "-m", "icam", "run", str(folder)], env=env)
    if done.returncode != 0:
        sys.exit(f"icam run {folder} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    manifest = json.loads((folder / "outputs" / "manifest.json").read_text())
    return {"seconds": round(seconds, 1), "peak_rss_mib": round(peak_mib),
            "stages": {s["name"]: s["seconds"] for s in manifest["stages"]}}


def numbers(value, path: str = "") -> dict[str, float]:
    """Every number of a JSON document, by its path (``a.b[3].c``)."""
    if isinstance(value, bool):
        return {}
    if isinstance(value, (int, float)):
        return {path: float(value)}
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in numbers(item, f"{path}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in numbers(item, f"{path}[{i}]").items()}
    return {}


def compare(base: Path, this: Path) -> dict:
    """The largest relative differences between the two results.json, over the numbers both have (timings
    left out), and the keys only one has."""
    a, b = (numbers(json.loads((f / "outputs" / "results.json").read_text())) for f in (base, this))
    timing = ("seconds", "_s", "elapsed")
    shared = [k for k in a.keys() & b.keys() if not k.endswith(timing)]
    diffs = sorted(((abs(a[k] - b[k]) / max(abs(a[k]), abs(b[k]), 1e-12), k) for k in shared), reverse=True)
    largest = [{"at": k, "relative_difference": d, "base": a[k], "this": b[k]} for d, k in diffs[:5] if d > 0]
    return {"numbers_compared": len(shared), "max_relative_difference": diffs[0][0] if diffs else 0.0,
            "at": diffs[0][1] if diffs else None, "largest": largest,
            "only_in_base": sorted(a.keys() - b.keys())[:20], "only_in_this": sorted(b.keys() - a.keys())[:20]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=BASE, help="the earlier commit to compare with")
    parser.add_argument("--scale", default="project", help="the simulated scenario's scale (icam demo --scale)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each version, alternating")
    parser.add_argument("--out", type=Path, default=HERE / "speed_vs_base.json")
    args = parser.parse_args()
    from icam.simulate import simulate

    with tempfile.TemporaryDirectory(prefix="icam-speed-") as tmp:
        tmp = Path(tmp)
        base_src = extract(args.base, tmp)
        scenario = tmp / "scenario"
        print(f"simulating the {args.scale}-scale scenario ...", flush=True)
        simulate(scenario, scale=args.scale, seed=42)
        runs: dict[str, list[dict]] = {"base": [], "this": []}
        folders = {}
        for i in range(args.repeats):
            for version, src in (("base", base_src), ("this", None)):
                folder = tmp / f"{version}-{i}"
                shutil.copytree(scenario, folder, ignore=shutil.ignore_patterns(".icam"))
                runs[version].append(icam_run(folder, src))
                folders[version] = folder
                print(f"  {version} run {i + 1}: {runs[version][-1]['seconds']} s, "
                      f"peak {runs[version][-1]['peak_rss_mib']} MiB", flush=True)
        agreement = compare(folders["base"], folders["this"])

    def median(version: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[version]), 1)

    stages = list(runs["this"][0]["stages"])
    rows = {"base": args.base, "this": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                                      capture_output=True, text=True).stdout.strip(),
            "scale": args.scale, "repeats": args.repeats,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "seconds": {v: median(v, "seconds") for v in runs}, "peak_rss_mib": {v: median(v, "peak_rss_mib")
                                                                                  for v in runs},
            "speedup": round(median("base", "seconds") / median("this", "seconds"), 2),
            "stages": {s: {v: statistics.median(r["stages"].get(s, 0.0) for r in runs[v]) for v in runs}
                       for s in stages},
            "agreement": agreement, "runs": runs}
    args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"\n`icam run`, {args.scale} scale, median of {args.repeats} run(s) each, one machine ({rows['machine']})\n")
    print(f"| stage | {args.base} (s) | {rows['this']} (s) | ratio |\n|---|---:|---:|---:|")
    for s, t in rows["stages"].items():
        ratio = f"{t['base'] / t['this']:.1f}" if t["this"] > 0.05 else ""
        print(f"| {s} | {t['base']:.1f} | {t['this']:.1f} | {ratio} |")
    print(f"| **icam run, wall clock** | {rows['seconds']['base']} | {rows['seconds']['this']} | "
          f"**{rows['speedup']}** |")
    print(f"| peak memory (MiB) | {rows['peak_rss_mib']['base']} | {rows['peak_rss_mib']['this']} | |")
    print(f"\nresults.json: {agreement['numbers_compared']} numbers compared; the largest relative differences:")
    for row in agreement["largest"]:
        print(f"- {row['at']}: {row['relative_difference']:.2e} ({row['base']} against {row['this']})")


if __name__ == "__main__":
    main()
