"""Ctrl-C (SIGINT) and SIGTERM during a run: noted, and held where publishing must not be cut in two.

SIGTERM (a service manager stopping icam, ``timeout``, ``kill``) is handled as Ctrl-C is, raising
:class:`~icam.core.errors.Terminated` (a KeyboardInterrupt), so that the run removes its staging folder and
releases its lock instead of dying where it stands. Signal handlers belong to the main thread: elsewhere
:class:`Interrupts` installs nothing and notes nothing.
"""

from __future__ import annotations

import signal
import threading

from icam.core.errors import Terminated

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """Within the block, Ctrl-C raises KeyboardInterrupt as usual (SIGTERM, :class:`Terminated`) and is noted in
    :attr:`seen` (SIGTERM also in :attr:`terminated`), so that an interrupt a library turns into an error of its
    own (pandas' CSV parser reports it as a parse error) is still known as one. Once :attr:`critical` is set,
    until the block ends, it is only noted (:attr:`pending`): the swap of the outputs and the commit are not cut
    in two."""

    def __init__(self) -> None:
        self.critical = False
        self.seen = False
        self.pending = False
        self.terminated = False
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        self.seen = True
        self.terminated |= signum == signal.SIGTERM
        if not self.critical:
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        self.pending = True

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
