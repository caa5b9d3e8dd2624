"""The stage cache, ``PROJECT/.icam/cache``: each stage's last result, kept as memory-mapped arrays.

One folder per cached result, ``<stage>-<first 20 hex digits of its key>/``:

- ``result.pkl``: the result pickled with protocol 5, every numpy buffer of at least
  :data:`MIN_FILE_BYTES` taken out of band (``buffer_callback``), so the pickle holds only the
  small things (numbers, tables, the arrays' dtypes and shapes);
- ``000.npy``, ``001.npy`` …: those buffers, loaded back with ``np.load(mmap_mode="c")``: a
  cached map costs no read and no memory until a stage touches it, and a stage that writes into
  one writes into its own copy of the pages (copy-on-write), never into the cache. A raster kept in a
  temporary file (:class:`~icam.core.spilled.SpilledRaster`) is copied from its file into its own,
  a range of values at a time, and comes back as the array it holds;
- ``entry.json``: the stage, its full key and the number of buffers, written last.

Boolean masks are stored one bit per cell (``np.packbits``) and unpacked on load: a byte per cell
for a yes/no value would be most of the cache. Paths inside the project folder are stored
relative to it and resolved against the folder the cache is read from, so a project folder that
was moved (or copied) reads its cache as if it had been computed where it now is.

A folder is written under a temporary name and renamed into place, so a run killed while storing
leaves no entry that looks whole; a broken entry is deleted and recomputed.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from icam.core.atomic import atomic_write_text, create_folder
from icam.core.spilled import SpilledRaster

CACHE_DIR = ".icam/cache"
ENTRY_PICKLE = "result.pkl"
ENTRY_INFO = "entry.json"
MIN_FILE_BYTES = 64 * 1024  # smaller buffers stay inside the pickle (a file each would cost more than it saves)
FORMAT = 2  # 1: one whole pickle per stage (icam ≤ 0.1 before issue 14); 2: this layout
_TMP_PREFIX = ".tmp-"
_PROJECT = "<project>"  # how a path inside the project folder is written in keys and pickles


def project_roots(project_dir: Path) -> tuple[str, ...]:
    """The spellings of the project folder that paths inside it start with (resolved first, then absolute)."""
    project_dir = Path(project_dir)
    return tuple(dict.fromkeys((str(project_dir.resolve()), str(project_dir.absolute()))))


def relative_to_project(text: str, roots: tuple[str, ...]) -> str | None:
    """``<project>/a/b`` for a path string inside the project folder (any spelling in ``roots``), else None."""
    for root in roots:
        if text == root:
            return _PROJECT
        if text.startswith(root + os.sep):
            return _PROJECT + "/" + text[len(root) + 1:].replace(os.sep, "/")
    return None


def portable(value: Any, roots: tuple[str, ...]) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, paths) with every path inside the project folder relative
    to it: the form a cache key hashes, so that moving the folder keeps the keys."""
    if isinstance(value, (str, PurePath)):
        return relative_to_project(str(value), roots) or (str(value) if isinstance(value, PurePath) else value)
    if isinstance(value, dict):
        return {k: portable(v, roots) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v, roots) for v in value]
    return value


def _unpack_bool(packed: np.ndarray, shape: tuple[int, ...], order: str) -> np.ndarray:
    """A boolean array stored by :class:`_Pickler` one bit per value."""
    count = int(np.prod(shape, dtype=np.int64))
    return np.unpackbits(packed, count=count).view(bool).reshape(shape, order=order)


class _Pickler(pickle.Pickler):
    """Protocol 5 with large buffers out of band, boolean arrays as bits, project paths relative."""

    def __init__(self, file, roots: tuple[str, ...]):
        super().__init__(file, protocol=5, buffer_callback=self._out_of_band)
        self.roots = roots
        self.buffers: list[memoryview | SpilledRaster] = []
        self._spilled: dict[int, tuple[bytearray, SpilledRaster]] = {}  # by its marker's id (reducer_override)

    def _out_of_band(self, buffer: pickle.PickleBuffer) -> bool:
        raw = buffer.raw()
        marked = self._spilled.pop(id(raw.obj), None)
        if marked is not None:
            self.buffers.append(marked[1])
            return False
        if raw.nbytes < MIN_FILE_BYTES:
            return True  # a true value keeps the buffer in the pickle
        self.buffers.append(raw)
        return False

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is str or isinstance(obj, PurePath):
            relative = relative_to_project(str(obj), self.roots)
            if relative is not None:
                return ("path" if isinstance(obj, PurePath) else "str", relative)
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, SpilledRaster):
            # a marker buffer out of band, whose file :func:`store` fills from the raster's: read whole to be
            # pickled, a jurisdiction's risk map and score were 0.49 GB more in the run at the risk stage's end
            marker = bytearray(1)
            self._spilled[id(marker)] = (marker, obj)
            return np.asarray, (pickle.PickleBuffer(marker),)
        if type(obj) is np.ndarray and obj.dtype == np.bool_ and obj.nbytes >= MIN_FILE_BYTES:
            order = "F" if obj.flags.f_contiguous and not obj.flags.c_contiguous else "C"
            return _unpack_bool, (np.packbits(obj.ravel(order=order)), obj.shape, order)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, root: Path, buffers: list):
        super().__init__(file, buffers=buffers)
        self.root = root

    def persistent_load(self, pid: Any) -> Any:
        kind, relative = pid
        path = self.root if relative == _PROJECT else self.root / relative[len(_PROJECT) + 1:]
        return path if kind == "path" else str(path)


def entry_name(stage: str, key: str) -> str:
    """The folder name of a stage's cached result."""
    return f"{stage}-{key[:20]}"


def store(cache_dir: Path, stage: str, key: str, result: Any, project_dir: Path) -> Path:
    """Write ``result`` as the cached result of ``stage`` under ``key``, replacing the stage's older entries."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    pickler_file = io.BytesIO()
    pickler = _Pickler(pickler_file, project_roots(project_dir))
    pickler.dump(result)
    tmp = create_folder(cache_dir, f"{_TMP_PREFIX}{stage}-")
    try:
        for i, raw in enumerate(pickler.buffers):
            with open(tmp / f"{i:03d}.npy", "wb") as f:
                if isinstance(raw, SpilledRaster):
                    header = {"descr": np.lib.format.dtype_to_descr(raw.dtype), "fortran_order": False,
                              "shape": raw.shape}
                    np.lib.format.write_array_header_1_0(f, header)
                    raw.copy_to(f)
                else:
                    np.save(f, np.frombuffer(raw, dtype=np.uint8), allow_pickle=False)
        (tmp / ENTRY_PICKLE).write_bytes(pickler_file.getvalue())
        info = {"format": FORMAT, "stage": stage, "key": key, "buffers": len(pickler.buffers)}
        atomic_write_text(tmp / ENTRY_INFO, json.dumps(info))
        for old in _stage_entries(cache_dir, stage):
            _remove(old)
        os.replace(tmp, cache_dir / entry_name(stage, key))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return cache_dir / entry_name(stage, key)


def load(cache_dir: Path, stage: str, key: str, project_dir: Path) -> tuple[bool, Any]:
    """(True, result) where ``stage`` has a whole cached result for ``key``; else (False, None), a broken
    or stale entry of that name deleted."""
    folder = cache_dir / entry_name(stage, key)
    if not folder.is_dir():
        return False, None
    try:
        info = json.loads((folder / ENTRY_INFO).read_text(encoding="utf-8"))
        if info.get("format") != FORMAT or info.get("key") != key:
            raise ValueError("another key or format")
        buffers = [np.load(folder / f"{i:03d}.npy", mmap_mode="c", allow_pickle=False)
                   for i in range(int(info["buffers"]))]
        with open(folder / ENTRY_PICKLE, "rb") as f:
            return True, _Unpickler(f, Path(project_dir).resolve(), buffers).load()
    except (OSError, ValueError, KeyError, TypeError, pickle.UnpicklingError, EOFError, AttributeError,
            ImportError):
        _remove(folder)  # a stale or broken entry is recomputed
        return False, None


def remove_incomplete(cache_dir: Path) -> None:
    """Delete the folders of entries that a killed run was writing (call it holding the run lock)."""
    for folder in cache_dir.glob(f"{_TMP_PREFIX}*"):
        shutil.rmtree(folder, ignore_errors=True)


def _stage_entries(cache_dir: Path, stage: str) -> list[Path]:
    return [p for p in cache_dir.glob(f"{stage}-*") if p.name.rpartition("-")[0] == stage]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class CacheEntry:
    """One cached stage result: the stage, the start of its key, its size on disk and its layout
    (:data:`FORMAT`, or 1 for a whole-stage pickle of an older icam, which no run reads)."""

    stage: str
    key: str
    size_bytes: int
    files: int
    format: int


def _size(path: Path) -> tuple[int, int]:
    if path.is_file():
        return path.stat().st_size, 1
    files = [f for f in path.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files), len(files)


def cache_entries(project_dir: Path) -> list[CacheEntry]:
    """The cached stage results of a project, by stage name (temporary folders of a run in progress or
    killed count too, as ``stage`` ``(incomplete)``: they take space, and clearing removes them)."""
    folder = Path(project_dir) / CACHE_DIR
    out = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        size, files = _size(path)
        if path.name.startswith(_TMP_PREFIX):
            out.append(CacheEntry("(incomplete)", "", size, files, FORMAT))
            continue
        stem = path.name.removesuffix(".pkl")
        stage, _, key = stem.rpartition("-")
        out.append(CacheEntry(stage or stem, key, size, files, 1 if path.is_file() else FORMAT))
    return out


def clear_cache(project_dir: Path) -> int:
    """Delete a project's cached stage results; returns the bytes freed."""
    freed = sum(e.size_bytes for e in cache_entries(project_dir))
    shutil.rmtree(Path(project_dir) / CACHE_DIR, ignore_errors=True)
    return freed
