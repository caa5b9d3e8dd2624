"""Placebo tiles (icam.risk.placebo): the tiles of a domain and their error, worked by hand."""

import numpy as np
import pytest

from icam.risk.placebo import PlaceboTiles, tile_index


def test_tiles_of_about_equal_forest_and_small_ones_left_out():
    domain = np.zeros((100, 100), bool)
    domain[:, :90] = True  # squares of 47 cells: the last column of tiles holds a sliver, left out
    ids, side = tile_index(domain, 4)
    assert side == int(round(np.sqrt(9000 / 4)))
    kept = ids[ids >= 0]
    counts = np.bincount(kept)
    assert counts.min() >= 0.5 * np.bincount(ids[domain.ravel()] + 1)[1:].mean()
    assert np.all(ids[~domain.ravel()] == -1)
    full, side = tile_index(np.ones((100, 100), bool), 4)
    assert side == 50 and np.array_equal(np.bincount(full), [2500] * 4)


def test_error_of_two_tiles_by_hand():
    """HRP: expected 1,000 and 2,000 cells, observed 2,000 and 1,000: k = 2 and 0.5. After: expected 500 and
    1,000, observed 1,200 and 400: predicted 1,000 and 500, errors +0.2 and −0.2, weights 2/3 and 1/3;
    MSE 0.04 less the counts' noise 2/3/1,000 + 1/3/500 = 0.001333: V = 0.038667."""
    tiles = PlaceboTiles(np.array([0, 1]), 2)
    cells = np.array([0, 1])
    tiles.add_historical(cells, np.array([1000.0, 2000.0]), np.array([2000.0, 1000.0]))
    tiles.fit_k()
    assert tiles.k_ == pytest.approx([2.0, 0.5])
    assert tiles.add_year(cells, np.array([500.0, 1000.0]), np.array([1200.0, 400.0])) == pytest.approx(0.038667,
                                                                                                      abs=1e-6)
    tiles.restart()
    assert tiles.add_year(cells, np.array([500.0, 1000.0]), np.array([1000.0, 500.0])) == 0.0  # exact: no error
