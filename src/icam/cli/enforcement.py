"""``icam enforcement``: the head office's alerts and patrols from the command line.

``icam enforcement import KIND FILE [DIR] [--url URL] [--errors-csv PATH]``   patrols, tracks, observations, actions
``icam enforcement plan [DIR] --start DATE [--days N] [--team T] [--zone Z] [--max-alerts N]
                         [--min-priority P] [--out FOLDER]``              a patrol to the open alerts, for the field
``icam enforcement status [DIR] [--as-of DATE]``                              the response indicators

Alerts enter the registry through ``icam run`` (``[enforcement]`` in icam.toml). KIND ``tracks`` takes a GPX
file named ``<patrol_id>.gpx`` or a folder of them, of patrols already imported; the others a CSV (or an
ODK/KoboToolbox export). A file with bad rows imports nothing: exit 2, one line naming how many rows and the
first problem (``--errors-csv``: the full report). Where ``DIR/icam.toml`` has boundaries, track points and
observations more than 50 km outside them are refused. Importing observations matches them to the alerts
(true or false positives).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from icam.cli.errors import fail_cleanly
from icam.cli.options import DateOpt, DirArg, UrlOpt, console, import_session, project_extent, project_session

enforcement_app = typer.Typer(add_completion=False, no_args_is_help=True,
                              help="Enforcement: deforestation alerts, patrol plans, patrols, incidents, indicators.")
KINDS = ("patrols", "tracks", "observations", "actions")


def _match_settings(project_dir: Path) -> dict:
    """The matching distance and window of the project's [enforcement], else the library's defaults."""
    from icam.pipeline.config import CONFIG_NAME, load_config

    if not (project_dir / CONFIG_NAME).exists():
        return {}
    e = load_config(project_dir).enforcement
    return {} if e is None else {"max_distance_m": e.match_distance_m, "max_days_after": e.match_days}


def _gpx_files(file: Path) -> list[Path]:
    from icam.core.errors import InputError

    files = sorted(file.glob("*.gpx")) if file.is_dir() else [file]
    if not files:
        raise InputError(f"{file} holds no .gpx file", "give a GPX track or a folder of them")
    return files


@enforcement_app.command("import")
@fail_cleanly
def import_(
    kind: Annotated[str, typer.Argument(help="What the file holds: patrols, tracks, observations, actions.")],
    file: Annotated[Path, typer.Argument(help="CSV or ODK/KoboToolbox export; tracks: a GPX file or a folder.")],
    project_dir: DirArg = Path("."),
    url: UrlOpt = None,
    errors_csv: Annotated[Optional[Path], typer.Option(
        "--errors-csv", help="Where to write the row-by-row error report when rows are bad.")] = None,
) -> None:
    """Import a file into the registry in one transaction: every row or none."""
    from icam.core.errors import InputError
    from icam.enforcement import patrols as pt
    from icam.store.forms import error_report

    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}", f"use one of {', '.join(KINDS)}")
    settings = _match_settings(project_dir)
    _, extent = project_extent(project_dir)
    with error_report(errors_csv), import_session(project_dir, url) as s:
        if kind == "patrols":
            message = f"Imported {pt.import_patrols(s, file):,} patrols from {file}."
        elif kind == "tracks":
            reports = pt.import_gpx_tracks(s, {path.stem: path for path in _gpx_files(file)}, extent=extent)
            message = (f"Imported {len(reports):,} track(s): {sum(r.n_points for r in reports):,} points, "
                       f"{sum(r.distance_km for r in reports):,.1f} km.")
        elif kind == "observations":
            report = pt.import_observations(s, file, extent=extent)
            matches = pt.match_alerts(s, **settings)
            message = (f"Imported {report.inserted:,} observations ({report.incidents:,} incidents) from {file}; "
                       f"{len(matches):,} alert(s) checked.")
        else:
            message = f"Imported {pt.import_actions(s, file):,} actions from {file}."
    console.print(message, highlight=False)


@enforcement_app.command()
@fail_cleanly
def plan(
    start: Annotated[dt.datetime, typer.Option("--start", help="First day of the patrol (YYYY-MM-DD).", **DateOpt)],
    project_dir: DirArg = Path("."),
    days: Annotated[int, typer.Option("--days", help="Days in the field.")] = 1,
    team: Annotated[Optional[str], typer.Option("--team", help="Who goes.")] = None,
    zone: Annotated[Optional[str], typer.Option("--zone", help="Only alerts in this zone (project_area, "
                                                               "leakage_belt, outside).")] = None,
    max_alerts: Annotated[int, typer.Option("--max-alerts", help="Most alerts to visit.")] = 10,
    min_priority: Annotated[str, typer.Option("--min-priority", help="high, medium or low.")] = "medium",
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the plan's GPX, KML and GeoJSON; "
                                                              "default DIR/plans.")] = None,
    url: UrlOpt = None,
) -> None:
    """Assign the highest-priority open alerts to a new patrol plan and write them for the GPS and the phone."""
    from icam.enforcement.exports import write_waypoints
    from icam.enforcement.plans import plan_patrol

    folder = out or project_dir / "plans"
    folder.mkdir(parents=True, exist_ok=True)
    with project_session(project_dir, url) as s:
        patrol_plan, alerts = plan_patrol(s, start=start.date(), days=days, team=team, zone=zone,
                                          max_alerts=max_alerts, min_priority=min_priority)
        # files first: if they cannot be written, the plan is rolled back and the alerts stay open
        files = write_waypoints(alerts, folder, f"{patrol_plan.code}_alerts")
        code = patrol_plan.code
    table = Table(title=f"{code}: {len(alerts)} alert(s) to visit from {start:%Y-%m-%d}")
    for name in ("Alert", "Priority", "Score", "Area (ha)", "First date", "Zone", "Agreement", "Lat", "Lon"):
        table.add_column(name)
    for r in alerts.itertuples():
        table.add_row(r.alert_id, r.priority, f"{r.score:.2f}", f"{r.area_ha:.2f}", str(r.first_date),
                      *(v if isinstance(v, str) else "–" for v in (r.zone, r.agreement)), f"{r.lat:.5f}",
                      f"{r.lon:.5f}")
    console.print(table)
    console.print(f"Wrote {', '.join(str(p) for p in files.values())}", highlight=False)


@enforcement_app.command()
@fail_cleanly
def status(
    project_dir: DirArg = Path("."),
    as_of: Annotated[Optional[dt.datetime], typer.Option("--as-of", help="Day of the figures (YYYY-MM-DD); "
                                                                         "default today.", **DateOpt)] = None,
    url: UrlOpt = None,
) -> None:
    """Alerts by priority and status, share checked, days to visit, precision, patrol effort and incidents."""
    from icam.enforcement.indicators import indicators

    day = as_of.date() if as_of else dt.date.today()
    with project_session(project_dir, url) as s:
        figures = indicators(s, day)
    alerts = Table(title=f"Alerts as of {day}")
    statuses = ("new", "assigned", "checked")
    for name in ("Priority", *statuses):
        alerts.add_column(name, justify="right")
    for priority, counts in figures["alerts_by_priority_status"].items():
        alerts.add_row(priority, *(f"{counts.get(k, 0):,}" for k in statuses))
    console.print(alerts)

    def show(value, spec):
        return "–" if value is None else format(value, spec)

    console.print(f"Checked {figures['checked']:,} of {figures['alerts']:,} ({show(figures['share_checked'], '.1%')}); "
                  f"median {show(figures['median_days_to_visit'], '.1f')} days from alert to visit; "
                  f"precision {show(figures['precision'], '.1%')}.", highlight=False)
    effort = Table(title="Patrol effort by zone")
    for name in ("Zone", "Patrols", "km", "Days"):
        effort.add_column(name, justify="right")
    for zone, e in figures["effort_by_zone"].items():
        effort.add_row(zone, f"{e['patrols']:,}", f"{e['km']:,.1f}", f"{e['days']:,.0f}")
    console.print(effort)
    incidents = Table(title="Incidents by type and zone")
    incidents.add_column("Type")
    incidents.add_column("Zone: incidents")
    for category, zones in figures["incidents_by_category_zone"].items():
        incidents.add_row(category, ", ".join(f"{z}: {n}" for z, n in zones.items()))
    console.print(incidents)
    if figures["actions_by_type"]:
        console.print("Actions: " + ", ".join(f"{a.replace('_', ' ')} {n:,}" for a, n in
                                              figures["actions_by_type"].items()), highlight=False)
