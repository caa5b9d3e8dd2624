"""The process settings icam's commands run best with, set once by the command line as it starts.

**One OpenBLAS thread.** OpenBLAS starts a thread per core, and between products its threads spin, waiting for
the next one. icam uses the cores by forking workers (:mod:`icam.core.forked`) and by its own kernels' threads;
its matrix products are small (a GLM's normal equations, a logistic fit's gradients), and on a 2-core project
run the spinning threads took 6 % of the CPU from the workers beside them (perf; docs/benchmarks.md).

Nothing here changes a number: BLAS's products are summed in the same order on one thread. This module imports
nothing heavy, because the setting must be in the environment before numpy and scipy load their BLAS.
"""

from __future__ import annotations

import os


def one_blas_thread() -> None:
    """One OpenBLAS thread, unless the user chose otherwise (``OPENBLAS_NUM_THREADS``): read as the library
    loads, so call this before numpy is imported."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
