"""``icam run`` (the pipeline on a project folder) and ``icam init`` (a documented icam.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from icam.cli.errors import err_console, fail_cleanly, native_stderr_held
from icam.cli.options import console, progress_bar
from icam.core.errors import IcamError

WaitOpt = Annotated[bool, typer.Option("--wait", help="If another run of this project is in progress, wait for it "
                                                         "to finish instead of refusing.")]
SchedulerOpt = Annotated[Optional[str], typer.Option(
    "--scheduler", help="Where the raster steps that run block by block run: sync, threads, processes, or a dask "
    "cluster's tcp://HOST:PORT (default: the whole map in memory below 100 million pixels, this machine's "
    "processes above). The numbers are the same on every scheduler.")]


def say_waiting(owner) -> None:
    """Tell the user whose run this one waits for (``--wait``)."""
    err_console.print(f"Waiting for {owner.describe()} to finish (Ctrl-C to stop waiting).", markup=False,
                      highlight=False, soft_wrap=True)


def run_with_progress(project_dir: Path, wait: bool = False, scheduler: str | None = None):
    """Run and publish the project with a progress bar, then print its summary."""
    # heavy: the pipeline imports every domain (about 4 s); loaded when a run starts, so other commands start fast
    from icam.pipeline.run import run_project

    with progress_bar() as progress:
        task = progress.add_task("Starting", total=None)

        def on_stage(stage, state):
            if state in ("start", "cached"):
                suffix = " (cached)" if state == "cached" else ""
                progress.update(task, description=stage.description + suffix)
            else:
                progress.advance(task)

        with native_stderr_held():  # GDAL's and libtiff's own lines would follow icam's one line
            done = run_project(project_dir, on_stage, on_plan=lambda n: progress.update(task, total=n), wait=wait,
                               on_wait=say_waiting, scheduler=scheduler)
        progress.update(task, description="Done")
    _print_summary(done.results["outputs"], done.outputs_dir)
    _print_published(done)
    return done


def _print_published(done) -> None:
    p, r = done.published, done.results
    if r.get("accounting") is not None:
        console.print(f"Credits: {p.credits:,} over {p.periods} monitoring period(s); "
                      f"{p.issued_blocks} vintage block(s) newly issued into the ledger, "
                      f"{p.vintage_blocks - p.issued_blocks} already issued.")
    if r.get("enforcement") is not None:
        console.print(f"Alerts: {p.alerts_raised:,} newly raised into the registry; field list in "
                      f"{done.outputs_dir / 'enforcement'}")


def _print_summary(results: dict, outputs_dir: Path) -> None:
    fc = results["forest_change"]
    zones = [z for z in ("project_area", "leakage_belt", "reference_region") if z in fc["zones"]] or ["grid"]
    first, last = str(fc["epochs"][0]), str(fc["epochs"][-1])
    table = Table(title=f"{results['project']['name']}: forest (ha)")
    table.add_column("Zone")
    table.add_column("Area", justify="right")
    table.add_column(f"Forest {first}", justify="right")
    table.add_column(f"Forest {last}", justify="right")
    table.add_column(f"Loss {first}–{last}", justify="right")
    for zone in zones:
        forest = fc["forest_area_ha"][zone]
        table.add_row(zone, f"{fc['zone_area_ha'][zone]:,.0f}", f"{forest[first]:,.0f}", f"{forest[last]:,.0f}",
                      f"{sum(fc['loss_ha'][zone].values()):,.0f}")
    console.print(table)
    by_period = Table(title="Forest loss by period (ha)")
    by_period.add_column("Period")
    for zone in zones:
        by_period.add_column(zone, justify="right")
    for label in fc["loss_ha"][zones[0]]:
        by_period.add_row(label, *(f"{fc['loss_ha'][z][label]:,.0f}" for z in zones))
    console.print(by_period)
    console.print(f"Report: {(outputs_dir / 'report.html').resolve()}")
    console.print(f"Results: {(outputs_dir / 'results.json').resolve()}")


@fail_cleanly
def run(project_dir: Annotated[Path, typer.Argument(help="Project folder holding icam.toml.")],
        wait: WaitOpt = False, scheduler: SchedulerOpt = None) -> None:
    """Run the pipeline on a project folder; outputs go to PROJECT_DIR/outputs."""
    run_with_progress(_project_folder(project_dir), wait, scheduler)


def _project_folder(path: Path) -> Path:
    """The project folder: ``path``, or the folder of ``path`` where it names the icam.toml file itself."""
    if path.is_file():
        if path.name == "icam.toml":
            return path.parent
        raise IcamError(f"{path} is a file, not a project folder", "give the folder that holds icam.toml")
    return path


@fail_cleanly
def init(
    project_dir: Annotated[Path, typer.Argument(help="Folder to create the project in.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing icam.toml.")] = False,
) -> None:
    """Write a documented icam.toml template into PROJECT_DIR."""
    from icam.core.atomic import atomic_write_text
    from icam.pipeline.config import CONFIG_NAME
    from icam.pipeline.template import config_template

    target = project_dir / CONFIG_NAME
    if target.exists() and not force:
        raise IcamError(f"{target} already exists", "use --force to overwrite it")
    atomic_write_text(target, config_template())
    console.print(f"Wrote {target}: replace its <placeholders>, point it at your boundaries and forest maps, "
                  f"then run `icam run {project_dir}`.")
