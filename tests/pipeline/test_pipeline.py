"""The stage runner: cache hits and misses by content, the manifest, and all-or-nothing outputs."""

import json

import pytest

from icam.pipeline.publish import publish
from icam.pipeline.runner import MANIFEST_NAME, Pipeline, Stage, file_sha256


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
