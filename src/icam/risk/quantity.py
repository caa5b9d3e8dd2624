"""The expected deforestation allocated on a density map: UDef-ARP's quantity adjustment (VT0007 v1.0 (2024)
§5.3/§5.5), used by the benchmark, the alternative models and the baselines (:mod:`icam.risk.benchmark`,
:mod:`icam.risk.candidates`, :mod:`icam.risk.allocate`); docs/methods.md, "Deforestation risk: the VT0007
benchmark". Units: densities in ha per pixel over the period unless said per year, areas in ha."""

from __future__ import annotations

import math

import numba
import numpy as np

from icam.core.errors import InputError

ADJUST_MAX_ITER = 5  # UDef-ARP's default number of quantity-adjustment iterations
ADJUST_TOLERANCE = 1e-5  # UDef-ARP stops when AR ≤ 1.00001


def adjust_to_quantity(density_ha: np.ndarray, expected_ha: float, cell_area_ha: np.ndarray | float,
                       max_iter: int = ADJUST_MAX_ITER, tolerance: float = ADJUST_TOLERANCE,
                       method: str = "udef-arp", weights: np.ndarray | None = None,
                       overwrite: bool = False) -> tuple[np.ndarray, int]:
    """Scale a density map (ha/pixel) so that it sums to ``expected_ha``, no pixel above its area.

    Source: UDef-ARP's allocation of the expected deforestation (VT0007 v1.0 (2024) §5.3/§5.5;
    for the confirmation-period test the expected quantity is the actual loss).

    ``method="udef-arp"`` (default) is UDef-ARP's iteration: the adjustment ratio
    AR = expected / Σ density; density ← min(density × AR, cell area); repeat until
    |AR − 1| ≤ ``tolerance`` (UDef-ARP: AR ≤ 1.00001, i.e. tolerance 1e-5) or after ``max_iter``
    passes (UDef-ARP: 5). Capped pixels keep their area while the shortfall is spread over the
    others, so the sum approaches the expected quantity geometrically and may stop short of it
    after 5 passes when many pixels reach their area.

    ``method="exact"`` computes that iteration's limit directly: min(density × λ, cell area) with
    the single factor λ that makes the sum equal ``expected_ha`` (found on the pixels sorted by
    area/density, one pass; ``max_iter`` and ``tolerance`` are unused). The sum is then exact
    whenever expected ≤ Σ cell area over the pixels with density > 0.

    With either method, if expected exceeds that area every such pixel ends at its area and the
    sum falls short. Returns (density in ha/pixel over the period, passes made; 1 for "exact").

    ``weights``: optional pixel counts, when each entry of ``density_ha`` stands for that many
    pixels of the same density and area (a class map's groups): every sum counts an entry that
    many times, so the result is the per-pixel one, computed on the groups.

    ``overwrite``: ``density_ha`` is the caller's temporary (``score * area``) and may hold the result: at a
    jurisdiction's 36 million forest pixels each float64 copy not made is 0.29 GB at the risk stage's peak.
    """
    density = np.asarray(density_ha, dtype=np.float64)
    own = overwrite or density is not density_ha  # its buffer may take the result
    cap = np.broadcast_to(np.asarray(cell_area_ha, dtype=np.float64), density.shape)
    count = None if weights is None else np.broadcast_to(np.asarray(weights, np.float64), density.shape)
    expected = float(expected_ha)
    if method not in ("udef-arp", "exact"):
        raise InputError(f"unknown adjustment method {method!r}", "use 'udef-arp' or 'exact'")
    if not (math.isfinite(expected) and expected >= 0):
        raise InputError(f"expected deforestation must be a non-negative number of ha, got {expected_ha}")
    if density.size and (not np.isfinite(density).all() or density.min() < 0):
        raise InputError("the density map holds negative or non-finite values")
    if cap.size and cap.min() <= 0:
        raise InputError("cell areas must be positive")
    if expected == 0:
        return np.zeros_like(density), 0
    # only pixels with density > 0 change: work on them alone (a few % of a jurisdiction's pixels; where every
    # pixel has some, as a model's map of the forest, on the arrays themselves, without copies)
    positive = density > 0
    everywhere = bool(positive.all())

    def pixels(values: np.ndarray) -> np.ndarray:
        # one value broadcast (an equal-area grid's cell area) stays one value: not 35 million float64 copies
        if values.size and not any(values.strides):
            n_positive = values.size if everywhere else int(np.count_nonzero(positive))
            return np.broadcast_to(values.flat[0], (n_positive,))
        if everywhere:
            return values.reshape(-1)
        if values is density and own and density.flags.c_contiguous:
            # the positive pixels moved to the front of the density's own buffer: not a copy of them (0.24 GB at
            # a jurisdiction's local-rate candidate, where the risk stage peaks); :func:`on_map` moves them back
            flat = density.reshape(-1)
            return flat[:_compact(flat, positive.reshape(-1))]
        return values[positive]

    d, c = pixels(density), pixels(cap)
    w = np.ones(d.size) if count is None else pixels(count)
    if d.size == 0 or (count is not None and (d * w).sum() <= 0):  # a sum of positive densities is positive
        raise InputError("the density map is zero everywhere", "there is no modelled deforestation to scale")

    def on_map(values: np.ndarray) -> np.ndarray:
        """An array of ``values`` (one per pixel of ``d``) on the density map's pixels: a new one, or the density's
        own buffer where it may be overwritten."""
        if everywhere:
            return values.reshape(density.shape)
        if np.shares_memory(values, density):  # the positive pixels compacted in the density's buffer
            _expand(density.reshape(-1), positive.reshape(-1), values.size)
            return density
        result = density if own else np.empty_like(density)
        result[~positive] = 0.0
        result[positive] = values
        return result

    if method == "exact":
        scaled = d / d.max()  # λ is found for density / max, keeping it in float range
        with np.errstate(over="ignore"):  # tiny densities give huge factors; the cap bounds them
            factor = _exact_factor(scaled, c, expected, w)
            return on_map(c.copy() if math.isinf(factor) else np.minimum(scaled * factor, c)), 1
    # in place where d is a copy (the positive pixels') or the density may be overwritten; d is not read again
    adjusted = np.minimum(d, c, out=d) if own or not everywhere else np.minimum(d, c)
    iterations = 0
    while iterations < max_iter:
        with np.errstate(over="ignore", divide="ignore"):  # tiny sums: AR may overflow
            total = adjusted @ w
            if total == 0:  # every pixel underflowed to 0: no factor can place more
                break
            # a finite AR: inf × a pixel that underflowed to 0 would be NaN, the largest float gives 0
            ratio = min(expected / total, np.finfo(np.float64).max)
            if abs(ratio - 1.0) <= tolerance:
                break
            np.multiply(adjusted, ratio, out=adjusted)  # in place: millions of pixels, five passes
            np.minimum(adjusted, c, out=adjusted)
        iterations += 1
    return on_map(adjusted), iterations


@numba.njit(cache=True, nogil=True)
def _compact(values, keep):
    """``values[keep]`` moved, in order, to the first positions of ``values`` (in place); how many."""
    n = 0
    for i in range(values.size):
        if keep[i]:
            values[n] = values[i]
            n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _expand(values, keep, n):
    """:func:`_compact` undone: the first ``n`` values back at the positions of ``keep`` (from the last, so that
    none is overwritten before it moves), 0 elsewhere."""
    j = n - 1
    for i in range(values.size - 1, -1, -1):
        if keep[i]:
            values[i] = values[j]
            j -= 1
        else:
            values[i] = 0.0


def _exact_factor(density: np.ndarray, cap: np.ndarray, expected: float, weights: np.ndarray) -> float:
    """λ with Σ w·min(density·λ, cap) = expected (inf where even every pixel at its cap falls short)."""
    positive = density > 0
    d, c, w = density[positive], cap[positive], weights[positive]
    order = np.argsort(c / d, kind="stable")
    d, c, w = d[order], c[order], w[order]
    t = c / d  # λ at which each pixel reaches its cap, ascending
    capped = np.concatenate([[0.0], np.cumsum(c * w)])[:-1]  # Σ cap of the pixels before k
    rest = (d * w)[::-1].cumsum()[::-1]  # Σ density of pixels k.. end
    total_at_t = capped + t * rest  # the sum when λ = t[k]
    k = int(np.searchsorted(total_at_t, expected, side="left"))
    if k == t.size:
        return math.inf
    return (expected - capped[k]) / rest[k]


def density_per_year(density_ha: np.ndarray, period_years: float, overwrite: bool = False) -> np.ndarray:
    """Density in ha/pixel/year = density over the period (ha/pixel) / period length (years).

    Source: VT0007 v1.0 (2024) §5.3 and UDef-ARP (the risk map is delivered as ha/pixel/year).
    ``overwrite``: ``density_ha`` (float64) is the caller's temporary and takes the result (a float64 copy of a
    jurisdiction's 35 million forest pixels fewer at the risk stage's peak).
    """
    years = float(period_years)
    if not years > 0:
        raise InputError(f"the period must be longer than 0 years, got {period_years}")
    density = np.asarray(density_ha, dtype=np.float64)
    if overwrite:
        return np.divide(density, years, out=density)
    return density / years
