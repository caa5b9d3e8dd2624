"""The stages of ``icam run``: landscape → forest change → rasters, tables, results.json, report.

Later capabilities (area estimation, risk, carbon, agreements, enforcement) add their
stages here, to the same pipeline and report.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from icam import __version__
from icam.core.atomic import atomic_write_text
from icam.core.blocks import BLOCKWISE_MIN_PX, block_executor
from icam.core.errors import InputError
from icam.forest.activity import CLASS_NAMES, ActivityAssessment, activity_zone, assess
from icam.forest.zones import ZoneStats, zone_statistics
from icam.landscape import Landscape
from icam.landscape.grid import Grid
from icam.landscape.raster import write_cog
from icam.pipeline.config import IcamConfig
from icam.pipeline.inputs import config_input_files, section_input_files
from icam.pipeline.runner import Stage
from icam.pipeline.stages.agreements import run_agreements, with_money
from icam.pipeline.stages.agreements import write_outputs as write_agreements
from icam.pipeline.stages.carbon import (
    account_project,
    accounting_rows,
    carbon_input_files,
    strata_config,
    stratum_masks,
)
from icam.pipeline.stages.carbon_dynamic import prepare_matching_landscape
from icam.pipeline.stages.counterfactual import check_counterfactual, estimate_counterfactual
from icam.pipeline.stages.enforcement import run_enforcement
from icam.pipeline.stages.enforcement import write_outputs as write_enforcement
from icam.pipeline.stages.landscape import load_landscape
from icam.pipeline.stages.renewal import renewals
from icam.pipeline.stages.risk import (
    build_baseline,
    expected_validity_ha,
    kept,
    risk_setting,
    static_covariates,
    write_risk_outputs,
    zone_mask,
)
from icam.report.build import write_report
from icam.risk.candidates import run_candidates

RESULTS_NAME = "results.json"
REPORT_NAME = "report.html"


def key_years(config: IcamConfig, epochs: tuple[int, ...]) -> list[int]:
    """Years for the forest-cover rasters: first epoch, project start (if an epoch), last epoch."""
    years = [epochs[0], epochs[-1]]
    if config.periods is not None and config.periods.project_start.year in epochs:
        years.insert(1, config.periods.project_start.year)
    return sorted(set(years))


def _write_rasters(config: IcamConfig, landscape: Landscape, out_dir: Path) -> list[str]:
    forest, grid = landscape.forest, landscape.grid
    folder = out_dir / "rasters"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for year in key_years(config, forest.epochs):
        cover = np.where(forest.valid, forest.forest_in(year), np.uint8(255))  # uint8: no int64 raster between
        name = f"rasters/forest_{year}.tif"
        write_cog(out_dir / name, cover, grid, nodata=255)
        written.append(name)
    loss_year = np.where(forest.valid, forest.loss_year(), 65535).astype(np.uint16)
    write_cog(out_dir / "rasters/loss_year.tif", loss_year, grid, nodata=65535)
    written.append("rasters/loss_year.tif")
    return written


def _write_tables(stats: ZoneStats, out_dir: Path) -> list[str]:
    names = ["tables/forest_area_by_year.csv", "tables/loss_by_period.csv", "tables/transitions.csv"]
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    stats.write_csvs(*(out_dir / n for n in names))
    return names


def _activity_data(config: IcamConfig, landscape: Landscape) -> list[ActivityAssessment]:
    """Sample-based estimates for every configured period (none when [activity_data] is absent)."""
    if config.activity_data is None:
        return []
    zone_name = config.activity_data.zone
    zone = activity_zone(landscape.zones, landscape.grid.shape, zone_name)
    zones = landscape.zones if config.activity_data.by_zone else None
    return [assess(a.name, a.start_year, a.end_year, a.samples, landscape.forest, landscape.grid, zone_name, zone,
                   zones) for a in config.activity_data.assessments]


def _write_activity_tables(assessments: list[ActivityAssessment], out_dir: Path) -> list[str]:
    if not assessments:
        return []
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    names = ["tables/activity_data.csv", "tables/error_matrices.csv"]
    with open(out_dir / names[0], "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["assessment", "start_year", "end_year", "class", "class_name", "mapped_px", "mapped_area_ha",
                         "area_ha", "se_ha", "ci95_ha", "users_accuracy", "users_accuracy_ci95",
                         "producers_accuracy", "producers_accuracy_ci95"])
        for a in assessments:
            for code, name in CLASS_NAMES.items():
                e = a.estimate
                writer.writerow([a.name, a.start_year, a.end_year, code, name, a.mapped_px[code],
                                 f"{a.mapped_area_ha[code]:.4f}"] + [
                    "" if (v := getattr(e, field).get(code)) is None else f"{v:.6g}"
                    for field in ("area_ha", "se_ha", "ci95_ha", "users_accuracy", "users_accuracy_ci95",
                                  "producers_accuracy", "producers_accuracy_ci95")])
    with open(out_dir / names[1], "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["assessment", "map_class", "ref_class", "sample_count", "area_proportion"])
        for a in assessments:
            counts, props = a.estimate.error_matrix_counts, a.estimate.error_matrix_proportions
            for i, row in enumerate(counts.rows):
                for j, col in enumerate(counts.cols):
                    writer.writerow([a.name, row, col, int(counts.values[i][j]), f"{props.values[i][j]:.6g}"])
    return names


def _write_accounting_tables(accounting, out_dir: Path) -> list[str]:
    tables = accounting_rows(accounting)
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        with open(out_dir / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return list(tables)


def build_results(config: IcamConfig, landscape: Landscape, stats: ZoneStats, files: Mapping[str, list[str]],
                  assessments: list[ActivityAssessment] = (), risk=None, baseline=None, accounting=None,
                  agreements=None, enforcement=None, counterfactual=None) -> dict:
    """The content of ``outputs/results.json`` (schema: ``icam/schemas/results.schema.json``)."""
    areas = stats.zone_area_ha
    return {
        "schema_version": 1,
        "icam_version": __version__,
        "project": {
            "name": config.project.name,
            "vcs_id": config.project.vcs_id,
            "description": config.project.description,
            "area_ha": areas.get("project_area"),
            "leakage_belt_area_ha": areas.get("leakage_belt"),
            "reference_region_area_ha": areas.get("reference_region"),
        },
        "grid": landscape.grid.to_dict(),
        "periods": json.loads(config.periods.model_dump_json()) if config.periods else None,
        "forest_change": {
            "source": landscape.forest.source,
            "annual": landscape.forest.is_annual,
            **stats.to_dict(),
        },
        "activity_data": {
            "zone": config.activity_data.zone,
            "assessments": [a.to_dict() for a in assessments],
        } if config.activity_data is not None else None,
        "risk": {"zone": config.risk.zone, **risk.to_dict()} if risk is not None else None,
        "baseline": baseline.to_dict() if baseline is not None else None,
        "accounting": accounting.to_dict(config) if accounting is not None else None,
        "agreements": agreements.summary if agreements is not None else None,
        "enforcement": enforcement.summary if enforcement is not None else None,
        "counterfactual": counterfactual,
        "outputs": {kind: list(names) for kind, names in files.items()},
    }


class StageConfig:
    """The sections of ``icam.toml`` that one stage declares it reads.

    Reading any other section raises, so the stage's cache key, which hashes exactly these sections
    (:meth:`params`), covers everything the stage reads.
    """

    def __init__(self, config: IcamConfig, sections: tuple[str, ...]):
        self._config, self._sections = config, frozenset(sections)

    def __getattr__(self, name: str):
        if name in type(self._config).model_fields and name not in self._sections:
            raise AttributeError(f"this stage reads [{name}] of icam.toml without declaring it")
        return getattr(self._config, name)

    def params(self) -> dict:
        """The declared sections, as JSON (the stage's parameters in its cache key and the manifest)."""
        return json.loads(self._config.model_dump_json(include=set(self._sections)))


def _landscape(c, run, r, out):
    return load_landscape(c, progress=run.progress)


def _forest_change(c, run, r, out) -> ZoneStats:
    return zone_statistics(r["landscape"])


def _activity(c, run, r, out) -> list[ActivityAssessment]:
    return _activity_data(c, r["landscape"])


def _risk(c, run, r, out):
    if c.risk is None:
        return None
    landscape = r["landscape"]
    expected = expected_validity_ha(c, landscape) if c.baseline is not None else None
    validity = c.baseline.validity_years if c.baseline is not None else 6
    with run.blocks(landscape.grid) as pool:
        return kept(run_candidates(risk_setting(c, landscape), list(c.risk.models), expected, validity,
                                   progress=run.progress, pool=pool))


def _baseline(c, run, r, out):
    return build_baseline(c, r["landscape"], r["risk"]) if c.baseline is not None else None


def _renewals(c, run, r, out):
    with run.blocks(r["landscape"].grid) as pool:
        return renewals(c, r["landscape"], progress=run.progress, pool=pool)


def _accounting(c, run, r, out):
    if c.carbon is None:
        return None
    return account_project(c, r["landscape"], r["risk"], r["baseline"], r["activity_data"], r["renewals"])


@dataclass(frozen=True)
class _Run:
    """What every stage of one run may use beside its sections and its dependencies' results: the progress
    callback, the project folder (its registry database) and where block-wise raster steps run (``icam run
    --scheduler``: :func:`icam.core.blocks.block_executor`; they give the same numbers anywhere, so it is no part
    of a stage's cache key)."""

    progress: Callable[[str], None] | None
    project_dir: Path | None
    pool: Executor | None = None

    @contextmanager
    def blocks(self, grid: Grid) -> Iterator[Executor | None]:
        """Where a stage's block-wise steps run: the run's scheduler; without one, the whole map in this process
        (None) up to BLOCKWISE_MIN_PX pixels and this machine's processes above."""
        if self.pool is not None or grid.height * grid.width <= BLOCKWISE_MIN_PX:
            yield self.pool
            return
        with block_executor("processes") as pool:
            yield pool


def _needs_folder(project_dir: Path | None, section: str) -> Path:
    if project_dir is None:
        raise InputError(f"[{section}] needs the project folder (its registry database)")
    return project_dir


def _compliance(c, run, r, out):
    if c.agreements is None:
        return None
    return run_agreements(c, _needs_folder(run.project_dir, "agreements"), r["landscape"], r["activity_data"])


def _enforcement(c, run, r, out):
    """The enforcement and its files (the alerts' footprints, the field sheet's thumbnails: 11 of the stage's 16 s
    at a jurisdiction, on one core), written here, in the background where the stage runs there."""
    if c.enforcement is None:
        return None
    result = run_enforcement(c, _needs_folder(run.project_dir, "enforcement"), r["landscape"], r["risk"],
                             r["compliance"])
    files = write_enforcement(result, r["landscape"], out)
    # the stages after it read the events' table: their pixels' labels (int32, 245 MB at a jurisdiction) stay here
    return dataclasses.replace(result, events=result.events.without_labels(), files=files)


def _agreements(c, run, r, out):
    if r["compliance"] is None:
        return None
    return with_money(r["compliance"], c, r["landscape"], r["risk"], r["accounting"])


def _counterfactual_estimates(c, run, r, out):
    if c.counterfactual is None:
        return None
    # run in the background: its progress would interleave with the stages' in the terminal
    return estimate_counterfactual(c, r["landscape"])


def _counterfactual(c, run, r, out):
    if c.counterfactual is None:
        return None
    return check_counterfactual(c, r["counterfactual_estimates"], r["accounting"])


def _output_files(c, run, r, out_dir: Path) -> dict[str, list[str]]:
    """The rasters, tables and files for the field, by kind: everything the run writes but results.json and the
    report, which wait for the counterfactual checks' verdict (these are written while the checks go on), and
    the enforcement's files, which its stage wrote."""
    # the landscape's rasters in a thread beside the risk maps and the rest: GDAL builds a file's staging copy
    # and overviews on one core, with the GIL released (a jurisdiction's four took 3.5 s while the other waited)
    with ThreadPoolExecutor(1) as beside:
        landscape_rasters = beside.submit(_write_rasters, c, r["landscape"], out_dir)
        tables = _write_tables(r["forest_change"], out_dir) + _write_activity_tables(r["activity_data"], out_dir)
        written = []
        if r["risk"] is not None:
            zone = zone_mask(r["landscape"], c.risk.zone, "risk.zone")
            written.append(write_risk_outputs(r["risk"], r["baseline"], r["landscape"].grid, zone, out_dir))
        if r["accounting"] is not None:
            written.append({"tables": _write_accounting_tables(r["accounting"], out_dir)})
        if r["agreements"] is not None:
            written.append(write_agreements(r["agreements"], run.project_dir, out_dir))
        files = {"rasters": landscape_rasters.result(), "tables": tables, "report": [REPORT_NAME]}
    if r["enforcement"] is not None:
        written.append(r["enforcement"].files)
    for more in written:
        for kind, names in more.items():
            files[kind] = files.get(kind, []) + list(names)
    return files


def _outputs(c, run, r, out_dir: Path) -> dict:
    results = build_results(c, r["landscape"], r["forest_change"], r["output_files"], r["activity_data"],
                            r["risk"], r["baseline"], r["accounting"], r["agreements"], r["enforcement"],
                            r["counterfactual"])
    atomic_write_text(out_dir / RESULTS_NAME, json.dumps(results, indent=2, allow_nan=False))
    write_report(out_dir / REPORT_NAME, r["landscape"], r["forest_change"], results, r["activity_data"],
                 r["risk"], r["baseline"], parcels=r["agreements"].parcels if r["agreements"] is not None else None,
                 enforcement=r["enforcement"])
    return results


# name, description, function, dependencies, the icam.toml sections it reads, cached
_STAGES = (
    ("landscape", "Reading the landscape onto the grid", _landscape, (), ("grid", "boundaries", "forest"), True),
    # the longest stage, in the background where memory allows: started as soon as what it reads is there, so
    # that the forest change and the activity data run beside it rather than before it
    ("counterfactual_estimates", "Counterfactual checks: avoided loss by pixel matching and a synthetic control",
     _counterfactual_estimates, ("landscape",), ("counterfactual", "carbon", "periods", "risk"), True),
    ("forest_change", "Forest area and loss by zone", _forest_change, ("landscape",), (), True),
    ("activity_data", "Sample-based activity data", _activity, ("landscape",), ("activity_data",), True),
    ("risk", "Deforestation risk maps: benchmark, alternatives, VT0007 test", _risk, ("landscape",),
     ("risk", "periods", "baseline"), True),
    # the registry, compliance and the field's alerts need no carbon: in the background where memory allows, one
    # process after the other, beside the baseline and the accounting
    ("compliance", "Conservation agreements: registry, compliance, benefits", _compliance,
     ("landscape", "activity_data"), ("agreements", "periods", "activity_data", "forest", "grid"), False),
    ("enforcement", "Enforcement: alerts for the field, patrols, indicators", _enforcement,
     ("landscape", "risk", "compliance"), ("enforcement", "risk", "grid", "boundaries"), False),
    ("baseline", "Baseline deforestation per year and zone", _baseline, ("landscape", "risk"),
     ("risk", "periods", "baseline"), True),
    ("renewals", "Baselines renewed at the end of their validity", _renewals, ("landscape",),
     ("carbon", "periods", "baseline", "risk"), True),
    ("accounting", "Carbon stocks, emission reductions and credits per monitoring period", _accounting,
     ("landscape", "activity_data", "risk", "baseline", "renewals"),
     ("carbon", "periods", "baseline", "activity_data", "risk"), True),
    ("agreements", "Conservation agreements: revenue, costs, break-even carbon prices", _agreements,
     ("landscape", "risk", "accounting", "compliance"), ("agreements", "periods", "carbon"), False),
    ("output_files", "Writing rasters, tables and the files for the field", _output_files,
     ("landscape", "forest_change", "activity_data", "risk", "baseline", "accounting", "agreements", "enforcement"),
     tuple(IcamConfig.model_fields), False),
    ("counterfactual", "Counterfactual checks: the verdict on the baseline", _counterfactual,
     ("counterfactual_estimates", "accounting"), ("counterfactual", "carbon"), True),
    ("outputs", "Writing results.json and the report", _outputs,
     ("landscape", "forest_change", "activity_data", "risk", "baseline", "accounting", "agreements", "enforcement",
      "output_files", "counterfactual"),
     tuple(IcamConfig.model_fields), False),
)


def _bytes_a_cell(per_cell: float) -> Callable[[Mapping], float]:
    """A background stage's memory beside the run's, from the landscape's cells (:attr:`Stage.background`)."""
    return lambda r: per_cell * r["landscape"].grid.shape[0] * r["landscape"].grid.shape[1]


# stages that may run beside the others, and the bytes they need:
# - the counterfactual estimates: the static covariates, the matching landscape, the samples' covariates, the k-d
#   trees, the matching's workers, with room for the risk and accounting stages growing meanwhile (at
#   jurisdiction scale 7.8 GB: a machine with less than twice that free runs them in place);
# - the compliance: the parcels' cell ids, the loss years and masks of each period;
# - the enforcement: the alerts' raster, its labelled events and their zones, risk and parcels, the field
#   sheet's map (with the compliance's, 2.9 GB measured at a jurisdiction's 61 Mpx)
_BACKGROUND = {"counterfactual_estimates": _bytes_a_cell(128.0), "compliance": _bytes_a_cell(16.0),
               "enforcement": _bytes_a_cell(32.0)}
_FOLLOWS = {"enforcement": "compliance"}  # stages run in another's background process, after it


def _before_estimates_fork(c, r) -> None:
    """The static covariates, computed before the counterfactual estimates fork: their process inherits them,
    and the risk and accounting stages find them here (:func:`static_covariates` keeps the last ones), instead
    of a copy computed in each process (1.2 GB and 12 s at a jurisdiction's 61 Mpx). Likewise the matching
    landscape where the accounting's dynamic baseline reads it too (:func:`prepare_matching_landscape`)."""
    if c.counterfactual is None:
        return
    landscape = r["landscape"]
    static_covariates(c, landscape.grid)
    if c.carbon is not None and c.carbon.methodology == "dynamic":
        names = [s.name for s in strata_config(c.carbon)]
        prepare_matching_landscape(c, landscape, stratum_masks(c, landscape, names))


_BEFORE_FORK = {"counterfactual_estimates": _before_estimates_fork}


def _input_files(config: IcamConfig) -> dict[str, tuple[Path, ...]]:
    strata = (config.carbon.strata_raster,) if config.carbon is not None and config.carbon.strata_raster else ()
    return {"landscape": tuple(config_input_files(config)), "accounting": tuple(carbon_input_files(config)),
            "counterfactual_estimates": strata,
            "agreements": tuple(section_input_files(config, "agreements")),
            "enforcement": tuple(section_input_files(config, "enforcement"))}


def build_stages(config: IcamConfig, progress=None, project_dir: Path | None = None,
                 pool: Executor | None = None) -> list[Stage]:
    """The pipeline for one project (``project_dir`` holds its database: needed with [agreements] and
    [enforcement]; ``pool``: where block-wise raster steps run, :class:`_Run`). Each stage sees only the sections
    of icam.toml it declares (:class:`StageConfig`)."""
    inputs = _input_files(config)
    run = _Run(progress, project_dir, pool)
    stages = []
    for name, description, func, deps, sections, cacheable in _STAGES:
        scoped = StageConfig(config, sections)
        stages.append(Stage(name, description, functools.partial(func, scoped, run), deps=deps,
                            params=scoped.params() if cacheable else {}, input_files=inputs.get(name, ()),
                            cacheable=cacheable, background=_BACKGROUND.get(name), follows=_FOLLOWS.get(name),
                            before_fork=functools.partial(_BEFORE_FORK[name], scoped) if name in _BEFORE_FORK
                            else None))
    return stages
