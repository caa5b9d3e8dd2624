"""Matched controls: for a sample of a zone's forest cells, the nearest forest cells of a control area in
Mahalanobis distance over their covariates (docs/methods.md, "Dynamic baseline from matched controls").

Source: the PACT Tropical Moist Forest methodology's pixel matching (Swinfield et al., Cambridge Centre for
Carbon Credits; §6.5 as its implementation ``tmf-implementation`` cites it in
``methods/matching/find_pairs.py``): a sample K of the project's pixels, a sample S of the matching area's
pixels (ten times K), each pixel of K paired with its nearest pixel of S in Mahalanobis distance over
elevation, slope, access and the forest cover around it now and five and ten years before, exactly matched
on categorical variables. The dynamic baseline pairs with replacement (one control may serve several treated
cells), which keeps the pairs' balance at the cost of reusing a control, and may pair each treated cell with
its ``n_neighbours`` nearest controls (each pair then weighs 1/n_neighbours): where the controls are
clustered, as deforestation is, more neighbours give a steadier rate; groups (e.g. the carbon strata) match
exactly. The counterfactual checks pair as PACT does, without replacement and within calipers (``replace=False``,
``calipers``): each treated cell takes its nearest control not yet taken whose every calipered covariate is
within the caliper's width of its own. PACT walks the treated cells one by one in a seeded random order;
icam does it in rounds, vectorised: every unpaired treated cell proposes its nearest free candidate among its
``n_candidates`` nearest, a control proposed by several goes to the nearest proposer (ties to the earlier
in a seeded random order), and the others propose again; a treated cell whose candidates are all taken or
out of caliper stays unpaired (counted in ``unmatched``).

The Mahalanobis distance is the Euclidean distance after whitening by the pooled covariance of the
treated and control samples (x ↦ L⁻¹(x − μ), Σ = LLᵀ), so a k-d tree (scikit-learn) finds the neighbours
(without replacement, only for treated cells with a control inside their caliper box: the others would get
none in caliper),
queried in chunks of rows on every core (its depth-first query releases the GIL; SciPy's tree, tried instead, was
7.5 times slower on the demo's covariates, which crowd into few values). Where fewer rows are queried than a
tree's build costs in distances (a few hundred treated rows among a jurisdiction's million controls of a
stratum), a scan of every control finds the same neighbours (:class:`BruteForce`).
Balance is reported as standardised mean differences (Stuart 2010, *Statistical Science* 25:1–21):
(mean_treated − mean_controls) / √((var_treated + var_controls)/2), before (treated against the whole control
sample) and after (against the matched controls), both over the standard deviations of the samples before
matching, so that a handful of pairs with little spread does not inflate it (Austin 2009, *Statistics in
Medicine* 28:3083–3107); |SMD| < 0.1 is the usual mark of good balance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numba
import numpy as np
from numba import literal_unroll
from sklearn.neighbors import KDTree

from icam.core.blocks import cores, on_every_core
from icam.core.errors import InputError
from icam.core.pcg64 import chosen_mask


@dataclass(frozen=True, eq=False)
class Matches:
    """Pairs of flat cell indices: ``controls[i]`` is a matched control of ``treated[i]`` (a treated cell appears
    once per neighbour)."""

    treated: np.ndarray
    controls: np.ndarray
    distance: np.ndarray  # Mahalanobis distance of each pair
    smd_before: dict[str, float]
    smd_after: dict[str, float]
    unmatched: int = 0  # treated cells left without a control (candidates taken or out of caliper)

    def balance(self) -> list[dict]:
        """One row per covariate: its standardised mean difference before and after matching."""
        return [{"covariate": name, "smd_before": self.smd_before[name], "smd_after": self.smd_after[name]}
                for name in self.smd_before]


def sample_cells(mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``n`` flat indices of ``mask``'s True cells, drawn without replacement, ascending."""
    flat = np.ascontiguousarray(mask, dtype=bool).ravel()
    size = int(np.count_nonzero(flat))
    if size <= n:
        return np.flatnonzero(flat)
    # the cells drawn, in ascending order as the mask holds them: a pass over a boolean instead of a sort of
    # millions of indices (the same draws from ``rng`` as its ``choice`` without replacement, compiled), and
    # the drawn ones' indices found in a pass over the mask, not taken from the indices of all its cells (a
    # jurisdiction's control forest: 0.28 GB of int64 for each sample drawn from it)
    return _drawn_cells(flat, chosen_mask(rng, size, n), n)


@numba.njit(cache=True, nogil=True)
def _drawn_cells(flat, chosen, n):
    """``np.flatnonzero(flat)[chosen]``, ``n`` of them (int64)."""
    out = np.empty(n, np.int64)
    k = j = 0
    for i in range(flat.size):
        if flat[i]:
            if chosen[k]:
                out[j] = i
                j += 1
            k += 1
    return out


CHUNK_ROWS = 1_000_000  # rows of a covariate matrix converted to float64 at once (8 covariates: 64 MB)


class _Rows:
    """The covariate rows of some cells, read from the covariates' columns when a statistic needs them (float64),
    not held as a matrix: a jurisdiction's pool of 14.8 million cells was a 355 MB float32 copy of the values
    its covariates already hold, beside each group's float64 rows. ``x[lo:hi]``: rows lo … hi − 1;
    :meth:`take`: rows at positions; :meth:`column`: one covariate of every row."""

    def __init__(self, columns: list[np.ndarray], cells: np.ndarray):
        self._columns, self.cells = tuple(columns), cells
        self.shape = (cells.size, len(columns))

    @classmethod
    def finite(cls, columns: list[np.ndarray], cells: np.ndarray) -> _Rows:
        """The rows of ``cells`` whose every covariate is finite (a cell with a non-finite one pairs with none).
        Only the covariates with a non-finite value somewhere are read at the cells: a pass along a column is
        cheaper than reading it at millions of scattered cells (a jurisdiction's pixel matching, whose covariates
        are all finite, spent 4 s on these reads)."""
        partly = tuple(column for column in columns if not np.isfinite(column).all())
        if not partly:
            return cls(columns, cells)
        finite, n_finite = _finite_cells(partly, cells)
        return cls(columns, cells if n_finite == cells.size else cells[finite])

    def take(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((rows.size, self.shape[1]))
        _gather_rows(self._columns, self.cells[rows], out)
        return out

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.take(np.arange(*rows.indices(self.shape[0])))

    def column(self, j: int) -> np.ndarray:
        out = np.empty((self.shape[0], 1))
        _gather_rows((self._columns[j],), self.cells, out)
        return out[:, 0]


@numba.njit(cache=True, nogil=True)
def _finite_cells(columns, cells):
    """Which ``cells`` have every column finite, and how many."""
    finite = np.empty(cells.size, np.bool_)
    n_finite = 0
    for i in range(cells.size):
        ok = True
        for column in literal_unroll(columns):
            ok = ok and np.isfinite(np.float64(column[cells[i]]))
        finite[i] = ok
        n_finite += ok
    return finite, n_finite


@numba.njit(cache=True, nogil=True)
def _gather_rows(columns, cells, out):
    """``out[i, j] = columns[j][cells[i]]``, in one pass over the cells."""
    for i in range(cells.size):
        j = 0
        for column in literal_unroll(columns):
            out[i, j] = column[cells[i]]
            j += 1


def _moments(x: np.ndarray | _Rows, mean: np.ndarray | None = None):
    """(n, Σx) of the rows of ``x``, or with ``mean`` (n, Σ(x − mean)(x − mean)ᵀ): the two passes of a
    covariance, a chunk of rows at a time in float64, so that no float64 matrix of a jurisdiction's pool is
    held."""
    total = None
    for lo in range(0, x.shape[0], CHUNK_ROWS):
        chunk = np.asarray(x[lo:lo + CHUNK_ROWS], dtype=np.float64)
        part = chunk.sum(axis=0) if mean is None else (chunk - mean).T @ (chunk - mean)
        total = part if total is None else total + part
    return x.shape[0], total


def _whitening(x_t: np.ndarray | _Rows, x_c: np.ndarray | _Rows):
    """(μ, L⁻¹) of the treated and control samples' (rows of ``x_t``, ``x_c``) pooled covariance Σ = LLᵀ (a
    tiny ridge keeps a constant covariate harmless): x ↦ L⁻¹(x − μ) whitens."""
    (n_t, s_t), (n_c, s_c) = _moments(x_t), _moments(x_c)
    mean = (s_t + s_c) / (n_t + n_c)
    (_, q_t), (_, q_c) = _moments(x_t, mean), _moments(x_c, mean)
    cov = np.atleast_2d((q_t + q_c) / max(n_t + n_c - 1, 1))
    cov += np.eye(cov.shape[0]) * 1e-9 * max(1.0, float(np.trace(cov)))
    return mean, np.linalg.inv(np.linalg.cholesky(cov))


def _mean_var(columns: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each float64 column's mean and (population) variance, a column at a time, each column's deviations in its
    own buffer (numpy's ``var`` to the bit: the same sums, without its copy of the column)."""
    mean, var = [], []
    for values in columns:
        n = values.size
        mean.append(np.add.reduce(values) / n)
        np.subtract(values, mean[-1], out=values)
        np.multiply(values, values, out=values)
        var.append(np.add.reduce(values) / n)
        del values  # before the next column is read
    return np.array(mean), np.array(var)


def _smd(mean_t: np.ndarray, mean_c: np.ndarray, sd: np.ndarray) -> np.ndarray:
    diff = mean_t - mean_c
    return np.divide(diff, sd, out=np.zeros_like(diff), where=sd > 0)


def match(features: Mapping[str, np.ndarray], treated: np.ndarray, pool: np.ndarray,
          groups: np.ndarray | None = None, n_neighbours: int = 1, replace: bool = True,
          calipers: Mapping[str, float] | None = None, n_candidates: int = 20,
          rng: np.random.Generator | None = None) -> Matches:
    """Each cell of ``treated`` paired with its ``n_neighbours`` Mahalanobis-nearest cells of ``pool`` (flat
    indices), or, with ``replace=False``, with one control no other treated cell has (module docstring).

    features: name → covariate raster (any shape; read flat); a cell with a non-finite covariate takes
    part in no pair. groups: an integer raster matched exactly (a treated cell's control is in its group);
    a treated cell whose group has no control is left unpaired. calipers: covariate name → the largest
    absolute difference allowed within a pair, in the covariate's units. n_candidates and rng: the nearest
    controls each treated cell may take and the order that breaks ties, without replacement. Raises
    InputError where no pair forms. Memory: the pool's covariates once in their own type (float32 rasters: 4
    bytes a value), and those of one group's controls at a time in float64 (a jurisdiction's pool of millions
    of cells is otherwise several copies of a gigabyte).
    """
    names = list(features)
    unknown = sorted(set(calipers or {}) - set(names))
    if unknown:
        raise InputError(f"matching: calipers on covariates that are not matched on: {', '.join(unknown)}",
                         f"use covariates among {', '.join(names)}")
    columns = [np.asarray(features[n]).ravel() for n in names]
    n_offered = int(treated.size)
    rows_t, rows_c = _Rows.finite(columns, treated), _Rows.finite(columns, pool)
    treated, pool = rows_t.cells, rows_c.cells
    if treated.size == 0 or pool.size == 0:
        raise InputError("matching: no treated or no control cell with every covariate",
                         "check that the covariates cover the zone and the control area")
    mean, inv_l = _whitening(rows_t, rows_c)
    x_t = rows_t.take(np.arange(treated.size))
    w_t = (x_t - mean) @ inv_l.T
    g_t = np.zeros(treated.size, np.int64) if groups is None else np.asarray(groups).ravel()[treated]
    g_c = np.zeros(pool.size, np.int64) if groups is None else np.asarray(groups).ravel()[pool]
    width = np.array([(calipers or {}).get(n, np.inf) for n in names])
    calipered = np.isfinite(width)
    priority = (rng or np.random.default_rng(0)).permutation(treated.size)
    pairs_t, pairs_c, dist = [], [], []
    for g in np.unique(g_t):
        in_t, in_c = np.flatnonzero(g_t == g), np.flatnonzero(g_c == g)
        if in_c.size == 0:
            continue
        x_c = rows_c.take(in_c)
        # what the calipers read of the group's controls, kept; the rest of its rows whitened in their buffer
        c_cal = None if replace else x_c[:, calipered]
        reachable = None if replace else _in_caliper_box(x_t[in_t][:, calipered], c_cal, width[calipered])
        if reachable is not None and not reachable.any():
            continue  # no control within the calipers of any treated cell: the group pairs none
        n_queried = in_t.size if reachable is None else int(np.count_nonzero(reachable))
        x_c -= mean
        tree = _nearest_index(x_c @ inv_l.T, n_queried)
        del x_c
        if replace:
            k = min(n_neighbours, in_c.size)
            d, j = _query(tree, w_t[in_t], k)
            pairs_t.append(np.repeat(in_t, k))
            pairs_c.append(in_c[j.ravel()])
            dist.append(d.ravel())
            continue
        d, j = _candidates(tree, w_t[in_t], x_t[in_t][:, calipered], c_cal, width[calipered], n_candidates,
                           reachable)
        chosen = _pair_in_rounds(d, j, priority[in_t])
        paired = chosen >= 0
        pairs_t.append(in_t[paired])
        pairs_c.append(in_c[j[paired, chosen[paired]]])
        dist.append(d[paired, chosen[paired]])
    i_t, i_c = np.concatenate(pairs_t or [np.zeros(0, np.int64)]), np.concatenate(pairs_c or [np.zeros(0, np.int64)])
    if i_t.size == 0:
        raise InputError("matching: no treated cell found a control (in its group and within the calipers)",
                         "widen the control area or the calipers, or match on fewer groups")
    # before and after on one scale, the samples' pooled SD before matching (Austin 2009)
    (mean_t, var_t) = _mean_var(x_t[:, j].copy() for j in range(x_t.shape[1]))
    (mean_c, var_c) = _mean_var(rows_c.column(j) for j in range(x_t.shape[1]))
    sd = np.sqrt((var_t + var_c) / 2)
    before, after = _smd(mean_t, mean_c, sd), _smd(x_t[i_t].mean(axis=0), rows_c.take(i_c).mean(axis=0), sd)
    n_paired = np.unique(i_t).size
    return Matches(treated=treated[i_t], controls=pool[i_c], distance=np.concatenate(dist),
                   smd_before={n: float(v) for n, v in zip(names, before)},
                   smd_after={n: float(v) for n, v in zip(names, after)}, unmatched=n_offered - n_paired)


CALIPER_SLACK = 1e-6  # the box test's relative margin: float rounding may only keep a row, never drop one


def _in_caliper_box(x_t: np.ndarray, x_c: np.ndarray, width: np.ndarray, chunk: int = 20_000) -> np.ndarray | None:
    """Whether each treated row has at least one control with every calipered covariate within its width (a
    box, counted on a Chebyshev k-d tree of the calipered covariates over their widths); None where nothing is
    calipered or a width is 0. A row with none can only get candidates out of caliper: skipping its
    nearest-neighbour query changes no pair, and in a protected forest most rows are such (on the demo, 85 %
    of the project's sample, whose queries took 93 % of the matching's time)."""
    calipered = np.isfinite(width)
    if not calipered.any() or (width[calipered] <= 0).any():
        return None
    scale = width[calipered] * (1 + CALIPER_SLACK)
    points, controls = x_t[:, calipered] / scale, x_c[:, calipered] / scale
    # only controls inside the treated rows' bounding box, widened by the calipers, can be in a row's box
    # (on the demo a fifteenth of them): the tree is built on those
    near = ((controls >= points.min(axis=0) - 1.0) & (controls <= points.max(axis=0) + 1.0)).all(axis=1)
    if not near.any():
        return np.zeros(points.shape[0], bool)
    box = KDTree(controls[near], metric="chebyshev")
    reachable = np.empty(points.shape[0], bool)

    def count(lo: int) -> None:
        reachable[lo:lo + chunk] = box.query_radius(points[lo:lo + chunk], r=1.0, count_only=True) > 0

    on_every_core(count, range(0, points.shape[0], chunk))
    return reachable


def _candidates(tree: KDTree | BruteForce, w_t: np.ndarray, x_t: np.ndarray, x_c: np.ndarray, width: np.ndarray,
                n_candidates: int, reachable: np.ndarray | None = None,
                chunk: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Each treated row's ``n_candidates`` nearest controls (distance, index), the distance set to inf where a
    covariate differs by more than its caliper ``width``; in chunks of rows on every core, so that memory stays
    flat (:func:`_row_chunk`). Rows not ``reachable`` (no control in their caliper box) are not queried: every
    candidate of theirs is inf."""
    k = min(n_candidates, tree.data.shape[0])
    distance, index = np.full((x_t.shape[0], k), np.inf), np.zeros((x_t.shape[0], k), np.int64)
    rows = np.arange(x_t.shape[0]) if reachable is None else np.flatnonzero(reachable)
    w_t, x_t = w_t[rows], x_t[rows]
    calipered = np.flatnonzero(np.isfinite(width))
    chunk = _row_chunk(rows.size, chunk)

    def nearest(lo: int) -> None:
        d, j = tree.query(w_t[lo:lo + chunk], k=k)
        outside = np.zeros(d.shape, bool)
        for c in calipered:
            outside |= np.abs(x_t[lo:lo + chunk, c][:, None] - x_c[j, c]) > width[c]
        d[outside] = np.inf
        distance[rows[lo:lo + chunk]], index[rows[lo:lo + chunk]] = d, j

    on_every_core(nearest, range(0, rows.size, chunk))
    return distance, index


# a k-d tree's build costs about this many distances per control (sklearn, 6 covariates: 1.2–2 µs a control,
# 2–3 ns a distance): below it a scan of every control for each query row is the faster of the two
BUILD_DISTANCES_PER_CONTROL = 400


def _nearest_index(controls: np.ndarray, n_queries: int) -> KDTree | BruteForce:
    """What finds the whitened ``controls`` nearest to ``n_queries`` rows: a k-d tree, or, for few rows among
    many controls (a protected forest's treated rows with a control in their caliper box: a few hundred among a
    jurisdiction's million controls of a stratum), a scan of every control (:class:`BruteForce`)."""
    if n_queries < BUILD_DISTANCES_PER_CONTROL:
        return BruteForce(controls)
    return KDTree(controls)


class BruteForce:
    """Exact k nearest neighbours by a scan of every point, with :class:`sklearn.neighbors.KDTree`'s ``data`` and
    ``query``: the same Euclidean distances to the bit (the squares of the coordinates' differences added in
    their order, then the square root), nearest first; between equal distances the lower index first (a tree
    returns such ties in its own order). The points are held a coordinate at a time (``data`` is a view of
    them), so that the scan computes a block of points' distances to a query together (:func:`_scan_nearest`)."""

    def __init__(self, data: np.ndarray):
        self._columns = np.ascontiguousarray(np.asarray(data, dtype=np.float64).T)
        self.data = self._columns.T

    def query(self, points: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        points = np.ascontiguousarray(np.atleast_2d(points), dtype=np.float64)
        if not 1 <= k <= self.data.shape[0]:
            raise ValueError(f"k = {k} must be between 1 and the {self.data.shape[0]} points")
        distance, index = np.empty((points.shape[0], k)), np.empty((points.shape[0], k), np.int64)
        _scan_nearest(self._columns, points, distance, index)
        return distance, index


SCAN_BLOCK = 2048  # points a block of the scan: 2,048 × 8 coordinates × 8 bytes, held in cache by every query


@numba.njit(cache=True, nogil=True)
def _scan_nearest(columns, points, distance, index):
    """Each query point's ``distance.shape[1]`` nearest points (``columns``: their coordinates, one row each):
    the points a block at a time, and for each query the block's squared distances a coordinate at a time (each
    distance's terms added in their order, as a point at a time: the same values, but a loop over a block's
    points the compiler runs on vectors, where the sum over seven coordinates was one scalar chain a point), then
    a sorted list kept by insertion (a point enters only if strictly nearer than the list's last, so ties keep
    the lower index first), the scan skipped where the block holds no nearer point. 300 queries among a million
    points of seven coordinates: 1.35 s a point at a time, 0.37 s so."""
    n_dims, n = columns.shape
    n_queries, k = distance.shape
    best = np.full((n_queries, k), np.inf)
    best_i = np.zeros((n_queries, k), np.int64)
    squares = np.empty(SCAN_BLOCK)
    for lo in range(0, n, SCAN_BLOCK):
        size = min(SCAN_BLOCK, n - lo)
        for q in range(n_queries):
            squares[:size] = 0.0  # each sum starts at 0.0, as a point at a time
            for j in range(n_dims):
                point, column = points[q, j], columns[j, lo:lo + size]
                for i in range(size):
                    diff = point - column[i]
                    squares[i] += diff * diff
            _insert_nearer(squares, size, lo, best[q], best_i[q])
    for q in range(n_queries):
        for m in range(k):
            distance[q, m] = np.sqrt(best[q, m])
            index[q, m] = best_i[q, m]


@numba.njit(cache=True, nogil=True, inline="always")
def _insert_nearer(squares, size, lo, best, best_i):
    """The block's points strictly nearer than the list's last inserted into the sorted list, in index order."""
    k = best.size
    worst = best[k - 1]
    nearer = 0
    for i in range(size):  # most blocks hold none: a count the compiler runs on vectors, then no scan
        nearer += squares[i] < worst
    if nearer == 0:
        return
    for i in range(size):
        value = squares[i]
        if value < worst:
            pos = k - 1
            while pos > 0 and best[pos - 1] > value:
                best[pos] = best[pos - 1]
                best_i[pos] = best_i[pos - 1]
                pos -= 1
            best[pos] = value
            best_i[pos] = lo + i
            worst = best[k - 1]


def _row_chunk(n_rows: int, chunk: int) -> int:
    """Rows a query task takes: at most ``chunk`` (memory), and at most a sixteenth of the rows a core. A
    protected forest's rows, far from every control, cost a tree most of a scan, and ten times more in one part
    of the forest than in another: 16,000 rows of a jurisdiction's balance, fewer than one chunk of 20,000, took
    6 s on one core of two, and four chunks a core still left one thread waiting for the other."""
    return max(1, min(chunk, -(-n_rows // (16 * cores()))))


def _query(tree: KDTree, points: np.ndarray, k: int, chunk: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Each point's ``k`` nearest (distance, index), nearest first, in chunks of rows on every core
    (:func:`_row_chunk`)."""
    distance, index = np.empty((points.shape[0], k)), np.empty((points.shape[0], k), np.int64)
    chunk = _row_chunk(points.shape[0], chunk)

    def nearest(lo: int) -> None:
        distance[lo:lo + chunk], index[lo:lo + chunk] = tree.query(points[lo:lo + chunk], k=k)

    on_every_core(nearest, range(0, points.shape[0], chunk))
    return distance, index


def _pair_in_rounds(distance: np.ndarray, candidate: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """Without replacement: per treated row, the column of ``candidate`` (controls' ids, nearest first) it is
    paired with, −1 where none is left (module docstring). ``distance`` is inf where a candidate is out of
    caliper; ``priority`` breaks ties (lower first)."""
    n, k = distance.shape
    chosen = np.full(n, -1)
    pointer = np.zeros(n, np.int64)
    taken = np.zeros(int(candidate.max()) + 1 if candidate.size else 0, bool)
    rows = np.arange(n)
    while True:
        # each unpaired row moves its pointer past candidates taken or out of caliper
        while True:
            live = (chosen < 0) & (pointer < k)
            r = rows[live]
            bad = ~np.isfinite(distance[r, pointer[r]]) | taken[candidate[r, pointer[r]]]
            if not bad.any():
                break
            pointer[r[bad]] += 1
        if r.size == 0:
            return chosen
        proposed, d = candidate[r, pointer[r]], distance[r, pointer[r]]
        order = np.lexsort((priority[r], d, proposed))
        first = np.ones(order.size, bool)
        first[1:] = proposed[order][1:] != proposed[order][:-1]
        winners = r[order[first]]
        chosen[winners] = pointer[winners]
        taken[candidate[winners, pointer[winners]]] = True
