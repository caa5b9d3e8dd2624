"""The process settings icam's commands run best with, set once by the command line as it starts.

**Freed memory kept for reuse** (glibc): :func:`keep_freed_memory`, :func:`release_freed_memory`.

**A small GDAL block cache**: :func:`small_gdal_cache`.

**One OpenBLAS thread.** OpenBLAS starts a thread per core, and between products its threads spin, waiting for
the next one. icam uses the cores by forking workers (:mod:`icam.core.forked`) and by its own kernels' threads;
its matrix products are small (a GLM's normal equations, a logistic fit's gradients), and on a 2-core project
run the spinning threads took 6 % of the CPU from the workers beside them (perf; docs/benchmarks.md).

Nothing here changes a number: BLAS's products are summed in the same order on one thread, and the runs'
results are the same to the bit with freed memory kept (docs/benchmarks.md). This module imports nothing
heavy, because the BLAS setting must be in the environment before numpy and scipy load their BLAS.
"""

from __future__ import annotations

import ctypes
import functools
import os


def one_blas_thread() -> None:
    """One OpenBLAS thread, unless the user chose otherwise (``OPENBLAS_NUM_THREADS``): read as the library
    loads, so call this before numpy is imported."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def small_gdal_cache() -> None:
    """GDAL's block cache at 256 MB, unless the user chose otherwise (``GDAL_CACHEMAX``): read as GDAL first reads.

    By default GDAL keeps up to 5 % of the machine's memory of decoded blocks in each process, and icam reads each
    raster once, whole or by windows, into its own arrays, so the cache mostly doubled what a read holds. The
    jurisdiction's alert layer (61 Mpx, two int32 bands) read onto its grid: 1.08 → 0.81 GB at its peak; the
    same layer in EPSG:4326 warped onto the grid: 1.70 → 1.20 GB and 1.6–2.0 → 1.3 s. At 64 MB the warp re-read
    its source blocks (1.9–2.7 s).
    """
    os.environ.setdefault("GDAL_CACHEMAX", "256")


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8


@functools.cache
def _glibc():
    """glibc's C library where this process runs on it (Linux), else None (macOS, Windows, musl)."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return None
        return ctypes.CDLL("libc.so.6")
    except (ValueError, OSError, AttributeError):
        return None


def keep_freed_memory() -> None:
    """Large arrays from the heap, and the memory they free kept there for the next ones (glibc only).

    glibc maps every block over 32 MB afresh and unmaps it when freed, and the kernel zeroes each page of a new
    mapping as it is first touched: 0.12 s for each 61 Mpx float32 temporary, 29 % of a jurisdiction
    run's CPU samples (perf, docs/benchmarks.md). Served from the heap and kept when freed, the pages are reused as
    they are. One heap for every thread: a heap per thread keeps what its thread freed, out of the others'
    reach (1.5 GB of a project's risk stage, whose models run in threads). :func:`release_freed_memory` gives
    the free pages back between stages and before a fork."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_MAX, 0)
        libc.mallopt(_M_ARENA_MAX, 1)
        libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)


def release_freed_memory() -> None:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``): at the end of a stage, and
    before a fork, whose process would otherwise copy each inherited free page it writes to."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
