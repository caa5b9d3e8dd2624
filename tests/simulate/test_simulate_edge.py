"""The simulator's edge term kept from year to year (icam.simulate.edge): after every year's loss, the term of
the forest computed from scratch (icam.simulate.hazard._edge_term), to the bit."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from icam.simulate.edge import EdgeTerm
from icam.simulate.hazard import _edge_term
from icam.simulate.params import HAZARD


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 41), cols=st.integers(1, 41), share=st.sampled_from([0.0, 0.3, 0.9, 1.0]),
       years=st.integers(1, 6), clustered=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_the_kept_term_is_the_term_of_each_years_forest(rows, cols, share, years, clustered, seed):
    """Random forests (all forest: no edge until the first loss; none; odd sides whose last row or column
    belongs to no 60 m cell), losses scattered or in blobs as clearings come, one to six years."""
    rng = np.random.default_rng(seed)
    forest = rng.random((rows, cols)) < share
    kept = EdgeTerm(forest, HAZARD)
    np.testing.assert_array_equal(kept.term, _edge_term(forest, HAZARD))
    for _ in range(years):
        chance = rng.random((rows, cols))
        if clustered:
            chance = ndimage.uniform_filter(chance, 5)
        lost = forest & (chance < np.quantile(chance, rng.uniform(0.0, 0.4)))
        forest &= ~lost
        kept.lose(forest, lost)
        np.testing.assert_array_equal(kept.term, _edge_term(forest, HAZARD))


def test_a_new_clearing_brings_the_edge_closer_around_it_only():
    """A solid forest with a clearing at one corner; a second clearing far from it lowers the distances near
    it and leaves the first clearing's surroundings as they were."""
    forest = np.ones((40, 60), bool)
    forest[:4, :4] = False
    kept = EdgeTerm(forest, HAZARD)
    before = kept.term.copy()
    lost = np.zeros_like(forest)
    lost[30:34, 50:54] = True
    forest &= ~lost
    kept.lose(forest, lost)
    np.testing.assert_array_equal(kept.term, _edge_term(forest, HAZARD))
    assert kept.term[16, 26] > before[16, 26]  # the new clearing's 60 m cells: distance 0, the highest term
    np.testing.assert_array_equal(kept.term[:3, :3], before[:3, :3])
