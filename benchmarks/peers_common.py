"""What the peer-tool benchmark scripts share: the data folder, step timing, GDAL's `with`, the JSON report."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ICAM_SHARED_DATA", REPO.parent / "shared" / "data")) / "guadeloupe"
TIMES: dict[str, float] = {}


def timed(label, fn, *args, **kwargs):
    """Call ``fn`` and record its wall-clock seconds under ``label`` in TIMES."""
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    TIMES[label] = round(time.perf_counter() - t0, 3)
    return result


def allow_with_on_gdal_datasets(gdal) -> None:
    """GDAL < 3.8 bindings (Debian 12 has 3.6) lack `with gdal.Open()`, which both peer tools use."""
    if not hasattr(gdal.Dataset, "__enter__"):
        gdal.Dataset.__enter__ = lambda self: self
        gdal.Dataset.__exit__ = lambda self, *exc: None


def report(doc: dict, json_path: Path | None) -> None:
    """Print the figures as JSON, and write them to ``json_path`` when given."""
    text = json.dumps(doc, indent=1, default=float)
    if json_path:
        json_path.write_text(text + "\n")
    print(text)
