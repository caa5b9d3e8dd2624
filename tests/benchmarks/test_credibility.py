"""The credibility benchmark's truth, computed from the truth's rasters alone, against a hand count."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT, write_tif


def _credibility():
    spec = importlib.util.spec_from_file_location("credibility", REPO_ROOT / "benchmarks" / "credibility.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_true_reductions_by_hand(tmp_path: Path):
    """EF 500 tCO2e/ha on 30 m cells (0.09 ha): the counterfactual clears 3 cells in 2010, reality 1 in 2010 and
    1 in 2011; so 2010 avoids (3 − 1) × 45 = 90 t and 2011 adds 45 t. A period 2010-07-01 – 2011-06-30 takes
    184/365 of 2010 and 181/365 of 2011."""
    cred = _credibility()
    counterfactual = np.zeros((4, 4), np.uint8)
    counterfactual[0, :3] = 10
    actual = np.zeros((4, 4), np.uint8)
    actual[0, 0], actual[1, 1] = 10, 11
    ef = np.full((4, 4), 500.0, np.float32)
    ef[3, 3] = np.nan  # a non-forest cell: never lost, never counted
    for name, array in (("counterfactual_lossyear", counterfactual), ("true_lossyear", actual),
                        ("emission_factor_tco2e_per_ha", ef)):
        write_tif(tmp_path / "truth" / f"{name}.tif", array)
    by_year = cred.true_reductions_by_year(tmp_path)
    assert by_year[2010] == pytest.approx(90.0) and by_year[2011] == pytest.approx(-45.0)
    assert by_year[2001] == 0
    period = cred.prorated(by_year, dt.date(2010, 7, 1), dt.date(2011, 6, 30))
    assert period == pytest.approx(90.0 * 184 / 365 - 45.0 * 181 / 365)
