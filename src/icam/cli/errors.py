"""How every ``icam`` command fails: one line ``error: ...`` on stderr and exit code 2, no traceback."""

from __future__ import annotations

import functools

import typer
from rich.console import Console

from icam.core.errors import IcamError

err_console = Console(stderr=True)


def fail_cleanly(func):
    """Turn an :class:`~icam.core.errors.IcamError` raised by a command into one line on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except IcamError as exc:
            err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper
