"""Options, arguments and helpers shared by the ``icam`` command groups."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

console = Console(soft_wrap=True)  # a line with a long path stays one line in a log or a pipe

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


def project_extent(project_dir: Path):
    """The project's CRS and extent (:class:`~icam.store.extent.Extent`) from ``DIR/icam.toml``: its grid's CRS
    and :func:`icam.pipeline.extent.project_extent`; (None, None) without an icam.toml, (CRS, None) without
    boundaries."""
    from icam.pipeline import extent
    from icam.pipeline.config import CONFIG_NAME, load_config

    if not (project_dir / CONFIG_NAME).is_file():
        return None, None
    config = load_config(project_dir)
    return config.grid.crs, extent.project_extent(config)


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
