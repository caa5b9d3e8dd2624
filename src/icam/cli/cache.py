"""``icam cache info|clear``: the stage results kept in ``PROJECT/.icam/cache``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from icam.cli.errors import fail_cleanly
from icam.cli.options import console
from icam.core.errors import IcamError
from icam.pipeline.cache import FORMAT, cache_entries, clear_cache
from icam.pipeline.lock import run_lock

cache_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="The cached stage results of a project (safe to clear: a run recomputes them).")
ProjectArg = Annotated[Path, typer.Argument(help="Project folder holding icam.toml.")]


def _check_project(project_dir: Path) -> None:
    if not (project_dir / "icam.toml").is_file():
        raise IcamError(f"{project_dir} holds no icam.toml", "give the folder of an icam project")


@cache_app.command()
@fail_cleanly
def info(project_dir: ProjectArg = Path(".")) -> None:
    """List the cached stages with their size."""
    _check_project(project_dir)
    entries = cache_entries(project_dir)
    table = Table(title=f"Cache of {project_dir}")
    for column in ("Stage", "Key", "Files", "MB"):
        table.add_column(column, justify="right" if column in ("Files", "MB") else "left")
    for entry in entries:
        stale = "" if entry.format == FORMAT else " (older icam: unused)"
        table.add_row(entry.stage + stale, entry.key, str(entry.files), f"{entry.size_bytes / 1e6:,.1f}")
    console.print(table)
    console.print(f"{len(entries)} cached stage(s), {sum(e.size_bytes for e in entries) / 1e6:,.1f} MB")


@cache_app.command()
@fail_cleanly
def clear(project_dir: ProjectArg = Path(".")) -> None:
    """Delete the cached stage results (the next run recomputes every stage)."""
    _check_project(project_dir)
    if not (project_dir / ".icam").is_dir():  # never run: nothing to clear, and no lock file to leave behind
        console.print(f"Cleared the cache of {project_dir}: 0.0 MB freed.")
        return
    with run_lock(project_dir, command="icam cache clear"):  # a run in progress reads and writes the cache
        freed = clear_cache(project_dir)
    console.print(f"Cleared the cache of {project_dir}: {freed / 1e6:,.1f} MB freed.")
