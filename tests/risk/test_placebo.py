"""Placebo tiles (icam.risk.placebo): the tiles of a domain and their error, worked by hand."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.risk.placebo import PlaceboTiles, SquareTiles


def _tiles(domain: np.ndarray, n_tiles: int) -> tuple[np.ndarray, int]:
    """The flat tile number of every cell of about ``n_tiles`` tiles of ``domain``, and the squares' side."""
    squares = SquareTiles.of(domain, n_tiles)
    return squares.cells(), squares.side


def _cell_tiles(ids: np.ndarray, n_tiles: int) -> PlaceboTiles:
    """Placebo tiles of a row of cells, cell i in tile ``ids[i]`` (−1: none): each cell its own square."""
    return PlaceboTiles(SquareTiles(ids.reshape(1, -1), 1, np.ones((1, ids.size), bool)), n_tiles)


def test_tiles_of_about_equal_forest_and_small_ones_left_out():
    domain = np.zeros((100, 100), bool)
    domain[:, :90] = True  # squares of 47 cells: the last column of tiles holds a sliver, left out
    ids, side = _tiles(domain, 4)
    assert side == int(round(np.sqrt(9000 / 4)))
    kept = ids[ids >= 0]
    counts = np.bincount(kept)
    assert counts.min() >= 0.5 * np.bincount(ids[domain.ravel()] + 1)[1:].mean()
    assert np.all(ids[~domain.ravel()] == -1)
    full, side = _tiles(np.ones((100, 100), bool), 4)
    assert side == 50 and np.array_equal(np.bincount(full), [2500] * 4)


def test_error_of_two_tiles_by_hand():
    """HRP: expected 1,000 and 2,000 cells, observed 2,000 and 1,000: k = 2 and 0.5. After: expected 500 and
    1,000, observed 1,200 and 400: predicted 1,000 and 500, errors +0.2 and −0.2, weights 2/3 and 1/3;
    MSE 0.04 less the counts' noise 2/3/1,000 + 1/3/500 = 0.001333: V = 0.038667."""
    tiles = _cell_tiles(np.array([0, 1]), 2)
    cells = np.array([0, 1])
    tiles.add_historical(tiles.sums(cells, np.array([1000.0, 2000.0]), np.array([2000.0, 1000.0])))
    tiles.fit_k()
    assert tiles.k_ == pytest.approx([2.0, 0.5])
    year = tiles.sums(cells, np.array([500.0, 1000.0]), np.array([1200.0, 400.0]))
    assert tiles.add_year(year) == pytest.approx(0.038667, abs=1e-6)
    tiles.restart()
    year = tiles.sums(cells, np.array([500.0, 1000.0]), np.array([1000.0, 500.0]))
    assert tiles.add_year(year) == 0.0  # exact: no error


def _tile_index_by_cells(domain: np.ndarray, n_tiles: int) -> np.ndarray:
    """The tiles numbered cell by cell, as icam did before it counted per square: every domain cell's
    square, numbered over the squares holding any (np.unique), those under half the mean count left out."""
    rows, cols = np.nonzero(domain)
    side = max(1, int(round(np.sqrt(rows.size / max(n_tiles, 1)))))
    dense = np.unique((rows // side) * (domain.shape[1] // side + 1) + cols // side, return_inverse=True)[1]
    counts = np.bincount(dense)
    keep = counts >= 0.5 * counts.mean()
    renumber = np.full(counts.size, -1)
    renumber[keep] = np.arange(int(keep.sum()))
    ids = np.full(domain.size, -1)
    ids[np.ravel_multi_index((rows, cols), domain.shape)] = renumber[dense]
    return ids


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.floats(0.05, 1.0), st.integers(1, 40), st.integers(0, 10_000))
def test_tiles_counted_per_square_are_the_tiles_numbered_cell_by_cell(height, width, density, n_tiles, seed):
    domain = np.random.default_rng(seed).random((height, width)) < density
    if not domain.any():
        return
    ids, _ = _tiles(domain, n_tiles)
    np.testing.assert_array_equal(ids, _tile_index_by_cells(domain, n_tiles))


def test_more_tiles_than_int16_numbers_keep_int32():
    domain = np.ones((200, 200), bool)  # squares of one cell: 40,000 tiles, numbers past 32,767
    ids, side = _tiles(domain, 40_000)
    assert side == 1 and ids.dtype == np.int32
    np.testing.assert_array_equal(ids, np.arange(40_000))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_tiles=st.integers(1, 9), lost_share=st.floats(0, 1))
def test_year_sums_are_the_tiles_totals(seed, n_tiles, lost_share):
    rng = np.random.default_rng(seed)
    ids = rng.integers(-1, n_tiles, size=300)  # −1: a cell in no tile
    tiles = _cell_tiles(ids, n_tiles)
    cells = np.sort(rng.choice(300, size=120, replace=False))
    expected = rng.random(cells.size)
    observed = np.where(rng.random(cells.size) < lost_share, 1.3, 0.0)
    want = np.zeros((2, n_tiles))
    for c, e, o in zip(cells, expected, observed):
        if ids[c] >= 0:
            want[:, ids[c]] += (e, o)
    got = tiles.sums(cells, expected, observed)
    np.testing.assert_array_equal(got, want)  # added in the cells' order: the same sums to the bit
    tile = np.where(ids[cells] < 0, n_tiles, ids[cells])  # and those np.bincount gives
    for row, weights in enumerate((expected, observed)):
        np.testing.assert_array_equal(got[row], np.bincount(tile, weights, n_tiles + 1)[:n_tiles])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_tiles=st.integers(1, 9), scale=st.floats(0.1, 3.0))
def test_year_sums_of_the_cells_lost_times_their_loss_are_the_float_observed(seed, n_tiles, scale):
    rng = np.random.default_rng(seed)
    tiles = _cell_tiles(rng.integers(-1, n_tiles, size=200), n_tiles)
    cells = np.sort(rng.choice(200, size=90, replace=False))
    expected, lost = rng.random(cells.size), rng.random(cells.size) < 0.3
    np.testing.assert_array_equal(tiles.sums(cells, expected, lost, scale), tiles.sums(cells, expected, lost * scale))


@settings(max_examples=30, deadline=None)
@given(st.integers(5, 60), st.integers(5, 60), st.integers(1, 12), st.integers(0, 10_000))
def test_tiles_drawn_from_their_squares_sum_as_the_raster_of_tile_numbers(rows, cols, n_tiles, seed):
    """The dynamic baseline keeps the tiles' squares, not a raster of tile numbers: every year's sums, and the
    mean tile's cells, are those of the raster of tile numbers (np.bincount) to the bit, for cells in the domain
    and outside it, in strips of rows as whole."""
    rng = np.random.default_rng(seed)
    domain = rng.random((rows, cols)) < rng.uniform(0.2, 1.0)
    squares = SquareTiles.of(domain, n_tiles)
    ids = squares.cells()
    np.testing.assert_array_equal(ids, _tile_index_by_cells(domain, n_tiles))
    strip = int(rng.integers(1, rows + 1))
    np.testing.assert_array_equal(np.concatenate([squares.in_rows(r, min(r + strip, rows)).ravel()
                                                  for r in range(0, rows, strip)]), ids)
    assert squares.n_tiles == int(ids.max(initial=-1)) + 1
    if squares.n_tiles:
        assert squares.mean_cells() == float(np.bincount(ids[ids >= 0]).mean())
    cells = np.sort(rng.choice(rows * cols, rng.integers(1, rows * cols), replace=False))
    expected, observed = rng.random(cells.size), rng.random(cells.size) < 0.3
    got = PlaceboTiles(squares, squares.n_tiles).sums(cells, expected, observed, 0.7)
    tile = np.where(ids[cells] < 0, squares.n_tiles, ids[cells])
    for row, weights in enumerate((expected, observed * 0.7)):
        assert np.array_equal(got[row], np.bincount(tile, weights, squares.n_tiles + 1)[:squares.n_tiles])
