"""numpy's PCG64 compiled (icam.core.pcg64): the 32-bit and bounded draws numpy makes from the same state, the
state written back, and choice without replacement as a mask, to the bit."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import twin_generators
from icam.core.pcg64 import (
    TAIL_SHUFFLE_DIVISOR,
    TAIL_SHUFFLE_MIN,
    bounded_uint32,
    chosen_mask,
    next_uint32,
    restore,
    state_of,
)


@numba.njit
def _draw_uint32(state, n):
    out = np.empty(n, np.uint32)
    for k in range(n):
        out[k] = next_uint32(state)
    return out


@numba.njit
def _draw_bounded(state, highest):
    out = np.empty(highest.size, np.int64)
    for k in range(highest.size):
        out[k] = bounded_uint32(state, np.uint64(highest[k]))
    return out


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 2000), skip=st.integers(0, 3), seed=st.integers(0, 2**63))
def test_32_bit_draws_and_state_are_numpys(n, skip, seed):
    compiled, reference = twin_generators(seed, skip)
    state = state_of(compiled)
    drawn = _draw_uint32(state, n)
    restore(compiled, state)
    np.testing.assert_array_equal(drawn, reference.integers(0, 2**32, size=n, dtype=np.uint32))
    assert compiled.bit_generator.state == reference.bit_generator.state
    assert compiled.random() == reference.random()


@settings(max_examples=50, deadline=None)
@given(highest=st.lists(st.one_of(st.integers(0, 10), st.integers(0, 2**32 - 2)), max_size=300),
       skip=st.integers(0, 3), seed=st.integers(0, 2**63))
def test_bounded_draws_are_numpys_lemire(highest, skip, seed):
    """Each integer on 0 … highest as numpy's ``integers(0, highest + 1)`` draws it (Lemire's rejections
    included: bounds near 2³² reject about half the draws)."""
    compiled, reference = twin_generators(seed, skip)
    state = state_of(compiled)
    drawn = _draw_bounded(state, np.array(highest, np.int64))
    restore(compiled, state)
    expected = [int(reference.integers(0, h + 1, dtype=np.uint32)) if h else 0 for h in highest]
    assert drawn.tolist() == expected
    assert compiled.bit_generator.state == reference.bit_generator.state


@settings(max_examples=60, deadline=None)
@given(population=st.integers(0, 60_000), share=st.floats(0.0, 1.0), seed=st.integers(0, 2**63))
def test_chosen_mask_is_numpys_choice_without_replacement(population, share, seed):
    """Small and large samples of small and large populations (numpy's Floyd and tail-shuffle branches, the
    whole population included): the cells numpy's ``choice`` draws, and the generator where it leaves it."""
    size = int(round(share * population))
    compiled, reference = np.random.default_rng(seed), np.random.default_rng(seed)
    chosen = chosen_mask(compiled, population, size)
    expected = np.zeros(population, bool)
    expected[reference.choice(population, size=size, replace=False)] = True
    np.testing.assert_array_equal(chosen, expected)
    assert compiled.bit_generator.state == reference.bit_generator.state


def test_a_large_sample_takes_the_compiled_tail_shuffle():
    """A jurisdiction-sized draw (three million of five million cells): numpy's draws, through the compiled
    branch (a sample above a fiftieth of a population above 10,000)."""
    population, size = 5_000_000, 3_000_000
    assert population > TAIL_SHUFFLE_MIN and size > population // TAIL_SHUFFLE_DIVISOR
    compiled, reference = np.random.default_rng([42, 1]), np.random.default_rng([42, 1])
    chosen = chosen_mask(compiled, population, size)
    assert np.count_nonzero(chosen) == size
    expected = np.zeros(population, bool)
    expected[reference.choice(population, size=size, replace=False)] = True
    np.testing.assert_array_equal(chosen, expected)
    assert compiled.random() == reference.random()


def test_other_generators_and_impossible_samples_are_refused():
    with pytest.raises(ValueError, match="PCG64"):
        chosen_mask(np.random.Generator(np.random.MT19937(1)), 100_000, 50_000)
    with pytest.raises(ValueError, match="without replacement"):
        chosen_mask(np.random.default_rng(1), 10, 11)
