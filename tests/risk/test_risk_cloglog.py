"""The cloglog scale (icam.risk.cloglog.solve_scale): the a with Σ 1 − exp(−a·h) = target, worked by hand where
every hazard is equal, and as an invariant of any hazards; the bracketing fallback finds the same root."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.risk import cloglog


def lost(a: float, hazard: np.ndarray) -> float:
    return float(-np.expm1(-a * hazard).sum())


@pytest.mark.parametrize("n, h, target", [(1000, 1.0, 10.0), (1000, 0.02, 999.0), (7, 3.5, 0.001)])
def test_equal_hazards_give_the_closed_form(n, h, target):
    # n (1 − exp(−a h)) = target  ⇔  a = −log(1 − target / n) / h
    a = cloglog.solve_scale(np.full(n, h), target)
    assert a == pytest.approx(-np.log1p(-target / n) / h, rel=1e-13)


def test_nothing_lost_and_everything_lost():
    assert cloglog.solve_scale(np.ones(5), 0.0) == 0.0
    with pytest.raises(ValueError, match="every cell cannot be lost"):
        cloglog.solve_scale(np.ones(5), 5.0)


def test_cells_without_hazard_are_left_out():
    # two cells at zero hazard are never lost: the root is the three others'
    assert cloglog.solve_scale(np.array([0.0, 1.0, 0.0, 1.0, 1.0]), 1.5) == pytest.approx(np.log(2.0), rel=1e-13)


@settings(max_examples=60, deadline=None)
@given(log_h=st.lists(st.floats(-25, 25), min_size=1, max_size=300), share=st.floats(1e-9, 0.999))
def test_the_root_gives_the_target(log_h, share):
    hazard = np.exp(np.array(log_h))
    target = share * hazard.size
    a = cloglog.solve_scale(hazard, target)
    assert a >= target / hazard.sum() * (1 - 1e-12)  # above the linear approximation
    assert lost(a, hazard) == pytest.approx(target, rel=1e-9)
    assert lost(a * (1 - 1e-6), hazard) < target < lost(a * (1 + 1e-6), hazard) or a * hazard.max() > 700


@settings(max_examples=30, deadline=None)
@given(log_h=st.lists(st.floats(-10, 10), min_size=2, max_size=200), share=st.floats(1e-6, 0.99))
def test_the_bracketing_fallback_finds_the_same_root(log_h, share):
    hazard = np.exp(np.array(log_h))
    target = share * hazard.size
    newton = cloglog.solve_scale(hazard, target)
    brent = cloglog._bracketed_scale(hazard, target, target / hazard.sum())
    assert brent == pytest.approx(newton, rel=1e-9)


def numpy_hazard(columns, cells, mean, sd, coef):
    """The relative hazard written out in numpy: Σ standardised x·β, a missing value at the mean, exp."""
    x = np.column_stack([np.asarray(c, dtype=np.float64).ravel()[cells] for c in columns])
    z = np.nan_to_num((x - mean) / sd, nan=0.0)
    return np.exp(np.clip(z @ coef if z.shape[1] == 1 else sum(z[:, j] * coef[j] for j in range(z.shape[1])),
                          -30, 30))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_covariates=st.integers(1, 6), missing=st.floats(0, 0.3))
def test_relative_hazard_is_the_standardised_linear_predictor(seed, n_covariates, missing):
    rng = np.random.default_rng(seed)
    columns = [rng.normal(size=(40, 50)).astype(np.float32) for _ in range(n_covariates)]
    for c in columns:
        c[rng.random(c.shape) < missing] = np.nan
    columns[0] *= 40.0  # a covariate whose η reaches the ±30 clip
    cells = np.sort(rng.choice(2000, size=700, replace=False))
    mean, sd, coef = rng.normal(size=n_covariates), rng.uniform(0.5, 2, n_covariates), rng.normal(size=n_covariates)
    got = cloglog.relative_hazard(columns, cells, mean, sd, coef)
    np.testing.assert_array_equal(got, numpy_hazard(columns, cells, mean, sd, coef))
