"""``icam cache info|clear``: the stage results kept in ``PROJECT/.icam/cache``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from icam.cli.errors import fail_cleanly
from icam.cli.options import console

cache_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="The cached stage results of a project (safe to clear: a run recomputes them).")
ProjectArg = Annotated[Path, typer.Argument(help="Project folder holding icam.toml.")]


@cache_app.command()
@fail_cleanly
def info(project_dir: ProjectArg = Path(".")) -> None:
    """List the cached stages with their size."""
    from icam.pipeline.runner import cache_entries

    entries = cache_entries(project_dir)
    table = Table(title=f"Cache of {project_dir}")
    for column in ("Stage", "Key", "MB"):
        table.add_column(column, justify="right" if column == "MB" else "left")
    for entry in entries:
        table.add_row(entry.stage, entry.key, f"{entry.size_bytes / 1e6:,.1f}")
    console.print(table)
    console.print(f"{len(entries)} cached stage(s), {sum(e.size_bytes for e in entries) / 1e6:,.1f} MB")


@cache_app.command()
@fail_cleanly
def clear(project_dir: ProjectArg = Path(".")) -> None:
    """Delete the cached stage results (the next run recomputes every stage)."""
    from icam.pipeline.runner import clear_cache

    freed = clear_cache(project_dir)
    console.print(f"Cleared the cache of {project_dir}: {freed / 1e6:,.1f} MB freed.")
