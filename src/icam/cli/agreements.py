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

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from icam.cli.errors import fail_cleanly
from icam.cli.options import DirArg, UrlOpt, console, import_session, project_extent, project_session

agreements_app = typer.Typer(add_completion=False, no_args_is_help=True,
                             help="Conservation agreements: households, parcels, agreements, benefits, compliance.")


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
