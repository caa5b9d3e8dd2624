"""The simulator's hazard helpers (icam.simulate.hazard): upsampling by blocks, checked against numpy's Kronecker
product with a block of ones."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.simulate.hazard import _upsample


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 9), block=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_upsample_repeats_each_cell_into_a_block(rows, cols, block, seed):
    coarse = np.random.default_rng(seed).random((rows, cols)).astype(np.float32)
    fine = _upsample(coarse, block)
    np.testing.assert_array_equal(fine, np.kron(coarse, np.ones((block, block), np.float32)))
    assert fine.dtype == coarse.dtype and fine.flags.c_contiguous and fine.flags.writeable
    fine[0, 0] = -1.0  # its own memory: the coarse array is left as it was
    assert coarse[0, 0] != -1.0
