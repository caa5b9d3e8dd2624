"""The discrete-time proportional-hazards model: a binomial GLM with the complementary log-log link.

A cell at risk in year y is lost with p = 1 − exp(−exp(η)), η = α_y + x·β: the grouped-time version of a
continuous-time proportional-hazards model (Prentice & Gloeckler 1978, *Biometrics* 34:57–67), so that a
factor on the hazard multiplies exp(η) whatever the cell's risk. The logit's odds do not: where the yearly
probability is large (forest next to a road) the odds grow much faster than the hazard, and a baseline that
scales odds by a low-risk zone's factor misjudges how the zone's loss follows its controls'.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import optimize

from icam.core.spilled import SpilledRaster, chunks_at
from icam.risk.covariates import read_only_float32

ETA_MAX = 4.0  # exp(exp(4)) is about 5e23: p is 1 to float precision above it


def probability(hazard: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """p = 1 − exp(−u) at the cumulative hazard u = exp(η) (accurate for small hazards): a new array, or
    ``out`` (float64, which may be ``hazard`` itself)."""
    p = np.negative(np.asarray(hazard, dtype=np.float64), out=out)
    np.expm1(p, out=p)
    return np.negative(p, out=p)


def linear_terms(columns: list[np.ndarray], cells: np.ndarray, mean: np.ndarray, sd: np.ndarray,
                 coef: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """η = x·β at ``cells`` (flat indices into each covariate of ``columns``), x standardised by ``mean`` and
    ``sd`` and a missing value at the mean (0), added to ``start`` (a copy; η of other covariates at the same
    cells) where given. One compiled pass over the cells adds every covariate's term to η, in the covariates'
    order, so the values are those of the numpy version to the bit (its passes and (cells × covariates) float64
    temporaries cost more than the arithmetic, millions of cells every year), and η of the first covariates
    continued with the others' terms is η of them all at once, to the bit. Covariates that are not all float32
    take one pass each, in the same order. Covariates in files (:class:`SpilledRaster`, all of them) are read a
    range of cells at a time, each cell's terms added in the same order."""
    eta = np.zeros(cells.size) if start is None else np.array(start, dtype=np.float64)
    mean, sd, coef = (np.asarray(v, dtype=np.float64) for v in (mean, sd, coef))
    if columns and isinstance(columns[0], SpilledRaster):
        for positions, offsets, values in chunks_at(columns, cells):
            part = eta[positions]
            _add_columns(values, offsets, mean, sd, coef, part)
            eta[positions] = part
        return eta
    _add_columns([np.asarray(c).ravel() for c in columns], cells, mean, sd, coef, eta)
    return eta


def _add_columns(columns: list[np.ndarray], cells: np.ndarray, mean: np.ndarray, sd: np.ndarray, coef: np.ndarray,
                 eta: np.ndarray) -> None:
    if columns and all(c.dtype == np.float32 for c in columns):
        _add_terms(tuple(read_only_float32(c) for c in columns), cells, mean, sd, coef, eta)
    else:
        for column, m, s, b in zip(columns, mean, sd, coef):
            _add_term(column, cells, float(m), float(s), float(b), eta)


def relative_hazard(columns: list[np.ndarray], cells: np.ndarray, mean: np.ndarray, sd: np.ndarray,
                    coef: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """exp(η) of :func:`linear_terms` (the same arguments), η clipped to ±30 (exp(30) is 1e13: a cell's loss is
    then certain at any year's level)."""
    eta = linear_terms(columns, cells, mean, sd, coef, start)
    np.clip(eta, -30, 30, out=eta)
    return np.exp(eta, out=eta)


@numba.njit(cache=True, nogil=True)
def _add_terms(columns, cells, mean, sd, coef, eta):
    for i in range(cells.size):
        total = eta[i]
        for j in range(len(columns)):
            x = (np.float64(columns[j][cells[i]]) - mean[j]) / sd[j]
            if not np.isnan(x):
                total += x * coef[j]
        eta[i] = total


@numba.njit(cache=True, nogil=True)
def _add_term(column, cells, mean, sd, coef, eta):
    for i in range(cells.size):
        x = (np.float64(column[cells[i]]) - mean) / sd
        if not np.isnan(x):
            eta[i] += x * coef


def log_likelihood(eta: np.ndarray, lost: np.ndarray) -> float:
    """Σ y·log p + (1 − y)·log(1 − p) with p = 1 − exp(−exp(η))."""
    e = np.exp(np.clip(eta, -40.0, ETA_MAX))
    return float(np.sum(np.where(lost > 0, np.log(np.maximum(-np.expm1(-e), 1e-300)), -e)))


def fit(x: np.ndarray, lost: np.ndarray, max_iter: int = 50, tol: float = 1e-7) -> np.ndarray:
    """β of the cloglog GLM of ``lost`` (bool) on ``x`` (its columns include any intercepts), by iteratively
    reweighted least squares (McCullagh & Nelder 1989, *Generalized Linear Models* §2.5) from the constant
    model's η, each step halved until the likelihood does not fall (cells all but certain to be lost would
    otherwise send a plain Newton step far off)."""
    y = np.asarray(lost, dtype=np.float64)
    share = float(np.clip(y.mean(), 1e-9, 1 - 1e-9))
    beta = np.linalg.lstsq(x, np.full(y.size, np.log(-np.log1p(-share))), rcond=None)[0]
    eta = x @ beta
    best = log_likelihood(eta, y)
    for _ in range(max_iter):
        e = np.exp(np.clip(eta, -40.0, ETA_MAX))
        p = np.maximum(-np.expm1(-e), 1e-300)
        slope = np.maximum(e * np.exp(-e), 1e-12)  # dp/dη
        weight = slope ** 2 / np.maximum(p * np.exp(-e), 1e-300)
        z = eta + (y - p) / slope
        xw = x * weight[:, None]
        step = np.linalg.solve(xw.T @ x + 1e-8 * np.eye(x.shape[1]), xw.T @ z) - beta
        for _ in range(30):
            new_eta = x @ (beta + step)
            value = log_likelihood(new_eta, y)
            if value >= best - 1e-9 * abs(best):
                break
            step /= 2
        beta, eta, gain, best = beta + step, new_eta, value - best, max(value, best)
        if np.max(np.abs(step)) < tol or abs(gain) < 1e-10 * abs(best):
            break
    return beta


NEWTON_STEPS = 50  # far more than needed: from below, each step roughly squares the relative error


def solve_scale(hazard: np.ndarray, target: float) -> float:
    """The factor a with Σ 1 − exp(−a·h) = ``target`` over the cells' relative hazards h = exp(x·β): a year's
    level from its observed loss, or a zone's relative hazard k from its loss over several years. 0 where
    nothing was lost; refused (ValueError) where the target is not below the number of cells.

    Newton's method on f(a) = Σ 1 − exp(−a·h) − target, f′(a) = Σ h·exp(−a·h), from the linear approximation
    a₀ = target / Σ h, which is below the root (1 − exp(−u) ≤ u). f is increasing and concave, so every
    tangent lies above it: each step stays below the root and closer to it, converging to machine precision in
    two or three passes over the cells where a year loses a few per cent of them. One pass computes both f and
    f′ from q = expm1(−a·h), into one buffer: f′ as Σ h·(1 + q), term by term, not Σ h + Σ h·q, which cancels
    to noise once the cells of large h are all but certain to be lost. Where no step can be taken (f′
    underflows: nearly every cell is lost) or the steps do not settle within rounding, a bracketing
    root-finder (Brent's method on log a, from a₀) finishes."""
    h = np.asarray(hazard, dtype=np.float64)
    if not h.min(initial=np.inf) > 0:  # relative hazards exp(η) never hold 0: no copy of their millions of cells
        h = h[h > 0]
    if target <= 0:
        return 0.0
    if target >= h.size:
        raise ValueError(f"{target:g} cells lost of {h.size} at risk: every cell cannot be lost")
    a, q = target / float(h.sum()), np.empty_like(h)
    for _ in range(NEWTON_STEPS):
        np.multiply(h, -a, out=q)
        np.expm1(q, out=q)  # exp(−a·h) − 1
        excess = -float(q.sum()) - target
        q += 1.0  # exp(−a·h)
        slope = float(h @ q)
        if not slope > 0:
            break
        step = excess / slope
        a -= step
        if abs(step) <= 1e-13 * a:
            return a
    return _bracketed_scale(h, target)


def _bracketed_scale(h: np.ndarray, target: float) -> float:
    """:func:`solve_scale`'s root by Brent's method on log a, upwards from the linear approximation a₀ (below
    the root)."""

    def excess(log_a: float) -> float:
        return float(-np.expm1(-np.exp(log_a) * h).sum()) - target

    low = np.log(target / h.sum())
    high = low + 1.0
    while excess(high) < 0:
        high += 2.0 * (high - low)
    return float(np.exp(optimize.brentq(excess, low, high, xtol=1e-12)))
