"""What the jurisdiction-scale benchmark scripts share: a measuring script run in a fresh process on a
jurisdiction folder, and the command line (``--dir FOLDER``, else a jurisdiction simulated for the run)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def measure_in_child(child_code: str, folder: Path, what: str) -> dict:
    """Run ``child_code`` with ``folder`` as its argument in a fresh Python; the JSON of its last line."""
    done = subprocess.run([sys.executable, "-c", child_code, str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{what} at jurisdiction scale failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(measure, description: str) -> None:
    """``--dir FOLDER``: measure an existing jurisdiction demo folder; else simulate one (seed 42) first."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dir", type=Path, help="an existing jurisdiction-scale demo folder (else simulated)")
    args = parser.parse_args()
    if args.dir is not None:
        print(json.dumps(measure(args.dir), indent=2))
        return
    from icam.simulate.scenario import simulate

    with tempfile.TemporaryDirectory(prefix="icam-bench-jurisdiction-") as tmp:
        folder = Path(tmp) / "jurisdiction"
        simulate(folder, "jurisdiction", 42)
        print(json.dumps(measure(folder), indent=2))
