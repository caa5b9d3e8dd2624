"""Tasks on forked workers that inherit one shared value: the results of running them here, in order."""

import os

import numpy as np
import pytest

from icam.core.errors import InputError
from icam.core.forked import fork_available, imap_into, imap_shared, map_shared, shared_array, workers_for

needs_fork = pytest.mark.skipif(not fork_available(), reason="no fork on this platform")


class Unpicklable:
    """A shared value that refuses pickling: only inheritance can bring it to a worker."""

    def __init__(self, values: np.ndarray):
        self.values = values

    def __reduce__(self):
        raise TypeError("the shared value was pickled")


def _weighted_sum(shared: Unpicklable, lo: int, hi: int, weight: float) -> tuple[float, int]:
    return float(shared.values[lo:hi].sum() * weight), os.getpid()


def _refuse(shared, name: str):
    raise InputError(f"no stratum named {name}", "name one of the strata of icam.toml")


@needs_fork
def test_workers_inherit_the_shared_value_and_return_results_in_task_order():
    shared = Unpicklable(np.arange(1_000_000, dtype=np.float64))
    tasks = [(lo, lo + 250_000, w) for lo, w in zip(range(0, 1_000_000, 250_000), (1.0, 2.0, 0.5, 3.0))]
    done = []
    out = map_shared(_weighted_sum, shared, tasks, workers=2, on_done=done.append)
    by_hand = [sum(range(lo, hi)) * w for lo, hi, w in tasks]  # Σ of consecutive integers, exact in float64
    assert [v for v, _ in out] == by_hand
    assert done == tasks
    assert os.getpid() not in {pid for _, pid in out}  # they ran in workers, with the value inherited


def test_one_worker_runs_the_tasks_here_with_the_same_results():
    shared = Unpicklable(np.arange(10, dtype=np.float64))
    out = map_shared(_weighted_sum, shared, [(0, 5, 1.0), (5, 10, 2.0)], workers=1)
    assert [v for v, _ in out] == [10.0, 70.0] and {pid for _, pid in out} == {os.getpid()}


@needs_fork
def test_a_workers_error_reaches_the_caller_with_its_hint():
    with pytest.raises(InputError) as raised:
        map_shared(_refuse, None, [("forest",), ("peat",)], workers=2)
    assert str(raised.value) == "no stratum named forest; name one of the strata of icam.toml."


def _draw(_, seed: int, year: int) -> np.ndarray:
    return np.random.default_rng([seed, year]).standard_normal(1000)


@needs_fork
def test_imap_yields_each_result_in_order_as_drawn_here():
    years = list(range(2001, 2011))
    here = [np.random.default_rng([7, y]).standard_normal(1000) for y in years]
    out = list(imap_shared(_draw, None, [(7, y) for y in years], workers=2, ahead=1))
    assert all(np.array_equal(a, b) for a, b in zip(out, here)) and len(out) == len(years)


def _draw_into(offset: float, out: np.ndarray, seed: int, year: int) -> None:
    out[:] = np.random.default_rng([seed, year]).standard_normal(out.shape) + offset


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_imap_into_fills_shared_buffers_in_order_and_reuses_them_after_the_loop_takes_the_next(workers):
    years = list(range(2001, 2013))
    here = [np.random.default_rng([7, y]).standard_normal((30, 40)) + 0.5 for y in years]
    seen = []
    for year, out in zip(years, imap_into(_draw_into, 0.5, [(7, y) for y in years], (30, 40), np.float64, workers)):
        np.testing.assert_array_equal(out, here[years.index(year)])  # whole when the loop gets it
        seen.append(out)
    # the loop's buffers are a ring of one more than the workers, each reused by a later task
    assert len({id(b.base) for b in seen}) == workers + 1
    assert np.array_equal(seen[-1], here[-1]) and not np.array_equal(seen[0], here[0])


def _fill_row(rows: np.ndarray, i: int) -> int:
    rows[i] = np.arange(rows.shape[1]) * (i + 1)
    return os.getpid()


@needs_fork
def test_what_workers_write_into_a_shared_array_is_read_here():
    rows = shared_array((4, 6), np.int32)
    pids = map_shared(_fill_row, rows, [(i,) for i in range(4)], workers=2)
    np.testing.assert_array_equal(rows, np.arange(6) * np.arange(1, 5)[:, None])
    assert rows.dtype == np.int32 and os.getpid() not in pids  # written by the workers, not copied back


@needs_fork
def test_leaving_an_imap_loop_early_stops_its_workers():
    draws = imap_shared(_draw, None, [(7, y) for y in range(100)], workers=2)
    first = next(draws)
    draws.close()  # the loop broke off: the pool is terminated, not waited for
    assert np.array_equal(first, np.random.default_rng([7, 0]).standard_normal(1000))


def test_workers_for_never_asks_for_more_than_half_the_free_memory():
    assert workers_for(0) >= 1
    assert workers_for(1e18) == 1  # an exabyte a task: one at a time


def _sleep_in_workers(_, seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def _workers_forever(_) -> list:
    return map_shared(_sleep_in_workers, None, [(60.0,), (60.0,)], workers=2)


@needs_fork
def test_cancelling_a_background_task_stops_the_workers_it_forked():
    import time

    import psutil

    from icam.core.forked import start_background

    task = start_background(lambda: _workers_forever(None))
    time.sleep(1.0)
    child = psutil.Process(task._process.pid)
    grandchildren = child.children()
    assert len(grandchildren) == 2  # its pool's workers
    task.cancel()
    _, alive = psutil.wait_procs(grandchildren, timeout=10)
    assert not alive and not child.is_running()


@needs_fork
def test_a_sigterm_sent_as_a_background_process_starts_waits_for_its_own_handler(monkeypatch, tmp_path):
    # the run's SIGTERM handler raises: a background process cancelled an instant after its fork ran it, and its
    # exception unwound the new process into the parent's code (in CI: back in pytest's loop, the run waiting for
    # it for ever). The signal is now held until the process's own handler is in place.
    import signal
    import time

    from icam.core import forked

    marker = tmp_path / "the run's handler ran"

    def runs_handler(signum, frame):
        marker.write_text(str(os.getpid()))
        raise RuntimeError("the run's handler")

    original = forked._run_and_send

    def slow_start(*args):
        time.sleep(0.5)  # the new process's start, before its handlers are in place, made long
        original(*args)

    monkeypatch.setattr(forked, "_run_and_send", slow_start)
    previous = signal.signal(signal.SIGTERM, runs_handler)
    try:
        task = forked.start_background(lambda: 1)
        time.sleep(0.1)
        task.cancel()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not marker.exists()
    assert not task._process.is_alive()


@needs_fork
def test_a_background_tasks_result_and_error_come_back():
    from icam.core.forked import start_background

    assert start_background(lambda: sum(range(10))).result() == 45
    with pytest.raises(InputError, match="no stratum named peat"):
        start_background(lambda: _refuse(None, "peat")).result()


@needs_fork
def test_a_background_task_with_a_large_result_ends_before_its_result_is_asked_for(monkeypatch, tmp_path):
    # 16 MB, far beyond a pipe's buffer: its process still ends (and frees its memory) as soon as it is done
    import tempfile

    from icam.core.forked import start_background

    task = start_background(lambda: np.arange(2_000_000, dtype=np.int64))
    task._process.join(timeout=30)
    assert task._process.exitcode == 0 and not task.running()
    assert np.array_equal(task.result(), np.arange(2_000_000)) and task._file.closed
    # where the result file cannot be written, the pipe carries the result
    (tmp_path / "read-only").write_bytes(b"")
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda: open(tmp_path / "read-only", "rb"))
    assert start_background(lambda: np.arange(5)).result().tolist() == [0, 1, 2, 3, 4]


def _stamp_after(path, seconds: float) -> float:
    import time

    time.sleep(seconds)
    stamp = time.monotonic()
    path.write_text(repr(stamp))
    return stamp


@needs_fork
def test_a_background_task_started_after_another_works_once_that_one_has_ended(tmp_path):
    # one background process at a time: the second forks at once and waits for the first's end (a pidfd),
    # even while the first, ended, is not reaped yet (its result not asked for)
    import time

    from icam.core.forked import _pidfds, start_background

    first = start_background(lambda: _stamp_after(tmp_path / "first", 1.0))
    second = start_background(lambda: time.monotonic(), after=[first])
    assert second.result() >= float((tmp_path / "first").read_text())
    assert first.result() == float((tmp_path / "first").read_text())
    # a process already gone (reaped) gets no pidfd, so is not waited for; a waiting process is cancelled at once
    assert _pidfds([first._process.pid]) == []
    slow = start_background(lambda: _stamp_after(tmp_path / "slow", 60.0))
    waiting = start_background(lambda: 1, after=[slow])
    started = time.monotonic()
    waiting.cancel()
    slow.cancel()
    assert time.monotonic() - started < 10 and not (tmp_path / "slow").exists()


def _pids_of_tasks(_) -> set[int]:
    return {pid for _, pid in map_shared(_weighted_sum, Unpicklable(np.ones(4)), [(0, 2, 1.0)] * 6)}


@needs_fork
def test_a_background_task_leaves_one_core_to_the_foreground(monkeypatch):
    from icam.core import forked

    monkeypatch.setattr(forked, "cores", lambda: 3)
    assert forked.default_workers() == 3
    assert forked.start_background(forked.default_workers).result() == 2
    monkeypatch.setattr(forked, "cores", lambda: 2)  # two cores: the background's tasks run in its own process
    background_pid, task_pids = forked.start_background(lambda: (os.getpid(), _pids_of_tasks(None))).result()
    assert task_pids == {background_pid}
    assert os.getpid() not in task_pids


def _wait_for(path) -> int:
    import time

    while not path.exists():
        time.sleep(0.01)
    return os.getpid()


@needs_fork
def test_a_running_background_task_holds_one_of_the_foregrounds_cores(monkeypatch, tmp_path):
    from icam.core import forked

    monkeypatch.setattr(forked, "cores", lambda: 3)
    go = tmp_path / "go"
    background = forked.start_background(lambda: (_wait_for(go), forked.default_workers()))
    assert forked.default_workers() == 2  # while it runs, its core is not the foreground's
    go.touch()
    pid, workers_there = background.result()
    assert forked.default_workers() == 3 and workers_there == 2  # its own tasks still leave one core here
    assert pid != os.getpid()


def _pid_after(shared: dict, i: int) -> tuple[int, int]:
    """Task ``i``: the first lets the background task end and waits until it has (its result sent)."""
    import time

    if i == 0:
        shared["go"].touch()
        while shared["background"].running():
            time.sleep(0.005)
    return i, os.getpid()


@needs_fork
def test_tasks_left_when_a_background_task_ends_go_to_the_core_it_freed(monkeypatch, tmp_path):
    """Two cores and a background task running: the tasks start here, one at a time; once it has ended, the
    tasks left run on two workers, and the results come in order, as computed anywhere."""
    from icam.core import forked

    monkeypatch.setattr(forked, "cores", lambda: 2)
    go = tmp_path / "go"
    background = forked.start_background(lambda: _wait_for(go))
    shared = {"go": go, "background": background}
    results = map_shared(_pid_after, shared, [(i,) for i in range(6)])
    assert [i for i, _ in results] == list(range(6))
    pids = [pid for _, pid in results]
    assert pids[0] == os.getpid() and os.getpid() not in pids[1:]
    background.result()


@needs_fork
def test_a_fixed_number_of_workers_is_not_asked_again(monkeypatch, tmp_path):
    from icam.core import forked

    monkeypatch.setattr(forked, "cores", lambda: 2)
    go = tmp_path / "go"
    background = forked.start_background(lambda: _wait_for(go))
    results = map_shared(_pid_after, {"go": go, "background": background}, [(i,) for i in range(4)], workers=1)
    assert {pid for _, pid in results} == {os.getpid()}
    background.result()


@needs_fork
def test_a_background_task_leaves_the_cores_it_is_told_to():
    from icam.core.forked import cores, default_workers, start_background

    assert start_background(default_workers).result() == max(1, cores() - 1)  # a stage beside the foreground
    assert start_background(default_workers, leave_cores=0).result() == cores()  # its parent only waits


def _logs_as_it_unwinds(ready: str) -> None:
    import logging
    import pathlib
    import time

    logging.getLogger().handlers.clear()  # as in `icam run`: no handler but logging's last resort, stderr
    try:
        pathlib.Path(ready).touch()
        time.sleep(60)
    finally:  # as SQLAlchemy does when a query is cut short: "Error closing cursor", its traceback
        logging.getLogger("icam.test").error("Error closing cursor", exc_info=True)


@needs_fork
def test_a_cancelled_background_task_logs_nothing_as_it_unwinds(capfd, tmp_path):
    """A background stage stopped by the run (Ctrl-C, SIGTERM) leaves the terminal to the run's one line: the
    messages its work logs as it unwinds are not printed through the stderr it shares."""
    import time

    from icam.core.forked import start_background

    ready = tmp_path / "ready"
    task = start_background(lambda: _logs_as_it_unwinds(str(ready)))
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    task.cancel()
    assert not task._process.is_alive()
    captured = capfd.readouterr()
    assert "Error closing cursor" not in captured.err and "Traceback" not in captured.err
