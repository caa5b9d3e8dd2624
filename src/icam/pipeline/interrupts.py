"""Ctrl-C (SIGINT) during a run: noted, and held where publishing must not be cut in two.

Signal handlers belong to the main thread: elsewhere :class:`Interrupts` installs nothing and notes nothing.
"""

from __future__ import annotations

import signal
import threading


class Interrupts:
    """Within the block, Ctrl-C raises KeyboardInterrupt as usual and is noted in :attr:`seen`, so that an
    interrupt a library turns into an error of its own (pandas' CSV parser reports it as a parse error) is
    still known as one. Once :attr:`critical` is set, until the block ends, it is only noted
    (:attr:`pending`): the swap of the outputs and the commit are not cut in two."""

    def __init__(self) -> None:
        self.critical = False
        self.seen = False
        self.pending = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        self.seen = True
        if not self.critical:
            raise KeyboardInterrupt
        self.pending = True

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
