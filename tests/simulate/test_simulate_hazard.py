"""The simulator's hazard helpers (icam.simulate.hazard): upsampling by blocks, checked against numpy's Kronecker
product with a block of ones; the compiled η and its comparison with the year's draws, checked against the numpy
passes they replaced (to the bit: the same seed must give the same landscape)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage, special

from icam.simulate.hazard import (
    SCREEN_STEPS_PER_Z,
    SCREEN_Z_MIN,
    _edge_term,
    _forest_blocks,
    _octagonal_m,
    _screen_bounds,
    _term_of,
    _threshold_of,
    _upsample,
    _year_draws,
    eta_at,
    exceeds,
)
from icam.simulate.params import EDGE_BLOCK_PX, HAZARD, RESOLUTION_M


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 9), block=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_upsample_repeats_each_cell_into_a_block(rows, cols, block, seed):
    coarse = np.random.default_rng(seed).random((rows, cols)).astype(np.float32)
    fine = _upsample(coarse, block)
    np.testing.assert_array_equal(fine, np.kron(coarse, np.ones((block, block), np.float32)))
    assert fine.dtype == coarse.dtype and fine.flags.c_contiguous and fine.flags.writeable
    fine[0, 0] = -1.0  # its own memory: the coarse array is left as it was
    assert coarse[0, 0] != -1.0


def _numpy_eta(edge, x_static, offset, shift=None, shifted=None):
    """η as the simulator computed it before :func:`exceeds`: upsampled, then added in float32 numpy passes."""
    eta = _upsample(edge, EDGE_BLOCK_PX)
    eta += x_static
    eta += offset
    if shift is not None:
        eta.ravel()[np.flatnonzero(shifted)] += shift
    return eta


def _draws_at_thresholds(eta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draws Z whose threshold T(Z) is η itself, to within a float32 step or two of Z (the comparisons a
    screen could get wrong), on half the cells; ordinary and extreme draws (beyond the screen's range) on
    the rest."""
    u = np.exp(-np.exp(eta.astype(np.float64)))  # T(Z) = η ⇔ Φ(−Z) = exp(−exp(η))
    z = (-special.ndtri(np.clip(u, 1e-300, 1 - 1e-16))).astype(np.float32)
    z = np.nextafter(z, z + rng.choice([-1, 0, 1], z.shape).astype(np.float32))
    other = rng.normal(0, 3, z.shape).astype(np.float32)
    other[rng.random(z.shape) < 0.05] = rng.choice([-40.0, -9.0, -8.0, 8.0, 9.0, 40.0])
    return np.where(rng.random(z.shape) < 0.5, z, other).astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 6), cols=st.integers(1, 6), seed=st.integers(0, 2**32 - 1),
       offset=st.floats(-12, 2), shift=st.one_of(st.none(), st.floats(-3, 0), st.just(-math.inf)))
def test_exceeds_compares_the_same_eta_with_the_same_thresholds_as_numpy(rows, cols, seed, offset, shift):
    """The screened comparison loses the cells numpy's passes lose: η > T(Z) over every forest cell."""
    rng = np.random.default_rng(seed)
    b = EDGE_BLOCK_PX
    edge = rng.normal(0, 2, (rows, cols)).astype(np.float32)
    x_static = rng.normal(0, 2, (rows * b, cols * b)).astype(np.float32)
    forest, shifted = rng.random(x_static.shape) < 0.8, rng.random(x_static.shape) < 0.5
    eta = _numpy_eta(edge, x_static, offset, shift, shifted)
    draws = _draws_at_thresholds(np.where(np.isfinite(eta), eta, 0.0), rng)
    lost = exceeds(edge, x_static, offset, draws, forest, shift, shifted if shift is not None else None)
    assert lost.dtype == bool
    np.testing.assert_array_equal(lost, (eta > _threshold_of(draws.copy())) & forest)
    cells = np.flatnonzero(rng.random(x_static.size) < 0.5)
    expected = _numpy_eta(edge, x_static, offset).ravel()[cells]
    np.testing.assert_array_equal(eta_at(edge, x_static, cells, offset), expected)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_screen_bounds_hold_every_threshold_of_their_step(seed):
    """lower ≤ T(Z) ≤ upper for Z in the step: at the steps' ends and their float32 neighbours (where T's
    rounding would show first) and at random Z. (Checked once over every float32 in [−8, 8): 2.1 billion
    values, none outside.)"""
    lower, upper = _screen_bounds()
    rng = np.random.default_rng(seed)
    steps = rng.integers(0, lower.size, 5000)
    ends = (steps / SCREEN_STEPS_PER_Z + SCREEN_Z_MIN).astype(np.float32)
    z = np.concatenate([ends, np.nextafter(ends, np.float32(9)), np.nextafter(ends, np.float32(-9)),
                        rng.uniform(-8, 8, 20_000).astype(np.float32)])
    z = z[(z >= -8) & (z < 8)]
    step = ((z.astype(np.float64) - SCREEN_Z_MIN) * SCREEN_STEPS_PER_Z).astype(np.int64)
    t = _threshold_of(z.copy())
    assert np.all((lower[step] <= t) & (t <= upper[step]))
    assert np.all(lower[1:] >= lower[:-1]) and np.all(upper[1:] >= upper[:-1])  # T increases with Z


def test_exceeds_refuses_an_edge_term_that_does_not_cover_the_raster():
    with pytest.raises(ValueError, match="does not cover"):
        exceeds(np.zeros((2, 2), np.float32), np.zeros((5, 4), np.float32), 0.0, np.zeros((5, 4), np.float32),
                np.ones((5, 4), bool))


def scipy_octagonal_m(feature: np.ndarray, cell_m: float) -> np.ndarray:
    """The octagonal distance as the simulator computed it before, with scipy's chamfer transforms."""
    chess = ndimage.distance_transform_cdt(feature, metric="chessboard").astype(np.float32)
    taxi = ndimage.distance_transform_cdt(feature, metric="taxicab").astype(np.float32)
    taxi *= 1 / math.sqrt(2)
    np.maximum(chess, taxi, out=chess)
    chess *= cell_m
    return chess


def test_octagonal_distance_by_hand():
    feature = np.ones((3, 5), bool)
    feature[0, 0] = False
    d = _octagonal_m(feature, np.float32(60))
    # (2, 4): chessboard 4, taxicab 6 → max(4, 6/√2 = 4.243) cells; (1, 1): max(1, 2/√2 = 1.414)
    assert d[0, 0] == 0 and d[2, 4] == pytest.approx(6 / math.sqrt(2) * 60, rel=1e-6)
    assert d[1, 1] == pytest.approx(math.sqrt(2) * 60, rel=1e-6) and d[0, 3] == 3 * 60
    everywhere = np.ones((2, 3), bool)  # no edge at all: scipy's −1 cells, in the same arithmetic
    np.testing.assert_array_equal(_octagonal_m(everywhere, np.float32(60)), scipy_octagonal_m(everywhere, 60))


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), share=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_octagonal_distance_is_scipys_chamfer_to_the_bit(rows, cols, share, seed):
    feature = np.random.default_rng(seed).random((rows, cols)) < share  # all True and all False included
    np.testing.assert_array_equal(_octagonal_m(feature, np.float32(60)), scipy_octagonal_m(feature, 60))


def test_year_draws_are_standard_normal_and_their_thresholds_a_function_of_u():
    """Z ~ N(0, 1) away from the border (0.96 of it smoothed, rescaled), and T(Z) = log(−log(1 − U)) with
    U = Φ(Z): p at η = T is U itself."""
    z = _year_draws(42, 2010, np.empty((300, 400), np.float32))
    inner = z[20:-20, 20:-20].astype(np.float64)
    assert abs(inner.mean()) < 0.1 and abs(inner.std() - 1.0) < 0.05
    t = _threshold_of(z.copy()).astype(np.float64)
    np.testing.assert_allclose(-np.expm1(-np.exp(t)), special.ndtr(z.astype(np.float64)), rtol=1e-5, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 30), cols=st.integers(1, 30), share=st.sampled_from([0.0, 0.5, 0.9, 1.0]),
       seed=st.integers(0, 2**16))
def test_edge_term_looked_up_is_the_term_of_every_distance_to_the_bit(rows, cols, share, seed):
    """The edge term from its values at each chessboard and taxicab distance equals the term computed on the
    octagonal distance of every cell (a forest everywhere and nowhere included)."""
    forest = np.random.default_rng(seed).random((rows * EDGE_BLOCK_PX, cols * EDGE_BLOCK_PX)) < share
    distance = _octagonal_m(_forest_blocks(forest), np.float32(EDGE_BLOCK_PX * RESOLUTION_M))
    np.testing.assert_array_equal(_edge_term(forest, HAZARD), _term_of(distance, HAZARD))
