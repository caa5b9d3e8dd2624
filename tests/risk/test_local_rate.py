"""The local deforestation rate (icam.risk.local_rate): its integer window counts against riskmapjnr's way of
counting, scipy's uniform filter (a float64 mean times the window's cells), and its classes against numpy's."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from icam.risk.local_rate import CLASS_LIMIT_TOLERANCE, local_deforestation_rate, local_rate_classes, window_counts


def scipy_counts(cells: np.ndarray, window: int) -> np.ndarray:
    mean = ndimage.uniform_filter(cells.astype(np.float64), size=window, mode="constant", cval=0.0)
    return np.rint(mean * window * window)


def test_window_counts_by_hand():
    cells = np.zeros((4, 5), bool)
    cells[0, 0] = cells[3, 4] = cells[1, 2] = True
    # 3 × 3 windows: (0, 1) sees (0, 0) and (1, 2); (2, 3) sees (1, 2) and (3, 4); (3, 0) sees none
    counts = window_counts(cells, 3)
    assert counts.dtype == np.uint16
    assert counts[0, 1] == 2 and counts[2, 3] == 2 and counts[3, 0] == 0 and counts[0, 0] == 1
    assert window_counts(cells, 1).tolist() == cells.astype(int).tolist()
    assert (window_counts(cells, 99) == 3).all()  # a window wider than the raster holds all of it
    assert window_counts(cells, 257).dtype == np.uint32  # 66,049 cells: more than uint16 counts


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 5, 7, 21, 41]), st.floats(0, 1),
       st.integers(0, 2 ** 32 - 1))
def test_window_counts_are_scipy_uniform_filter_counts(rows, cols, window, share, seed):
    cells = np.random.default_rng(seed).random((rows, cols)) < share
    np.testing.assert_array_equal(window_counts(cells, window), scipy_counts(cells, window))


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 60), st.sampled_from([3, 21]), st.integers(0, 2 ** 32 - 1))
def test_local_rate_is_riskmapjnr_float64_rate_to_the_bit(side, window, seed):
    rng = np.random.default_rng(seed)
    forest = rng.random((side, side)) < 0.7
    deforested = rng.random((side, side)) < 0.2
    n_forest, n_lost = scipy_counts(forest, window), scipy_counts(forest & deforested, window)
    expected = np.zeros(forest.shape, np.float32)
    expected[forest] = n_lost[forest] / n_forest[forest]
    np.testing.assert_array_equal(local_deforestation_rate(deforested, forest, window), expected)


def test_window_counts_on_a_pool_are_the_whole_maps_across_blocks():
    """Block by block (`icam run --scheduler`: blocks of 1024 pixels, read with half a window's halo), on threads
    and processes: the same integers on a map two blocks wide."""
    from icam.core.blocks import block_executor

    cells = np.random.default_rng(8).random((30, 1100)) < 0.3
    for scheduler in ("threads", "processes"):
        with block_executor(scheduler) as pool:
            np.testing.assert_array_equal(window_counts(cells, 21, pool), window_counts(cells, 21))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 255), st.integers(1, 300), st.integers(0, 10_000))
def test_classes_are_numpys_ceil_and_clip_of_the_rates_to_the_bit(n_classes, n_cells, seed):
    """The classes in one compiled pass: each the clip to 1 … n of ceil(rate × n − tolerance) in float64, as numpy
    gives it, rates on the class limits (k / n in float32) included; 0 off the forest."""
    rng = np.random.default_rng(seed)
    on_limits = (rng.integers(0, n_classes + 1, n_cells) / n_classes).astype(np.float32)
    rate = np.where(rng.random(n_cells) < 0.5, on_limits, rng.random(n_cells).astype(np.float32)).reshape(1, -1)
    forest = rng.random((1, n_cells)) < 0.8
    expected = np.zeros(rate.shape, np.uint8)
    expected[forest] = np.clip(np.ceil(rate[forest].astype(np.float64) * n_classes - CLASS_LIMIT_TOLERANCE), 1,
                               n_classes)
    assert local_rate_classes(rate, forest, n_classes).tolist() == expected.tolist()
