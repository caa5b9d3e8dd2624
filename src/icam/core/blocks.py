"""Block-wise raster work: square blocks read with a declared halo, giving the whole array's answer.

A raster step written as a per-block function ``f(*windows) -> window`` is exact block by block when each
output pixel depends only on the input pixels within its halo: ``halo_px`` rows and columns on every side
(a focal filter of radius r needs r; a distance capped at c metres needs ⌈c / cell size⌉). Each block is
read grown by the halo (clipped at the raster's edges, so the function sees the raster's own border where
the whole array would), the function runs on that window, and the halo is cut from its result. Statistics
are reduced the same way: a per-block result (a bincount per zone and class, say) summed over the blocks.

Memory is then one block and its halo per worker whatever the raster's size; :func:`map_blocks` walks the
blocks in row-major order in this process (the default below a size threshold), and the same functions are
what a distributed scheduler runs per chunk (dask's ``map_overlap`` with ``boundary="none"`` is this halo).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from icam.core.errors import InputError

BLOCKWISE_MIN_PX = 100_000_000  # a map above it runs block by block by default: 3 GB of whole-map arrays and more
CONNECT_SECONDS = 20  # how long to try to reach a dask scheduler
BLOCK_PX = 1024  # a block's side: 4 MB of float32; large enough that a 170-pixel halo costs < 2x


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    rows, cols = (value, value) if np.isscalar(value) else tuple(value)
    if int(rows) != rows or int(cols) != cols or rows < 0 or cols < 0:
        raise InputError(f"{name} must be non-negative whole pixels, got {value}")
    return int(rows), int(cols)


@dataclass(frozen=True)
class BlockGrid:
    """A raster of ``shape`` cut into blocks of ``block_px`` × ``block_px`` (the last row and column of blocks
    may be smaller), read with ``halo_px`` more pixels on every side (an int, or (rows, columns))."""

    shape: tuple[int, int]
    block_px: int = BLOCK_PX
    halo_px: int | tuple[int, int] = 0

    def __post_init__(self) -> None:
        if len(self.shape) != 2 or min(self.shape) < 1:
            raise InputError(f"a block grid needs a 2-D raster shape, got {self.shape}")
        if int(self.block_px) < 1:
            raise InputError(f"block_px must be at least 1, got {self.block_px}")
        _pair(self.halo_px, "halo_px")

    def windows(self) -> Iterator[tuple[slice, slice]]:
        """Each block's (rows, columns), row-major."""
        rows, cols = self.shape
        for r0 in range(0, rows, self.block_px):
            for c0 in range(0, cols, self.block_px):
                yield slice(r0, min(r0 + self.block_px, rows)), slice(c0, min(c0 + self.block_px, cols))

    def haloed(self, window: tuple[slice, slice]) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
        """(the block grown by the halo and clipped to the raster, where the block lies inside that read)."""
        halo = _pair(self.halo_px, "halo_px")
        read, inner = [], []
        for s, h, n in zip(window, halo, self.shape):
            lo, hi = max(0, s.start - h), min(n, s.stop + h)
            read.append(slice(lo, hi))
            inner.append(slice(s.start - lo, s.stop - lo))
        return (read[0], read[1]), (inner[0], inner[1])


def haloed_blocks(arrays: Sequence[np.ndarray], *, halo_px: int | tuple = 0, block_px: int = BLOCK_PX
                  ) -> Iterator[tuple[tuple[slice, slice], list[np.ndarray], tuple[slice, slice]]]:
    """Each block of the arrays (2-D, one shape), row-major: (the block's window, the arrays read over it
    grown by the halo, where the block lies in those reads)."""
    grid = BlockGrid(_one_shape(arrays), block_px, halo_px)
    for window in grid.windows():
        read, inner = grid.haloed(window)
        yield window, [a[read] for a in arrays], inner


def map_blocks(func: Callable[..., np.ndarray], arrays: Sequence[np.ndarray], *, dtype, halo_px: int | tuple = 0,
               block_px: int = BLOCK_PX, pool: Executor | None = None) -> np.ndarray:
    """``func`` applied block by block to the arrays (2-D, one shape), each block read with the halo; the
    results (each of its read window's shape) cut to their blocks and put together. ``pool``: where the blocks
    run (:func:`block_executor`; None: in this thread); each task carries its block and halo, not the arrays,
    and ``func`` must then be picklable (a module-level function, or a ``functools.partial`` of one)."""
    out = np.empty(_one_shape(arrays), dtype=dtype)
    blocks = list(haloed_blocks(arrays, halo_px=halo_px, block_px=block_px))
    tasks = [(views, inner) for _, views, inner in blocks]  # views: a process pool pickles each as it is submitted
    for (window, _, _), result in zip(blocks, imap(pool or _InThisThread(), _cut_block, repeat(func), tasks)):
        out[window] = result
    return out


def _cut_block(func: Callable[..., np.ndarray], task: tuple[list[np.ndarray], tuple[slice, slice]]) -> np.ndarray:
    """``func`` on one block read with its halo, cut to the block (a task of :func:`map_blocks`)."""
    views, inner = task
    result = func(*views)
    if result.shape != views[0].shape:
        raise InputError(f"a block function returned {result.shape} for a window of {views[0].shape}")
    return result[inner]


def reduce_blocks(func: Callable[..., np.ndarray], arrays: Sequence[np.ndarray], *,
                  block_px: int = BLOCK_PX) -> np.ndarray:
    """The sum over the blocks of ``func(*blocks)`` (each a fixed-shape array, e.g. a bincount with a
    ``minlength``): a statistic of the whole raster with one block in memory at a time."""
    grid = BlockGrid(_one_shape(arrays), block_px)
    total = None
    for window in grid.windows():
        part = np.asarray(func(*(a[window] for a in arrays)))
        total = part.copy() if total is None else total + part
    return total


class ArraySource:
    """A raster in memory, read by window (for one process: sent to other processes it is copied whole)."""

    def __init__(self, array: np.ndarray):
        self.array = np.asarray(array)
        if self.array.ndim != 2:
            raise InputError(f"a raster source must be 2-D, got shape {self.array.shape}")
        self.shape = self.array.shape

    def read(self, window: tuple[slice, slice]) -> np.ndarray:
        return self.array[window]


class FileSource:
    """One band of a raster file, read by window (a tiled GeoTIFF or COG: a block reads only its tiles); what
    a task sends to another process or machine is the path, not the pixels. ``nodata_as``: the value the
    file's no-data cells read as (None: as they are)."""

    def __init__(self, path: str | Path, band: int = 1, nodata_as=None):
        self.path, self.band, self.nodata_as = str(path), int(band), nodata_as
        with rasterio.open(self.path) as src:
            self.shape, self.nodata = (src.height, src.width), src.nodata

    def read(self, window: tuple[slice, slice]) -> np.ndarray:
        rows, cols = window
        with rasterio.open(self.path) as src:
            data = src.read(self.band, window=Window(cols.start, rows.start, cols.stop - cols.start,
                                                     rows.stop - rows.start))
        if self.nodata_as is not None and self.nodata is not None:
            data[data == self.nodata] = self.nodata_as
        return data


class _InThisThread(Executor):
    """An executor that runs each task when it is submitted (the default: no pool to start)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller by future.result(), as a pool would
            future.set_exception(exc)
        return future


def cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def on_every_core(work: Callable[[int], None], starts: range) -> None:
    """``work(start)`` for each start, in threads, one per core this process may use (each writes its own
    rows of a shared result, so the order they finish in does not matter); in this thread where one core
    or one start."""
    workers = min(cores(), len(starts))
    if workers <= 1:
        for start in starts:
            work(start)
        return
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, starts))  # list(): a worker's exception is raised here


@contextmanager
def block_executor(scheduler: str | None = None) -> Iterator[Executor]:
    """Where per-block tasks run: ``None`` or ``"sync"`` in this thread; ``"threads"`` or ``"processes"`` on
    this machine's cores; ``"tcp://HOST:PORT"`` on a dask.distributed cluster (its scheduler's address, e.g. a
    ``LocalCluster``, dask-jobqueue or Kubernetes; docs/scale.md). Tasks must be module-level functions of
    picklable arguments for the last two (sources by path: :class:`FileSource`)."""
    if scheduler in (None, "sync"):
        yield _InThisThread()
    elif scheduler == "threads":
        with ThreadPoolExecutor(cores()) as pool:
            yield pool
    elif scheduler == "processes":
        with ProcessPoolExecutor(cores(), mp_context=_clean_start(), initializer=_worker_signals) as pool:
            yield pool
    elif isinstance(scheduler, str) and scheduler.startswith("tcp://"):
        with _dask_client(scheduler) as client:
            yield client.get_executor()
    else:
        raise InputError(f"unknown scheduler {scheduler!r}", "use sync, threads, processes or tcp://HOST:PORT")


def _clean_start():
    """How worker processes start: from a fresh server process where there is one (Linux's forkserver), not forked
    from the caller. A worker forked from a run holding gigabytes of maps keeps those pages alive after the run
    frees them (a jurisdiction's run: 1.6 GB more, all processes summed)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _worker_signals() -> None:
    """A worker process's start: Ctrl-C is its parent's to handle (it stops the pool), and SIGTERM ends it at once
    (not the handler it inherited with the fork, which would let the block finish)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _dask_client(address: str):
    """A dask.distributed client of the scheduler at ``address``; one that cannot be reached is an InputError."""
    from distributed import Client  # noqa: PLC0415 (seconds to import, and only for a cluster)

    try:
        return Client(address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the dask scheduler at {address} ({exc})",
                         "start the cluster (`dask scheduler`, then `dask worker ADDRESS`) or check the address; "
                         "docs/scale.md") from None


def imap(pool: Executor, fn: Callable, *iterables, ahead: int | None = None) -> Iterator:
    """``pool.map(fn, *iterables)`` in order, with at most ``ahead`` tasks submitted and not yet consumed
    (default: twice the cores): ``Executor.map`` submits every task at once, and the results finished
    before the caller takes them (a block of the risk map each) would pile up in memory."""
    ahead = ahead or 2 * cores()
    pending: deque[Future] = deque()
    for args in zip(*iterables):
        pending.append(pool.submit(fn, *args))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _one_shape(arrays: Sequence[np.ndarray]) -> tuple[int, int]:
    if not arrays:
        raise InputError("block-wise work needs at least one raster")
    shapes = {np.shape(a) for a in arrays}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise InputError(f"block-wise work needs 2-D rasters of one shape, got {sorted(shapes)}")
    return next(iter(shapes))


__all__ = ["BLOCKWISE_MIN_PX", "BLOCK_PX", "ArraySource", "BlockGrid", "FileSource", "block_executor", "cores",
           "haloed_blocks", "imap", "map_blocks", "reduce_blocks"]
