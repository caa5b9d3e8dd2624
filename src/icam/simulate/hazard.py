"""Random fields, distances and the terms of the true deforestation hazard (docs/methods.md, the simulator)."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numba
import numpy as np
import rasterio
from rasterio.features import rasterize
from scipy import ndimage, special

from icam.core.filters import gaussian_filter_reflect_of_rows
from icam.landscape.grid import Grid
from icam.simulate.normal import scale_and_add_normal, standard_normal_into
from icam.simulate.params import (
    DRAW_CELL_WEIGHT,
    DRAW_SMOOTH_PX,
    DRAW_SMOOTH_WEIGHT,
    EDGE_BLOCK_PX,
    HAZARD,
    RESOLUTION_M,
    ROAD_BLOCK_PX,
    _rng,
)
from icam.simulate.upsample import bilinear_zoom


def _field(rng: np.random.Generator, shape: tuple[int, int], cell_px: int, corr_km: float) -> np.ndarray:
    """A smooth standard-normal random field (float32) with correlation length about ``corr_km``.

    White noise on cells of ``cell_px`` pixels, Gaussian-filtered, standardised and interpolated bilinearly.
    """
    coarse = rng.standard_normal((shape[0] // cell_px, shape[1] // cell_px))
    sigma = max(corr_km * 1000 / (cell_px * RESOLUTION_M), 0.5)
    coarse = ndimage.gaussian_filter(coarse, sigma, mode="reflect")
    coarse = ((coarse - coarse.mean()) / (coarse.std() + 1e-12)).astype(np.float32)
    return bilinear_zoom(coarse, cell_px)


def _upsample(coarse: np.ndarray, block: int) -> np.ndarray:
    """Nearest-neighbour upsampling of a coarse array by an integer block size (a new array): each coarse row
    widened once, then copied whole ``block`` times (copying ``block`` values at a time took twice as long)."""
    return np.repeat(np.repeat(coarse, block, axis=1), block, axis=0)


def eta_at(edge: np.ndarray, x_static: np.ndarray, cells: np.ndarray, offset: float | None = None) -> np.ndarray:
    """η at the flat indices ``cells``: the 60 m ``edge`` term of each cell + ``x_static`` (+ ``offset``), in
    float32 and in the order :func:`exceeds` adds them, so the values are those of the whole raster's η."""
    rows, cols = np.divmod(cells, x_static.shape[1])
    eta = edge[rows // EDGE_BLOCK_PX, cols // EDGE_BLOCK_PX] + x_static.ravel()[cells]
    if offset is not None:
        eta += offset
    return eta


def exceeds(edge: np.ndarray, x_static: np.ndarray, offset: float, draws: np.ndarray, forest: np.ndarray,
            shift: float | None = None, shifted: np.ndarray | None = None) -> np.ndarray:
    """The forest cells whose η exceeds the year's threshold T = log(−log Φ(−Z)) of its ``draws`` Z (bool,
    new): η = the 60 m ``edge`` term upsampled + ``x_static`` + ``offset`` (+ ``shift`` on the ``shifted``
    cells), added in float32 in that order, and T the float32 values :func:`_threshold_of` gives.

    One compiled pass compares η with the bounds of T over Z's step (:func:`_screen_bounds`; T increases with Z):
    it decides every cell but the few whose η falls within their step's bounds, whose T is then computed
    exactly. SciPy's ``log_ndtr`` over every forest cell was most of a year's draws at the jurisdiction's
    scale (1.6 s of 3.7); the cells lost are the same."""
    if edge.shape[0] * EDGE_BLOCK_PX != x_static.shape[0] or edge.shape[1] * EDGE_BLOCK_PX != x_static.shape[1]:
        raise ValueError(f"edge term {edge.shape} × {EDGE_BLOCK_PX} does not cover the raster {x_static.shape}")
    state = np.empty(x_static.shape, np.uint8)  # 0 kept, 1 lost, UNDECIDED: T needed
    mask = forest if shifted is None else shifted  # any bool raster: not read without a shift
    shift32 = np.float32(0.0 if shift is None else shift)
    lower, upper = _screen_bounds()
    n_undecided = _exceeds(edge, EDGE_BLOCK_PX, x_static, np.float32(offset), draws, lower, upper, forest,
                           shift is not None, mask, shift32, state)
    if n_undecided:
        cells = np.flatnonzero(state == UNDECIDED)
        eta = eta_at(edge, x_static, cells, offset)
        if shift is not None:
            eta[mask.ravel()[cells]] += shift32
        state.ravel()[cells] = eta > _threshold_of(draws.ravel()[cells])
    return state.view(bool)


UNDECIDED = 2
# the steps of Z over which T is bounded: 2⁻¹² wide over [−8, 8), so that (Z + 8) × 4096 of a float32 Z is
# exact in float64 and a value's step never misjudged (a Z outside, as likely as 1 in 10¹⁵, is left undecided)
SCREEN_Z_MIN, SCREEN_STEPS_PER_Z, SCREEN_STEPS = -8.0, 4096, 16 * 4096
# T at each step's ends widened by this × max(1, |T|): T's float32 rounding (SciPy's log_ndtr rounded to
# float32, then numpy's float32 log, an ulp or two: 2⁻²³ relative) can never put a value outside its bounds
SCREEN_MARGIN = 2.0 ** -18


@functools.cache
def _screen_bounds() -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) bounds of T(Z) = :func:`_threshold_of` over each step of Z, float32 (read-only)."""
    ends = (np.arange(SCREEN_STEPS + 1) / SCREEN_STEPS_PER_Z + SCREEN_Z_MIN).astype(np.float32)
    t = _threshold_of(ends).astype(np.float64)
    slack = SCREEN_MARGIN * np.maximum(1.0, np.abs(t))
    lower, upper = (t[:-1] - slack[:-1]).astype(np.float32), (t[1:] + slack[1:]).astype(np.float32)
    lower.flags.writeable = upper.flags.writeable = False
    return lower, upper


@numba.njit(cache=True, nogil=True)
def _exceeds(edge, block, x_static, offset, draws, lower, upper, forest, is_shifted, shifted, shift, state):
    n_rows, n_cols = x_static.shape
    n_steps = lower.size
    n_undecided = 0
    for r in range(n_rows):
        edge_row = edge[r // block]
        for c in range(n_cols):
            if not forest[r, c]:
                state[r, c] = 0
                continue
            eta = edge_row[c // block] + x_static[r, c]
            eta = eta + offset
            if is_shifted and shifted[r, c]:
                eta = eta + shift
            step = (np.float64(draws[r, c]) - SCREEN_Z_MIN) * SCREEN_STEPS_PER_Z
            if step >= 0.0 and step < n_steps:  # False for NaN
                i = int(step)
                if eta > upper[i]:
                    state[r, c] = 1
                    continue
                if eta <= lower[i]:
                    state[r, c] = 0
                    continue
            state[r, c] = UNDECIDED
            n_undecided += 1
    return n_undecided


def _coarse_grid(grid: Grid, block: int) -> tuple[tuple[int, int], object]:
    t = grid.transform
    return (grid.height // block, grid.width // block), t @ t.scale(block, block)


def _coarse_distance_km(geoms, grid: Grid, block: int = ROAD_BLOCK_PX) -> np.ndarray:
    """Distance to the nearest of ``geoms`` (km, float32) on block-sized cells (the simulator upsamples it, by
    nearest neighbour or bilinearly for boundaries drawn from it)."""
    shape, transform = _coarse_grid(grid, block)
    burnt = rasterize(((g, 1) for g in geoms if not g.is_empty), out_shape=shape, transform=transform,
                      fill=0, dtype="uint8", all_touched=True)
    return ndimage.distance_transform_edt(burnt == 0).astype(np.float32) * (block * RESOLUTION_M / 1000)


def _forest_blocks(forest: np.ndarray) -> np.ndarray:
    """The 60 m cells' forest (bool): a 60 m cell is forest when at least 2 of its 4 cells are."""
    h, w = forest.shape
    b = EDGE_BLOCK_PX
    cells = forest.view(np.uint8)
    # the b × b cells of each block summed as b² strided slices: a reduction over the reshaped block axes
    # walks memory b times slower for the same integers
    share = np.zeros((h // b, w // b), np.uint8)
    for i in range(b):
        for j in range(b):
            share += cells[i:h // b * b:b, j:w // b * b:b]
    return share >= (b * b) // 2


def _octagonal_m(feature, cell_m):
    """max(chessboard, taxicab / √2) × ``cell_m`` from each True cell of ``feature`` to the nearest False one
    (0 on False cells), float32: scipy's ``distance_transform_cdt`` with each metric (−1 cells everywhere
    when no cell is False), then the same float32 arithmetic, to the bit. The distance between cell centres
    from the 60 m forest (:func:`_forest_blocks`) to its edge: within 8 % of the Euclidean distance for a
    single nearest edge, and about ten times faster than an exact Euclidean transform."""
    chess, taxi = _chamfer(feature)
    return _octagonal_of(chess, taxi, np.float32(cell_m))


@numba.njit(cache=True, nogil=True)
def _chamfer(feature):
    """The chessboard and taxicab distances (int32) from each True cell of ``feature`` to the nearest False
    one, both in the same two raster scans (Rosenfeld & Pfaltz 1966, *J. ACM* 13:471–494: exact for these two
    metrics), where scipy takes two scans for each; −1 everywhere when no cell is False (scipy's). The yearly
    loop of a jurisdiction's simulation calls it forty times."""
    rows, cols = feature.shape
    chess, taxi = np.zeros((rows, cols), np.int32), np.zeros((rows, cols), np.int32)
    far = rows + cols  # beyond any distance on the raster
    for i in range(rows):
        for j in range(cols):
            if feature[i, j]:
                c = t = far
                if i > 0:
                    c, t = min(c, chess[i - 1, j] + 1), min(t, taxi[i - 1, j] + 1)
                    if j > 0:
                        c = min(c, chess[i - 1, j - 1] + 1)
                    if j < cols - 1:
                        c = min(c, chess[i - 1, j + 1] + 1)
                if j > 0:
                    c, t = min(c, chess[i, j - 1] + 1), min(t, taxi[i, j - 1] + 1)
                chess[i, j], taxi[i, j] = c, t
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            if feature[i, j]:
                c, t = chess[i, j], taxi[i, j]
                if i < rows - 1:
                    c, t = min(c, chess[i + 1, j] + 1), min(t, taxi[i + 1, j] + 1)
                    if j < cols - 1:
                        c = min(c, chess[i + 1, j + 1] + 1)
                    if j > 0:
                        c = min(c, chess[i + 1, j - 1] + 1)
                if j < cols - 1:
                    c, t = min(c, chess[i, j + 1] + 1), min(t, taxi[i, j + 1] + 1)
                chess[i, j], taxi[i, j] = c, t
    if rows * cols and chess[0, 0] >= far:  # no False cell: scipy's −1 everywhere
        chess[:], taxi[:] = -1, -1
    return chess, taxi


INVERSE_SQRT2 = np.float32(1 / math.sqrt(2))  # the compiled functions compute it alike


@numba.njit(cache=True, nogil=True)
def _octagonal_of(chess, taxi, cell_m):
    rows, cols = chess.shape
    inverse_sqrt2 = np.float32(1 / math.sqrt(2))
    out = np.empty((rows, cols), np.float32)
    for i in range(rows):
        for j in range(cols):
            out[i, j] = max(np.float32(chess[i, j]), np.float32(taxi[i, j]) * inverse_sqrt2) * cell_m
    return out


@numba.njit(cache=True, nogil=True)
def _octagonal_pick(c, t, by_chess, by_taxi):
    """f(max(c, t / √2) × cell) of one cell's chessboard and taxicab distances ``c`` and ``t``, from the values of
    f at each chessboard distance and at each taxicab one (the larger term of the two decides, as in
    :func:`_octagonal_of`)."""
    return by_chess[c] if np.float32(c) >= np.float32(t) * np.float32(1 / math.sqrt(2)) else by_taxi[t]


@numba.njit(cache=True, nogil=True)
def _octagonal_lookup(chess, taxi, by_chess, by_taxi):
    """:func:`_octagonal_pick` of every cell."""
    rows, cols = chess.shape
    out = np.empty((rows, cols), np.float32)
    for i in range(rows):
        for j in range(cols):
            out[i, j] = _octagonal_pick(chess[i, j], taxi[i, j], by_chess, by_taxi)
    return out


def _edge_term(forest: np.ndarray, h: dict) -> np.ndarray:
    """β_edge·d_edge_km + β_edge_log·log1p(d_edge_m / 100 m), float32 on 60 m cells (not upsampled), d the
    octagonal distance to the edge (:func:`_octagonal_m`).

    d takes one value per chessboard distance and one per taxicab distance, a few thousand in all, where the
    raster has millions of cells: the term is computed for those values (SciPy's float32 log1p, the same
    arithmetic) and looked up, where the log over a jurisdiction's 15 million cells cost 0.3 s a call."""
    chess, taxi = _chamfer(_forest_blocks(forest))
    if chess.size == 0 or chess[0, 0] < 0:  # no edge at all: the distances are scipy's −1, as they come
        return _term_of(_octagonal_of(chess, taxi, np.float32(EDGE_BLOCK_PX * RESOLUTION_M)), h)
    return _octagonal_lookup(chess, taxi, *_term_tables(max(int(chess.max()), int(taxi.max())), h))


def _term_tables(max_steps: int, h: dict) -> tuple[np.ndarray, np.ndarray]:
    """The term at each chessboard distance 0 … ``max_steps`` (60 m cells) and at each taxicab one (× 1/√2):
    :func:`_octagonal_pick`'s tables."""
    cell_m = np.float32(EDGE_BLOCK_PX * RESOLUTION_M)
    steps = np.arange(max_steps + 1, dtype=np.float32)
    return _term_of(steps * cell_m, h), _term_of((steps * INVERSE_SQRT2) * cell_m, h)


def _term_of(d: np.ndarray, h: dict) -> np.ndarray:
    term = np.log1p(d / 100.0)
    term *= h["beta_edge_per_log1p_100m"]
    term += (h["beta_edge_per_km"] / 1000.0) * d
    return term


def _smoothing_sd(sigma: float, truncate: float = 4.0) -> float:
    """S.d. of white noise after ``ndimage.gaussian_filter(sigma)`` in 2-D (away from the borders)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    w /= w.sum()
    return float(np.sum(w ** 2))  # (Σ w²)^2 is the variance; its square root is Σ w²


def _year_draws(seed: int, year: int, out: np.ndarray) -> np.ndarray:
    """The year's draws Z, float32, written into ``out`` (of the raster's shape): a cell of linear predictor η
    is lost when η > T = log(−log Φ(−Z)) (:func:`_threshold_of`), i.e. when U = Φ(Z) < p.

    Z = 0.96·Z_smooth + 0.28·Z_cell: Z_cell is white noise, Z_smooth is white noise smoothed by a Gaussian of
    3.5 cells (:func:`~icam.core.filters.gaussian_filter_reflect`) and rescaled to unit variance. U is uniform
    on (0, 1) in every cell (up to the raster border, where the smoothing reflects) and correlated over a few
    hundred metres, so that the cells with U < p form blob-shaped clearings, not speckle. numpy's draws,
    compiled (:mod:`~icam.simulate.normal`): the white noise drawn a band of rows at a time as the smoothing
    reads it (never a whole raster besides ``out``); the cells' draws added as they are drawn.
    """
    rng = _rng(seed, 100, year)
    gaussian_filter_reflect_of_rows(lambda rows: standard_normal_into(rng, rows), out, DRAW_SMOOTH_PX,
                                    truncate=3.0)
    return scale_and_add_normal(rng, out, DRAW_SMOOTH_WEIGHT / _smoothing_sd(DRAW_SMOOTH_PX, truncate=3.0),
                                DRAW_CELL_WEIGHT)


def _threshold_of(z: np.ndarray) -> np.ndarray:
    """log(−log Φ(−z)) in place (1 − U = Φ(−Z); log(1 − U) = log Φ(−Z), accurate in the tails); −inf where
    Φ(−z) rounds to 1 (z below −38 or so: every η exceeds it)."""
    np.negative(z, out=z)
    special.log_ndtr(z, out=z)
    np.negative(z, out=z)
    with np.errstate(divide="ignore"):
        np.log(z, out=z)
    return z


def _solve_beta0(x: np.ndarray, rate: float) -> float:
    """β0 such that mean(1 − exp(−exp(β0 + x))) = rate (Newton's method on the cloglog link)."""
    x = x.astype(np.float64)
    b = math.log(rate) - math.log(np.mean(np.exp(x)))
    for _ in range(30):
        e = np.exp(b + x)
        f = np.mean(-np.expm1(-e)) - rate
        df = np.mean(e * np.exp(-e))
        step = f / df
        b -= step
        if abs(step) < 1e-10:
            break
    return float(b)




def true_linear_predictor(sim_dir: Path, forest: np.ndarray) -> np.ndarray:
    """The counterfactual hazard's linear predictor η (without the year's intercept β0_y) given ``forest``.

    η = the static terms (truth/hazard_static.tif: roads, settlements, slope, elevation, legal protection,
    the smooth random effect) + the edge term of ``forest`` (β_edge·d_km + β_edge_log·log1p(d/100 m), on
    60 m cells as the simulation computes it). Within a year the cells' hazards rank as η: the truth a
    risk map's ranking is checked against. float32, (rows, cols).
    """
    with rasterio.open(Path(sim_dir) / "truth" / "hazard_static.tif") as src:
        eta = src.read(1)
    eta += _upsample(_edge_term(np.asarray(forest, dtype=bool), HAZARD), EDGE_BLOCK_PX)
    return eta


