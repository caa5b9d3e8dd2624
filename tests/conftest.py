"""Shared test helpers: the real open data in ../shared/data, and running the CLI in-process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from icam.core.atomic import write_csv_rows
from icam.landscape.grid import Grid
from icam.risk.candidate_frame import RiskSetting

REPO_ROOT = Path(__file__).resolve().parents[1]
UTM = "EPSG:32718"
X0, Y0 = 300_000.0, 9_300_000.0  # origin of the hand-made test rasters, metres in UTM 18S


def shared_data_dir() -> Path | None:
    """../shared/data beside the repository (or $ICAM_SHARED_DATA), or None where absent."""
    candidate = Path(os.environ.get("ICAM_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    return candidate if candidate.is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    """The shared data folder; the test is skipped where it is absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data not found (set ICAM_SHARED_DATA to its path)")
    return path


def run_cli(*args: str) -> tuple[int, str]:
    """Run ``icam ARGS`` in-process; returns (exit code, combined output)."""
    from typer.testing import CliRunner

    from icam.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def without_seconds(value):
    """A results.json section (dicts and lists) without its "seconds" entries: what differs between two runs of
    the same numbers."""
    if isinstance(value, dict):
        return {k: without_seconds(v) for k, v in value.items() if k != "seconds"}
    return [without_seconds(v) for v in value] if isinstance(value, list) else value


def folder_state(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (the project's outputs, registry and ledger included) → its SHA-256."""
    import hashlib

    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_refused(folder: Path, *args: str, match: str | None = None) -> str:
    """``icam ARGS`` is refused as bad input must be: a non-zero exit, one line ``error: ...`` (matching
    ``match`` where given), no traceback, and every file below ``folder`` byte-identical before and after.
    Returns the line."""
    import re

    from typer.testing import CliRunner

    from icam.cli import app

    before = folder_state(folder)
    result = CliRunner().invoke(app, [str(a) for a in args])
    code, output = result.exit_code, result.output
    lines = output.strip().splitlines()
    assert code != 0, f"accepted: {output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output and len(lines) == 1 and lines[0].startswith("error:"), output
    if match is not None:
        assert re.search(match, lines[0]), lines[0]
    assert folder_state(folder) == before, "files changed by a refused command"
    return lines[0]


def write_tif(path: Path, array, *, crs=UTM, transform=None, nodata=None) -> Path:
    """A plain GeoTIFF of ``array`` (2-D, or bands × rows × cols), 30 m cells from (X0, Y0) unless told."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    transform = transform or Affine(30, 0, X0, 0, -30, Y0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[2], height=array.shape[1], count=array.shape[0],
                       dtype=array.dtype.name, crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(array)
    return path


POSTGRES_URL_ENV = "ICAM_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL server for the ledger tests, from $ICAM_TEST_POSTGRES_URL (postgresql+psycopg://user:pw@host/db).

    Skipped where none is configured, except in CI (``$CI`` set), where a missing server fails the
    tests: `.ci/run` starts one, and CI must not pass with the PostgreSQL tests skipped.
    """
    url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if not url:
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"CI must run the PostgreSQL tests, but {POSTGRES_URL_ENV} is not set (.ci/run starts a "
                        "server and sets it)", pytrace=False)
        pytest.skip(f"no PostgreSQL server configured (set {POSTGRES_URL_ENV}=postgresql+psycopg://user:pw@host/db)")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """An empty ledger database: a SQLite file, or a fresh schema on the PostgreSQL test server (dropped after)."""
    from icam.store.db import sqlite_url

    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "ledger.sqlite")
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@contextmanager
def postgres_schema(base_url: str, prefix: str = "icam_test") -> Iterator[str]:
    """A fresh schema on the PostgreSQL server of ``base_url``: the URL that works in it, then dropped."""
    import uuid

    from sqlalchemy.engine import make_url

    from icam.store.db import make_engine

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def engine(db_url):
    """The database of ``db_url`` migrated to the newest schema (ledger, registry, enforcement)."""
    from icam.store.db import make_engine, upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def twin_generators(seed, skip: int = 0) -> tuple[np.random.Generator, np.random.Generator]:
    """Two numpy generators in one state, ``skip`` 32-bit draws taken from each first (an odd number leaves a
    buffered half): one for compiled draws, one for numpy's."""
    first, second = np.random.default_rng(seed), np.random.default_rng(seed)
    for rng in (first, second):
        rng.integers(0, 2**32, size=skip, dtype=np.uint32)
    return first, second


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    """A small CSV file for import tests (header row, then ``rows``)."""
    return write_csv_rows(path, header, rows)


@pytest.fixture(scope="session")
def full_small_run(tmp_path_factory):
    """The small simulated project (seed 42, every risk model) run once through the whole pipeline: its folder,
    config, stage results and outputs. Shared by the session's report tests: read it, never change it."""
    from types import SimpleNamespace

    from icam.pipeline.config import load_config
    from icam.pipeline.run import run_project
    from icam.simulate import simulate

    folder = tmp_path_factory.mktemp("full-small-run") / "project"
    simulate(folder, "small", 42)
    done = run_project(folder)
    return SimpleNamespace(folder=folder, config=load_config(folder), results=done.results,
                           outputs_dir=done.outputs_dir)


@pytest.fixture(scope="session")
def vm0048_small_run(full_small_run, tmp_path_factory):
    """:func:`full_small_run` rerun with ``[carbon] methodology = "VM0048"`` (the demo's own is the dynamic
    baseline): its folder and results, for the tests of the VT0007 baselines and their renewals."""
    import json
    from types import SimpleNamespace

    from icam.pipeline.run import run_project

    folder = copy_with_methodology(full_small_run.folder, tmp_path_factory.mktemp("vm0048-small-run") / "project",
                                   "VM0048")
    done = run_project(folder)
    assert json.loads((done.outputs_dir / "results.json").read_text())["accounting"]["methodology"] == "VM0048"
    return SimpleNamespace(folder=folder, results=done.results, outputs_dir=done.outputs_dir)


@pytest.fixture(scope="session")
def small_project(full_small_run) -> Path:
    """The folder of the session's small run (:func:`full_small_run`: inputs, outputs, cache, registry, ledger),
    for the tests of what a run does to a project folder: copy it (:func:`copy_project`) before changing it."""
    return full_small_run.folder


def copy_with_methodology(folder: Path, target: Path, methodology: str) -> Path:
    """A copy of a simulated project folder (:func:`copy_project`) with ``[carbon] methodology`` set to
    ``methodology`` in place of the demo's "dynamic" and without its ledger (each methodology issues its own
    credits), ready to be run again."""
    copy_project(folder, target)
    (target / ".icam" / "ledger.sqlite").unlink()
    toml = target / "icam.toml"
    text = toml.read_text(encoding="utf-8")
    assert 'methodology = "dynamic"' in text
    toml.write_text(text.replace('methodology = "dynamic"', f'methodology = "{methodology}"'), encoding="utf-8")
    return target


def copy_project(folder: Path, target: Path) -> Path:
    """A copy of a project folder (inputs, outputs, cache, registry and ledger), file modes kept."""
    import shutil

    shutil.copytree(folder, target, symlinks=True)
    return target


def write_polygons(path: Path, geoms, crs=UTM, **columns) -> Path:
    """A vector file of ``geoms`` (format from the suffix: .gpkg, .shp, .geojson) with attribute ``columns``."""
    import geopandas as gpd

    path.parent.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame(columns, geometry=list(geoms), crs=crs).to_file(path)
    return path


def write_project(folder: Path, sections: dict) -> Path:
    """``folder/icam.toml`` from ``{section: {key: value}}`` (values written as TOML); returns ``folder``."""
    from icam.pipeline.template import toml_value

    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "icam.toml").write_text("\n".join(lines), encoding="utf-8")
    return folder


# `make test` runs two pytest-xdist workers, each file's tests in one (`--dist loadfile`), so that a module's fixture
# (a demo run) is built once. The session's small run is shared by several files: they go to one worker together,
# or each worker would build it (half a minute).
SHARED_RUN_FIXTURES = frozenset({"full_small_run", "vm0048_small_run", "small_project"})
SHARED_RUN_FILES = frozenset({
    "tests/bad_inputs/test_environment.py", "tests/cli/test_check_cli.py", "tests/pipeline/test_pipeline.py",
    "tests/pipeline/test_sizing.py", "tests/pipeline/test_stages_carbon_dynamic.py",
    "tests/pipeline/test_stages_landscape.py",
    "tests/pipeline/test_stages_renewal.py", "tests/report/test_report_accounting.py",
    "tests/report/test_report_checks.py", "tests/report/test_report_risk.py"})


def pytest_collection_modifyitems(config, items):
    """A test file that uses the small run must be in SHARED_RUN_FILES (the scheduler below sees only names).
    The tests marked slow run first: the workers take the files in this order (`--no-loadscope-reorder`), and a
    long file taken last would leave the other worker idle to the end (the ledger's crash test: 80 s in CI)."""
    root = Path(config.rootpath)
    for item in items:
        path = Path(item.path).relative_to(root).as_posix()
        if SHARED_RUN_FIXTURES.intersection(item.fixturenames) and path not in SHARED_RUN_FILES:
            raise pytest.UsageError(f"{path} uses the session's small run: add it to SHARED_RUN_FILES in "
                                    "tests/conftest.py")
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.hookimpl(optionalhook=True)  # xdist's hook: plain pytest (`-p no:xdist`) must not refuse it
def pytest_xdist_make_scheduler(config, log):
    """With ``--dist loadfile``: the files of SHARED_RUN_FILES as one, every other file on its own."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "the session's small run" if path in SHARED_RUN_FILES else path

    return SharedRunScheduling(config, log)


def two_unit_setting() -> RiskSetting:
    """A 90 × 70 px zone of two units: forest lost near its edge and along a road, more in unit 2."""
    rng = np.random.default_rng(5)
    shape = (90, 70)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    units = np.where(cols < 35, 1, 2).astype(np.int32)
    units[:3] = 0  # a strip outside the zone
    road_m = np.abs(rows - 45).astype(np.float32) * 30
    f1 = (rng.random(shape) < 0.9) & (units > 0)
    hazard = 0.05 + 0.3 * np.exp(-road_m / 300) + 0.05 * (units == 2)
    f2 = f1 & (rng.random(shape) > hazard)
    f3 = f2 & (rng.random(shape) > hazard)
    static = {"road_m": np.where(units > 0, road_m, np.nan).astype(np.float32)}
    return RiskSetting(grid=Grid(UTM, Affine(30, 0, 200_000, 0, -30, 9_400_000), *shape), forest=(f1, f2, f3),
                          years=(2010, 2015, 2020), units=units, assessment_cell_ha=9.0, static_covariates=static,
                          sample_per_class=400, spatial_cell_km=0.6)
