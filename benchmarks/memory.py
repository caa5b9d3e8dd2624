"""The peak resident memory of a command and every process it forks, for the benchmarks.

icam forks workers (the counterfactual checks' fits, the dynamic baseline's years, the report's figures, a
background stage), so a child's own ``ru_maxrss`` no longer says what a run needs. The sampler sums the
memory of the root processes and all their descendants every 0.2 s and keeps the highest sum. Each process
counts its proportional set size (PSS, Linux): a page that n processes share counts 1/n in each, so pages a
forked worker shares with its parent count once in the sum, as they do in the machine's memory (summed
resident sizes would count them in every worker). Where PSS is not available, the resident size. PSS is read
only where the resident sizes' sum could beat the peak: reading it costs the run measured some CPU.
"""

from __future__ import annotations

import subprocess
import threading
import time

import psutil


class PeakMemory:
    """The peak of the memory (PSS) summed over ``roots`` and all their descendants, sampled every 0.2 s."""

    def __init__(self, roots: list[int]):
        self.roots, self.peak_bytes, self._stop = roots, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            processes = []
            for pid in self.roots:
                try:
                    root = psutil.Process(pid)
                    processes += [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
            # a process's PSS is a walk of its page tables by the kernel (8.5 ms for 1.9 GB: at a jurisdiction
            # a tenth of two cores, taken from the run measured); its resident size is read at once, and PSS
            # never exceeds it, so a sample whose resident sizes sum below the peak cannot raise it
            if _summed(processes, _resident_bytes) > self.peak_bytes:
                self.peak_bytes = max(self.peak_bytes, _summed(processes, _proportional_bytes))
            self._stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _summed(processes: list[psutil.Process], measure) -> int:
    total = 0
    for p in processes:
        try:
            total += measure(p)
        except psutil.Error:  # it ended meanwhile
            continue
    return total


def _resident_bytes(process: psutil.Process) -> int:
    return process.memory_info().rss


def _proportional_bytes(process: psutil.Process) -> int:
    try:
        return process.memory_full_info().pss
    except (AttributeError, psutil.AccessDenied):
        return process.memory_info().rss


def run_measured(command: list[str], **popen) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``command`` to its end: (the completed process with its text output, wall-clock seconds, the peak
    resident memory of it and its descendants in MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    with PeakMemory([process.pid]) as memory:
        stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    return (subprocess.CompletedProcess(command, process.returncode, stdout, stderr), seconds,
            memory.peak_bytes / 2 ** 20)
