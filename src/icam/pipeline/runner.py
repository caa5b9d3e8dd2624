"""The stage runner: content-hash caching, the run manifest, progress and atomic outputs.

A stage is a function of the results of the stages it depends on. Its cache key is the
SHA-256 of its name, icam's version, its parameters, the digests of its input files and
the keys of its dependencies: change any of them and the stage (and everything after it)
runs again; otherwise its result is loaded from ``.icam/cache`` (:mod:`icam.pipeline.cache`).
Paths inside the project folder enter the key relative to it (a parameter naming
``/data/alto-mayo/inputs/dem.tif`` is hashed as ``<project>/inputs/dem.tif``), so a project
folder that is moved or copied elsewhere keeps its cache.

Outputs are never half-written: every stage writes into a staging folder beside
``outputs/``; :mod:`icam.pipeline.publish` swaps it in for ``outputs/`` once the registry and
ledger writes of the run are ready to commit. A failed run leaves the previous outputs as they were.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import platform
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas
import numpy
import pydantic
import pyproj
import rasterio
import scipy
import shapely
from threadpoolctl import threadpool_limits

from icam import __version__
from icam.core.atomic import atomic_write_text, create_folder
from icam.core.forked import available_bytes, start_background
from icam.core.process import release_freed_memory
from icam.pipeline import cache
from icam.pipeline.cache import CACHE_DIR

OUTPUTS_DIR = "outputs"
STAGING_PREFIX = ".outputs-staging-"
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
    # the bytes the stage needs, from its dependencies' results, where it may run in the background (a forked
    # process, beside the stages after it, until one needs its result): it then does when half the memory
    # available holds them, working once the background processes started before it have ended. None: it runs
    # in its place.
    background: Callable[[Mapping[str, Any]], float] | None = None
    # what to compute here, from its dependencies' results, before the stage forks into the background: the
    # forked process inherits it, and the stages after it find it too, instead of one copy in each process
    before_fork: Callable[[Mapping[str, Any]], None] | None = None
    # the background stage whose forked process runs this one too, right after it, where all this one needs is
    # there when that one forks (its ``background``: the bytes it adds); else it runs in its place
    follows: str | None = None


@dataclass
class StageRecord:
    """How one stage ran: its cache key, whether it came from the cache, and its wall-clock seconds (in its
    forked process, for one run in the background)."""

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
    """The SHA-256 of a file's content, hex."""
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
    """``value`` as compact JSON with sorted keys (paths and dates as strings): the text a cache key hashes."""
    return json.dumps(value, sort_keys=True, default=_json_default, separators=(",", ":"))


def library_versions() -> dict[str, str]:
    """Versions of icam and of the libraries whose behaviour shapes the numbers."""

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


def _run_in_turn(stages: list[Stage], results: Mapping[str, Any], staging: Path) -> list[tuple[Any, float]]:
    """Each stage's result and seconds, one after the other (a background process's stages, :class:`Pipeline`)."""
    done: dict[str, Any] = {}
    out = []
    for stage in stages:
        t0 = time.perf_counter()
        done[stage.name] = stage.func({d: done[d] if d in done else results[d] for d in stage.deps}, staging)
        out.append((done[stage.name], time.perf_counter() - t0))
    return out


class Pipeline:
    """Runs stages in order with caching, then publishes the staged outputs in one rename."""

    def __init__(self, project_dir: Path, stages: Iterable[Stage], config_dump: Mapping[str, Any],
                 execution: Mapping[str, Any] | None = None):
        self.project_dir = Path(project_dir)
        self.stages = list(stages)
        self.config_dump = dict(config_dump)
        self.execution = dict(execution or {})  # how the run was executed (the scheduler): in the manifest only
        names = [s.name for s in self.stages]
        for stage in self.stages:
            missing = [d for d in stage.deps if d not in names[: names.index(stage.name)]]
            if missing:
                raise ValueError(f"stage {stage.name} depends on {missing}, which do not run before it")

    @property
    def cache_dir(self) -> Path:
        return self.project_dir / CACHE_DIR

    def _key(self, stage: Stage, keys: Mapping[str, str], digests: Mapping[str, str]) -> str:
        roots = cache.project_roots(self.project_dir)
        payload = {
            "stage": stage.name,
            "icam": __version__,
            "params": cache.portable(json.loads(canonical_json(stage.params)), roots),
            "inputs": {cache.portable(str(p), roots): digests[str(p)] for p in stage.input_files},
            "deps": {d: keys[d] for d in stage.deps},
        }
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()

    def _load_cached(self, stage: Stage, key: str) -> tuple[bool, Any]:
        if not stage.cacheable:
            return False, None
        return cache.load(self.cache_dir, stage.name, key, self.project_dir)

    def _store(self, stage: Stage, key: str, result: Any) -> None:
        if stage.cacheable:
            cache.store(self.cache_dir, stage.name, key, result, self.project_dir)

    def run(self, on_stage: Callable[[Stage, str], None] | None = None) -> RunResult:
        """Run every stage into a new staging folder; ``on_stage(stage, 'start'|'cached'|'done')`` reports
        progress. The caller publishes the result (:func:`icam.pipeline.publish.publish`) or discards it.

        The stages' linear algebra runs on one BLAS thread, in this process and the ones it forks: a matrix
        product's sums, split among threads, change in their last digits with the threads' number (the dynamic
        baseline's k moved in its tenth digit between one and two OpenBLAS threads), and the same inputs must
        give the same numbers wherever a verifier runs them (``icam run`` already starts with one; a script, a
        notebook or the web app need not)."""
        with threadpool_limits(1, user_api="blas"):
            return self._run(on_stage)

    def _run(self, on_stage: Callable[[Stage, str], None] | None) -> RunResult:
        started = dt.datetime.now(dt.timezone.utc)
        inputs = sorted({p for s in self.stages for p in s.input_files})
        digests = {str(p): file_sha256(p) for p in inputs}
        outputs = self.project_dir / OUTPUTS_DIR
        staging = create_folder(self.project_dir, STAGING_PREFIX)  # the user's umask, not mkdtemp's 0700
        results: dict[str, Any] = {}
        keys: dict[str, str] = {}
        records: dict[str, StageRecord] = {}
        running: dict[str, tuple[list[Stage], Any]] = {}  # background processes by first stage: (stages, process)
        joined: dict[str, str] = {}  # a stage running in a background process → that process's first stage
        try:
            for stage in self.stages:
                if stage.name in joined:
                    continue
                for dep in stage.deps:
                    if (first := joined.get(dep, dep)) in running:  # its background process's first stage
                        self._finish(running.pop(first), keys, results, records, on_stage)
                key = self._key(stage, keys, digests)
                keys[stage.name] = key
                t0 = time.perf_counter()
                hit, result = self._load_cached(stage, key)
                if on_stage:
                    on_stage(stage, "cached" if hit else "start")
                deps = {d: results[d] for d in stage.deps}
                if not hit and (group := self._background_group(stage, results, keys, digests)):
                    if stage.before_fork is not None:
                        stage.before_fork(deps)
                    for follower in group[1:]:
                        joined[follower.name] = stage.name
                        if on_stage:
                            on_stage(follower, "start")
                    # one background process at a time: this one forks now, with what it needs, and works once
                    # those running end (at a jurisdiction the compliance and enforcement's 2.5 GB beside the
                    # counterfactual estimates' and the run's were the peak; at project scale the estimates end first)
                    running[stage.name] = (group, start_background(
                        functools.partial(_run_in_turn, group, results, staging),
                        after=[process for _, process in running.values()]))
                    continue
                if not hit:
                    result = stage.func(deps, staging)
                    self._store(stage, key, result)
                results[stage.name] = result
                release_freed_memory()
                records[stage.name] = StageRecord(stage.name, key, hit, time.perf_counter() - t0)
                if on_stage:
                    on_stage(stage, "done")
            while running:
                self._finish(running.pop(next(iter(running))), keys, results, records, on_stage)
            ordered = [records[s.name] for s in self.stages]
            manifest = self._manifest(started, inputs, digests, ordered, staging)
            atomic_write_text(staging / MANIFEST_NAME, json.dumps(manifest, indent=2, default=_json_default))
        except BaseException:
            for _, process in running.values():
                process.cancel()
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return RunResult(results, ordered, staging, outputs, manifest)

    def _background_group(self, first: Stage, results: Mapping[str, Any], keys: dict[str, str], digests
                          ) -> list[Stage]:
        """``first`` and the stages to run after it in its background process (:attr:`Stage.follows`: each needs
        only results there now or of the stages before it in that process, and is not in the cache), their keys
        added to ``keys``; none where ``first`` runs in its place (no ``background``, or half the memory available
        cannot hold what they all need)."""
        if first.background is None:
            return []
        group = [first]
        for stage in self.stages[self.stages.index(first) + 1:]:
            if stage.follows != first.name or stage.background is None:
                continue
            if not all(d in results or d in {s.name for s in group} for d in stage.deps):
                break
            key = self._key(stage, keys, digests)
            if self._load_cached(stage, key)[0]:
                break
            keys[stage.name] = key
            group.append(stage)
        needed = sum(s.background({d: results[d] for d in s.deps if d in results}) for s in group)
        free = available_bytes()
        if free is None or needed > free / 2:
            for stage in group[1:]:
                del keys[stage.name]
            return []
        return group

    def _finish(self, running: tuple[list[Stage], Any], keys, results, records, on_stage) -> None:
        """The results of a background process's stages, waited for, cached and recorded."""
        group, process = running
        try:
            outcome = process.result()
        except BaseException:
            process.cancel()  # out of the run's list already: stopped here (Ctrl-C while waiting, or its error)
            raise
        for stage, (result, seconds) in zip(group, outcome):
            results[stage.name] = result
            self._store(stage, keys[stage.name], result)
            records[stage.name] = StageRecord(stage.name, keys[stage.name], False, seconds)
            if on_stage:
                on_stage(stage, "done")

    def _manifest(self, started, inputs, digests, records, staging: Path) -> dict:
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        return {
            "icam_version": __version__,
            "started_utc": started.isoformat(timespec="seconds"),
            "finished_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "project_dir": str(self.project_dir.resolve()),
            "versions": library_versions(),
            "config": json.loads(canonical_json(self.config_dump)),
            "execution": self.execution,
            "inputs": [{"path": str(p), "bytes": p.stat().st_size, "sha256": digests[str(p)]} for p in inputs],
            "stages": [
                {"name": r.name, "key": r.key, "cached": r.cached, "seconds": round(r.seconds, 3)} for r in records
            ],
            "outputs": [
                {"path": str(p.relative_to(staging)), "bytes": p.stat().st_size, "sha256": file_sha256(p)}
                for p in files
            ],
        }
