"""``icam risk``: the VT0007 benchmark risk map of a jurisdiction from one forest-change raster.

``icam risk benchmark --fcc FCC.tif [--units UNITS] [--expected-ha HA] [--out DIR] [--json]``

FCC.tif follows the forestatrisk convention (0 no data, 1 lost in the first period, 2 lost in the
second, 3 forest at the end). The calibration (t1→t2), confirmation (t2→t3, predicted from the
calibration fit) and historical (t1→t3) periods are run as :func:`icam.risk.workflow.run_benchmark`
describes; rasters and tables go to ``--out``; ``--json`` prints the summary as JSON and nothing else.
Bad input exits with code 2 and one line ``error: ...``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.table import Table

from icam.cli.errors import fail_cleanly
from icam.cli.options import console
from icam.core.errors import InputError

risk_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Deforestation risk maps: the VT0007 benchmark.")

VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json"}


def _parse_years(text: str) -> tuple[int, int, int]:
    try:
        years = tuple(int(v) for v in text.split(","))
    except ValueError:
        years = ()
    if len(years) != 3:
        raise InputError(f"--years must be three years t1,t2,t3, got {text!r}", "e.g. --years 2000,2010,2020")
    return years  # type: ignore[return-value]


def _read_units(path: Path, grid, field: Optional[str]) -> tuple[np.ndarray, list[str] | None]:
    """Unit ids on the FCC grid (0 = outside) from a raster on the same grid or a vector file."""
    from icam.cli.area import _read_map
    from icam.landscape.vector import rasterize_ids, read_polygons

    if path.suffix.lower() in VECTOR_SUFFIXES:
        gdf = read_polygons(path, grid.crs, "--units", field, field_key="--units-field")
        names = [str(v) for v in gdf[field]] if field else None
        return rasterize_ids(gdf, grid), names
    data, units_grid, nodata = _read_map(path, "--units", None)
    if not units_grid.same_as(grid):
        raise InputError(f"--units: {path} is not on the grid of --fcc ({units_grid.shape[1]}x{units_grid.shape[0]} "
                         f"vs {grid.shape[1]}x{grid.shape[0]} px, or another CRS or origin)",
                         "warp it onto the change map's grid (gdalwarp -te ... -tr ...), or give polygons")
    if not np.issubdtype(data.dtype, np.integer):
        raise InputError(f"--units: {path} holds {data.dtype} values", "give integer unit ids (0 = outside)")
    ids = data.astype(np.int64)
    if nodata is not None:
        ids[data == nodata] = 0
    if (ids < 0).any():
        raise InputError(f"--units: {path} holds negative ids", "use positive ids, 0 for outside the jurisdiction")
    return ids, None


def _write_csv(path: Path, rows: list[dict]) -> None:
    from icam.core.atomic import atomic_write_text

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def _cell_rows(assessment, per_row: int) -> list[dict]:
    c = assessment.comparison
    return [{"period": assessment.name, "cell_id": int(i), "cell_row": int(i) // per_row,
             "cell_col": int(i) % per_row, "n_px": int(n), "predicted_ha": round(float(p), 4),
             "actual_ha": round(float(a), 4), "error_ha": round(float(a - p), 4)}
            for i, n, p, a in zip(c.cell_ids, c.n_pixels, c.predicted_ha, c.actual_ha)]


def write_outputs(result, grid, out: Path, outside: np.ndarray | None) -> list[Path]:
    """The benchmark's rasters (COG) and tables (CSV) and results.json in ``out``."""
    from icam.landscape.raster import write_cog

    out.mkdir(parents=True, exist_ok=True)
    risk = result.risk_ha_per_year
    if outside is not None:
        risk = np.where(outside, np.float32(-1), risk)
    paths = [write_cog(out / "risk_ha_per_year.tif", risk, grid, -1.0, categorical=False),
             write_cog(out / "vulnerability_classes.tif", result.risk_classes, grid, 255)]
    return paths + write_tables(result, grid, out)


def write_tables(result, grid, out: Path) -> list[Path]:
    """The residual rasters (one pixel per assessment cell), the class and cell tables and results.json: the
    outputs both the whole-map and the block-wise runs write alike."""
    from icam.core.atomic import atomic_write_text
    from icam.landscape.raster import write_cog

    paths = []
    for assessment in (result.calibration_assessment, result.confirmation_assessment):
        residuals, coarse = assessment.residual_raster(grid)
        paths.append(write_cog(out / f"residuals_{assessment.name}_ha.tif", residuals, coarse, float("nan"),
                               categorical=False))
    for fit in (result.calibration, result.historical):
        path = out / f"classes_{fit.name}.csv"
        _write_csv(path, fit.class_table())
        paths.append(path)
    path = out / "assessment_cells.csv"
    per_row = -(-grid.width // result.calibration_assessment.side_px)
    _write_csv(path, _cell_rows(result.calibration_assessment, per_row)
               + _cell_rows(result.confirmation_assessment, per_row))
    paths.append(path)
    path = out / "results.json"
    atomic_write_text(path, json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    paths.append(path)
    return paths


@risk_app.command()
@fail_cleanly
def benchmark(
    fcc: Annotated[Path, typer.Option("--fcc", help="Forest-cover change raster: 0 no data, 1 lost t1→t2, "
                                      "2 lost t2→t3, 3 forest at t3 (forestatrisk convention).")],
    units: Annotated[Optional[Path], typer.Option("--units", help="Administrative units: a raster of integer ids "
                                                  "on the FCC grid (0 = outside), or polygons (GeoPackage, "
                                                  "Shapefile, GeoJSON).")] = None,
    units_field: Annotated[Optional[str], typer.Option("--units-field", help="With polygon units: the column "
                                                       "naming each unit.")] = None,
    expected_ha: Annotated[Optional[float], typer.Option("--expected-ha", help="Deforestation expected over the "
                                                         "validity period, ha (default: the historical mean "
                                                         "annual loss × the validity years).")] = None,
    validity_years: Annotated[float, typer.Option("--validity-years", help="Years of the baseline validity "
                                                  "period the risk map covers (VM0048: 6).")] = 6.0,
    years: Annotated[str, typer.Option("--years", help="The three dates t1,t2,t3 of the change map.")]
    = "2000,2010,2020",
    cell_ha: Annotated[float, typer.Option("--cell-ha", help="Assessment cell area, ha (VT0007: the median "
                                           "project size; 100,000 ha when unknown).")] = 100_000.0,
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the rasters and tables.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON only.")] = False,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Run block by block on: sync, threads, "
                                                     "processes, or a dask cluster's tcp://HOST:PORT (default: the "
                                                     "whole map in memory below 100 million pixels, block by block "
                                                     "on processes above).")] = None,
    block_px: Annotated[int, typer.Option("--block-px", help="Block side, pixels (block by block).")] = 1024,
    cap_m: Annotated[float, typer.Option("--distance-cap-m", help="Block by block, distances to the forest edge "
                                         "are computed up to this far first (four times as far again where an NRT "
                                         "reaches it).")] = 2_000.0,
) -> None:
    """The VT0007 benchmark: calibration fit, confirmation test and the risk map, from one change map."""
    from icam.cli.area import _read_map
    from icam.core.blocks import BLOCKWISE_MIN_PX
    from icam.risk.workflow import forest_from_fcc, run_benchmark

    t = _parse_years(years)
    _, grid, _ = _read_map(fcc, "--fcc", None, read=False)
    if scheduler is not None or grid.height * grid.width > BLOCKWISE_MIN_PX:
        result, paths = _by_blocks(fcc, grid, t, units, units_field, out, scheduler or "processes", block_px, cap_m,
                                   expected_ha=expected_ha, validity_years=validity_years, assessment_cell_ha=cell_ha)
    else:
        data, grid, _ = _read_map(fcc, "--fcc", None)
        unit_ids, _names = _read_units(units, grid, units_field) if units is not None else (None, None)
        result = run_benchmark(forest_from_fcc(data), t, grid, unit_ids, expected_ha=expected_ha,
                               validity_years=validity_years, assessment_cell_ha=cell_ha)
        paths = write_outputs(result, grid, out, None if unit_ids is None else unit_ids == 0) if out else []
    summary = result.to_dict()
    if as_json:
        typer.echo(json.dumps(summary, allow_nan=False))
        return
    _print_summary(summary)
    for path in paths:
        console.print(f"Wrote {path.resolve()}", soft_wrap=True, markup=False, highlight=False)


def _by_blocks(fcc: Path, grid, years, units: Optional[Path], units_field: Optional[str], out: Optional[Path],
               scheduler: str, block_px: int, cap_m: float, **options):
    """The benchmark block by block (icam.risk.blockwise_run), the change map and a units raster read by window."""
    from icam.cli.area import _read_map
    from icam.core.blocks import ArraySource, FileSource
    from icam.risk.blockwise import ChangeMap
    from icam.risk.blockwise_run import run_benchmark_by_blocks

    unit_source = None
    if units is not None and units.suffix.lower() in VECTOR_SUFFIXES:  # rasterised once, in memory
        unit_source = ArraySource(_read_units(units, grid, units_field)[0])
    elif units is not None:  # read by window, as the change map
        _, units_grid, _ = _read_map(units, "--units", None, read=False)
        if not units_grid.same_as(grid):
            raise InputError(f"--units: {units} is not on the grid of --fcc", "warp it onto the change map's grid")
        unit_source = FileSource(units, nodata_as=0)
    result = run_benchmark_by_blocks(ChangeMap(FileSource(fcc), unit_source), years, grid, out, cap_m=cap_m,
                                     block_px=block_px, scheduler=scheduler, **options)
    paths = [result.risk_path, result.classes_path] + write_tables(result, grid, out) if out else []
    return result, paths


def _print_summary(summary: dict) -> None:
    cal, cnf, hist, risk = (summary[k] for k in ("calibration", "confirmation", "historical", "risk_map"))
    table = Table(title="VT0007 benchmark")
    for name in ("Period", "Years", "NRT (m)", "Loss (ha)", "MedAE (ha)", "MAE (ha)", "R²", "IoU", "Cells"):
        table.add_column(name, justify="left" if name == "Period" else "right")

    def fmt(v, spec=",.1f"):
        return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)

    table.add_row("calibration", f"{cal['start_year']}–{cal['end_year']}", fmt(cal["threshold_m"], ".0f"),
                  fmt(cal["deforested_ha"]), fmt(cal["medae_ha"]), fmt(cal["mae_ha"]), fmt(cal["r2"], ".3f"),
                  fmt(cal["iou"], ".3f"), str(cal["n_cells"]))
    table.add_row("confirmation", f"{cnf['start_year']}–{cnf['end_year']}", "", fmt(cnf["actual_ha"]),
                  fmt(cnf["medae_ha"]), fmt(cnf["mae_ha"]), fmt(cnf["r2"], ".3f"), fmt(cnf["iou"], ".3f"),
                  str(cnf["n_cells"]))
    table.add_row("historical", f"{hist['start_year']}–{hist['end_year']}", fmt(hist["threshold_m"], ".0f"),
                  fmt(hist["deforested_ha"]), "", "", "", "", "")
    console.print(table)
    console.print(f"Risk map from {risk['start_year']}: {risk['expected_ha_per_year']:,.1f} ha/yr expected "
                  f"({risk['expected_source']}), {risk['allocated_ha_per_year']:,.1f} ha/yr allocated.")


@risk_app.command()
@fail_cleanly
def nest(
    risk: Annotated[Path, typer.Option("--risk", help="Risk map of the jurisdiction, ha/pixel/yr (e.g. "
                                       "risk_ha_per_year.tif); its no-data cells lie outside the jurisdiction.")],
    projects: Annotated[Path, typer.Option("--projects", help="Nested projects' polygons (GeoPackage, Shapefile, "
                                           "GeoJSON), one or more features per project.")],
    field: Annotated[str, typer.Option("--field", help="The column naming each project.")],
    reference_level: Annotated[float, typer.Option("--reference-level", help="The jurisdiction's reference "
                                                   "level, ha/yr.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the allocation as JSON only.")] = False,
) -> None:
    """Share a jurisdiction's reference level among nested projects by the risk map (overlaps refused)."""
    import shapely

    from icam.cli.area import _read_map
    from icam.landscape.vector import rasterize_mask, read_polygons
    from icam.risk.nesting import check_no_overlap, nest_reference_level

    density, grid, nodata = _read_map(risk, "--risk", None)
    density = density.astype(np.float64)
    jurisdiction = np.isfinite(density) if nodata is None else np.isfinite(density) & (density != nodata)
    if (density[jurisdiction] < 0).any():
        raise InputError(f"--risk: {risk} holds negative densities", "give a density map in ha/pixel/yr")
    gdf = read_polygons(projects, grid.crs, "--projects", field, field_key="--field")
    names = [str(v) for v in gdf[field]]
    merged = {name: shapely.union_all(gdf.geometry.values[[n == name for n in names]]) for name in dict.fromkeys(names)}
    check_no_overlap(merged)
    masks = {name: rasterize_mask(gdf[[n == name for n in names]], grid) for name in merged}
    result = nest_reference_level(reference_level, np.where(jurisdiction, density, 0.0), jurisdiction, masks)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), allow_nan=False))
        return
    table = Table(title=f"Reference level {reference_level:,.1f} ha/yr shared by the risk map")
    for name in ("Project", "Share", "Allocation (ha/yr)", "Pixels"):
        table.add_column(name, justify="left" if name == "Project" else "right")
    for name in result.projects:
        table.add_row(name, f"{result.share[name]:.4f}", f"{result.allocation_ha_per_year[name]:,.2f}",
                      f"{result.project_px[name]:,}")
    table.add_row("(unallocated)", "", f"{result.unallocated_ha_per_year:,.2f}", "")
    console.print(table)
