"""The cloglog scale (icam.risk.cloglog.solve_scale): the a with Σ 1 − exp(−a·h) = target, worked by hand where
every hazard is equal, and as an invariant of any hazards; the bracketing fallback finds the same root."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.core import spilled
from icam.core.spilled import SpilledRaster
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


def test_cells_certain_to_be_lost_leave_the_slope_to_the_others():
    # the cells of hazard 77.7 are lost at any a that matters; the two of 1.39e-11 must lose 1.996 between them:
    # 2 (1 − exp(−a h)) = 1.996  ⇔  a = −log(0.002) / h. Σ h + Σ h·q, the slope's old sum, cancelled to noise here
    small = 1.38879439e-11
    a = cloglog.solve_scale(np.array([77.7054508, small, 77.7054508, small]), 3.996)
    assert a == pytest.approx(-np.log(0.002) / small, rel=1e-9)


@st.composite
def hazards_and_target(draw, log_h: float, min_size: int, max_size: int, share: tuple[float, float]):
    """Relative hazards exp(U(−log_h, log_h)) and a loss of ``share`` of their cells (the target)."""
    hazard = np.exp(np.array(draw(st.lists(st.floats(-log_h, log_h), min_size=min_size, max_size=max_size))))
    return hazard, draw(st.floats(*share)) * hazard.size


@settings(max_examples=60, deadline=None)
@given(case=hazards_and_target(25, 1, 300, (1e-9, 0.999)))
def test_the_root_gives_the_target(case):
    hazard, target = case
    a = cloglog.solve_scale(hazard, target)
    assert a >= target / hazard.sum() * (1 - 1e-12)  # above the linear approximation
    assert lost(a, hazard) == pytest.approx(target, rel=1e-9)
    assert lost(a * (1 - 1e-6), hazard) < target < lost(a * (1 + 1e-6), hazard) or a * hazard.max() > 700


@settings(max_examples=30, deadline=None)
@given(case=hazards_and_target(10, 2, 200, (1e-6, 0.99)))
def test_the_bracketing_fallback_finds_the_same_root(case):
    hazard, target = case
    newton = cloglog.solve_scale(hazard, target)
    brent = cloglog._bracketed_scale(hazard, target)
    assert brent == pytest.approx(newton, rel=1e-9)


def numpy_hazard(columns, cells, mean, sd, coef):
    """The relative hazard written out in numpy: Σ standardised x·β, a missing value at the mean, exp."""
    x = np.column_stack([np.asarray(c, dtype=np.float64).ravel()[cells] for c in columns])
    z = np.nan_to_num((x - mean) / sd, nan=0.0)
    return np.exp(np.clip(sum(z[:, j] * coef[j] for j in range(z.shape[1])), -30, 30))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_covariates=st.integers(1, 6), missing=st.floats(0, 0.3),
       one_float64=st.booleans())
def test_relative_hazard_is_the_standardised_linear_predictor(seed, n_covariates, missing, one_float64):
    rng = np.random.default_rng(seed)
    columns = [rng.normal(size=(40, 50)).astype(np.float32) for _ in range(n_covariates)]
    for c in columns:
        c[rng.random(c.shape) < missing] = np.nan
    columns[0] *= 40.0  # a covariate whose η reaches the ±30 clip
    if one_float64:  # float32 covariates take one compiled pass together, others one pass each
        columns[-1] = columns[-1].astype(np.float64) + rng.normal(size=columns[-1].shape) * 1e-3
    cells = np.sort(rng.choice(2000, size=700, replace=False))
    mean, sd, coef = rng.normal(size=n_covariates), rng.uniform(0.5, 2, n_covariates), rng.normal(size=n_covariates)
    got = cloglog.relative_hazard(columns, cells, mean, sd, coef)
    np.testing.assert_array_equal(got, numpy_hazard(columns, cells, mean, sd, coef))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_covariates=st.integers(2, 6), missing=st.floats(0, 0.3), data=st.data())
def test_first_covariates_continued_give_the_hazard_of_all(seed, n_covariates, missing, data):
    # the dynamic baseline's way: the first covariates' η once at the raster's cells, the others' terms added
    # each year from their values gathered at those cells (positions 0…n − 1), to the bit the one-pass hazard
    rng = np.random.default_rng(seed)
    columns = [rng.normal(size=(40, 50)).astype(np.float32) * rng.uniform(1, 20) for _ in range(n_covariates)]
    for c in columns:
        c[rng.random(c.shape) < missing] = np.nan
    cells = np.sort(rng.choice(2000, size=700, replace=False))
    mean, sd, coef = rng.normal(size=n_covariates), rng.uniform(0.5, 2, n_covariates), rng.normal(size=n_covariates)
    k = data.draw(st.integers(1, n_covariates - 1))
    first = cloglog.linear_terms(columns[:k], cells, mean[:k], sd[:k], coef[:k])
    rest = [c.ravel()[cells] for c in columns[k:]]
    got = cloglog.relative_hazard(rest, np.arange(cells.size), mean[k:], sd[k:], coef[k:], start=first)
    np.testing.assert_array_equal(got, numpy_hazard(columns, cells, mean, sd, coef))
    assert np.isfinite(first).all()  # the start is not changed in place either: it is used again next year
    np.testing.assert_array_equal(first, cloglog.linear_terms(columns[:k], cells, mean[:k], sd[:k], coef[:k]))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 50), min_size=1, max_size=40))
def test_probability_in_the_hazards_own_buffer_is_the_new_arrays(hazards):
    h = np.array(hazards)
    expected = -np.expm1(-h)  # 1 − exp(−u), worked without the function
    np.testing.assert_array_equal(cloglog.probability(h), expected)
    assert cloglog.probability(h, out=h) is h
    np.testing.assert_array_equal(h, expected)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_covariates=st.integers(1, 5), chunk=st.integers(1, 300),
       ascending=st.booleans())
def test_covariates_in_files_give_the_same_eta_to_the_bit(seed, n_covariates, chunk, ascending):
    # the run's static covariates are in temporary files, read a range of cells at a time: each cell's terms are
    # added in the covariates' order all the same, whatever the ranges and the cells' order
    rng = np.random.default_rng(seed)
    columns = [rng.normal(size=(30, 40)).astype(np.float32) * rng.uniform(1, 20) for _ in range(n_covariates)]
    for c in columns:
        c[rng.random(c.shape) < 0.1] = np.nan
    cells = rng.choice(1200, size=500, replace=False)
    cells = np.sort(cells) if ascending else cells
    mean, sd, coef = rng.normal(size=n_covariates), rng.uniform(0.5, 2, n_covariates), rng.normal(size=n_covariates)
    start = rng.normal(size=cells.size)
    files = []
    for c in columns:
        files.append(SpilledRaster(c.shape, np.float32))
        files[-1].write(c)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spilled, "CHUNK_VALUES", chunk)
        got = cloglog.linear_terms(files, cells, mean, sd, coef, start=start)
    np.testing.assert_array_equal(got, cloglog.linear_terms(columns, cells, mean, sd, coef, start=start))
