"""The simulator's compiled normal draws (icam.simulate.normal): numpy's float32 standard normals from the same
PCG64 generator to the bit, the generator left in the same state, and the year's draws as the numpy
operations made them."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import twin_generators
from icam.core.filters import gaussian_filter_reflect
from icam.simulate.hazard import _smoothing_sd, _year_draws
from icam.simulate.normal import scale_and_add_normal, standard_normal_into
from icam.simulate.params import DRAW_CELL_WEIGHT, DRAW_SMOOTH_PX, DRAW_SMOOTH_WEIGHT


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 5000), skip=st.integers(0, 3), seed=st.integers(0, 2**63))
def test_draws_and_state_are_numpys(size, skip, seed):
    compiled, reference = twin_generators(seed, skip)
    drawn = standard_normal_into(compiled, np.empty(size, np.float32))
    expected = reference.standard_normal(size, dtype=np.float32)
    np.testing.assert_array_equal(drawn.view(np.uint32), expected.view(np.uint32))
    assert compiled.bit_generator.state == reference.bit_generator.state
    assert compiled.random() == reference.random()  # and the next draw of either kind follows alike


def test_two_million_draws_with_their_tails_and_wedges_are_numpys():
    """Enough draws that the ziggurat's slow paths are taken thousands of times: the tail beyond r = 3.654
    (about 2.6 in 10,000 draws) and the wedges' test against exp(−x²/2)."""
    compiled, reference = twin_generators(20261207, 1)
    drawn = standard_normal_into(compiled, np.empty((1000, 2000), np.float32))
    expected = reference.standard_normal((1000, 2000), dtype=np.float32)
    assert np.count_nonzero(np.abs(expected) > 3.6541529) > 300
    np.testing.assert_array_equal(drawn.view(np.uint32), expected.view(np.uint32))
    assert compiled.bit_generator.state == reference.bit_generator.state


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 3000), out_scale=st.floats(-3, 3), draws_scale=st.floats(-3, 3),
       seed=st.integers(0, 2**63))
def test_scale_and_add_is_numpys_three_float32_operations(size, out_scale, draws_scale, seed):
    compiled, reference = twin_generators(seed, 1)
    values = np.random.default_rng(seed + 1).standard_normal(size, dtype=np.float32)
    fused = scale_and_add_normal(compiled, values.copy(), out_scale, draws_scale)
    expected = values.copy()
    expected *= out_scale
    draws = reference.standard_normal(size, dtype=np.float32)
    draws *= draws_scale
    expected += draws
    np.testing.assert_array_equal(fused.view(np.uint32), expected.view(np.uint32))
    assert compiled.bit_generator.state == reference.bit_generator.state


def test_year_draws_are_those_of_numpys_operations():
    """The year's draws as the simulator made them with numpy: the white noise smoothed, rescaled, plus the
    cells' own draws (the seed's stream 100, year); rows enough for the noise to be drawn in several bands."""
    shape = (1100, 13)
    rng = np.random.default_rng([42, 100, 2010])
    expected = gaussian_filter_reflect(rng.standard_normal(shape, dtype=np.float32), DRAW_SMOOTH_PX, 3.0)
    expected *= DRAW_SMOOTH_WEIGHT / _smoothing_sd(DRAW_SMOOTH_PX, truncate=3.0)
    cells = rng.standard_normal(shape, dtype=np.float32)
    cells *= DRAW_CELL_WEIGHT
    expected += cells
    drawn = _year_draws(42, 2010, np.empty(shape, np.float32))
    np.testing.assert_array_equal(drawn.view(np.uint32), expected.view(np.uint32))


def test_other_generators_and_arrays_are_refused():
    with pytest.raises(ValueError, match="PCG64"):
        standard_normal_into(np.random.Generator(np.random.MT19937(1)), np.empty(3, np.float32))
    with pytest.raises(ValueError, match="float32"):
        standard_normal_into(np.random.default_rng(1), np.empty(3, np.float64))
    with pytest.raises(ValueError, match="float32"):
        standard_normal_into(np.random.default_rng(1), np.empty((4, 4), np.float32)[:, ::2])
