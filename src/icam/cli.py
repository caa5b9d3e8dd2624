"""The ``icam`` command line: thin, it parses, calls the library and prints with Rich.

Any :class:`~icam.errors.IcamError` is printed as one line, ``error: ...``, and the
command exits with code 2.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from icam import __version__
from icam.cli_errors import fail_cleanly
from icam.errors import IcamError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="icam: monitoring, baselines and carbon accounting for REDD+ projects.")
console = Console()


class Scale(str, Enum):
    small = "small"
    project = "project"
    jurisdiction = "jurisdiction"


def _version(value: bool) -> None:
    if value:
        console.print(f"icam {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print icam's version and exit.")] = None,
) -> None:
    """icam: monitoring, baselines and carbon accounting for REDD+ projects."""


def _progress() -> Progress:
    """Progress bars on a terminal; nothing when output goes to a file or a pipe (logs stay readable)."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                    console=console, transient=not console.is_terminal)


def _run_project(project_dir: Path):
    from icam.config import load_config
    from icam.pipeline import Pipeline
    from icam.stages import build_stages

    config = load_config(project_dir)
    stages = build_stages(config, project_dir=project_dir)
    pipeline = Pipeline(project_dir, stages, config.model_dump(mode="json"))
    with _progress() as progress:
        task = progress.add_task("Starting", total=len(stages))

        def on_stage(stage, state):
            if state in ("start", "cached"):
                suffix = " (cached)" if state == "cached" else ""
                progress.update(task, description=stage.description + suffix)
            else:
                progress.advance(task)

        run = pipeline.run(on_stage)
        progress.update(task, description="Done")
    _print_summary(run.results["outputs"], run.outputs_dir)
    if run.results.get("accounting") is not None:  # only once the outputs were published
        _issue(project_dir, config.carbon.project_id, run.results["accounting"].ex_post)
    if run.results.get("agreements") is not None:
        from icam.agreements.project import record

        record(project_dir, run.results["agreements"])
    if run.results.get("enforcement") is not None:
        from icam.enforcement.project import record as record_alerts

        raised = record_alerts(project_dir, config, run.results["enforcement"])
        console.print(f"Alerts: {raised:,} newly raised into the registry; field list in "
                      f"{run.outputs_dir / 'enforcement'}")
    return run


def _issue(project_dir: Path, project_id: str, table) -> None:
    from icam.carbon.project import issue_credits, vintage_blocks

    issued = issue_credits(project_dir, project_id, table)
    blocks = vintage_blocks(table)
    console.print(f"Credits: {table.totals['credits']:,} over {len(table.periods)} monitoring period(s); "
                  f"{len(issued)} vintage block(s) newly issued into the ledger, "
                  f"{len(blocks) - len(issued)} already issued.")


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


@app.command()
@fail_cleanly
def run(project_dir: Annotated[Path, typer.Argument(help="Project folder holding icam.toml.")]) -> None:
    """Run the pipeline on a project folder; outputs go to PROJECT_DIR/outputs."""
    _run_project(project_dir)


@app.command()
@fail_cleanly
def init(
    project_dir: Annotated[Path, typer.Argument(help="Folder to create the project in.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing icam.toml.")] = False,
) -> None:
    """Write a documented icam.toml template into PROJECT_DIR."""
    from icam.config import CONFIG_NAME
    from icam.atomic import atomic_write_text
    from icam.template import config_template

    target = project_dir / CONFIG_NAME
    if target.exists() and not force:
        raise IcamError(f"{target} already exists", "use --force to overwrite it")
    atomic_write_text(target, config_template())
    console.print(f"Wrote {target}: edit the paths and periods, then run `icam run {project_dir}`.")


@app.command()
@fail_cleanly
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Folder for the simulated project.")] = Path("icam-demo"),
    scale: Annotated[Scale, typer.Option(help="small (tests), project (Alto Mayo, ~1 Mha region) or jurisdiction (~5.1 Mha).")] = Scale.project,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same landscape.")] = 42,
) -> None:
    """Simulate the Alto Mayo scenario into --dir, then run the pipeline on it."""
    from icam.landscape.simulate import simulate

    with _progress() as progress:
        task = progress.add_task(f"Simulating Alto Mayo ({scale.value} scale)", total=1.0)

        def report(description: str, fraction: float) -> None:
            progress.update(task, description=description, completed=fraction)

        simulate(directory, scale=scale.value, seed=seed, progress=report)
        progress.update(task, completed=1.0)
    # a new simulation is a new project: its credits start from an empty ledger (simulate refuses a folder
    # it did not write, so this never touches a real project's ledger)
    for path in (directory / ".icam").glob("ledger.sqlite*"):
        path.unlink()
    _run_project(directory)


from icam.area_cli import area_app  # noqa: E402 - the `icam area` commands live in their own module

app.add_typer(area_app, name="area")
from icam.risk_cli import risk_app  # noqa: E402 - the `icam risk` commands live in their own module

app.add_typer(risk_app, name="risk")
from icam.ledger_cli import ledger_app  # noqa: E402 - the `icam ledger` commands live in their own module

app.add_typer(ledger_app, name="ledger")
from icam.agreements_cli import agreements_app  # noqa: E402 - the `icam agreements` commands live in their own module

app.add_typer(agreements_app, name="agreements")
from icam.enforcement_cli import enforcement_app  # noqa: E402 - the `icam enforcement` commands live in their own module

app.add_typer(enforcement_app, name="enforcement")
