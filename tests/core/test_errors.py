"""Errors a user reads: one line, what and how to fix; the machine's refusals turned into one."""

import errno

from icam.core.errors import IcamError, Interrupted, environment_error


def test_one_line_with_hint():
    assert str(IcamError("bad value.\n  in icam.toml", "fix it.")) == "bad value. in icam.toml; fix it."
    assert Interrupted("interrupted", "nothing was published").exit_code == 130


def test_environment_errors_name_the_file_and_the_outcome():
    full = environment_error(OSError(errno.ENOSPC, "No space left on device", "/p/outputs/report.html"),
                             "nothing was published")
    assert str(full) == ("out of disk space writing /p/outputs/report.html (No space left on device); free some "
                         "space and run again; nothing was published.")
    too_big = environment_error(OSError(errno.EFBIG, "File too large"))
    assert str(too_big).startswith("out of disk space (File too large); ")
    read_only = environment_error(PermissionError(errno.EACCES, "Permission denied", "/p/outputs"))
    assert "cannot write /p/outputs (Permission denied)" in str(read_only) and "chmod u+w" in str(read_only)
    assert environment_error(OSError(errno.EROFS, "Read-only file system", "/p")) is not None
    assert environment_error(FileNotFoundError(errno.ENOENT, "No such file", "/p/x")) is None  # a bug or an input
