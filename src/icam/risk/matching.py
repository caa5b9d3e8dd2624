"""Matched controls: for a sample of a zone's forest cells, the nearest forest cells of a control area in
Mahalanobis distance over their covariates (docs/methods.md, "Dynamic baseline from matched controls").

Source: the PACT Tropical Moist Forest methodology's pixel matching (Swinfield et al., Cambridge Centre for
Carbon Credits; §6.5 as its implementation ``tmf-implementation`` cites it in
``methods/matching/find_pairs.py``): a sample K of the project's pixels, a sample S of the matching area's
pixels (ten times K), each pixel of K paired with its nearest pixel of S in Mahalanobis distance over
elevation, slope, access and the forest cover around it now and five and ten years before, exactly matched
on categorical variables. icam pairs with replacement (one control may serve several treated cells), which
keeps the pairs' balance at the cost of reusing a control, and may pair each treated cell with its
``n_neighbours`` nearest controls (each pair then weighs 1/n_neighbours): where the controls are clustered,
as deforestation is, more neighbours give a steadier rate; groups (e.g. the carbon strata) match exactly.

The Mahalanobis distance is the Euclidean distance after whitening by the pooled covariance of the
treated and control samples (x ↦ L⁻¹(x − μ), Σ = LLᵀ), so a k-d tree (scikit-learn) finds the neighbours.
Balance is reported as standardised mean differences (Stuart 2010, *Statistical Science* 25:1–21):
(mean_treated − mean_controls) / √((var_treated + var_controls)/2), before (treated against the whole control
sample) and after (against the matched controls); |SMD| < 0.1 is the usual mark of good balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import KDTree

from icam.core.errors import InputError


@dataclass(frozen=True, eq=False)
class Matches:
    """Pairs of flat cell indices: ``controls[i]`` is a matched control of ``treated[i]`` (a treated cell appears
    once per neighbour)."""

    treated: np.ndarray
    controls: np.ndarray
    distance: np.ndarray  # Mahalanobis distance of each pair
    smd_before: dict[str, float]
    smd_after: dict[str, float]

    def balance(self) -> list[dict]:
        """One row per covariate: its standardised mean difference before and after matching."""
        return [{"covariate": name, "smd_before": self.smd_before[name], "smd_after": self.smd_after[name]}
                for name in self.smd_before]


def sample_cells(mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``n`` flat indices of ``mask``'s True cells, drawn without replacement, ascending."""
    cells = np.flatnonzero(mask)
    if cells.size <= n:
        return cells
    return np.sort(rng.choice(cells, size=n, replace=False))


def _smd(treated: np.ndarray, controls: np.ndarray) -> np.ndarray:
    pooled = np.sqrt((treated.var(axis=0) + controls.var(axis=0)) / 2)
    diff = treated.mean(axis=0) - controls.mean(axis=0)
    return np.divide(diff, pooled, out=np.zeros_like(diff), where=pooled > 0)


def _whiten(treated: np.ndarray, controls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both samples whitened by their pooled covariance (a tiny ridge keeps a constant covariate harmless)."""
    both = np.vstack([treated, controls])
    mean = both.mean(axis=0)
    cov = np.atleast_2d(np.cov(both, rowvar=False))
    cov += np.eye(cov.shape[0]) * 1e-9 * max(1.0, float(np.trace(cov)))
    inv_l = np.linalg.inv(np.linalg.cholesky(cov))
    return (treated - mean) @ inv_l.T, (controls - mean) @ inv_l.T


def match(features: Mapping[str, np.ndarray], treated: np.ndarray, pool: np.ndarray,
          groups: np.ndarray | None = None, n_neighbours: int = 1) -> Matches:
    """Each cell of ``treated`` paired with its ``n_neighbours`` Mahalanobis-nearest cells of ``pool`` (flat
    indices).

    features: name → covariate raster (any shape; read flat); a cell with a non-finite covariate takes
    part in no pair. groups: an integer raster matched exactly (a treated cell's control is in its group);
    a treated cell whose group has no control is left unpaired. Raises InputError where no pair forms.
    """
    names = list(features)
    columns = [np.asarray(features[n]).ravel() for n in names]
    x_t = np.column_stack([c[treated] for c in columns]).astype(np.float64)
    x_c = np.column_stack([c[pool] for c in columns]).astype(np.float64)
    ok_t, ok_c = np.isfinite(x_t).all(axis=1), np.isfinite(x_c).all(axis=1)
    treated, x_t, pool, x_c = treated[ok_t], x_t[ok_t], pool[ok_c], x_c[ok_c]
    if treated.size == 0 or pool.size == 0:
        raise InputError("matching: no treated or no control cell with every covariate",
                         "check that the covariates cover the zone and the control area")
    w_t, w_c = _whiten(x_t, x_c)
    g_t = np.zeros(treated.size, np.int64) if groups is None else np.asarray(groups).ravel()[treated]
    g_c = np.zeros(pool.size, np.int64) if groups is None else np.asarray(groups).ravel()[pool]
    pairs_t, pairs_c, dist = [], [], []
    for g in np.unique(g_t):
        in_t, in_c = np.flatnonzero(g_t == g), np.flatnonzero(g_c == g)
        if in_c.size == 0:
            continue
        k = min(n_neighbours, in_c.size)
        d, j = KDTree(w_c[in_c]).query(w_t[in_t], k=k)
        pairs_t.append(np.repeat(in_t, k))
        pairs_c.append(in_c[j.ravel()])
        dist.append(d.ravel())
    if not pairs_t:
        raise InputError("matching: no group of the treated cells has a control cell",
                         "widen the control area or match on fewer groups")
    i_t, i_c = np.concatenate(pairs_t), np.concatenate(pairs_c)
    before, after = _smd(x_t, x_c), _smd(x_t[i_t], x_c[i_c])
    return Matches(treated=treated[i_t], controls=pool[i_c], distance=np.concatenate(dist),
                   smd_before={n: float(v) for n, v in zip(names, before)},
                   smd_after={n: float(v) for n, v in zip(names, after)})
