"""The stage runner: cache hits and misses by content, the manifest, and all-or-nothing outputs."""

import datetime as dt
import json
import mmap
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import rasterio
from threadpoolctl import threadpool_info, threadpool_limits

from conftest import assert_refused, copy_project, run_cli, without_seconds
from icam.core import spilled
from icam.core.spilled import SpilledRaster
from icam.enforcement.plans import plan_patrol
from icam.pipeline.cache import CACHE_DIR, ENTRY_PICKLE, cache_entries, load
from icam.pipeline.lock import run_lock
from icam.pipeline.publish import publish
from icam.pipeline.run import run_project
from icam.pipeline.runner import MANIFEST_NAME, Pipeline, Stage, file_sha256
from icam.risk import cloglog
from icam.store.db import open_session


def _stages(input_file, calls, fail=False, scale=2):
    def load(_, __):
        calls.append("load")
        return int(input_file.read_text())

    def double(r, _):
        calls.append("double")
        return r["load"] * scale

    def write(r, out):
        if fail:
            raise RuntimeError("disk full")
        (out / "value.txt").write_text(str(r["double"]))
        return None

    return [
        Stage("load", "load", load, input_files=(input_file,)),
        Stage("double", "double", double, deps=("load",), params={"scale": scale}),
        Stage("write", "write", write, deps=("double",), cacheable=False),
    ]


def run_and_publish(pipeline: Pipeline):
    run = pipeline.run()
    publish(run, pipeline.project_dir, None)
    return run


def test_second_run_is_cached_and_input_change_invalidates(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("21")
    calls = []
    first = run_and_publish(Pipeline(tmp_path, _stages(source, calls), {}))
    assert first.results["double"] == 42 and calls == ["load", "double"]
    assert (tmp_path / "outputs" / "value.txt").read_text() == "42"

    calls.clear()
    second = run_and_publish(Pipeline(tmp_path, _stages(source, calls), {}))
    assert calls == [] and [r.cached for r in second.records] == [True, True, False]

    source.write_text("5")
    calls.clear()
    third = run_and_publish(Pipeline(tmp_path, _stages(source, calls), {}))
    assert calls == ["load", "double"] and third.results["double"] == 10

    calls.clear()
    fourth = run_and_publish(Pipeline(tmp_path, _stages(source, calls, scale=3), {}))
    assert calls == ["double"] and fourth.results["double"] == 15  # a parameter change reruns that stage only


def test_manifest_records_inputs_stages_outputs_and_versions(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("21")
    run_and_publish(Pipeline(tmp_path, _stages(source, []), {"answer": 42}))
    manifest = json.loads((tmp_path / "outputs" / MANIFEST_NAME).read_text())
    assert manifest["inputs"] == [{"path": str(source), "bytes": 2, "sha256": file_sha256(source)}]
    assert [s["name"] for s in manifest["stages"]] == ["load", "double", "write"]
    assert manifest["outputs"][0]["path"] == "value.txt"
    assert manifest["config"] == {"answer": 42}
    assert {"icam", "numpy", "rasterio", "gdal", "proj"} <= set(manifest["versions"])


def test_failed_run_leaves_previous_outputs_and_no_debris(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("21")
    run_and_publish(Pipeline(tmp_path, _stages(source, []), {}))
    before = sorted(p.name for p in tmp_path.iterdir())
    source.write_text("7")
    with pytest.raises(RuntimeError, match="disk full"):
        run_and_publish(Pipeline(tmp_path, _stages(source, [], fail=True), {}))
    assert (tmp_path / "outputs" / "value.txt").read_text() == "42"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# --------------------------------------------------------------------------- numbers whatever the BLAS threads


def _blas_threads() -> int:
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def _cloglog_stage(threads_seen: list) -> list[Stage]:
    """A stage fitting the dynamic baseline's cloglog model on 300,000 rows: its products of a tall matrix
    are what two BLAS threads sum in another order."""
    def fit(_, __):
        threads_seen.append(_blas_threads())
        rng = np.random.default_rng(5)
        x = np.column_stack([rng.normal(size=(300_000, 6)), rng.random((300_000, 8)) < 0.12]).astype(float)
        return cloglog.fit(x, rng.random(300_000) < 0.01)

    return [Stage("fit", "fit", fit, cacheable=False)]


def test_a_runs_numbers_do_not_depend_on_the_callers_blas_threads(tmp_path):
    seen = []
    betas = []
    for threads in (2, 1):
        with threadpool_limits(threads, user_api="blas"):
            run = Pipeline(tmp_path, _cloglog_stage(seen), {}).run()
            run.discard()
            betas.append(run.results["fit"])
    assert seen == [1, 1]
    np.testing.assert_array_equal(betas[0], betas[1])


# --------------------------------------------------------------------------- the cache's layout


def _is_memory_mapped(array) -> bool:
    base = array
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


def _mapped_stages(project, calls):
    def compute(_, __):
        calls.append("compute")
        rng = np.random.default_rng(3)
        return {"score": rng.random((600, 500), dtype=np.float32), "mask": rng.random((700, 700)) < 0.3,
                "small": np.arange(5), "table": pd.DataFrame({"a": np.arange(20_000.0)}),
                "file": project / "inputs" / "map.tif", "label": str(project / "inputs" / "map.tif"),
                "elsewhere": "/srv/shared/dem.tif", "rows": np.asfortranarray(rng.random((300, 200))),
                "spilled": SpilledRaster.of(rng.integers(-999, 999, (300, 70), dtype=np.int16))}

    return [Stage("compute", "compute", compute, params={"map": str(project / "inputs" / "map.tif")})]


def test_cached_arrays_come_back_memory_mapped_equal_and_moved_paths_follow(tmp_path, monkeypatch):
    first_dir = tmp_path / "first"
    first_dir.mkdir()
    calls = []
    monkeypatch.setattr(spilled, "CHUNK_VALUES", 999)  # the spilled raster copied in 22 ranges, the last short
    fresh = Pipeline(first_dir, _mapped_stages(first_dir, calls), {}).run()
    fresh.discard()
    entry = next((first_dir / ".icam" / "cache").iterdir())
    # the two float maps, the table's column and the spilled raster are .npy files; the pickle holds the small
    # things and the mask as bits (490,000 cells → 61,250 B, under the 64 KiB of a file of its own)
    assert sorted(p.name for p in entry.iterdir()) == ["000.npy", "001.npy", "002.npy", "003.npy", "entry.json",
                                                       ENTRY_PICKLE]
    assert (entry / ENTRY_PICKLE).stat().st_size < 70_000

    moved = tmp_path / "moved"
    first_dir.rename(moved)
    calls.clear()
    again = Pipeline(moved, _mapped_stages(moved, calls), {}).run()
    again.discard()
    assert calls == [] and again.records[0].cached  # the key holds <project>/inputs/map.tif, not the old path
    old, new = fresh.results["compute"], again.results["compute"]
    for name in ("score", "mask", "small", "rows"):
        assert new[name].dtype == old[name].dtype and np.array_equal(new[name], old[name]), name
    assert _is_memory_mapped(new["score"]) and _is_memory_mapped(new["rows"]) and new["rows"].flags.f_contiguous
    # a raster kept in a temporary file comes back as the array it holds
    expected = np.asarray(old["spilled"])
    assert new["spilled"].dtype == np.int16 and _is_memory_mapped(new["spilled"])
    np.testing.assert_array_equal(new["spilled"], expected)
    assert new["table"].equals(old["table"])
    assert new["file"] == moved / "inputs" / "map.tif" and new["label"] == str(moved / "inputs" / "map.tif")
    assert new["elsewhere"] == "/srv/shared/dem.tif"
    # a stage writing into a cached map writes into its own copy, never into the cache
    new["score"][:] = -1
    calls.clear()
    third = Pipeline(moved, _mapped_stages(moved, calls), {}).run()
    third.discard()
    assert calls == [] and np.array_equal(third.results["compute"]["score"], old["score"])


def test_broken_cache_entry_is_recomputed(tmp_path):
    calls = []
    Pipeline(tmp_path, _mapped_stages(tmp_path, calls), {}).run().discard()
    entry = next((tmp_path / ".icam" / "cache").iterdir())
    (entry / "001.npy").write_bytes(b"not an array")
    calls.clear()
    again = Pipeline(tmp_path, _mapped_stages(tmp_path, calls), {}).run()
    again.discard()
    assert calls == ["compute"] and not again.records[0].cached


# --------------------------------------------------------------------------- a real project's cache


def test_moved_project_reuses_its_cache_with_the_same_figures_and_keeps_the_field_list(small_project, tmp_path):
    copy = copy_project(small_project, tmp_path / "before")
    moved = tmp_path / "after"
    copy.rename(moved)
    # between the runs the rangers take the five highest-priority alerts into a patrol plan
    first = json.loads((small_project / "outputs" / "results.json").read_text().replace(str(small_project),
                                                                                       str(moved)))
    with open_session(moved) as s:
        _, assigned = plan_patrol(s, start=dt.date.fromisoformat(first["enforcement"]["as_of"]), max_alerts=5)
    done = run_project(moved)
    cached = {r.name: r.cached for r in done.run.records}
    assert cached == {"landscape": True, "forest_change": True, "activity_data": True, "counterfactual_estimates": True,
                      "risk": True, "compliance": False, "enforcement": False, "baseline": True, "renewals": True,
                      "accounting": True, "agreements": False, "output_files": False, "counterfactual": True,
                      "outputs": False}
    text = (moved / "outputs" / "results.json").read_text()
    assert str(small_project) not in text and str(copy) not in text
    again = json.loads(text)
    for section in ("project", "grid", "forest_change", "activity_data", "risk", "baseline", "accounting"):
        assert again[section] == first[section], section
    # the rerun raised nothing new, and its field list is the first run's but the five alerts handed to a patrol
    assert again["enforcement"]["alerts"]["new"] == 0 and len(assigned) == 5
    assert again["enforcement"]["field_list"] == first["enforcement"]["field_list"] - 5 > 0
    gpx = (moved / "outputs" / "enforcement" / "alerts_new.gpx").read_text()
    names = set(re.findall(r"<name>([^<]+)</name>", gpx))
    assert len(names) == again["enforcement"]["field_list"] and not names & set(assigned["alert_id"])


def test_risk_map_in_the_cache_is_memory_mapped_and_is_the_published_map(small_project):
    manifest = json.loads((small_project / "outputs" / MANIFEST_NAME).read_text())
    key = next(s["key"] for s in manifest["stages"] if s["name"] == "risk")
    hit, risk = load(small_project / CACHE_DIR, "risk", key, small_project)
    assert hit and _is_memory_mapped(risk.risk_ha_per_year) and risk.risk_ha_per_year.dtype == np.float32
    with rasterio.open(small_project / "outputs" / "rasters" / "risk_ha_per_year.tif") as src:
        published = src.read(1)
    zone = published != -1
    assert zone.sum() > 100_000 and np.array_equal(risk.risk_ha_per_year[zone], published[zone])
    chosen = risk.chosen_candidate
    assert chosen.score_t3 is not None and all(c.score_t3 is None for c in risk.candidates if c is not chosen)
    results = json.loads((small_project / "outputs" / "results.json").read_text())
    assert results["risk"]["risk_map"]["allocated_ha_per_year"] == float(risk.risk_ha_per_year.sum(dtype=np.float64))


def test_cache_info_and_clear(small_project, tmp_path):
    copy = copy_project(small_project, tmp_path / "project")
    cache = copy / CACHE_DIR
    on_disk = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    entries = cache_entries(copy)
    assert sorted(e.stage for e in entries) == ["accounting", "activity_data", "baseline", "counterfactual",
                                                "counterfactual_estimates", "forest_change", "landscape", "renewals",
                                                "risk"]
    assert sum(e.size_bytes for e in entries) == on_disk < 30e6  # 108 MB as whole-stage pickles
    (cache / "landscape-0123456789abcdef0123.pkl").write_bytes(b"x" * 1000)  # an older icam's entry
    code, output = run_cli("cache", "info", copy)
    assert code == 0 and "10 cached stage(s)" in output and "older icam" in output, output
    assert f"{(on_disk + 1000) / 1e6:,.1f} MB" in output
    code, output = run_cli("cache", "clear", copy)
    assert code == 0 and f"{(on_disk + 1000) / 1e6:,.1f} MB freed" in output, output
    assert not cache.exists() and cache_entries(copy) == []
    assert (copy / ".icam" / "ledger.sqlite").exists() and (copy / "outputs" / "results.json").exists()


# --------------------------------------------------------------------------- the run lock

_HOLDER = """
import sys, time
from pathlib import Path
from icam.pipeline.lock import run_lock
with run_lock(Path(sys.argv[1]), command="icam run"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold_lock(folder, seconds):
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(folder), str(seconds)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_refuses_or_waits_and_a_dead_run_frees_the_project(small_project, tmp_path):
    copy = copy_project(small_project, tmp_path / "project")
    holder = _hold_lock(copy, 60)
    try:
        line = assert_refused(copy, "run", copy, match=rf"being run by icam run \(pid {holder.pid}, started ")
        assert "--wait" in line
        assert_refused(copy, "cache", "clear", copy, match=f"pid {holder.pid}")
    finally:
        holder.send_signal(signal.SIGKILL)  # the OS releases a dead process's lock
        holder.wait()
    with run_lock(copy):
        pass

    holder = _hold_lock(copy, 1.5)
    waited_for = []
    started = time.monotonic()
    with run_lock(copy, wait=True, on_wait=waited_for.append):
        assert time.monotonic() - started > 1.0  # the holder's 1.5 s, less its start
    assert [o.pid for o in waited_for] == [holder.pid] and holder.wait(timeout=30) == 0
    assert not (copy / ".icam" / "run.owner.json").exists()


def test_run_on_a_dask_cluster_gives_the_same_numbers(small_project, tmp_path):
    """`icam run DIR --scheduler tcp://HOST:PORT`: the risk stage's block-wise steps go to the cluster's workers as
    tasks, the manifest records the scheduler, and every figure is the in-memory run's."""
    from distributed import LocalCluster

    copy = copy_project(small_project, tmp_path / "project")
    shutil.rmtree(copy / CACHE_DIR)  # the risk stage computed again, not loaded
    first = json.loads((small_project / "outputs" / "results.json").read_text().replace(str(small_project),
                                                                                       str(copy)))
    with LocalCluster(n_workers=1, threads_per_worker=2, dashboard_address=None) as cluster:
        code, output = run_cli("run", copy, "--scheduler", cluster.scheduler_address)
        assert code == 0, output
        blocks = cluster.scheduler.task_prefixes["cut_block"]  # icam.core.blocks._cut_block's tasks (dask drops "_")
        assert blocks.all_durations["compute"] > 0
    again = json.loads((copy / "outputs" / "results.json").read_text())
    for section in ("forest_change", "activity_data", "risk", "baseline", "accounting"):
        assert without_seconds(again[section]) == without_seconds(first[section]), section
    manifest = json.loads((copy / "outputs" / MANIFEST_NAME).read_text())
    assert manifest["execution"] == {"scheduler": cluster.scheduler_address}


def test_an_unknown_scheduler_is_refused_before_the_project_is_touched(small_project, tmp_path):
    copy = copy_project(small_project, tmp_path / "project")
    assert_refused(copy, "run", copy, "--scheduler", "gpu", match="unknown scheduler 'gpu'.*threads, processes")
