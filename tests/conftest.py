"""Shared test helpers: the real open data in ../shared/data, and running the CLI in-process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """../shared/data beside the repository (or $ICAM_SHARED_DATA), or None where absent."""
    candidate = Path(os.environ.get("ICAM_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    return candidate if candidate.is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    """The shared data folder; the test is skipped where it is absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data not found (set ICAM_SHARED_DATA to its path)")
    return path


def run_cli(*args: str) -> tuple[int, str]:
    """Run ``icam ARGS`` in-process; returns (exit code, combined output)."""
    from typer.testing import CliRunner

    from icam.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output
