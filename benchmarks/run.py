"""`make bench`: wall-clock time and peak memory of icam's main jobs, on this machine.

Runs each job in a fresh subprocess (so imports and file reads count) and prints a
Markdown table for docs/benchmarks.md; the raw figures go to benchmarks/results.json.
Never part of `make test`.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ICAM = [sys.executable, "-m", "icam"]


def measure(label: str, args: list[str]) -> dict:
    """Run ``python -m icam ARGS`` in a subprocess; wall-clock seconds and peak RSS (MiB)."""
    t0 = time.perf_counter()
    completed = subprocess.run(ICAM + args, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if completed.returncode != 0:
        sys.exit(f"{label} failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    # ru_maxrss of children is the largest child so far: each job runs after smaller ones
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  {label}: {seconds:.1f} s, peak {peak_mib:.0f} MiB", flush=True)
    return {"job": label, "command": "icam " + " ".join(args), "seconds": round(seconds, 1), "peak_rss_mib": round(peak_mib)}


def main() -> None:
    scales = os.environ.get("BENCH_SCALES", "small project").split()
    rows = []
    with tempfile.TemporaryDirectory(prefix="icam-bench-") as tmp:
        for scale in scales:
            folder = Path(tmp) / scale
            rows.append(measure(f"demo, {scale} scale (simulation + pipeline)", ["demo", "--dir", str(folder), "--scale", scale]))
            rows.append(measure(f"run again, {scale} scale (landscape cached)", ["run", str(folder)]))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    (HERE / "results.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    print(f"\nMachine: {machine}\n")
    print("| job | seconds | peak memory (MiB) |\n|---|---:|---:|")
    for row in rows:
        print(f"| {row['job']} | {row['seconds']} | {row['peak_rss_mib']} |")


if __name__ == "__main__":
    main()
