"""The stage runner: content-hash caching, the run manifest, progress and atomic outputs.

A stage is a function of the results of the stages it depends on. Its cache key is the
SHA-256 of its name, icam's version, its parameters, the digests of its input files and
the keys of its dependencies: change any of them and the stage (and everything after it)
runs again; otherwise its result is loaded from ``.icam/cache``.

Outputs are never half-written: every stage writes into a staging folder beside
``outputs/``; :mod:`icam.pipeline.publish` swaps it in for ``outputs/`` once the registry and
ledger writes of the run are ready to commit. A failed run leaves the previous outputs as they were.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pickle
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icam import __version__
from icam.core.atomic import atomic_write_bytes, atomic_write_text

CACHE_DIR = ".icam/cache"
OUTPUTS_DIR = "outputs"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Stage:
    """One step. ``func(results, out_dir)`` receives the results of ``deps`` by name and the
    staging folder to write files into; what it returns is this stage's result."""

    name: str
    description: str
    func: Callable[[Mapping[str, Any], Path], Any]
    deps: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    input_files: tuple[Path, ...] = ()
    cacheable: bool = True


@dataclass
class StageRecord:
    name: str
    key: str
    cached: bool
    seconds: float


@dataclass
class RunResult:
    """Every stage's result, how each ran, and the staging folder holding the outputs to publish."""

    results: dict[str, Any]
    records: list[StageRecord]
    staging_dir: Path
    outputs_dir: Path
    manifest: dict

    def discard(self) -> None:
        """Remove the staging folder (after publishing, or instead of it)."""
        shutil.rmtree(self.staging_dir, ignore_errors=True)


def file_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_json_default, separators=(",", ":"))


def library_versions() -> dict[str, str]:
    """Versions of icam and of the libraries whose behaviour shapes the numbers."""
    import geopandas
    import numpy
    import pydantic
    import pyproj
    import rasterio
    import scipy
    import shapely

    return {
        "icam": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
        "pyproj": pyproj.__version__,
        "proj": pyproj.proj_version_str,
        "shapely": shapely.__version__,
        "geopandas": geopandas.__version__,
        "pydantic": pydantic.__version__,
    }


class Pipeline:
    """Runs stages in order with caching, then publishes the staged outputs in one rename."""

    def __init__(self, project_dir: Path, stages: Iterable[Stage], config_dump: Mapping[str, Any]):
        self.project_dir = Path(project_dir)
        self.stages = list(stages)
        self.config_dump = dict(config_dump)
        names = [s.name for s in self.stages]
        for stage in self.stages:
            missing = [d for d in stage.deps if d not in names[: names.index(stage.name)]]
            if missing:
                raise ValueError(f"stage {stage.name} depends on {missing}, which do not run before it")

    @property
    def cache_dir(self) -> Path:
        return self.project_dir / CACHE_DIR

    def _key(self, stage: Stage, keys: Mapping[str, str], digests: Mapping[str, str]) -> str:
        payload = {
            "stage": stage.name,
            "icam": __version__,
            "params": stage.params,
            "inputs": {str(p): digests[str(p)] for p in stage.input_files},
            "deps": {d: keys[d] for d in stage.deps},
        }
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()

    def _load_cached(self, stage: Stage, key: str) -> tuple[bool, Any]:
        path = self.cache_dir / f"{stage.name}-{key[:20]}.pkl"
        if not (stage.cacheable and path.exists()):
            return False, None
        try:
            with open(path, "rb") as f:
                return True, pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            path.unlink(missing_ok=True)  # a stale or broken cache entry is recomputed
            return False, None

    def _store(self, stage: Stage, key: str, result: Any) -> None:
        if not stage.cacheable:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for old in self.cache_dir.glob(f"{stage.name}-*.pkl"):
            old.unlink(missing_ok=True)
        atomic_write_bytes(self.cache_dir / f"{stage.name}-{key[:20]}.pkl",
                           pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))

    def run(self, on_stage: Callable[[Stage, str], None] | None = None) -> RunResult:
        """Run every stage into a new staging folder; ``on_stage(stage, 'start'|'cached'|'done')`` reports
        progress. The caller publishes the result (:func:`icam.pipeline.publish.publish`) or discards it."""
        started = dt.datetime.now(dt.timezone.utc)
        inputs = sorted({p for s in self.stages for p in s.input_files})
        digests = {str(p): file_sha256(p) for p in inputs}
        outputs = self.project_dir / OUTPUTS_DIR
        staging = Path(tempfile.mkdtemp(dir=self.project_dir, prefix=".outputs-staging-"))
        results: dict[str, Any] = {}
        keys: dict[str, str] = {}
        records: list[StageRecord] = []
        try:
            for stage in self.stages:
                key = self._key(stage, keys, digests)
                keys[stage.name] = key
                t0 = time.perf_counter()
                hit, result = self._load_cached(stage, key)
                if on_stage:
                    on_stage(stage, "cached" if hit else "start")
                if not hit:
                    result = stage.func({d: results[d] for d in stage.deps}, staging)
                    self._store(stage, key, result)
                results[stage.name] = result
                records.append(StageRecord(stage.name, key, hit, time.perf_counter() - t0))
                if on_stage:
                    on_stage(stage, "done")
            manifest = self._manifest(started, inputs, digests, records, staging)
            atomic_write_text(staging / MANIFEST_NAME, json.dumps(manifest, indent=2, default=_json_default))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return RunResult(results, records, staging, outputs, manifest)

    def _manifest(self, started, inputs, digests, records, staging: Path) -> dict:
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        return {
            "icam_version": __version__,
            "started_utc": started.isoformat(timespec="seconds"),
            "finished_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "project_dir": str(self.project_dir.resolve()),
            "versions": library_versions(),
            "config": json.loads(canonical_json(self.config_dump)),
            "inputs": [{"path": str(p), "bytes": p.stat().st_size, "sha256": digests[str(p)]} for p in inputs],
            "stages": [
                {"name": r.name, "key": r.key, "cached": r.cached, "seconds": round(r.seconds, 3)} for r in records
            ],
            "outputs": [
                {"path": str(p.relative_to(staging)), "bytes": p.stat().st_size, "sha256": file_sha256(p)} for p in files
            ],
        }


@dataclass(frozen=True)
class CacheEntry:
    """One cached stage result: the stage, the start of its key, and its size on disk."""

    stage: str
    key: str
    size_bytes: int


def _entry_paths(project_dir: Path) -> dict[str, list[Path]]:
    folder = Path(project_dir) / CACHE_DIR
    entries: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*")) if folder.is_dir() else ():
        entries.setdefault(path.name.split(".")[0], []).append(path)
    return entries


def cache_entries(project_dir: Path) -> list[CacheEntry]:
    """The cached stage results of a project."""
    out = []
    for name, paths in _entry_paths(project_dir).items():
        stage, _, key = name.rpartition("-")
        size = sum(p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
                   for p in paths)
        out.append(CacheEntry(stage or name, key, size))
    return out


def clear_cache(project_dir: Path) -> int:
    """Delete a project's cached stage results; returns the bytes freed."""
    freed = sum(e.size_bytes for e in cache_entries(project_dir))
    shutil.rmtree(Path(project_dir) / CACHE_DIR, ignore_errors=True)
    return freed
