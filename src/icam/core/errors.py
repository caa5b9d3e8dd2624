"""Errors a user reads: what is wrong, and how to fix it.

Every problem with a user's input raises an :class:`IcamError` (or a subclass). The CLI
prints it as one line and exits with code 2; a traceback means a bug in icam.
"""

from __future__ import annotations


class IcamError(Exception):
    """A problem the user can fix. ``message`` says what is wrong, ``hint`` how to fix it."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message.rstrip(". ")
        self.hint = hint.rstrip(". ")

    def __str__(self) -> str:
        line = self.message
        if self.hint:
            line += f"; {self.hint}"
        return " ".join(line.split()) + "."


class ConfigError(IcamError):
    """icam.toml is missing, malformed, or holds an unknown key or impossible value."""


class InputError(IcamError):
    """An input file (raster, vector, table) is missing, corrupt or inconsistent."""
