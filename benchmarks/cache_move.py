"""The stage cache at project scale (issue 14): its size, and a moved project folder rerunning from it.

    python benchmarks/cache_move.py [--dir /tmp/h2demo] [--scale project] [--seed 42]

1. ``icam demo --dir DIR`` (simulation + a first run);
2. ``icam cache clear DIR`` then ``icam run DIR``: the first run, every stage computed (timed);
3. the cache's size on disk (``du``) and ``icam cache info DIR``;
4. ``mv DIR DIR-moved`` and ``icam run DIR-moved`` (timed): every cacheable stage must come from the cache;
5. results.json of the two runs compared: the accounting (credits), risk, baseline and forest figures must be
   identical, paths aside.

Each ``icam`` runs in a fresh process (imports and reads count), with its peak resident memory. About
5 minutes and 4 GB at project scale. Prints the figures as JSON and as the Markdown rows of docs/benchmarks.md.
Never part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

# runs the CLI in the child and prints the child's own peak resident memory on stderr
CHILD = """
import resource, sys
from icam.cli import app
try:
    app(sys.argv[1:], prog_name="icam")
finally:
    print(f"PEAK_RSS_KIB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
"""
COMPARED = ("project", "grid", "forest_change", "activity_data", "risk", "baseline", "accounting")


def icam(*args: str) -> dict:
    """``icam ARGS`` in a fresh process: wall-clock seconds, peak RSS (MiB) and its standard output."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"icam {' '.join(map(str, args))} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    peak = int(done.stderr.rsplit("PEAK_RSS_KIB=", 1)[1].split()[0]) / 1024
    return {"seconds": round(seconds, 1), "peak_rss_mib": round(peak), "stdout": done.stdout}


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (what ``du --apparent-size`` counts)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def stages(folder: Path) -> dict[str, dict]:
    """Each stage of the run's manifest: cached or not, seconds."""
    manifest = json.loads((folder / "outputs" / "manifest.json").read_text())
    return {s["name"]: {"cached": s["cached"], "seconds": s["seconds"]} for s in manifest["stages"]}


def results(folder: Path) -> dict:
    """results.json's sections that a rerun from the cache must reproduce, paths made relative to ``folder``."""
    text = (folder / "outputs" / "results.json").read_text().replace(str(folder.resolve()), "<project>")
    data = json.loads(text)
    return {key: data[key] for key in COMPARED}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/h2demo"))
    parser.add_argument("--scale", default="project")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    folder, moved = args.dir.resolve(), Path(f"{args.dir.resolve()}-moved")
    for path in (folder, moved):
        shutil.rmtree(path, ignore_errors=True)

    demo = icam("demo", "--dir", folder, "--scale", args.scale, "--seed", args.seed)
    print(f"demo: {demo['seconds']} s, peak {demo['peak_rss_mib']} MiB", flush=True)
    icam("cache", "clear", folder)
    first = icam("run", folder)
    first_stages, first_results = stages(folder), results(folder)
    cache_bytes = folder_bytes(folder / ".icam" / "cache")
    info = icam("cache", "info", folder)["stdout"]
    print(f"first run: {first['seconds']} s, peak {first['peak_rss_mib']} MiB; cache {cache_bytes / 1e6:.1f} MB\n"
          f"{info}", flush=True)

    folder.rename(moved)
    again = icam("run", moved)
    again_stages, again_results = stages(moved), results(moved)
    not_cached = [name for name, s in again_stages.items() if not s["cached"]]
    same = {key: again_results[key] == first_results[key] for key in COMPARED}
    figures = {
        "scale": args.scale, "seed": args.seed,
        "demo_s": demo["seconds"], "demo_peak_rss_mib": demo["peak_rss_mib"],
        "first_run_s": first["seconds"], "first_run_peak_rss_mib": first["peak_rss_mib"],
        "cache_mb": round(cache_bytes / 1e6, 1),
        "moved_rerun_s": again["seconds"], "moved_rerun_peak_rss_mib": again["peak_rss_mib"],
        "moved_rerun_share": round(again["seconds"] / first["seconds"], 3),
        "recomputed_on_moved_rerun": not_cached,
        "first_run_stage_s": {k: v["seconds"] for k, v in first_stages.items()},
        "moved_rerun_stage_s": {k: v["seconds"] for k, v in again_stages.items()},
        "same_figures": same,
        "credits": again_results["accounting"]["totals"] if again_results["accounting"] else None,
    }
    print(json.dumps(figures, indent=2))
    print("\n| job | seconds | peak memory (MiB) |\n|---|---:|---:|")
    print(f"| first run, {args.scale} scale, empty cache | {first['seconds']} | {first['peak_rss_mib']:,} |")
    print(f"| rerun of the moved folder ({', '.join(not_cached)} recomputed) | {again['seconds']} | "
          f"{again['peak_rss_mib']:,} |")
    if not all(same.values()) or {"landscape", "risk"} & set(not_cached):
        sys.exit("the moved folder's rerun did not reuse the cache or changed a figure")


if __name__ == "__main__":
    main()
