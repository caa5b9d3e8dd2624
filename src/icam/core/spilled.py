"""A raster kept in a temporary file instead of memory, read a range of cells at a time (:class:`SpilledRaster`).

A jurisdiction's five static covariates are 1.2 GB of float32, and each step that reads them wants their values
at some cells (a matching's samples, a year's forest), not the rasters: held whole in memory they stayed resident
in the run and in its background process from the first step that read them to the run's end. In a file they
are read where a step needs them, a range of rows at a time (16 MB), and between reads the system's page cache
holds them, which it can give up under pressure as it cannot a process's memory.

The file is created unlinked (``tempfile.TemporaryFile``, in ``TMPDIR``): nothing is left behind whatever ends
the process, and processes forked after it (workers that write a layer, a background stage that reads it)
share it by its descriptor. Reads and writes give their offset (``pread``/``pwrite``): the processes sharing
the descriptor share its position too, so none may rely on it. Where the system has no ``pread`` (Windows, where
nothing is forked), the file's position is set under a lock.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from typing import BinaryIO

import numpy as np

CHUNK_VALUES = 4 * 1024 * 1024  # values a read holds at a time: 16 MB of float32


class SpilledRaster:
    """A 2-D raster of ``shape`` and ``dtype`` in an unlinked temporary file: :meth:`write` it once, then read
    it at cells (:meth:`at`, :func:`chunks_at`) or whole (``np.asarray``). Pickled, it is the array it holds."""

    def __init__(self, shape: tuple[int, int], dtype):
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self._file = tempfile.TemporaryFile(prefix="icam-raster-")
        self._file.truncate(self.nbytes)
        self._lock = threading.Lock()

    @classmethod
    def of(cls, array: np.ndarray) -> SpilledRaster:
        """``array`` (2-D) in a new spilled raster of its shape and dtype."""
        spilled = cls(array.shape, array.dtype)
        spilled.write(array)
        return spilled

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def write(self, array: np.ndarray) -> None:
        """Store ``array`` (of the raster's shape, cast to its dtype)."""
        if tuple(array.shape) != self.shape:
            raise ValueError(f"a raster of shape {self.shape} cannot hold an array of shape {array.shape}")
        data = memoryview(np.ascontiguousarray(array, dtype=self.dtype)).cast("B")
        done = 0
        try:
            while done < len(data):  # a write may store less than asked (a signal, a very large write)
                done += self._write_at(data[done:], done)
        except OSError as exc:  # a full disk: say where, the folder TMPDIR chooses (the file has no name)
            raise OSError(exc.errno, exc.strerror, f"a temporary file in {tempfile.gettempdir()} (TMPDIR)") from None

    def read_flat(self, start: int, stop: int) -> np.ndarray:
        """The values at flat indices ``start`` … ``stop`` − 1 (a new array)."""
        out = np.empty(stop - start, self.dtype)
        view, done = memoryview(out).cast("B"), 0
        offset = start * self.dtype.itemsize
        while done < len(view):
            got = self._read_at(view[done:], offset + done)
            if got == 0:
                raise OSError(f"a temporary raster file ended {len(view) - done} bytes early")
            done += got
        return out

    def _write_at(self, data: memoryview, offset: int) -> int:
        if hasattr(os, "pwrite"):
            return os.pwrite(self._file.fileno(), data, offset)
        with self._lock:  # Windows: no pwrite, and no fork either, but the risk models' threads
            self._file.seek(offset)
            return self._file.write(data)

    def _read_at(self, view: memoryview, offset: int) -> int:
        if hasattr(os, "preadv"):
            return os.preadv(self._file.fileno(), [view], offset)
        with self._lock:
            self._file.seek(offset)
            return self._file.readinto(view)

    def copy_to(self, file: BinaryIO) -> None:
        """Write its values, in C order, to the binary ``file`` at its position, a chunk at a time."""
        for start in range(0, self.size, CHUNK_VALUES):
            self.read_flat(start, min(start + CHUNK_VALUES, self.size)).tofile(file)

    def at(self, cells: np.ndarray) -> np.ndarray:
        """The values at the flat indices ``cells`` (any order), read a chunk of the file at a time."""
        out = np.empty(len(cells), self.dtype)
        for positions, offsets, (values,) in chunks_at([self], cells):
            out[positions] = values[offsets]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self.read_flat(0, self.size).reshape(self.shape)
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __reduce__(self):
        return np.asarray, (np.asarray(self),)


def chunks_at(rasters: Sequence[SpilledRaster], cells: np.ndarray, chunk_values: int | None = None
              ) -> Iterator[tuple[slice | np.ndarray, np.ndarray, list[np.ndarray]]]:
    """The values of ``rasters`` (of one shape) at the flat indices ``cells``, a range of ``chunk_values`` flat
    indices (:data:`CHUNK_VALUES`) of the files at a time: per range holding cells, (those cells' positions in
    ``cells``: a slice where ``cells`` ascend, else an index array; their offsets in what was read; each
    raster's values from the range's first cell to its last). Nothing outside the cells' span is read."""
    chunk_values = chunk_values or CHUNK_VALUES
    cells = np.asarray(cells)
    ascending = cells.size < 2 or bool(np.all(cells[1:] >= cells[:-1]))
    order = None if ascending else np.argsort(cells, kind="stable")
    ordered = cells if order is None else cells[order]
    size = rasters[0].size if rasters else 0
    bounds = np.arange(0, size + chunk_values, chunk_values).clip(max=size)
    edges = np.searchsorted(ordered, bounds)
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi == lo:
            continue
        first, last = int(ordered[lo]), int(ordered[hi - 1])
        positions = slice(int(lo), int(hi)) if order is None else order[lo:hi]
        yield positions, ordered[lo:hi] - first, [r.read_flat(first, last + 1) for r in rasters]
