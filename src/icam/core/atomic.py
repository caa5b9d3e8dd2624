"""Atomic file writes: readers never see half a file, and a failure leaves none behind.

Temporary files and folders are created with the user's umask (``tempfile.mkstemp`` and
``mkdtemp`` would make them 0600 and 0700, and a rename keeps that mode): a file icam writes comes
out as any other program's would, e.g. 0644 under the usual umask 022.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

_TRIES = 100  # random names tried before giving up (a clash is a 1-in-2^64 event per try)


def _fresh_name(folder: Path, prefix: str, suffix: str) -> Path:
    return folder / f"{prefix}{secrets.token_hex(8)}{suffix}"


def create_file(folder: Path, prefix: str, suffix: str = "") -> Path:
    """Create a new empty file with a random name in ``folder``, mode 0666 less the umask; its path."""
    for _ in range(_TRIES):
        path = _fresh_name(folder, prefix, suffix)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise FileExistsError(f"no free temporary name in {folder}")


def create_folder(folder: Path, prefix: str) -> Path:
    """Create a new empty folder with a random name in ``folder``, mode 0777 less the umask; its path."""
    for _ in range(_TRIES):
        path = _fresh_name(folder, prefix, "")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free temporary name in {folder}")


def write_probe(folder: Path, size: int = 16 << 20) -> OSError | None:
    """None if ``size`` bytes (default 16 MiB) can still be written in ``folder``, else the OSError the attempt
    met (ENOSPC, EFBIG, EDQUOT, EACCES, EROFS…). It tells a writer's unexplained failure (GDAL's and OGR's
    errors carry no errno) on a full disk or a folder turned read-only from a bug; the probe file is removed."""
    try:
        path = create_file(Path(folder), ".icam-space-probe-")
    except OSError as exc:
        return exc
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, 0, size)  # reserves the blocks without writing them
            else:
                os.write(fd, bytes(size))
        finally:
            os.close(fd)
    except OSError as exc:
        return exc
    finally:
        path.unlink(missing_ok=True)
    return None


@contextmanager
def atomic_path(path: Path | str, *, create: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``, on failure removed.

    The temporary file keeps ``path``'s suffix, so GDAL and OGR pick the right driver. It does not
    exist when yielded (drivers such as GeoPackage create it themselves) unless ``create`` is true.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = create_file(path.parent, f".{path.stem}.", f".tmp{path.suffix}")
    if not create:
        tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_csv_rows(path: Path | str, header: list[str], rows: Iterable[list]) -> Path:
    """Write a header and ``rows`` as a UTF-8, comma-separated CSV (``\n`` line ends) atomically; ``path``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())
    return Path(path)
