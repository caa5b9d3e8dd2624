"""Errors a user reads: what is wrong, and how to fix it.

Every problem with a user's input raises an :class:`IcamError` (or a subclass). The CLI
prints it as one line and exits with code 2; a traceback means a bug in icam. Problems of the
machine rather than the input (a full disk, a read-only folder) are turned into one by
:func:`environment_error`.
"""

from __future__ import annotations

import errno


class IcamError(Exception):
    """A problem the user can fix. ``message`` says what is wrong, ``hint`` how to fix it."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message.rstrip(". ")
        self.hint = hint.rstrip(". ")

    def __reduce__(self):
        # pickled whole (a task's error raised in a worker process reaches the command with its hint)
        return type(self), (self.message, self.hint)

    def __str__(self) -> str:
        line = self.message
        if self.hint:
            line += f"; {self.hint}"
        return " ".join(line.split()) + "."


class ConfigError(IcamError):
    """icam.toml is missing, malformed, or holds an unknown key or impossible value."""


class InputError(IcamError):
    """An input file (raster, vector, table) is missing, corrupt or inconsistent."""


class Interrupted(IcamError):
    """The command was stopped: Ctrl-C (SIGINT, exit 130) or SIGTERM (exit 143: a service manager, ``timeout``
    or ``kill``), the codes a shell reports for a process those signals end."""

    exit_code = 130

    @classmethod
    def by(cls, terminated: bool, hint: str = "") -> Interrupted:
        """The error for Ctrl-C, or for SIGTERM where ``terminated``."""
        error = cls("terminated (SIGTERM)" if terminated else "interrupted", hint)
        if terminated:
            error.exit_code = 143
        return error


class Terminated(KeyboardInterrupt):
    """SIGTERM stopping a command that handles it as Ctrl-C (:mod:`icam.pipeline.interrupts`)."""


DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def environment_error(exc: OSError, outcome: str = "nothing was changed") -> IcamError | None:
    """An :class:`IcamError` for an OSError the machine caused (disk full, no permission, read-only file
    system), naming the file and saying ``outcome`` (what the command left behind); None for any other."""
    where = f" writing {exc.filename}" if exc.filename else ""
    reason = exc.strerror or str(exc)
    if exc.errno in DISK_FULL:
        return IcamError(f"out of disk space{where} ({reason})", f"free some space and run again; {outcome}")
    if exc.errno in NOT_WRITABLE:
        target = f" {exc.filename}" if exc.filename else " a file or folder"
        return IcamError(f"cannot write{target} ({reason})",
                         f"make it writable for your user (chmod u+w), or work on a copy you can write; {outcome}")
    return None
