"""``icam agreements``: the conservation-agreements registry from the command line.

``icam agreements import KIND FILE [DIR] [--url URL] [--errors-csv PATH] [--crs CRS] [--allow-overlap]``
                                                          add records, all or nothing
``icam agreements export [DIR] --out FOLDER``             GeoPackage (styled) and CSVs
``icam agreements status [DIR]``                          the latest compliance per agreement

KIND is one of households, members, communities, parcels, agreements, benefit_schedule, deliveries,
field_verifications, grievances; FILE a CSV (or an ODK/KoboToolbox export), parcels a GeoPackage, GeoJSON
or Shapefile. The registry is in ``DIR/.icam/ledger.sqlite`` unless ``--url`` or ``ICAM_DATABASE_URL``
names a database. A file with bad rows imports nothing: exit 2, one line naming how many rows and the
first problem, and with ``--errors-csv`` the full row-by-row report.

Where ``DIR/icam.toml`` exists, its grid's CRS is the parcels' CRS (``--crs`` otherwise) and its boundaries
are the project's extent: parcels and houses more than 10 km outside it are refused.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from icam.cli.errors import fail_cleanly
from icam.cli.options import DirArg, UrlOpt, console, project_session

agreements_app = typer.Typer(add_completion=False, no_args_is_help=True,
                             help="Conservation agreements: households, parcels, agreements, benefits, compliance.")


def project_extent(project_dir: Path):
    """The project's CRS and extent (:class:`~icam.store.extent.Extent`) from ``DIR/icam.toml``: its grid's CRS,
    and the union of the bounding boxes of its grid bounds and boundaries (project area, leakage belt, reference
    region) in that CRS; (None, None) without an icam.toml, (CRS, None) without boundaries."""
    import shapely

    from icam.landscape.vector import read_features
    from icam.pipeline.config import CONFIG_NAME, load_config
    from icam.store.extent import Extent

    if not (project_dir / CONFIG_NAME).is_file():
        return None, None
    config = load_config(project_dir)
    crs, b = config.grid.crs, config.boundaries
    boxes = [shapely.box(*config.grid.bounds)] if config.grid.bounds else []
    for key, path in (("project_area", b.project_area), ("leakage_belt", b.leakage_belt),
                      ("reference_region", b.reference_region)):
        if path is not None and path.is_file():
            boxes.append(shapely.box(*shapely.total_bounds(read_features(path, crs, f"boundaries.{key}"))))
    return crs, (Extent(shapely.union_all(boxes), crs) if boxes else None)


@contextmanager
def import_session(project_dir: Path, url: Optional[str]):
    """The registry for an import (created where missing); when the import is refused and the SQLite file was
    made for it, the file is removed again, so a refused import leaves the project folder as it was."""
    from sqlalchemy.engine import make_url

    from icam.store.db import database_url

    parsed = make_url(database_url(project_dir, url))
    path = Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None
    made = [p for p in (path.parent, path) if not p.exists()] if path is not None else []
    try:
        with project_session(project_dir, url, create=True) as db_session:
            yield db_session
    except BaseException:
        for extra in made[-1:]:
            for name in (extra.name, extra.name + "-wal", extra.name + "-shm", extra.name + "-journal"):
                (extra.parent / name).unlink(missing_ok=True)
        if len(made) == 2 and made[0].is_dir() and not any(made[0].iterdir()):
            made[0].rmdir()
        raise


@agreements_app.command("import")
@fail_cleanly
def import_(
    kind: Annotated[str, typer.Argument(help="What the file holds: households, members, communities, parcels, "
                                             "agreements, benefit_schedule, deliveries, field_verifications, "
                                             "grievances.")],
    file: Annotated[Path, typer.Argument(help="CSV, ODK/KoboToolbox CSV export, or (parcels) a GeoPackage.")],
    project_dir: DirArg = Path("."),
    url: UrlOpt = None,
    errors_csv: Annotated[Optional[Path], typer.Option(
        "--errors-csv", help="Where to write the row-by-row error report when rows are bad.")] = None,
    crs: Annotated[Optional[str], typer.Option(
        "--crs", help="Parcels: the project's CRS in metres (e.g. EPSG:32718), where DIR has no icam.toml.")] = None,
    allow_overlap: Annotated[bool, typer.Option(
        "--allow-overlap", help="Parcels: accept conservation parcels that overlap (listed in the output).")] = False,
) -> None:
    """Import a file into the registry in one transaction: every row or none."""
    from icam.agreements.registry import KINDS, import_table
    from icam.core.errors import InputError
    from icam.store.forms import error_report

    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}", f"use one of {', '.join(KINDS)}")
    project_crs, extent = project_extent(project_dir)
    with error_report(errors_csv), import_session(project_dir, url) as s:
        report = import_table(s, kind, file, crs=crs or project_crs, extent=extent, allow_overlap=allow_overlap)
    console.print(f"Imported {report.inserted:,} {kind} from {file} ({report.rows:,} rows).", highlight=False)
    if report.ignored_columns:
        console.print(f"Columns ignored: {', '.join(report.ignored_columns)}", highlight=False)
    for note in report.notes:
        console.print(f"Note: {note}.", highlight=False)


@agreements_app.command()
@fail_cleanly
def export(
    project_dir: DirArg = Path("."),
    out: Annotated[Path, typer.Option("--out", help="Folder for agreements.gpkg and the CSV files.")] = Path("."),
    url: UrlOpt = None,
) -> None:
    """Write the registry as a GeoPackage (parcels and agreements, styled by status for QGIS) and CSV files."""
    from icam.agreements.registry import export_csv, export_geopackage

    out.mkdir(parents=True, exist_ok=True)
    with project_session(project_dir, url) as s:
        gpkg = export_geopackage(s, out / "agreements.gpkg")
        csvs = export_csv(s, out)
    console.print(f"Wrote {gpkg} and {', '.join(p.name for p in csvs)} in {out}", highlight=False)


@agreements_app.command()
@fail_cleanly
def status(project_dir: DirArg = Path("."), url: UrlOpt = None) -> None:
    """The latest compliance assessment of every agreement, counted by status (recorded by `icam run`)."""
    from icam.agreements.registry import latest_statuses

    with project_session(project_dir, url) as s:
        latest = latest_statuses(s)
    counts: dict[str, int] = {}
    for value in latest.values():
        counts[value] = counts.get(value, 0) + 1
    table = Table(title="Agreements by latest compliance status")
    table.add_column("Status")
    table.add_column("Agreements", justify="right")
    for key in sorted(counts):
        table.add_row(key, f"{counts[key]:,}")
    console.print(table)
    flagged = sorted(a for a, v in latest.items() if v in ("breach", "to_verify"))
    if flagged:
        console.print(f"To act on: {', '.join(flagged)}", highlight=False)
