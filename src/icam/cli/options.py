"""Options, arguments and helpers shared by the ``icam`` command groups."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

console = Console()

DirArg = Annotated[Path, typer.Argument(help="Project folder; the ledger is DIR/.icam/ledger.sqlite.")]
UrlOpt = Annotated[Optional[str], typer.Option(
    "--url", help="Database URL (postgresql+psycopg://user:pw@host/db or a SQLite path); default "
                  "$ICAM_DATABASE_URL, else DIR/.icam/ledger.sqlite.")]
DateOpt = dict(formats=["%Y-%m-%d"])


def progress_bar() -> Progress:
    """Progress bars on a terminal; nothing when output goes to a file or a pipe (logs stay readable)."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                    console=console, disable=not console.is_terminal)


@contextmanager
def project_session(project_dir: Path, url: Optional[str], *, create: bool = False):
    """The project's registry and ledger as one transaction (:func:`icam.store.db.open_session`)."""
    from icam.store.db import open_session

    with open_session(project_dir, url, create=create) as db_session:
        yield db_session
