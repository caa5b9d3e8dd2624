"""How every ``icam`` command fails: one line ``error: ...`` on stderr and a non-zero exit code, no traceback.

An :class:`~icam.core.errors.IcamError` exits with its ``exit_code`` (2; 130 for Ctrl-C). What the
machine does to a command is one line too: Ctrl-C anywhere exits 130, and a full disk or a file
that cannot be written (:func:`~icam.core.errors.environment_error`) exits 2. Any other exception
is a bug in icam and keeps its traceback.

C libraries write their own complaints straight to the process's stderr (libtiff's
``_tiffWriteProc: File too large.`` on a full disk, once per tile); :func:`native_stderr_held` holds
them while a command's work runs, so that a refusal stays one line.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from icam.core.errors import IcamError, Interrupted, Terminated, environment_error

err_console = Console(stderr=True)


def _fail(exc: IcamError):
    err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def fail_cleanly(func):
    """Turn an :class:`~icam.core.errors.IcamError`, Ctrl-C or a machine's refusal to write raised by a command
    into one line on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except IcamError as exc:
            raise _fail(exc) from None
        except KeyboardInterrupt as exc:
            raise _fail(Interrupted.by(isinstance(exc, Terminated))) from None
        except OSError as exc:
            problem = environment_error(exc)
            if problem is None:
                raise
            raise _fail(problem) from None

    return wrapper


def _stderr_fd() -> int | None:
    try:
        return sys.__stderr__.fileno()
    except (AttributeError, ValueError, OSError):
        return None


@contextmanager
def native_stderr_held() -> Iterator[None]:
    """Hold what is written to the process's stderr file descriptor (by C libraries: GDAL, libtiff) while the
    block runs. Ending with an :class:`IcamError` (one line says what went wrong) it is dropped; ending any
    other way it is written out. Python's own ``sys.stderr`` stays live (a ``--wait`` notice, a warning)."""
    fd = _stderr_fd()
    if fd is None:
        yield
        return
    sys.__stderr__.flush()
    saved = os.dup(fd)
    live = None
    python_stderr = sys.stderr
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), fd)
        if python_stderr is sys.__stderr__:
            live = open(saved, "w", closefd=False, encoding=python_stderr.encoding, errors="backslashreplace",
                        buffering=1)
            sys.stderr = live
        show = True
        try:
            yield
        except IcamError:
            show = False
            raise
        finally:
            if live is not None:
                live.flush()
                sys.stderr = python_stderr
            os.dup2(saved, fd)
            os.close(saved)
            if show:
                held.seek(0)
                os.write(fd, held.read())
