"""The machine, not the input: read-only folders, a full disk, Ctrl-C or SIGTERM, two runs at once, a locked
database, an ``outputs`` that is a user's file, the umask. Each is one line, a non-zero exit, no traceback, and
the outputs, registry and ledger byte-identical.

Read-only folders are refused by the operating system only to a user without the override that root has: the
command runs in a forked child which, where the tests run as root, first gives up CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH (``capset``), so that permissions apply to it as to anyone. A full disk is a real limit on
the size of the files a child process may write (``RLIMIT_FSIZE``: writing past it fails with EFBIG, as a full
disk fails with ENOSPC); Ctrl-C is a real SIGINT, and a service manager's stop a real SIGTERM.
"""

import ctypes
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import assert_refused, copy_project, folder_state, run_cli
from icam.store import db

LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _as_a_plain_user() -> None:
    """This process loses root's right to ignore file permissions (a plain user has nothing to lose)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    data[0].effective &= ~((1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH))
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def _run_as_a_plain_user(*args) -> tuple[int, str]:
    """``icam ARGS`` in-process in a forked child that cannot override file permissions: (exit code, output)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        try:
            os.close(read)
            _as_a_plain_user()
            payload = json.dumps(run_cli(*args))
        except BaseException as exc:  # noqa: B036 - whatever happens, the child must reach os._exit
            payload = json.dumps([-1, f"Traceback: the child failed: {exc!r}"])
        with os.fdopen(write, "w") as f:
            f.write(payload)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        code, output = json.loads(f.read() or '[-1, "Traceback: no answer"]')
    os.waitpid(pid, 0)
    return code, output


def _refused_as_a_plain_user(folder: Path, *args, match: str) -> str:
    """``icam ARGS`` is refused in one line matching ``match`` to a user without root's override, and nothing
    under ``folder`` changed."""
    before = folder_state(folder)
    code, output = _run_as_a_plain_user(*args)
    lines = output.strip().splitlines()
    assert code != 0 and "Traceback" not in output and len(lines) == 1 and lines[0].startswith("error:"), output
    assert re.search(match, lines[0]), lines[0]
    assert folder_state(folder) == before, "files changed by a refused run"
    return lines[0]


def _icam(*args, preexec=None) -> subprocess.Popen:
    """``python -m icam ARGS`` as a child process (its stdout and stderr piped)."""
    env = {**os.environ, "COLUMNS": "300"}  # one line stays one line
    env.pop(db.DATABASE_URL_ENV, None)
    return subprocess.Popen([sys.executable, "-m", "icam", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=preexec, env=env)


def _no_debris(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.startswith((".outputs-staging-", ".outputs-previous-"))]
    assert not list((folder / ".icam" / "cache").glob(".tmp-*"))


@pytest.fixture
def project(small_project, tmp_path):
    """A run small project of this test's own; its folders made writable again afterwards for the clean-up."""
    folder = copy_project(small_project, tmp_path / "project")
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR)


def _read_only(*folders: Path) -> None:
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


# --------------------------------------------------------------------------- refused before computing


def test_read_only_project_folder(project):
    _read_only(project)
    _refused_as_a_plain_user(project, "run", project, match=rf"the project folder {re.escape(str(project))} is not "
                                                    r"writable.*chmod -R u\+w")


def test_read_only_outputs_folder_is_refused_before_computing(project):
    _read_only(project / "outputs" / "rasters")
    started = time.monotonic()
    line = _refused_as_a_plain_user(project, "run", project, match=r"the outputs folder .*/outputs is not writable "
                                                           r"\(.*/outputs/rasters is read-only\)")
    assert "chmod -R u+w" in line and time.monotonic() - started < 5  # a rerun takes longer: nothing computed


def test_read_only_ledger(project):
    ledger = project / ".icam" / "ledger.sqlite"
    ledger.chmod(0o444)
    _refused_as_a_plain_user(project, "run", project, match=r"the ledger .*ledger\.sqlite is read-only")


@pytest.mark.parametrize("kind", ["file", "link"])
def test_outputs_that_is_a_users_file_is_kept_and_refused(project, tmp_path, kind):
    shutil.rmtree(project / "outputs")
    if kind == "file":
        (project / "outputs").write_text("my notes, not icam's")
    else:
        (tmp_path / "elsewhere").mkdir()
        (project / "outputs").symlink_to(tmp_path / "elsewhere")
    assert_refused(project, "run", project, match=rf"outputs is a {kind}, not the outputs folder icam writes; "
                                                 "move or rename it")
    assert (project / "outputs").is_symlink() or (project / "outputs").read_text() == "my notes, not icam's"


# --------------------------------------------------------------------------- failing while computing


@contextmanager
def _file_size_limit(limit: int):
    """Writing a file past ``limit`` bytes fails with EFBIG in this process while the block runs (the soft limit
    only: it is raised back after), as writing on a full disk fails with ENOSPC."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG rather than the signal's default: a core dump
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


# past 150 kB: the first raster or GeoPackage of the outputs above it (the small project's are 100–700 kB), written
# by GDAL or OGR, whose errors carry no errno; past 500 kB: the cache's arrays (the landscape's masks and
# administrative units, 0.8 MB each), through numpy, an OSError like the report writer's (1.7 MB, the last output
# written: the same path, slower to reach)
@pytest.mark.parametrize(("limit", "stale"), [(150_000, None), (500_000, "landscape")],
                         ids=["GDAL/OGR writer", "cache writer (numpy)"])
def test_full_disk(project, limit, stale):
    if stale is not None:  # the stage is computed again and its result stored
        shutil.rmtree(next((project / ".icam" / "cache").glob(f"{stale}-*")))
    before = folder_state(project)
    with _file_size_limit(limit):
        code, output = run_cli("run", project)
    assert code == 2 and output == ("error: out of disk space (File too large); free some space and run again; "
                                    "nothing was published.\n"), output
    assert folder_state(project) == before
    _no_debris(project)


@pytest.mark.parametrize(("signum", "code", "said"), [(signal.SIGINT, 130, "interrupted"),
                                                      (signal.SIGTERM, 143, "terminated (SIGTERM)")],
                         ids=["Ctrl-C", "SIGTERM"])
def test_ctrl_c_or_sigterm_publishes_nothing_and_removes_the_staging_folder(project, signum, code, said):
    before = folder_state(project)
    child = _icam("run", project)
    deadline = time.monotonic() + 120
    while not list(project.glob(".outputs-staging-*")):  # the run is computing into its staging folder
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    time.sleep(0.5)
    child.send_signal(signum)
    out, err = child.communicate(timeout=120)
    assert child.returncode == code, (out, err)
    assert err.strip() == f"error: {said}; nothing was published." and "Traceback" not in out
    _no_debris(project)
    assert folder_state(project) == before


def test_sigterm_while_the_demo_simulates_stops_the_simulating_processes(tmp_path):
    """The demo simulates in a forked process (and that one in workers of its own): stopped with the command, none
    left writing."""
    import psutil

    child = _icam("demo", "--dir", tmp_path / "demo", "--scale", "small")
    deadline = time.monotonic() + 120
    while not (descendants := psutil.Process(child.pid).children(recursive=True)):  # simulating
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    time.sleep(0.5)
    descendants = psutil.Process(child.pid).children(recursive=True)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 143, (out, err)
    assert err.strip() == (f"error: terminated (SIGTERM); stopped while simulating: {tmp_path / 'demo'} holds an "
                           "incomplete simulated project; run icam demo again to write it whole.")
    _, alive = psutil.wait_procs(descendants, timeout=10)
    assert not alive


def test_two_runs_at_once_one_refuses_the_other_completes(project):
    first = _icam("run", project)
    owner = project / ".icam" / "run.owner.json"
    deadline = time.monotonic() + 120
    while not (owner.exists() and f'"pid": {first.pid}' in owner.read_text()):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    code, output = run_cli("run", project)
    lines = output.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in output, output
    assert re.match(rf"error: {re.escape(str(project))} is being run by icam run \(pid {first.pid}, started .*; "
                    r"wait for that run to finish and try again, or pass --wait", lines[0]), lines[0]
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "Alerts: 0 newly raised" in out  # the registry already held them: raised once, by the first run
    _no_debris(project)


def test_database_locked_by_another_program(project, monkeypatch):
    monkeypatch.setattr(db, "SQLITE_TIMEOUT_S", 0.2)  # wait a fifth of a second for the lock, not 30 s
    monkeypatch.delenv(db.DATABASE_URL_ENV, raising=False)
    before = folder_state(project)
    other = sqlite3.connect(project / ".icam" / "ledger.sqlite", isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another program writing: QGIS, a web app, a script
        code, output = run_cli("run", project)
    finally:
        other.execute("ROLLBACK")
        other.close()
    lines = output.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in output, output
    assert re.match(r"error: .*database is locked.*nothing was published\.$", lines[0]), lines[0]
    assert folder_state(project) == before
    _no_debris(project)


# --------------------------------------------------------------------------- what a run creates


def test_outputs_and_cache_follow_the_umask(project):
    """Under umask 022 a run makes folders 0755 and files 0644 (not mkdtemp's 0700 and mkstemp's 0600)."""
    shutil.rmtree(project / ".icam" / "cache" / next(p.name for p in (project / ".icam" / "cache").iterdir()
                                                     if p.name.startswith("baseline-")))
    umask = os.umask(0o022)
    try:
        code, output = run_cli("run", project)
    finally:
        os.umask(umask)
    assert code == 0, output
    made = [project / "outputs", *(project / "outputs").rglob("*"), *(project / ".icam" / "cache").glob("baseline-*"),
            *(project / ".icam" / "cache").glob("baseline-*/*")]
    folders = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in made if p.is_dir()}
    files = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in made if p.is_file()}
    assert len(folders) >= 5 and set(folders.values()) == {"0o755"}, folders
    assert len(files) >= 30 and set(files.values()) == {"0o644"}, files
