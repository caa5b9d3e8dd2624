"""Independent tasks on every core, sharing one large read-only value with the workers by fork.

A project's counterfactual checks are a dozen independent fits (the estimate and its placebos in time) over
the same landscape of hundreds of megabytes. Threads gain little on them (much of their time holds the GIL),
and a process pool would pickle the landscape into every task. Workers forked from this process inherit it
instead, page by page, copy-on-write: each task sends a few small arguments and returns a small result.

Where fork is not available (Windows; macOS, where it is unsafe), or one core or one task, the tasks run here,
one after the other: the results are the same, in the same order.
"""

from __future__ import annotations

import logging
import mmap
import multiprocessing
import os
import pickle
import select
import signal
import sys
import tempfile
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from icam.core.blocks import cores
from icam.core.process import release_freed_memory

_shared: Any = None  # in a worker: the value inherited from the process that forked it
_left_to_foreground = 0  # in a background stage's process: the cores it leaves to the run's foreground
_backgrounds: weakref.WeakSet = weakref.WeakSet()  # this process's background processes (:class:`Background`)


_HELD = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM held (blocked) in this thread while it forks: a forked process inherits the mask and
    takes them once its own handlers are in place (:func:`_take_signals`). Taken sooner, by the run's handler
    it inherited, a SIGTERM sent an instant after the fork (an error in the run cancels the background process
    just started) raised the run's exception in the new process before its start had caught anything, and
    unwound it into the parent's code: under pytest the process went back to the test loop while the run
    waited for it to end, for ever (seen in CI). Here they are taken when the fork is done."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _take_signals() -> None:
    """In a forked process whose handlers are in place: the signals held since the fork (:func:`_signals_held`)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


def _inherit(value: Any) -> None:
    """A worker's start: keep the inherited value; Ctrl-C is the parent's to handle (it stops the pool), and
    SIGTERM, which stops the pool, ends a worker at once (not the run's handler, inherited with the fork)."""
    global _shared  # noqa: PLW0603 (a worker's one inherited value, set once as it starts)
    _shared = value
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _take_signals()


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
    """How many tasks of ``task_bytes`` each to run side by side: :func:`default_workers`, as many as half the
    available memory holds (at least one), so that a large landscape runs its tasks one at a time rather than
    swap."""
    free = available_bytes()
    if free is None or task_bytes <= 0:
        return default_workers()
    return max(1, min(default_workers(), int(free // 2 // task_bytes)))


def default_workers() -> int:
    """Every core, but in a background stage (:func:`start_background`) one fewer: the run's foreground
    stages go on meanwhile on that core, and each worker is a copy of a landscape that grows with the area.
    Likewise here, one fewer for each background process of this one still running: on two cores the
    dynamic baseline's years ran in two forked workers beside the counterfactual estimates, three processes
    on two cores and 1.6 GB more for the second worker, for no more work done."""
    running = sum(1 for b in _backgrounds if b.running())
    return max(1, cores() - _left_to_foreground - running)


Workers = int | Callable[[], int] | None  # a number of workers, a function giving it, or None: default_workers


def _worker_count(workers: Workers) -> tuple[Callable[[], int], bool]:
    """The number of workers as a function, and whether it may change from one call to the next."""
    if workers is None:
        return default_workers, True
    if callable(workers):
        return workers, True
    return (lambda: workers), False


def map_shared(fn: Callable, shared: Any, tasks: Iterable[Sequence], workers: Workers = None,
               on_done: Callable[[Sequence], None] | None = None) -> list:
    """``[fn(shared, *args) for args in tasks]``, the tasks on up to ``workers`` (:func:`default_workers`) forked
    processes that inherit ``shared`` (:func:`imap_shared`, every task handed out at once). ``fn`` must be a
    module-level function, ``args`` and its results picklable; ``on_done(args)`` is called here as each
    task's result is taken, in order (progress). Put the longest tasks first: they are handed out in order.
    A task's exception is raised here, and an exception here (Ctrl-C) stops the workers at once."""
    tasks = [tuple(t) for t in tasks]
    out = []
    for args, result in zip(tasks, imap_shared(fn, shared, tasks, workers, ahead=max(len(tasks), 1))):
        out.append(result)
        if on_done:
            on_done(args)
    return out


def imap_shared(fn: Callable, shared: Any, tasks: Iterable[Sequence], workers: Workers = None,
                ahead: int | None = None) -> Iterator:
    """:func:`map_shared`'s results one at a time, in order, for a loop that takes large results as they
    come (a year's raster): at most ``ahead`` (default: the workers) are computed and not yet taken, so the
    workers run ahead of the loop while it works on the last one, and memory stays bounded. Where fork is
    not available, or one worker or one task, the tasks run here, one after the other. ``workers``: a number,
    None for :func:`default_workers`, or a function giving the number: where it (or the default) gives one,
    it is asked again before each task run here, and the tasks left go to workers once it gives more (a
    background process has ended: :func:`default_workers`)."""
    tasks = [tuple(t) for t in tasks]
    count, may_change = _worker_count(workers)
    if min(count(), len(tasks)) <= 1 or not fork_available():
        for i, args in enumerate(tasks):
            if i and may_change and fork_available() and min(count(), len(tasks) - i) > 1:
                # a core freed meanwhile: at a jurisdiction the counterfactual estimates end during the
                # dynamic baseline's fit, whose years then ran on one core while the other waited
                yield from imap_shared(fn, shared, tasks[i:], count(), ahead)
                return
            result = fn(shared, *args)
            # what the task freed goes back, as a worker's memory does when the pool ends: in a background
            # process the heap otherwise held its largest task's peak to its end (the counterfactual estimates
            # at a jurisdiction: 4.2 GB from the first fit to the last, 2.6 GB after it)
            release_freed_memory()
            yield result
        return
    workers = min(count(), len(tasks))
    ahead = ahead or workers
    # initargs reach a forked worker by inheritance, not by pickle: the shared value is never copied whole;
    # leaving the block (the results all taken, an exception, or the loop broken off) terminates the workers
    release_freed_memory()
    with _signals_held():
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=_inherit, initargs=(shared,))
    with pool:
        pending: deque = deque()
        try:
            for args in tasks:
                pending.append(pool.apply_async(_call, (fn, args)))
                if len(pending) > ahead:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()
        finally:
            _settle(pending)


def _settle(pending: deque, timeout_s: float = 2.0) -> None:
    """Let the tasks still in flight when a loop is left early (broken off, an error, Ctrl-C) send their results,
    for ``timeout_s`` at most, before the pool is terminated: a worker terminated while it sends one can leave
    the pool's task handler blocked for ever, and the run with it (cpython#96995; seen once in CI, in
    ``test_leaving_an_imap_loop_early_stops_its_workers``)."""
    deadline = time.monotonic() + timeout_s
    for result in pending:
        result.wait(max(0.0, deadline - time.monotonic()))


def imap_into(fn: Callable, shared: Any, tasks: Iterable[Sequence], shape: tuple[int, ...], dtype,
              workers: int | None = None) -> Iterator[np.ndarray]:
    """:func:`imap_shared` for tasks whose result is one large array: ``fn(shared, out, *args)`` writes it into
    ``out``, an array of ``shape`` and ``dtype`` in memory shared with the forked workers, and the loop gets
    that array, in order. It is valid until the loop takes the next one: its memory then serves a later task.

    A result returned by a worker is pickled, sent down a pipe and unpickled here: three copies of a quarter of
    a gigabyte for a year's draws of a jurisdiction, each in fresh pages the kernel zeroes first. Here the
    workers write where the loop reads, in a ring of the workers + 1 buffers that :func:`imap_shared` keeps
    busy (the workers' tasks and the loop's own)."""
    tasks = [tuple(t) for t in tasks]
    n_slots = min(workers or default_workers(), max(len(tasks), 1)) + 1
    ring = [shared_array(shape, dtype) for _ in range(n_slots)]
    slots = [(fn, i % n_slots, args) for i, args in enumerate(tasks)]
    for slot in imap_shared(_fill_slot, (shared, ring), slots, workers, ahead=n_slots - 1):
        yield ring[slot]


def shared_array(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised array in memory that the processes forked after it share with this one: what a forked
    worker writes there, this process reads (an anonymous MAP_SHARED mapping, not copied on write)."""
    count = int(np.prod(shape))
    return np.frombuffer(mmap.mmap(-1, max(count * np.dtype(dtype).itemsize, 1)), dtype, count=count).reshape(shape)


def _fill_slot(shared_and_ring: tuple, fn: Callable, slot: int, args: Sequence) -> int:
    shared, ring = shared_and_ring
    fn(shared, ring[slot], *args)
    return slot


class Background:
    """``func()`` running in a forked process while this one goes on (:func:`start_background`).

    Its result goes into an unnamed temporary file, not down the pipe: a result larger than the pipe's buffer
    would keep the process, and all the memory it used, alive until this one asks for it (at a jurisdiction,
    2.5 GB for half a minute while the accounting's workers ran). Where that file cannot be written, the pipe
    carries it."""

    def __init__(self, func: Callable[[], Any], leave_cores: int = 1, after: Iterable[Background] = ()):
        context = multiprocessing.get_context("fork")
        release_freed_memory()
        self._receive, send = context.Pipe(duplex=False)
        self._file = tempfile.TemporaryFile()
        # opened here, before the fork: an earlier process reaped meanwhile cannot leave the child its pid's next owner
        after_fds = _pidfds(b._process.pid for b in after if isinstance(b, Background))
        # non-daemonic: the function may fork workers of its own (map_shared)
        self._process = context.Process(target=_run_and_send,
                                        args=(func, send, self._file, leave_cores, after_fds), daemon=False)
        try:
            with _signals_held():
                self._process.start()
        finally:
            for fd in after_fds:
                os.close(fd)
        send.close()
        self._parent = os.getpid()
        _backgrounds.add(self)

    def running(self) -> bool:
        """Whether the function still runs (its result not yet sent); False in a process forked since (a
        worker, or another background process, inherits this object, not the process)."""
        return os.getpid() == self._parent and self._process.is_alive() and not self._receive.poll()

    def result(self) -> Any:
        """Wait for the function's result (its exception is raised here)."""
        try:
            message = self._receive.recv()
        except EOFError:
            self._process.join()
            raise RuntimeError(f"a background task died (exit code {self._process.exitcode})") from None
        finally:
            self._receive.close()
        self._process.join()
        with self._file:
            if message == _IN_FILE:
                self._file.seek(0)
                message = pickle.load(self._file)
        ok, value = message
        if not ok:
            raise value
        return value

    def cancel(self) -> None:
        """Stop the process if it still runs (Ctrl-C, or an error in this one)."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._receive.close()
        self._file.close()


_IN_FILE = "in the result file"  # what the pipe carries where the result went into the file


class _Done:
    """A result computed here, with :class:`Background`'s interface (no fork)."""

    def __init__(self, func: Callable[[], Any]):
        self._value = func()

    def result(self) -> Any:
        return self._value

    def cancel(self) -> None:
        pass


def start_background(func: Callable[[], Any], leave_cores: int = 1, after: Iterable[Any] = ()) -> Background | _Done:
    """``func()`` in a forked process that inherits this one's memory (copy-on-write), its result taken later
    with ``.result()``: a stage that needs nothing of the stages running meanwhile. ``leave_cores``: the cores
    its own workers leave to this process (:func:`default_workers`; 0 where this one only waits). ``after``:
    background processes started before, whose end the function waits for (their pidfds): it forks now,
    with what it needs, and works once they are done. Where fork is not available it runs here, now."""
    return Background(func, leave_cores, after) if fork_available() else _Done(func)


def _stop(signum, frame) -> None:
    # stopped by the run (Ctrl-C, SIGTERM, an error elsewhere), which says so in one line: what the work logs as it
    # unwinds would reach the terminal through the stderr inherited (SQLAlchemy's "Error closing cursor" and its
    # traceback, where the stop came in the middle of a query of the registry)
    logging.disable(logging.CRITICAL)
    raise SystemExit(128 + signum)  # unwinds through the function: a pool of its own stops its workers


def _pidfds(pids: Iterable[int]) -> list[int]:
    """A pidfd of each process of ``pids`` (Linux 5.3 and later): one already reaped, or a system without pidfds,
    gets none, and is not waited for."""
    fds = []
    for pid in pids:
        try:
            fds.append(os.pidfd_open(pid))
        except (AttributeError, OSError):
            continue
    return fds


def _wait_for(fds: Sequence[int]) -> None:
    """Block until the process of each pidfd of ``fds`` has ended (a pidfd turns readable once its process exits,
    reaped or not), closing them."""
    fds = list(fds)
    try:
        while fds:
            for fd in select.select(fds, [], [])[0]:
                fds.remove(fd)
                os.close(fd)
    finally:
        for fd in fds:
            os.close(fd)


def _run_and_send(func: Callable[[], Any], send, file, leave_cores: int, after_fds: Sequence[int] = ()) -> None:
    global _left_to_foreground  # noqa: PLW0603 (set once, as the background process starts)
    _left_to_foreground = leave_cores
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops this process (SIGTERM)
    signal.signal(signal.SIGTERM, _stop)
    try:
        _take_signals()  # a SIGTERM held since the fork stops the function here
        _wait_for(after_fds)
        message = (True, func())
    except BaseException as exc:  # noqa: BLE001 (every failure goes back to the parent, which raises it)
        message = (False, exc if _picklable(exc) else RuntimeError("".join(traceback.format_exception(exc))))
    try:
        try:
            pickle.dump(message, file, protocol=pickle.HIGHEST_PROTOCOL)
            file.flush()
        except OSError:  # a full or read-only temporary folder: the pipe carries the result
            send.send(message)
        else:
            send.send(_IN_FILE)
    finally:
        # out at once: no exit handlers, and no flush of output buffers inherited from the parent
        os._exit(0)


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:  # noqa: BLE001 (whatever pickling raises, the error goes back as text)
        return False
    return True
