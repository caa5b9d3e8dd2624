"""The discrete-time proportional-hazards model: a binomial GLM with the complementary log-log link.

A cell at risk in year y is lost with p = 1 − exp(−exp(η)), η = α_y + x·β: the grouped-time version of a
continuous-time proportional-hazards model (Prentice & Gloeckler 1978, *Biometrics* 34:57–67), so that a
factor on the hazard multiplies exp(η) whatever the cell's risk. The logit's odds do not: where the yearly
probability is large (forest next to a road) the odds grow much faster than the hazard, and a baseline that
scales odds by a low-risk zone's factor misjudges how the zone's loss follows its controls'.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

ETA_MAX = 4.0  # exp(exp(4)) is about 5e23: p is 1 to float precision above it


def probability(hazard: np.ndarray) -> np.ndarray:
    """p = 1 − exp(−u) at the cumulative hazard u = exp(η) (accurate for small hazards)."""
    return -np.expm1(-np.asarray(hazard, dtype=np.float64))


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


def solve_scale(hazard: np.ndarray, target: float) -> float:
    """The factor a with Σ 1 − exp(−a·h) = ``target`` over the cells' relative hazards h = exp(x·β): a year's
    level from its observed loss, or a zone's relative hazard k from its loss over several years. 0 where
    nothing was lost; refused (ValueError) where the target is not below the number of cells."""
    h = np.asarray(hazard, dtype=np.float64)
    h = h[h > 0]
    if target <= 0:
        return 0.0
    if target >= h.size:
        raise ValueError(f"{target:g} cells lost of {h.size} at risk: every cell cannot be lost")
    low = np.log(target / h.sum())  # the linear approximation: Σ 1 − exp(−a·h) ≤ a·Σ h, so a is above it

    def excess(log_a: float) -> float:
        return float(-np.expm1(-np.exp(log_a) * h).sum()) - target

    high = low + 1.0
    while excess(high) < 0:
        high += 2.0 * (high - low)
    return float(np.exp(optimize.brentq(excess, low, high, xtol=1e-7)))
