"""Independent tasks on every core, sharing one large read-only value with the workers by fork.

A project's counterfactual checks are a dozen independent fits (the estimate and its placebos in time) over
the same landscape of hundreds of megabytes. Threads gain little on them (much of their time holds the GIL),
and a process pool would pickle the landscape into every task. Workers forked from this process inherit it
instead, page by page, copy-on-write: each task sends a few small arguments and returns a small result.

Where fork is not available (Windows; macOS, where it is unsafe), or one core or one task, the tasks run here,
one after the other: the results are the same, in the same order.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from icam.core.blocks import cores

_shared: Any = None  # in a worker: the value inherited from the process that forked it


def _inherit(value: Any) -> None:
    """A worker's start: keep the inherited value; Ctrl-C is the parent's to handle (it stops the pool), and
    SIGTERM, which stops the pool, ends a worker at once (not the run's handler, inherited with the fork)."""
    global _shared  # noqa: PLW0603 (a worker's one inherited value, set once as it starts)
    _shared = value
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _call(fn: Callable, args: Sequence) -> Any:
    return fn(_shared, *args)


def fork_available() -> bool:
    """Whether worker processes can be forked here (Linux; macOS's fork is unsafe with its system libraries)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def available_bytes() -> int | None:
    """The memory this machine can still give without swapping (Linux's MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def workers_for(task_bytes: float) -> int:
    """How many tasks of ``task_bytes`` each to run side by side: every core, as many as half the available
    memory holds (at least one), so that a large landscape runs its tasks one at a time rather than swap."""
    free = available_bytes()
    if free is None or task_bytes <= 0:
        return cores()
    return max(1, min(cores(), int(free // 2 // task_bytes)))


def map_shared(fn: Callable, shared: Any, tasks: Iterable[Sequence], workers: int | None = None,
               on_done: Callable[[Sequence], None] | None = None) -> list:
    """``[fn(shared, *args) for args in tasks]``, the tasks on up to ``workers`` (default: every core) forked
    processes that inherit ``shared``. ``fn`` must be a module-level function, ``args`` and its results
    picklable; ``on_done(args)`` is called here as each task's result is taken, in order (progress). Put the
    longest tasks first: they are handed out in order. A task's exception is raised here, and an exception
    here (Ctrl-C) stops the workers at once."""
    tasks = [tuple(t) for t in tasks]
    workers = min(workers or cores(), len(tasks))
    if workers <= 1 or not fork_available():
        out = []
        for args in tasks:
            out.append(fn(shared, *args))
            if on_done:
                on_done(args)
        return out
    # initargs reach a forked worker by inheritance, not by pickle: the shared value is never copied whole;
    # leaving the block terminates the workers, whether the results are all in or an exception is on its way
    with multiprocessing.get_context("fork").Pool(workers, initializer=_inherit, initargs=(shared,)) as pool:
        pending = [pool.apply_async(_call, (fn, args)) for args in tasks]
        out = []
        for args, result in zip(tasks, pending):
            out.append(result.get())
            if on_done:
                on_done(args)
        return out


def imap_shared(fn: Callable, shared: Any, tasks: Iterable[Sequence], workers: int | None = None,
                ahead: int | None = None) -> Iterator:
    """:func:`map_shared`'s results one at a time, in order, for a loop that takes large results as they
    come (a year's raster): at most ``ahead`` (default: the workers) are computed and not yet taken, so the
    workers run ahead of the loop while it works on the last one, and memory stays bounded."""
    tasks = [tuple(t) for t in tasks]
    workers = min(workers or cores(), len(tasks))
    if workers <= 1 or not fork_available():
        for args in tasks:
            yield fn(shared, *args)
        return
    ahead = ahead or workers
    with multiprocessing.get_context("fork").Pool(workers, initializer=_inherit, initargs=(shared,)) as pool:
        pending: deque = deque()
        for args in tasks:
            pending.append(pool.apply_async(_call, (fn, args)))
            if len(pending) > ahead:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
