"""Sample-based area estimation and accuracy assessment, with standard errors and 95% intervals.

A map's pixel counts are biased by its classification errors; a probability sample of
reference labels gives unbiased ("error-adjusted") areas and the map's accuracy, each with a
standard error (SE) and a 95% confidence interval given as its half-width, 1.96 × SE.

- Strata = map classes: Olofsson et al. 2014 (Remote Sensing of Environment 148:42–57),
  the closed forms on the error matrix of sample counts (:func:`stratified_estimate`).
- Strata ≠ map classes (e.g. a buffer stratum around the change class): Stehman 2014
  (International Journal of Remote Sensing 35:4923–4939), every quantity a stratified mean
  or a ratio of two stratified totals of per-sample indicator variables. When strata equal
  the map classes the two give the same numbers (tested).
- Simple random and systematic samples: the one-stratum case of the same estimators
  (:func:`simple_random_estimate`, :func:`systematic_estimate`).

No finite-population correction: strata hold thousands to millions of pixels against tens
or hundreds of samples. Sample-size and allocation helpers (Olofsson et al. 2014 eq. 13,
Cochran 1977 eq. 5.25) are at the end. Pure functions; no file IO. Formulas and their sources:
docs/methods.md, "Sample-based area estimation".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from icam.core.errors import InputError

Z95 = 1.96

OLOFSSON = "stratified (Olofsson et al. 2014)"
STEHMAN = "stratified, strata ≠ map classes (Stehman 2014)"
SIMPLE_RANDOM = "simple random"
SYSTEMATIC = "systematic (treated as simple random)"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class ErrorMatrix:
    """Rows = map classes, columns = reference classes; ``values`` counts or area proportions."""

    rows: tuple
    cols: tuple
    values: np.ndarray

    def to_dict(self) -> dict:
        return {"rows": [str(r) for r in self.rows], "cols": [str(c) for c in self.cols],
                "values": [[_num(v) for v in row] for row in self.values]}


@dataclass(frozen=True, eq=False)
class AreaEstimate:
    """Error-adjusted areas (ha) and map accuracy, each with SE and 95% half-width.

    Per-class dicts are keyed by class code. ``users_accuracy`` is None for a class that no
    sample was mapped as, ``producers_accuracy`` for a class with zero estimated area.
    """

    classes: tuple
    area_ha: dict
    se_ha: dict
    ci95_ha: dict
    users_accuracy: dict
    users_accuracy_ci95: dict
    producers_accuracy: dict
    producers_accuracy_ci95: dict
    overall_accuracy: float
    overall_accuracy_ci95: float
    n: int
    error_matrix_counts: ErrorMatrix
    error_matrix_proportions: ErrorMatrix
    mapped_area_ha: dict
    estimator: str
    users_accuracy_se: dict = field(default_factory=dict)
    producers_accuracy_se: dict = field(default_factory=dict)
    overall_accuracy_se: float = 0.0

    @property
    def total_area_ha(self) -> float:
        return float(sum(self.mapped_area_ha.values()))

    def to_dict(self) -> dict:
        classes = {
            str(k): {
                "area_ha": _num(self.area_ha[k]),
                "se_ha": _num(self.se_ha[k]),
                "ci95_ha": _num(self.ci95_ha[k]),
                "users_accuracy": _num(self.users_accuracy[k]),
                "users_accuracy_ci95": _num(self.users_accuracy_ci95[k]),
                "producers_accuracy": _num(self.producers_accuracy[k]),
                "producers_accuracy_ci95": _num(self.producers_accuracy_ci95[k]),
            }
            for k in self.classes
        }
        return {
            "classes": classes,
            "overall_accuracy": _num(self.overall_accuracy),
            "overall_accuracy_ci95": _num(self.overall_accuracy_ci95),
            "n": int(self.n),
            "estimator": self.estimator,
            "error_matrix": {
                "counts": self.error_matrix_counts.to_dict(),
                "proportions": self.error_matrix_proportions.to_dict(),
                "mapped_area_ha": {str(k): _num(v) for k, v in self.mapped_area_ha.items()},
            },
        }


def _num(v):
    return None if v is None else float(v)


# --------------------------------------------------------------------------- input checks


def _plain(v):
    """numpy scalars → Python scalars, so class codes are clean dict keys."""
    return v.item() if isinstance(v, np.generic) else v


def _is_blank(v) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _sorted(values: Iterable) -> tuple:
    vals = set(values)
    try:
        return tuple(sorted(vals))
    except TypeError:  # mixed ints and strings
        return tuple(sorted(vals, key=lambda v: (type(v).__name__, str(v))))


def _columns(samples, need: tuple[str, ...]) -> dict[str, list]:
    cols = getattr(samples, "columns", None)
    if cols is None:
        raise InputError("the reference sample is not a table", "pass a DataFrame with columns "
                         + ", ".join(need))
    missing = [c for c in need if c not in cols]
    if missing:
        raise InputError(f"the reference sample lacks column(s) {', '.join(missing)}",
                         "give every sample " + ", ".join(need))
    out = {}
    for c in need:
        vals = [_plain(v) for v in samples[c].tolist()]
        blank = [i for i, v in enumerate(vals) if _is_blank(v)]
        if blank:
            what = "unlabelled" if c == "ref_class" else f"without a {c}"
            raise InputError(f"{len(blank)} sample(s) are {what} (first at row {blank[0]})",
                             f"label every sample's {c} or drop the sample")
        out[c] = vals
    if not out[need[0]]:
        raise InputError("the reference sample is empty", "label at least 2 samples per stratum")
    return out


def _check_areas(areas: Mapping, what: str) -> dict:
    out = {}
    for k, v in areas.items():
        try:
            a = float(v)
        except (TypeError, ValueError):
            raise InputError(f"{what} of {k!r} is not a number ({v!r})") from None
        if not math.isfinite(a) or a < 0:
            raise InputError(f"{what} of {k!r} is {v!r}", "areas must be finite and not negative")
        out[_plain(k)] = a
    return out


# --------------------------------------------------------------------------- estimators


def stratified_estimate(samples, strata_area_ha: Mapping, *, strata_pixels: Mapping | None = None) -> AreaEstimate:
    """Areas and accuracy from a stratified random sample.

    ``samples`` has columns ``map_class``, ``ref_class`` and ``stratum`` (without
    ``stratum`` the strata are the map classes); ``strata_area_ha`` gives each stratum's area.
    Olofsson et al. 2014 when every sample's stratum is its map class, Stehman 2014 otherwise.
    ``strata_pixels`` (N_h, sampling units per stratum), where given, adds the finite-population
    correction (1 − n_h/N_h) of Stehman 2014 eq. 25 / Cochran 1977 eq. 5.7 to every variance.
    """
    have_stratum = "stratum" in getattr(samples, "columns", ())
    cols = _columns(samples, ("map_class", "ref_class") + (("stratum",) if have_stratum else ()))
    strata = cols["stratum"] if have_stratum else cols["map_class"]
    areas = _check_areas(strata_area_ha, "the area of stratum")
    _check_strata(strata, areas)
    fpc = _fpc(strata, strata_pixels)
    if all(s == m for s, m in zip(strata, cols["map_class"])):
        return _olofsson(cols["map_class"], cols["ref_class"], areas, fpc)
    return _stehman(strata, cols["map_class"], cols["ref_class"], areas, STEHMAN, fpc)


def stehman_estimate(samples, strata_area_ha: Mapping, *, strata_pixels: Mapping | None = None) -> AreaEstimate:
    """Stehman 2014's estimators whatever the strata (equal to Olofsson's when strata = map classes)."""
    have_stratum = "stratum" in getattr(samples, "columns", ())
    cols = _columns(samples, ("map_class", "ref_class") + (("stratum",) if have_stratum else ()))
    strata = cols["stratum"] if have_stratum else cols["map_class"]
    areas = _check_areas(strata_area_ha, "the area of stratum")
    _check_strata(strata, areas)
    return _stehman(strata, cols["map_class"], cols["ref_class"], areas, STEHMAN, _fpc(strata, strata_pixels))


def simple_random_estimate(samples, total_area_ha: float, *, estimator: str = SIMPLE_RANDOM) -> AreaEstimate:
    """Areas and accuracy from a simple random sample: p̂_k = n_·k / n, SE = A √(p̂(1 − p̂)/(n − 1))."""
    cols = _columns(samples, ("map_class", "ref_class"))
    areas = _check_areas({"total": total_area_ha}, "the total area")
    if len(cols["map_class"]) < 2:
        raise InputError("the sample holds fewer than 2 samples, so no standard error can be computed",
                         "label at least 2 samples")
    strata = ["total"] * len(cols["map_class"])
    return _stehman(strata, cols["map_class"], cols["ref_class"], areas, estimator)


def systematic_estimate(samples, total_area_ha: float) -> AreaEstimate:
    """A systematic sample analysed with the simple-random formulas (the usual, slightly conservative choice)."""
    return simple_random_estimate(samples, total_area_ha, estimator=SYSTEMATIC)


def _fpc(strata: list, strata_pixels: Mapping | None) -> dict:
    """Finite-population correction 1 − n_h/N_h per stratum (1 where N_h is not given)."""
    n: dict = {}
    for s in strata:
        n[s] = n.get(s, 0) + 1
    if strata_pixels is None:
        return {s: 1.0 for s in n}
    N = _check_areas(strata_pixels, "the pixel count of stratum")
    missing = _sorted(s for s in n if s not in N)
    if missing:
        raise InputError(f"stratum/strata {', '.join(map(repr, missing))} have no pixel count",
                         "give the pixel count of every stratum, or none")
    over = _sorted(s for s in n if n[s] > N[s])
    if over:
        raise InputError(f"stratum/strata {', '.join(map(repr, over))} hold more samples than pixels")
    return {s: 1.0 - n[s] / N[s] for s in n}


def _check_strata(strata: list, areas: dict) -> None:
    missing = _sorted(s for s in set(strata) if s not in areas)
    if missing:
        raise InputError(f"stratum/strata {', '.join(map(repr, missing))} of the sample have no area",
                         "give the area of every stratum in the sample")
    counts: dict = {}
    for s in strata:
        counts[s] = counts.get(s, 0) + 1
    short = _sorted(s for s, a in areas.items() if a > 0 and counts.get(s, 0) < 2)
    if short:
        raise InputError(f"stratum/strata {', '.join(map(repr, short))} hold fewer than 2 samples, "
                         "so no standard error can be computed", "label at least 2 samples in every stratum")
    if sum(areas.values()) <= 0:
        raise InputError("the strata areas sum to zero", "give each stratum its mapped area in hectares")


def _olofsson(mapped: list, ref: list, areas: dict, fpc: dict | None = None) -> AreaEstimate:
    """Olofsson et al. 2014, eqs. 1–11, on the error matrix of sample counts."""
    strata = _sorted(s for s, a in areas.items() if a > 0)
    classes = _sorted(set(mapped) | set(ref) | set(strata))
    ix = {c: i for i, c in enumerate(classes)}
    K = len(classes)
    counts = np.zeros((K, K))
    for m, r in zip(mapped, ref):
        counts[ix[m], ix[r]] += 1
    A = sum(areas.values())
    W = np.array([areas.get(c, 0.0) / A for c in classes])      # W_i, area share of map class i
    n_i = counts.sum(axis=1)                                     # n_i·
    sampled = n_i > 0
    q = np.zeros_like(counts)
    q[sampled] = counts[sampled] / n_i[sampled, None]            # n_ij / n_i·
    p = W[:, None] * q                                           # eq. 4: p̂_ij = W_i n_ij / n_i·
    f = np.array([(fpc or {}).get(c, 1.0) for c in classes])   # 1 − n_i/N_i, or 1
    denom = np.where(sampled, n_i - 1, 1.0) / f                  # variances × (1 − n_i/N_i)
    p_col = p.sum(axis=0)                                        # eq. 9: p̂_·k
    var_pk = (W[:, None] ** 2 * q * (1 - q) / denom[:, None]).sum(axis=0)   # eq. 10
    diag = np.diag(q)                                            # Û_i = n_ii / n_i·
    O = float(np.trace(p))                                       # eq. 1
    var_O = float((W ** 2 * diag * (1 - diag) / denom).sum())    # eq. 5
    N = np.array([areas.get(c, 0.0) for c in classes])           # N_i (ha; the scale cancels)
    N_col = (N[:, None] * q).sum(axis=0)                         # N̂_·j
    ua, ua_se, pa, pa_se = {}, {}, {}, {}
    for j, c in enumerate(classes):
        if sampled[j]:
            U = diag[j]                                          # eq. 2
            ua[c], ua_se[c] = U, math.sqrt(U * (1 - U) / denom[j])   # eq. 6
        else:
            ua[c] = ua_se[c] = None
        if p_col[j] > 0:
            P = p[j, j] / p_col[j]                               # eq. 3
            others = sum(N[i] ** 2 * q[i, j] * (1 - q[i, j]) / denom[i]
                         for i in range(K) if i != j and sampled[i])
            own = N[j] ** 2 * (1 - P) ** 2 * diag[j] * (1 - diag[j]) / denom[j] if sampled[j] else 0.0
            pa[c], pa_se[c] = P, math.sqrt((own + P ** 2 * others) / N_col[j] ** 2)   # eq. 7
        else:
            pa[c] = pa_se[c] = None
    return _result(classes, A, p_col, np.sqrt(var_pk), ua, ua_se, pa, pa_se, O, math.sqrt(var_O),
                   len(mapped), counts, p, {c: areas[c] for c in _sorted(areas)}, OLOFSSON)


def _stehman(strata: list, mapped: list, ref: list, areas: dict, estimator: str,
             fpc: dict | None = None) -> AreaEstimate:
    """Stehman 2014: stratified means and ratios of per-sample indicators (eqs. 12–28)."""
    classes = _sorted(set(mapped) | set(ref))
    ix = {c: i for i, c in enumerate(classes)}
    K, n = len(classes), len(mapped)
    m_idx = np.array([ix[m] for m in mapped])
    r_idx = np.array([ix[r] for r in ref])
    M = np.zeros((n, K))
    M[np.arange(n), m_idx] = 1                                   # x for user's accuracy: mapped as k
    R = np.zeros((n, K))
    R[np.arange(n), r_idx] = 1                                   # y for area, x for producer's: reference k
    agree = (m_idx == r_idx).astype(float)                       # eq. 12: y_u = 1 where map = reference
    D = R * agree[:, None]                                       # y for user's/producer's: map = ref = k
    cell = np.zeros((n, K * K))
    cell[np.arange(n), m_idx * K + r_idx] = 1                    # y for cell (i, j)

    s_arr = np.array([str(type(s)) + repr(s) for s in strata])
    keys = {str(type(s)) + repr(s): s for s in strata}
    A = sum(areas.values())
    groups = [(areas[keys[k]], np.flatnonzero(s_arr == k), (fpc or {}).get(keys[k], 1.0)) for k in sorted(keys)]

    def total(y):                                                # Ŷ = Σ_h N_h ȳ_h (eq. 25's estimator)
        return sum(Nh * y[idx].mean(axis=0) for Nh, idx, _ in groups)

    def var_total(y, x=None, ratio=None):                        # Σ_h N_h² f_h (s²_y + R² s²_x − 2R s_xy)/n_h
        v = 0.0
        for Nh, idx, fh in groups:
            nh = len(idx)
            yy = y[idx] - y[idx].mean(axis=0)
            if x is None:
                s2 = (yy ** 2).sum(axis=0) / (nh - 1)
            else:
                xx = x[idx] - x[idx].mean(axis=0)
                s2 = ((yy - ratio * xx) ** 2).sum(axis=0) / (nh - 1)
            v = v + Nh ** 2 * fh * s2 / nh
        return v

    p_col = total(R) / A                                         # eq. 14: proportion of area of class k
    se_p = np.sqrt(var_total(R)) / A                             # eq. 25
    O = float(total(agree[:, None])[0] / A)                      # eq. 12–13
    se_O = float(np.sqrt(var_total(agree[:, None]))[0] / A)
    P_cells = (total(cell) / A).reshape(K, K)                    # p̂_ij, map i × reference j
    ua, ua_se, pa, pa_se = {}, {}, {}, {}
    for x, out, out_se in ((M, ua, ua_se), (R, pa, pa_se)):  # user's accuracy, then producer's
        Yt, Xt = total(D), total(x)                              # eqs. 18–19 / 22–23
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(Xt > 0, Yt / np.where(Xt > 0, Xt, 1), 0.0)
        v = var_total(D, x, ratio)                               # eqs. 27–28, ratio-estimator variance
        for k, c in enumerate(classes):
            if Xt[k] > 0:
                out[c], out_se[c] = float(ratio[k]), float(math.sqrt(max(v[k], 0.0)) / Xt[k])
            else:
                out[c] = out_se[c] = None
    counts = np.zeros((K, K))
    np.add.at(counts, (m_idx, r_idx), 1)
    return _result(classes, A, p_col, se_p, ua, ua_se, pa, pa_se, O, se_O, n, counts, P_cells,
                   {s: areas[s] for s in _sorted(areas)}, estimator)


def _result(classes, A, p_col, se_p, ua, ua_se, pa, pa_se, O, se_O, n, counts, props, mapped, estimator):
    area = {c: float(A * p_col[k]) for k, c in enumerate(classes)}
    se = {c: float(A * se_p[k]) for k, c in enumerate(classes)}

    def ci(d):
        return {c: None if v is None else Z95 * v for c, v in d.items()}

    return AreaEstimate(
        classes=tuple(classes), area_ha=area, se_ha=se, ci95_ha={c: Z95 * v for c, v in se.items()},
        users_accuracy=ua, users_accuracy_ci95=ci(ua_se), producers_accuracy=pa,
        producers_accuracy_ci95=ci(pa_se), overall_accuracy=O, overall_accuracy_ci95=Z95 * se_O,
        n=int(n), error_matrix_counts=ErrorMatrix(tuple(classes), tuple(classes), counts.astype(int)),
        error_matrix_proportions=ErrorMatrix(tuple(classes), tuple(classes), np.asarray(props, float)),
        mapped_area_ha=dict(mapped), estimator=estimator, users_accuracy_se=ua_se,
        producers_accuracy_se=pa_se, overall_accuracy_se=se_O)


# --------------------------------------------------------------------------- sample size and allocation


def _weights(strata_weights: Mapping) -> dict:
    w = _check_areas(strata_weights, "the weight (or area) of stratum")
    tot = sum(w.values())
    if tot <= 0:
        raise InputError("the stratum weights sum to zero", "give each stratum its mapped area or share")
    return {k: v / tot for k, v in w.items()}


def _check_fraction(d: Mapping, what: str) -> dict:
    out = {}
    for k, v in d.items():
        f = float(v)
        if not 0 <= f <= 1:
            raise InputError(f"{what} of {k!r} is {v!r}", "give a fraction between 0 and 1")
        out[_plain(k)] = f
    return out


def _cochran(W: dict, S: dict, target_se: float) -> int:
    if not target_se > 0:
        raise InputError(f"the target standard error is {target_se!r}", "give a positive standard error")
    missing = [k for k in W if k not in S]
    if missing:
        raise InputError(f"no expected value for stratum/strata {', '.join(map(repr, missing))}",
                         "give one for every stratum")
    return int(math.ceil((sum(W[k] * S[k] for k in W) / target_se) ** 2))


def sample_size_overall_accuracy(strata_weights: Mapping, expected_users_accuracy: Mapping,
                                 target_se: float) -> int:
    """n = (Σ_i W_i S_i / S(Ô))², S_i = √(U_i(1 − U_i)) (Olofsson et al. 2014 eq. 13; Cochran 1977 eq. 5.25).

    ``strata_weights``: map-class areas or shares; ``expected_users_accuracy``: U_i guesses;
    ``target_se``: the wanted standard error of overall accuracy (e.g. 0.01).
    """
    W = _weights(strata_weights)
    U = _check_fraction(expected_users_accuracy, "the expected user's accuracy")
    return _cochran(W, {k: math.sqrt(u * (1 - u)) for k, u in U.items()}, target_se)


def sample_size_class_area(strata_weights: Mapping, expected_class_proportion: Mapping,
                           target_se: float, *, total_area_ha: float | None = None) -> int:
    """n for a target SE of one class's area: Cochran 1977 eq. 5.25 with S_h = √(p_h(1 − p_h)).

    ``expected_class_proportion[h]`` is the expected share of the class among stratum h's
    samples (its user's accuracy in its own stratum, its omission rate elsewhere).
    ``target_se`` is a proportion of the total area, or hectares when ``total_area_ha`` is given.
    """
    W = _weights(strata_weights)
    p = _check_fraction(expected_class_proportion, "the expected class proportion")
    se = target_se / total_area_ha if total_area_ha else target_se
    return _cochran(W, {k: math.sqrt(v * (1 - v)) for k, v in p.items()}, se)


def _round_to_total(shares: dict, n: int, floor: dict | None = None) -> dict:
    """Largest-remainder rounding of real allocations to integers summing to n."""
    base = {k: int(math.floor(v)) for k, v in shares.items()}
    if floor:
        base = {k: max(b, floor.get(k, 0)) for k, b in base.items()}
    left = n - sum(base.values())
    pos = {k: i for i, k in enumerate(shares)}  # ties go to the strata given first
    order = sorted(shares, key=lambda k: (-(shares[k] - math.floor(shares[k])), pos[k]))
    i = 0
    while left > 0 and order:
        base[order[i % len(order)]] += 1
        left -= 1
        i += 1
    return base


def _check_n(n: int) -> int:
    if int(n) != n or n < 0:
        raise InputError(f"the sample size is {n!r}", "give a whole number of samples")
    return int(n)


def allocate_proportional(strata_weights: Mapping, n: int) -> dict:
    """n_h ∝ W_h (Cochran 1977 §5.3)."""
    W, n = _weights(strata_weights), _check_n(n)
    return _round_to_total({k: w * n for k, w in W.items()}, n)


def allocate_equal(strata: Iterable, n: int) -> dict:
    """The same number of samples in every stratum."""
    keys, n = [_plain(s) for s in strata], _check_n(n)
    if not keys:
        raise InputError("no strata to allocate samples to")
    return _round_to_total({k: n / len(keys) for k in keys}, n)


def allocate_neyman(strata_weights: Mapping, strata_sd: Mapping, n: int) -> dict:
    """n_h ∝ W_h S_h (Neyman allocation, Cochran 1977 eq. 5.26); S_h = √(U_h(1 − U_h)) for accuracy."""
    W, n = _weights(strata_weights), _check_n(n)
    S = {_plain(k): float(v) for k, v in strata_sd.items()}
    if any(k not in S for k in W) or any(v < 0 for v in S.values()):
        raise InputError("a stratum lacks a standard deviation, or has a negative one",
                         "give S_h ≥ 0 for every stratum")
    tot = sum(W[k] * S[k] for k in W)
    if tot <= 0:
        return allocate_proportional(W, n)
    return _round_to_total({k: W[k] * S[k] / tot * n for k in W}, n)


def allocate_minimum(strata_weights: Mapping, n: int, minimum: int = 50,
                     rare: Iterable | None = None) -> dict:
    """Proportional allocation, but at least ``minimum`` samples in each rare stratum.

    The usual compromise for change maps (Olofsson et al. 2014 §5.1.1: 50–100 samples in each
    rare change class, the rest roughly in proportion to area). ``rare`` defaults to every
    stratum whose proportional share falls below ``minimum``, including those whose share of what
    the rare strata leave falls below it (repeated until none does). The rare strata get
    ``minimum`` each; the remaining samples are shared in proportion to area among the others.
    """
    W, n, minimum = _weights(strata_weights), _check_n(n), _check_n(minimum)
    prop = {k: w * n for k, w in W.items()}
    rare_set = {_plain(r) for r in rare} if rare is not None else {k for k, v in prop.items() if v < minimum}
    unknown = rare_set - set(W)
    if unknown:
        raise InputError(f"rare stratum/strata {', '.join(map(repr, _sorted(unknown)))} have no weight")
    while True:
        if minimum * len(rare_set) > n:
            raise InputError(f"{n} samples cannot give {minimum} to each of {len(rare_set)} rare strata",
                             "raise the total or lower the minimum")
        fixed = {k: max(minimum, math.floor(prop[k])) if k in rare_set else 0 for k in W}
        rest = n - sum(fixed.values())
        others = {k: W[k] for k in W if k not in rare_set}
        tot = sum(others.values())
        shares = {k: (fixed[k] if k in rare_set else (W[k] / tot * rest if tot > 0 else 0.0)) for k in W}
        short = {k for k in others if shares[k] < minimum} if rare is None else set()
        if not short:
            break
        rare_set |= short
    if tot <= 0:  # every stratum is rare: spread the rest over them
        shares = {k: fixed[k] + rest / len(W) for k in W}
    return _round_to_total(shares, n, floor={k: fixed[k] for k in rare_set})

