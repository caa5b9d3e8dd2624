"""One run at a time per project: ``PROJECT/.icam/run.lock``.

Two runs of one project would read a cache the other is writing, raise the same alerts twice and
race to swap their outputs in. A run holds an OS-level lock (``flock`` on Unix, ``LockFileEx`` on
Windows, through the ``filelock`` package) on ``.icam/run.lock`` from before its first stage to
after its outputs are published; the operating system releases it when the process ends, however it
ends, so a killed run never leaves the project locked. ``.icam/run.owner.json`` says who holds it
(process id, host, command, start time), for the message of a run that finds it taken.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from icam.core.atomic import atomic_write_text
from icam.core.errors import IcamError, environment_error

LOCK_FILE = Path(".icam") / "run.lock"
OWNER_FILE = Path(".icam") / "run.owner.json"

_held = threading.local()  # the projects this thread holds: `icam demo` simulates, then runs, under one lock


@dataclass(frozen=True)
class LockOwner:
    """Who holds a project's run lock."""

    pid: int | None
    host: str | None
    command: str | None
    started: str | None  # ISO 8601, UTC

    def describe(self) -> str:
        """``icam run (pid 4242 on host, started 2026-12-04 08:52 UTC)``, with what is known."""
        if self.pid is None:
            return "another icam run"
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        started = f", started {self.started.replace('T', ' ')[:16]} UTC" if self.started else ""
        return f"{self.command or 'icam run'} (pid {self.pid}{where}{started})"


def lock_owner(project_dir: Path) -> LockOwner:
    """What ``.icam/run.owner.json`` says (all None where it is missing or unreadable)."""
    try:
        data = json.loads((Path(project_dir) / OWNER_FILE).read_text(encoding="utf-8"))
        return LockOwner(int(data["pid"]), data.get("host"), data.get("command"), data.get("started"))
    except (OSError, ValueError, KeyError, TypeError):
        return LockOwner(None, None, None, None)


def _held_here() -> set[str]:
    if not hasattr(_held, "paths"):
        _held.paths = set()
    return _held.paths


def _acquire(lock: FileLock, project_dir: Path, wait: bool, on_wait: Callable[[LockOwner], None] | None) -> None:
    try:
        lock.acquire(timeout=0)
        return
    except Timeout:
        owner = lock_owner(project_dir)
    if not wait:
        raise IcamError(f"{project_dir} is being run by {owner.describe()}",
                        "wait for that run to finish and try again, or pass --wait to wait for it")
    if on_wait is not None:
        on_wait(owner)
    lock.acquire()  # polls; Ctrl-C stops the wait


@contextmanager
def run_lock(project_dir: Path, *, wait: bool = False, command: str = "icam run",
             on_wait: Callable[[LockOwner], None] | None = None) -> Iterator[None]:
    """Hold the project's run lock for the block; refuse in one line if another process holds it, or with
    ``wait`` wait for it (``on_wait(owner)`` is called once before waiting). Re-entrant within a thread.

    If the block fails and ``.icam`` did not exist before, the lock leaves nothing behind (a refused
    command must not change the folder).
    """
    project_dir = Path(project_dir)
    key = str(project_dir.resolve())
    held = _held_here()
    if key in held:
        yield
        return
    icam_dir = project_dir / LOCK_FILE.parent
    created = not icam_dir.exists()
    try:
        icam_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(project_dir / LOCK_FILE))
        _acquire(lock, project_dir, wait, on_wait)
    except OSError as exc:
        raise environment_error(exc, "nothing was changed") or exc from None
    ok = False
    try:
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                 "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        atomic_write_text(project_dir / OWNER_FILE, json.dumps(owner))
        held.add(key)
        yield
        ok = True
    finally:
        held.discard(key)
        (project_dir / OWNER_FILE).unlink(missing_ok=True)
        if created and not ok:
            (project_dir / LOCK_FILE).unlink(missing_ok=True)
            _remove_if_empty(icam_dir)
        lock.release()


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # something else was written there: it stays
