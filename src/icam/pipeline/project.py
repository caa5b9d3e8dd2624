"""The stages of ``icam run``: landscape → forest change → rasters, tables, results.json, report.

Later capabilities (area estimation, risk, carbon, agreements, enforcement) add their
stages here, to the same pipeline and report.
"""

from __future__ import annotations

import csv
import glob
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from icam import __version__
from icam.core.atomic import atomic_write_text
from icam.core.errors import InputError
from icam.forest.activity import CLASS_NAMES, ActivityAssessment, activity_zone, assess
from icam.forest.zones import ZoneStats, zone_statistics
from icam.landscape import Landscape
from icam.pipeline.config import IcamConfig
from icam.pipeline.runner import Stage

RESULTS_NAME = "results.json"
REPORT_NAME = "report.html"
_SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")


def expand_input(key: str, pattern: Path) -> list[Path]:
    """A configured path or glob pattern → the existing files it names (InputError if none)."""
    text = str(pattern)
    if glob.has_magic(text):
        matches = sorted(Path(p) for p in glob.glob(text))
        if not matches:
            raise InputError(f"'{key}' pattern {text} matches no file", "check the path in icam.toml")
        return matches
    if not pattern.is_file():
        raise InputError(f"'{key}' file {text} does not exist", "check the path in icam.toml")
    if pattern.suffix.lower() == ".shp":
        return [pattern] + [p for ext in _SHAPEFILE_SIDECARS if (p := pattern.with_suffix(ext)).is_file()]
    return [pattern]


def config_input_files(config: IcamConfig) -> list[Path]:
    """Every file the configuration names, globs expanded; refuses missing files by key."""
    files: list[Path] = []
    for name in ("project_area", "leakage_belt", "reference_region", "admin_units"):
        path = getattr(config.boundaries, name)
        if path is not None:
            files += expand_input(f"boundaries.{name}", path)
    forest = config.forest
    for name, value in forest:
        if isinstance(value, Path):
            files += expand_input(f"forest.{name}", value)
        elif isinstance(value, list) and value and isinstance(value[0], Path):
            for item in value:
                files += expand_input(f"forest.{name}", item)
        elif isinstance(value, dict) and value and isinstance(next(iter(value.values())), Path):
            for year, item in value.items():
                files += expand_input(f"forest.{name}.{year}", item)
    if config.activity_data is not None:
        for i, assessment in enumerate(config.activity_data.assessments):
            files += expand_input(f"activity_data.assessments[{i}].samples", assessment.samples)
    if config.risk is not None:
        for name, path in config.risk.covariates:
            if path is not None:
                files += expand_input(f"risk.covariates.{name}", path)
    return sorted(set(files))


def key_years(config: IcamConfig, epochs: tuple[int, ...]) -> list[int]:
    """Years for the forest-cover rasters: first epoch, project start (if an epoch), last epoch."""
    years = [epochs[0], epochs[-1]]
    if config.periods is not None and config.periods.project_start.year in epochs:
        years.insert(1, config.periods.project_start.year)
    return sorted(set(years))


def _write_rasters(config: IcamConfig, landscape: Landscape, out_dir: Path) -> list[str]:
    from icam.landscape.raster import write_cog

    forest, grid = landscape.forest, landscape.grid
    folder = out_dir / "rasters"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for year in key_years(config, forest.epochs):
        cover = np.where(forest.valid, forest.forest_in(year), 255).astype(np.uint8)
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


def _activity_data(config: IcamConfig, landscape: Landscape, progress=None) -> list[ActivityAssessment]:
    """Sample-based estimates for every configured period (none when [activity_data] is absent)."""
    if config.activity_data is None:
        return []
    zone_name = config.activity_data.zone
    zone = activity_zone(landscape.zones, landscape.grid.shape, zone_name)
    zones = landscape.zones if config.activity_data.strata == "map_classes_by_zone" else None
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


def section_input_files(config: IcamConfig, section: str) -> list[Path]:
    """Every file a section of icam.toml names (its path keys, globs expanded), refused by key where missing:
    ``[agreements]`` (they seed the registry on the first run), ``[enforcement]`` (alerts, distance layers,
    patrol files)."""
    values = getattr(config, section)
    if values is None:
        return []
    return [file for name, value in values if isinstance(value, Path)
            for file in expand_input(f"{section}.{name}", value)]


def _write_accounting_tables(accounting, out_dir: Path) -> list[str]:
    from icam.pipeline.stages.carbon import accounting_rows

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
                  agreements=None, enforcement=None) -> dict:
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
        "outputs": {kind: list(names) for kind, names in files.items()},
    }


def build_stages(config: IcamConfig, progress=None, project_dir: Path | None = None) -> list[Stage]:
    """The pipeline for one project (``project_dir`` holds its database: needed with [agreements])."""
    from icam.pipeline.stages.carbon import carbon_input_files
    from icam.pipeline.stages.landscape import load_landscape
    from icam.report.build import write_report

    inputs = tuple(config_input_files(config))
    landscape_params = json.loads(config.model_dump_json(include={"grid", "boundaries", "forest"}))

    def landscape(_: Mapping[str, Any], __: Path) -> Landscape:
        return load_landscape(config, progress=progress)

    def forest_change(r: Mapping[str, Any], _: Path) -> ZoneStats:
        return zone_statistics(r["landscape"])

    def activity_data(r: Mapping[str, Any], _: Path) -> list[ActivityAssessment]:
        return _activity_data(config, r["landscape"])

    def risk(r: Mapping[str, Any], _: Path):
        from icam.pipeline.stages.risk import expected_validity_ha, risk_setting
        from icam.risk.candidates import run_candidates

        if config.risk is None:
            return None
        landscape = r["landscape"]
        expected = expected_validity_ha(config, landscape) if config.baseline is not None else None
        validity = config.baseline.validity_years if config.baseline is not None else 6
        return run_candidates(risk_setting(config, landscape), list(config.risk.models), expected, validity,
                              progress=progress)

    def baseline(r: Mapping[str, Any], _: Path):
        from icam.pipeline.stages.risk import build_baseline

        if config.baseline is None:
            return None
        return build_baseline(config, r["landscape"], r["risk"])

    def accounting(r: Mapping[str, Any], _: Path):
        from icam.pipeline.stages.carbon import account_project

        if config.carbon is None:
            return None
        return account_project(config, r["landscape"], r["risk"], r["baseline"], r["activity_data"])

    def agreements(r: Mapping[str, Any], _: Path):
        from icam.pipeline.stages.agreements import run_agreements

        if config.agreements is None:
            return None
        if project_dir is None:
            raise InputError("[agreements] needs the project folder (its registry database)")
        return run_agreements(config, project_dir, r["landscape"], r["activity_data"], r["risk"], r["accounting"])

    def enforcement(r: Mapping[str, Any], _: Path):
        from icam.pipeline.stages.enforcement import run_enforcement

        if config.enforcement is None:
            return None
        if project_dir is None:
            raise InputError("[enforcement] needs the project folder (its registry database)")
        return run_enforcement(config, project_dir, r["landscape"], r["risk"], r["agreements"])

    def outputs(r: Mapping[str, Any], out_dir: Path) -> dict:
        files = {
            "rasters": _write_rasters(config, r["landscape"], out_dir),
            "tables": _write_tables(r["forest_change"], out_dir) + _write_activity_tables(r["activity_data"], out_dir),
            "report": [REPORT_NAME],
        }
        if r["risk"] is not None:
            from icam.pipeline.stages.risk import write_risk_outputs, zone_mask

            zone = zone_mask(r["landscape"], config.risk.zone, "risk.zone")
            written = write_risk_outputs(r["risk"], r["baseline"], r["landscape"].grid, zone, out_dir)
            files["rasters"] += written["rasters"]
            files["tables"] += written["tables"]
        if r["accounting"] is not None:
            files["tables"] += _write_accounting_tables(r["accounting"], out_dir)
        if r["agreements"] is not None:
            from icam.pipeline.stages.agreements import write_outputs

            written = write_outputs(r["agreements"], project_dir, out_dir)
            files["vectors"] = written["vectors"]
            files["tables"] += written["tables"]
        if r["enforcement"] is not None:
            from icam.pipeline.stages.enforcement import write_outputs as write_enforcement

            written = write_enforcement(r["enforcement"], r["landscape"], out_dir)
            files["vectors"] = files.get("vectors", []) + written["vectors"]
            files["report"] += written["report"]
            files["tables"] += written["tables"]
        results = build_results(config, r["landscape"], r["forest_change"], files, r["activity_data"],
                                r["risk"], r["baseline"], r["accounting"], r["agreements"], r["enforcement"])
        atomic_write_text(out_dir / RESULTS_NAME, json.dumps(results, indent=2, allow_nan=False))
        write_report(out_dir / REPORT_NAME, r["landscape"], r["forest_change"], results, r["activity_data"],
                     r["risk"], r["baseline"], parcels=r["agreements"].parcels if r["agreements"] is not None else None,
                     enforcement=r["enforcement"])
        return results

    return [
        Stage("landscape", "Reading the landscape onto the grid", landscape, params=landscape_params, input_files=inputs),
        Stage("forest_change", "Forest area and loss by zone", forest_change, deps=("landscape",)),
        Stage("activity_data", "Sample-based activity data", activity_data, deps=("landscape",),
              params=json.loads(config.model_dump_json(include={"activity_data"}))),
        Stage("risk", "Deforestation risk maps: benchmark, alternatives, VT0007 test", risk, deps=("landscape",),
              params=json.loads(config.model_dump_json(include={"risk", "periods", "baseline"}))),
        Stage("baseline", "Baseline deforestation per year and zone", baseline, deps=("landscape", "risk"),
              params=json.loads(config.model_dump_json(include={"risk", "periods", "baseline"}))),
        Stage("accounting", "Carbon stocks, emission reductions and credits per monitoring period", accounting,
              deps=("landscape", "activity_data", "risk", "baseline"), input_files=tuple(carbon_input_files(config)),
              params=json.loads(config.model_dump_json(include={"carbon", "periods", "baseline", "activity_data"}))),
        Stage("agreements", "Conservation agreements: registry, compliance, benefits, money", agreements,
              deps=("landscape", "activity_data", "risk", "accounting"), cacheable=False,
              input_files=tuple(section_input_files(config, "agreements"))),
        Stage("enforcement", "Enforcement: alerts for the field, patrols, indicators", enforcement,
              deps=("landscape", "risk", "agreements"), cacheable=False,
              input_files=tuple(section_input_files(config, "enforcement"))),
        Stage("outputs", "Writing rasters, tables, results.json and the report", outputs,
              deps=("landscape", "forest_change", "activity_data", "risk", "baseline", "accounting", "agreements",
                    "enforcement"), cacheable=False),
    ]
