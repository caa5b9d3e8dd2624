"""Placebo zones: the dynamic baseline's own error, measured where the truth is observed (docs/methods.md,
"Dynamic baseline from matched controls", the baseline's error).

The control area is cut into square tiles of about equal forest. Each tile is a placebo project: its k is
fitted on the historical reference period (HRP) as the zone's is (its loss over its expected loss at k = 1),
and after the HRP its predicted loss k × Σ p(a_y·h_i) is set against its observed loss. The tiles' relative
errors of the loss accumulated since the HRP give the model's error at each horizon:

    r_t(y)  = O_t(y) / (k_t × E_t(y)) − 1        O, E: the tile's observed and expected loss since the HRP
    MSE(y)  = Σ_t w_t r_t(y)²,  w_t ∝ k_t E_t(y)
    V(y)    = max(0, MSE(y) − Σ_t w_t / (k_t E_t(y)))   less the binomial noise of the tiles' counts (cells)

V is what a baseline fitted this way misses when the zone drifts from its controls for reasons no covariate
sees (an unmeasured driver reaching one place, a frontier turning), the error an ex-post placebo test in
space measures for a synthetic control (Abadie, Diamond & Hainmueller 2010, *JASA* 105:493–505, §4). Tiles
whose forest is under half the mean tile's are left out; a tile with no loss over the HRP has no k.
Units: loss in cells (the same for O and E), years are calendar years.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np


def square_index(rows: np.ndarray, cols: np.ndarray, width: int, side: int) -> np.ndarray:
    """The square of ``side`` cells (of a grid ``width`` cells wide) holding each cell (``rows``, ``cols``),
    numbered 0 … n − 1 over the squares that hold any of them."""
    raw = (rows // side) * (width // side + 1) + cols // side
    return np.unique(raw, return_inverse=True)[1].ravel()


def square_counts(mask: np.ndarray, side: int) -> np.ndarray:
    """The True cells of ``mask`` in each square of ``side`` cells (squares in rows and columns from the
    top-left corner; the last row and column of squares partial), without a per-cell index array."""
    rows, cols = -(-mask.shape[0] // side), -(-mask.shape[1] // side)
    padded = np.zeros((rows * side, cols * side), bool)
    padded[:mask.shape[0], :mask.shape[1]] = mask
    return padded.reshape(rows, side, cols, side).sum(axis=(1, 3), dtype=np.int64)


def tile_squares(domain: np.ndarray, n_tiles: int) -> tuple[np.ndarray, int]:
    """The tile number of each square (squares' rows × columns; −1 for a square holding none of ``domain``
    or fewer than half the mean square's cells), for squares sized so that about ``n_tiles`` of them hold the
    domain, numbered in row-major order; and the squares' side in cells. Built on the squares
    (:func:`square_counts`), so a jurisdiction's tiles cost no sort of its cells."""
    side = max(1, int(round(np.sqrt(np.count_nonzero(domain) / max(n_tiles, 1)))))
    counts = square_counts(domain, side)
    held = counts > 0
    keep = held & (counts >= 0.5 * counts[held].mean()) if held.any() else held
    return number_squares(keep), side


def number_squares(keep: np.ndarray) -> np.ndarray:
    """0 … n − 1 over the ``keep`` squares in row-major order, −1 elsewhere (int32)."""
    number = np.full(keep.shape, -1, np.int32)
    number[keep] = np.arange(int(keep.sum()), dtype=np.int32)
    return number


@dataclass(frozen=True, eq=False)
class SquareTiles:
    """The tile of each cell without a raster of them: the squares' numbers (:func:`tile_squares`: squares' rows
    × columns, −1 for none), their side in cells, and the ``domain`` (bool raster) the tiles cover. The
    dynamic baseline held a raster of tile numbers a zone from its fit to its last year (a jurisdiction's two
    zones: 244 MB), where the squares' numbers are a few kilobytes and the domain is one raster for both."""

    number: np.ndarray
    side: int
    domain: np.ndarray

    @classmethod
    def of(cls, domain: np.ndarray, n_tiles: int) -> SquareTiles:
        """About ``n_tiles`` tiles of ``domain`` (:func:`tile_squares`)."""
        number, side = tile_squares(domain, n_tiles)
        return cls(number, side, domain)

    @property
    def n_tiles(self) -> int:
        return int(self.number.max(initial=-1)) + 1

    def in_rows(self, first: int, stop: int) -> np.ndarray:
        """The tile number of each cell of rows ``first`` … ``stop`` − 1 (−1 outside the domain and the tiles
        left out), in the numbers' type: a strip of :meth:`cells`."""
        side = self.side
        squares = self.number[first // side:(stop - 1) // side + 1].repeat(side, axis=0)
        spread = squares[first % side:first % side + stop - first].repeat(side, axis=1)[:, :self.domain.shape[1]]
        return np.where(self.domain[first:stop], spread, self.number.dtype.type(-1))

    def cells(self) -> np.ndarray:
        """The flat tile number of every cell (−1 outside the domain and the tiles left out)."""
        return self.in_rows(0, self.domain.shape[0]).ravel()

    def mean_cells(self) -> float:
        """The mean tile's cells of the domain (0 where there is no tile)."""
        kept = square_counts(self.domain, self.side)[self.number >= 0]
        return float(kept.mean()) if kept.size else 0.0


@numba.njit(cache=True, nogil=True)
def _tile_sums(number, side, width, domain, cells, expected, observed, observed_scale, out):
    """Each cell's tile ``number[row // side, col // side]`` (rows and columns of a grid ``width`` cells wide;
    none outside ``domain``), its weights added to the tile's sums in the cells' order."""
    for i in range(cells.size):
        cell = cells[i]
        if not domain[cell]:
            continue
        tile = number[cell // width // side, cell % width // side]
        if tile >= 0:
            out[0, tile] += expected[i]
            if observed[i] != 0:
                out[1, tile] += observed[i] * observed_scale


@dataclass(eq=False)
class PlaceboTiles:
    """The tiles' expected and observed loss, added year by year: the HRP's first (:meth:`add_historical`),
    then :meth:`fit_k`, then each later year in order (:meth:`add_year`, which returns V(y))."""

    tiles: SquareTiles
    n_tiles: int
    forest_cells: float = 0.0  # the mean kept tile's forest cells (set by the caller)
    k_: np.ndarray | None = field(init=False, default=None)
    _hrp: np.ndarray = field(init=False, repr=False)
    _after: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._hrp = np.zeros((2, self.n_tiles))  # expected, observed
        self._after = np.zeros((2, self.n_tiles))

    def sums(self, cells: np.ndarray, expected: np.ndarray, observed: np.ndarray,
             observed_scale: float = 1.0) -> np.ndarray:
        """One year's expected and observed loss of the control ``cells`` summed per tile (2 × tiles): what
        :meth:`add_historical` and :meth:`add_year` take, computed apart so that years can run side by side.
        One compiled pass over the cells, each weight added in the cells' order as ``np.bincount`` adds it (the
        same sums to the bit, without its gather of the tiles and their cast to 64-bit integers); the observed
        loss is added for the cells that lost forest only: adding the others' zeros would not change a sum.
        ``observed`` × ``observed_scale`` is each cell's observed loss: a boolean of the cells lost and the loss
        each counts for is a float64 array fewer (tens of millions of control cells at a jurisdiction)."""
        out = np.zeros((2, self.n_tiles))
        observed = np.asarray(observed)
        tiles = self.tiles
        _tile_sums(tiles.number, tiles.side, tiles.domain.shape[1], tiles.domain.ravel(), cells,
                   np.asarray(expected, dtype=np.float64),
                   observed if observed.dtype == bool else observed.astype(np.float64, copy=False),
                   float(observed_scale), out)
        return out

    def add_historical(self, sums: np.ndarray) -> None:
        """One HRP year's :meth:`sums`: the expected loss at k = 1 and the observed loss of the control cells."""
        self._hrp += sums

    def fit_k(self) -> None:
        """Each tile's k: its HRP loss over its expected loss (0 where it lost nothing)."""
        e, o = self._hrp
        self.k_ = np.divide(o, e, out=np.zeros(self.n_tiles), where=e > 0)

    def restart(self) -> None:
        """Forget the years added after the HRP (a new prediction starts from the HRP's end)."""
        self._after[:] = 0.0

    def add_year(self, sums: np.ndarray) -> float:
        """One year after the HRP (its :meth:`sums`), in year order; V(y) of the loss accumulated since the HRP
        (module docstring)."""
        self._after += sums
        predicted = self.k_ * self._after[0]
        ok = predicted > 0
        if ok.sum() < 2:
            return 0.0
        pred, obs = predicted[ok], self._after[1][ok]
        w = pred / pred.sum()
        mse = float(np.sum(w * (obs / pred - 1.0) ** 2))
        return max(0.0, mse - float(np.sum(w / pred)))
