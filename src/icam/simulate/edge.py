"""The simulator's edge term kept from one year to the next: a run's forest only shrinks, so each year's
distances to the edge are last year's, lowered around the 60 m cells that stopped being forest.

:func:`icam.simulate.hazard._edge_term` computes the term of a forest from scratch: its 60 m cells
(:func:`~icam.simulate.hazard._forest_blocks`), their chessboard and taxicab distances to the nearest non-forest
cell (two raster scans), and the term of their octagonal combination, looked up. A jurisdiction's simulation
called it forty times, 0.45 s a call, for a forest that loses one or two per cent of its cells a year.

Both distances are path lengths on the grid (chessboard: steps to any of the eight neighbours; taxicab: to the
four), so the distance to the old non-forest cells and the new ones is the smaller of the old distance and
the distance to the new cells, and a breadth-first search from the new cells finds every cell where that is
smaller, pruned where it is not (every cell on a shortest path from a new cell to a cell it brings closer is
brought closer too). The distances are integers: the update is exact, and each cell whose distances changed
takes its term from the same tables, so the term is :func:`~icam.simulate.hazard._edge_term`'s to the bit.
"""

from __future__ import annotations

import numba
import numpy as np

from icam.simulate.hazard import _chamfer, _edge_term, _forest_blocks, _octagonal_lookup, _octagonal_pick, _term_tables
from icam.simulate.params import EDGE_BLOCK_PX


class EdgeTerm:
    """The edge term of one run's forest (``term``: float32 on 60 m cells, :func:`_edge_term`'s), kept as the
    forest loses cells (:meth:`lose`). Holds the 60 m cells' two distances (int16 where they fit) besides."""

    def __init__(self, forest: np.ndarray, h: dict):
        self._h = h
        chess, taxi = _chamfer(_forest_blocks(forest))
        rows, cols = chess.shape
        # the distances never exceed rows + cols: int16 holds them up to a 980 km raster side at 30 m
        dtype = np.int16 if rows + cols < np.iinfo(np.int16).max else np.int32
        self._chess, self._taxi = chess.astype(dtype), taxi.astype(dtype)
        self._by_chess, self._by_taxi = _term_tables(rows + cols, h)
        no_edge = chess.size == 0 or chess[0, 0] < 0  # scipy's −1 distances: computed as they come
        self.term = _edge_term(forest, h) if no_edge else _octagonal_lookup(chess, taxi, self._by_chess,
                                                                            self._by_taxi)

    def lose(self, forest: np.ndarray, lost: np.ndarray) -> None:
        """The term once the ``lost`` cells (bool raster) are lost: ``forest`` is the forest after the loss."""
        if self._chess.size and self._chess[0, 0] < 0:  # there was no edge at all: from scratch (scipy's −1)
            self.__init__(forest, self._h)
            return
        _lose(np.flatnonzero(lost), forest, EDGE_BLOCK_PX, self._chess, self._taxi, self.term,
              self._by_chess, self._by_taxi)


@numba.njit(cache=True, nogil=True)
def _lose(cells, forest, block, chess, taxi, term, by_chess, by_taxi):
    """The 60 m cells that the lost ``cells`` (flat indices of the 30 m raster) leave with fewer than half their
    cells forest become non-forest (distance 0); both distances are lowered from them (:func:`_spread`) and
    the term looked up again where either changed: once a cell, in a pass over the rows the searches reached
    (a list of the cells each search lowered held most twice, and was read in the searches' scattered order)."""
    rows, cols = chess.shape
    width = forest.shape[1]
    half = (block * block) // 2
    queue = np.empty(rows * cols, np.int64)
    n_new = 0
    for k in range(cells.size):
        r, c = cells[k] // width // block, cells[k] % width // block
        if r >= rows or c >= cols or chess[r, c] == 0:  # outside the 60 m cells, or already non-forest
            continue
        standing = 0
        for i in range(block):
            for j in range(block):
                standing += forest[r * block + i, c * block + j]
        if standing < half:
            chess[r, c] = 0
            taxi[r, c] = 0
            queue[n_new] = r * cols + c
            n_new += 1
    if n_new == 0:
        return
    changed = np.zeros(rows * cols, np.bool_)
    first, last = _spread(chess, queue, n_new, True, changed)
    first_taxi, last_taxi = _spread(taxi, queue, n_new, False, changed)
    term_flat, chess_flat, taxi_flat = term.ravel(), chess.ravel(), taxi.ravel()
    for cell in range(min(first, first_taxi), max(last, last_taxi) + 1):
        if changed[cell]:
            term_flat[cell] = _octagonal_pick(chess_flat[cell], taxi_flat[cell], by_chess, by_taxi)


@numba.njit(cache=True, nogil=True)
def _spread(distance, queue, n_sources, diagonal, changed):
    """Breadth-first from the ``n_sources`` first cells of ``queue`` (flat, distance 0): each neighbour (the
    eight with ``diagonal``, else the four) whose distance is more than one step beyond the cell's takes that
    step and is searched from in turn. Each cell lowered is marked in ``changed`` (flat); the first and last
    flat index marked are returned. The queue is the sources' own array, written past them."""
    rows, cols = distance.shape
    head, tail = 0, n_sources
    first, last = rows * cols, -1
    for k in range(n_sources):
        changed[queue[k]] = True
        first, last = min(first, queue[k]), max(last, queue[k])
    while head < tail:
        cell = queue[head]
        head += 1
        r, c = cell // cols, cell % cols
        step = distance[r, c] + 1
        for dr in range(-1, 2):
            for dc in range(-1, 2):
                if (dr == 0 and dc == 0) or (not diagonal and dr != 0 and dc != 0):
                    continue
                nr, nc = r + dr, c + dc
                if 0 <= nr < rows and 0 <= nc < cols and distance[nr, nc] > step:
                    distance[nr, nc] = step
                    queue[tail] = nr * cols + nc
                    tail += 1
                    changed[nr * cols + nc] = True
                    first, last = min(first, nr * cols + nc), max(last, nr * cols + nc)
    return first, last
