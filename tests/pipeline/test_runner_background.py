"""Stages run in the background: a forked process beside the stages after them, joined where one needs them."""

import os
import shutil

import pytest

from icam.core.errors import InputError
from icam.core.forked import fork_available
from icam.pipeline.cache import CACHE_DIR, load
from icam.pipeline.runner import Pipeline, Stage

needs_fork = pytest.mark.skipif(not fork_available(), reason="no fork on this platform")


def _source(folder, value: int):
    (folder / "in.txt").write_text(str(value))
    return folder / "in.txt"


def _stages(source, background_bytes=1.0, fail=False):
    def read(_, __):
        return int(source.read_text())

    def slow_square(r, _):  # the background stage: its pid shows where it ran
        if fail:
            raise InputError("no stratum named peat", "name one of [carbon]'s strata")
        return r["read"] ** 2, os.getpid()

    def halve(r, _):
        return r["read"] / 2

    def total(r, out):
        (out / "total.txt").write_text(str(r["square"][0] + r["halve"]))
        return r["square"][0] + r["halve"]

    return [Stage("read", "read", read, input_files=(source,)),
            Stage("square", "square", slow_square, deps=("read",), background=lambda r: background_bytes),
            Stage("halve", "halve", halve, deps=("read",)),
            Stage("total", "total", total, deps=("square", "halve"), cacheable=False)]


@needs_fork
def test_a_background_stage_runs_in_another_process_and_joins_where_it_is_needed(tmp_path):
    source = _source(tmp_path, 12)
    seen = []
    run = Pipeline(tmp_path, _stages(source), {}).run(lambda stage, state: seen.append((stage.name, state)))
    assert run.results["total"] == 12 ** 2 + 6 and (run.staging_dir / "total.txt").read_text() == "150.0"
    assert run.results["square"][1] != os.getpid()
    # started before "halve", done when "total" needed it; the records keep the stages' order
    assert seen.index(("square", "start")) < seen.index(("halve", "start")) < seen.index(("square", "done"))
    assert [r.name for r in run.records] == ["read", "square", "halve", "total"]
    key = next(r.key for r in run.records if r.name == "square")
    assert load(tmp_path / CACHE_DIR, "square", key, tmp_path) == (True, (144, run.results["square"][1]))
    run.discard()
    again = Pipeline(tmp_path, _stages(source), {}).run()
    assert again.records[1].cached and again.results["square"] == run.results["square"]
    again.discard()


def test_a_stage_that_needs_more_memory_than_half_the_available_runs_in_place(tmp_path):
    source = _source(tmp_path, 3)
    run = Pipeline(tmp_path, _stages(source, background_bytes=1e18), {}).run()
    assert run.results["square"] == (9, os.getpid()) and run.results["total"] == 10.5
    run.discard()


@needs_fork
def test_a_background_stages_error_is_raised_and_nothing_is_left(tmp_path):
    source = _source(tmp_path, 3)
    with pytest.raises(InputError, match="no stratum named peat; name one of"):
        Pipeline(tmp_path, _stages(source, fail=True), {}).run()
    assert not list(tmp_path.glob(".outputs-staging-*"))


_prepared: dict = {}  # what a stage's before_fork computed in this process (its forked process inherits it)


def _square_of_prepared(r, _):
    return _prepared.get(r["read"]), os.getpid()


@needs_fork
def test_what_is_prepared_before_the_fork_is_inherited_and_stays_here(tmp_path):
    source = _source(tmp_path, 7)
    _prepared.clear()
    calls = []

    def prepare(r):
        calls.append(os.getpid())
        _prepared[r["read"]] = r["read"] ** 2

    stages = [Stage("read", "read", lambda _, __: int(source.read_text()), input_files=(source,)),
              Stage("square", "square", _square_of_prepared, deps=("read",), background=lambda r: 1.0,
                    before_fork=prepare)]
    run = Pipeline(tmp_path, stages, {}).run()
    assert run.results["square"][0] == 49 and run.results["square"][1] != os.getpid()
    assert calls == [os.getpid()] and _prepared == {7: 49}  # computed once, here, where later stages find it
    run.discard()
    Pipeline(tmp_path, stages, {}).run().discard()  # from the cache: nothing to fork, nothing prepared
    assert calls == [os.getpid()]


def _chain(source, cube_cacheable=False, cube_bytes=1.0):
    """read → square (background) → cube (follows square: needs its result) → halve (in place) → total."""
    stages = _stages(source)
    cube = Stage("cube", "cube", lambda r, _: (r["square"][0] * r["read"], os.getpid()), deps=("read", "square"),
                 background=lambda r: cube_bytes, follows="square", cacheable=cube_cacheable)
    total = Stage("total", "total", lambda r, _: r["cube"][0] + r["halve"], deps=("cube", "halve"), cacheable=False)
    return [*stages[:2], cube, stages[2], total]


@needs_fork
def test_a_follower_runs_after_its_stage_in_the_same_background_process(tmp_path):
    source = _source(tmp_path, 4)
    seen = []
    run = Pipeline(tmp_path, _chain(source), {}).run(lambda stage, state: seen.append((stage.name, state)))
    square, cube = run.results["square"], run.results["cube"]
    assert square[0] == 16 and cube[0] == 64 and run.results["total"] == 64 + 2
    assert square[1] == cube[1] != os.getpid()  # one forked process, the follower after its stage
    # both started before "halve", done when "total" needed the follower
    assert seen.index(("cube", "start")) < seen.index(("halve", "start")) < seen.index(("cube", "done"))
    assert [r.name for r in run.records] == ["read", "square", "cube", "halve", "total"]
    run.discard()


def test_a_follower_runs_in_its_place_where_its_stage_cannot_fork(tmp_path):
    source = _source(tmp_path, 5)
    # the two together need more than half the memory available: both run here, in order
    run = Pipeline(tmp_path, _chain(source, cube_bytes=1e18), {}).run()
    assert run.results["square"] == (25, os.getpid()) and run.results["cube"] == (125, os.getpid())
    run.discard()


@needs_fork
def test_a_cached_follower_is_loaded_in_its_place(tmp_path):
    source = _source(tmp_path, 2)
    first = Pipeline(tmp_path, _chain(source, cube_cacheable=True), {}).run()
    first.discard()
    # square's cache removed: it runs again in the background, alone; cube, still cached, is loaded here
    (square_cache,) = (tmp_path / CACHE_DIR).glob("square-*")
    shutil.rmtree(square_cache)
    again = Pipeline(tmp_path, _chain(source, cube_cacheable=True), {}).run()
    cached = {r.name: r.cached for r in again.records}
    assert not cached["square"] and again.results["square"][1] != os.getpid() and cached["cube"]
    assert again.results["cube"] == first.results["cube"] and again.results["total"] == 8 + 1
    again.discard()
