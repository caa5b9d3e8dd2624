"""Avoided deforestation inside the project by a synthetic control after West et al. (docs/methods.md,
"Counterfactual checks: synthetic control").

Source: the synthetic control method (Abadie, Diamond & Hainmueller 2010, *JASA* 105:493–505) as West,
Börner, Sills & Kontoleon 2020 (*PNAS* 117:24188–24194) apply it to REDD+ projects: donors are areas outside
the project and its leakage belt, the synthetic unit is built on the years before the start, and placebos in
space (each donor taken as the treated unit) rank the project's gap.

Donors are square tiles of the control area (the risk zone outside the project area and the leakage belt),
each of about ``donor_share`` of the project's forest (:func:`icam.risk.placebo.tile_squares`), kept where forest
holds at least ``min_forest_share`` of the tile ("similar forest cover") and where they lost at least
``min_donor_losses`` pixels before the start. For a unit j and year y, r_j(y) = its loss in y over its forest
at the end of y − 1. A legally protected forest loses a few per cent of what unprotected donors lose, outside
their convex hull, so the synthetic unit follows the project's trend, not its level (the ratio form of the
de-meaned synthetic control of Ferman & Pinto 2021, *Quantitative Economics* 12:1197–1221):

    s(y)     the synthetic rate over its mean before the start, from the donors:
             pooled (default): Σ_j L_j(y) / Σ_j F_j(y), the donors as one landscape
             fitted: Σ_j w_j n_j(y), n_j = r_j / mean_{y < start} r_j, w ≥ 0, Σ w = 1 minimising
                     Σ_{y < start} (n_T(y) − Σ_j w_j n_j(y))² + λ ‖w − w_pool‖² (NNLS; λ from the validation below)
    CF_T(y)  = mean_{y < start} r_T(y) × s(y) × F_T(y − 1)                            ha
    avoided  = Σ_{y ≥ start} w_y (CF_T(y) − L_T(y))                                    ha

with F_T and L_T the project's forest and loss (ha) and w_y the share of year y counted. Fitted weights
follow a few donor tiles whose fronts sweep through them; over sixteen years they drift far from a protected
forest's trend (docs/credibility.md), so the pooled donors are the default.

The 90 % interval: avoided ± 1.645 × √(SE_level² + D²) × Σ w_y CF_T(y), with SE_level the standard error of
the project's mean log ratio to s(y) over the years before the start, and D the root mean square of the
project's relative gaps on its own years before the start, each fake start s fitted on the years before it
(a validation split, Abadie 2021, *Journal of Economic Literature* 59:391–425, §7): how far the synthetic
trend drifts from the project's where nothing was avoided. The placebos in space (each donor as the treated
unit) give the p-value, the project's rank in the ratio of post- to pre-start root mean squared prediction
error (Abadie et al. 2010 §2.4); their gaps are reported, not used for the interval (a donor tile's front
dynamics are not a protected forest's).
Units: ha, calendar years; loss years are calendar years (0 = never lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import nnls

from icam.core.errors import InputError
from icam.risk.matching_landscape import MatchingLandscape
from icam.risk.placebo import SquareTiles, number_squares, square_counts, tile_squares

SUM_ROW_WEIGHT = 1e3  # the sum-to-one row's weight in the NNLS, against normalised rates of order 1
# the penalties tried, pulling the weights towards the pooled donors: 0 is the plain synthetic control, the
# largest all but the pooled donors' trend (a difference in differences against the whole control area)
PENALTIES = (0.0, 0.01, 0.1, 1.0, 10.0, 1e4)
Z90 = 1.6449  # the standard normal's 95th percentile: a two-sided 90 % interval
STRIP_ROWS = 1024  # rows of the raster counted at once (a jurisdiction's 7,824 columns: 8 M cells)


def synthetic_weights(treated: np.ndarray, donors: np.ndarray, prior: np.ndarray | None = None,
                      penalty: float = 0.0) -> np.ndarray:
    """w ≥ 0 with Σ w = 1 minimising ‖treated − donors @ w‖² + penalty × ‖w − prior‖² (``donors``: years ×
    units; ``prior``: weights summing to 1, the pooled donors by default equal)."""
    n = donors.shape[1]
    prior = np.full(n, 1.0 / n) if prior is None else prior
    a = np.vstack([donors, np.sqrt(penalty) * np.eye(n), SUM_ROW_WEIGHT * np.ones(n)])
    b = np.concatenate([treated, np.sqrt(penalty) * prior, [SUM_ROW_WEIGHT]])
    w, _ = nnls(a, b)
    return w / w.sum() if w.sum() > 0 else np.full(n, 1.0 / n)


@dataclass(frozen=True, eq=False)
class UnitPanel:
    """Per unit (the donor tiles, then the project, last) and year first_year + 1 … last_year: the cells lost
    in the year (``loss``) and forest at the end of the year before (``forest``); ``donors``: the donor rule's
    parameters (share, least forest share) that made the tiles."""

    first_year: int
    last_year: int
    donors: tuple[float, float]
    loss: np.ndarray
    forest: np.ndarray

    def covers(self, first_year: int, last_year: int, donors: tuple[float, float]) -> bool:
        """Whether a fit from ``first_year`` to ``last_year`` with these donors reads this panel's first years."""
        return self.first_year == first_year and self.last_year >= last_year and self.donors == donors


@dataclass(eq=False)
class SyntheticControl:
    """The synthetic control (module docstring), in scikit-learn's style. donor_share: a donor tile's forest
    as a share of the project's; min_forest_share: the least forest share of a donor tile at the start of the
    record; min_donor_losses: the fewest pixels a donor must lose before the start (a rate over its own mean
    from a handful of clearings swings by multiples); min_donors: fewer kept donors and nothing is estimated.
    Learned: ``annual_``, ``avoided_ha_``, ``ci90_ha_``, ``weights_`` (donor → weight, the non-zero ones),
    ``p_value_``, ``pre_rmspe_``, ``placebo_gaps_``, ``n_donors_``."""

    donor_share: float = 0.1
    min_forest_share: float = 0.5
    min_donors: int = 10
    min_donor_losses: int = 10
    weights: str = "pooled"
    annual_: dict = field(init=False, default_factory=dict)
    avoided_ha_: float | None = field(init=False, default=None)
    ci90_ha_: tuple[float, float] | None = field(init=False, default=None)
    weights_: dict = field(init=False, default_factory=dict)
    p_value_: float | None = field(init=False, default=None)
    pre_rmspe_: float | None = field(init=False, default=None)
    placebo_gaps_: list = field(init=False, default_factory=list)
    n_donors_: int = field(init=False, default=0)
    penalty_: float | None = field(init=False, default=None)
    validation_gaps_: list = field(init=False, default_factory=list)
    relative_se_: float | None = field(init=False, default=None)

    def panel(self, land: MatchingLandscape, project: np.ndarray, last_year: int,
              first_year: int | None = None) -> UnitPanel:
        """The donors' and the project's loss and forest per year, first_year + 1 … last_year (the record's
        first year by default): what :meth:`fit` reads, computed once for fits that share the donors (the
        placebos in time end earlier: they read its first years)."""
        first = land.first_year if first_year is None else first_year
        project_forest = project & land.forest_at(first)
        donors = self._donors(land, project_forest, first)
        loss, forest = _unit_series(land, donors, project_forest, np.arange(first + 1, last_year + 1))
        return UnitPanel(first, last_year, (self.donor_share, self.min_forest_share), loss, forest)

    def fit(self, land: MatchingLandscape, project: np.ndarray, start_year: int, last_year: int,
            year_weights: Mapping[int, float] | None = None, first_year: int | None = None,
            panel: UnitPanel | None = None) -> SyntheticControl:
        """Weights on the years first_year + 1 … start_year − 1 (the whole record before the start by
        default), the counterfactual over start_year … last_year. ``panel``: :meth:`panel` of the same land
        and project from the same first year to last_year or later, where several fits share it."""
        first = land.first_year if first_year is None else first_year
        years = np.arange(first + 1, last_year + 1)
        pre = years < start_year
        if pre.sum() < 2 or last_year < start_year:
            raise InputError(f"synthetic control: fewer than two years of record before the start {start_year}",
                             "start the check later, or give a longer forest record")
        if panel is None or not panel.covers(first, last_year, (self.donor_share, self.min_forest_share)):
            panel = self.panel(land, project, last_year, first)
        loss, forest = (a[:, :years.size] for a in (panel.loss, panel.forest))
        kept = np.append(loss[:-1, pre].sum(axis=1) >= self.min_donor_losses, True)
        loss, forest = loss[kept], forest[kept]
        self.n_donors_ = int(kept.sum()) - 1
        if self.n_donors_ < self.min_donors:
            return self
        rate = np.divide(loss, forest, out=np.zeros_like(loss), where=forest > 0)
        weights = np.array([(year_weights or {}).get(int(y), 1.0) for y in years]) * ~pre
        if self.weights not in ("pooled", "fitted"):
            raise InputError(f"synthetic control: weights {self.weights!r}", "use 'pooled' or 'fitted'")
        self.penalty_ = None if self.weights == "pooled" else _choose_penalty(rate, loss, forest, pre,
                                                                              self.n_donors_)
        cf_rate, gaps, rmspe, unit_weights = _all_units(rate, loss, forest, pre, self.n_donors_, weights,
                                                        self.penalty_)
        self.weights_ = {int(d): float(w) for d, w in enumerate(unit_weights) if w > 1e-6}
        self.validation_gaps_ = _validation_gaps(rate, loss, forest, pre, self.n_donors_, self.penalty_)
        self._learn(years, pre, cf_rate[-1] * forest[-1] * land.cell_area_ha, loss[-1] * land.cell_area_ha,
                    weights, gaps, rmspe, rate[-1] / np.maximum(cf_rate[-1], 1e-12))
        return self

    def _donors(self, land: MatchingLandscape, project_forest: np.ndarray, first: int) -> SquareTiles:
        """The donors: tiles of the control area's forest at the start of the record, kept where forest holds at
        least ``min_forest_share`` of the tile's control area (counted per square,
        :func:`icam.risk.placebo.square_counts`: no per-cell index of a jurisdiction's cells)."""
        domain = land.control & land.forest_at(first)
        n_tiles = max(1, int(round(np.count_nonzero(domain)
                                   / max(1.0, self.donor_share * np.count_nonzero(project_forest)))))
        number, side = tile_squares(domain, n_tiles)
        forest, control = square_counts(domain, side), square_counts(land.control, side)
        share = np.divide(forest, control, out=np.zeros(forest.shape), where=control > 0)
        return SquareTiles(number_squares((number >= 0) & (share >= self.min_forest_share)), side, domain)

    def _learn(self, years, pre, cf_ha, obs_ha, weights, gaps, rmspe, fit_ratio) -> None:
        self.annual_ = {int(y): {"project_ha": float(o), "counterfactual_ha": float(c), "before_start": bool(b)}
                        for y, o, c, b in zip(years, obs_ha, cf_ha, pre)}
        cf_total = float((weights * cf_ha).sum())
        self.avoided_ha_ = float((weights * (cf_ha - obs_ha)).sum())
        self.placebo_gaps_ = [float(g) for g in gaps[:-1]]
        # the project's level before the start, from a few noisy years, and its drift from the synthetic trend
        log_ratio = np.log(fit_ratio[pre][fit_ratio[pre] > 0])
        level_se = float(log_ratio.std(ddof=1) / np.sqrt(log_ratio.size)) if log_ratio.size > 1 else 0.0
        drift = float(np.sqrt(np.mean(np.square(self.validation_gaps_)))) if self.validation_gaps_ else 0.0
        self.relative_se_ = float(np.hypot(level_se, drift))
        half = Z90 * self.relative_se_ * cf_total
        self.ci90_ha_ = (self.avoided_ha_ - half, self.avoided_ha_ + half)
        ratio = np.divide(rmspe[:, 1], rmspe[:, 0], out=np.zeros(len(rmspe)), where=rmspe[:, 0] > 0)
        self.p_value_ = float(np.mean(ratio >= ratio[-1]))
        self.pre_rmspe_ = float(rmspe[-1, 0])


def _unit_series(land: MatchingLandscape, donors: SquareTiles, project_forest: np.ndarray, years: np.ndarray):
    """Per unit (rows: the donors, then the project) and year (columns): loss in the year and forest at the end
    of the year before (cells). Counted a strip of rows at a time (the counts add up exactly): a jurisdiction's
    raster of unit numbers, and its cells' loss years, were 1.3 GB at once."""
    n_units, n_years = donors.n_tiles + 1, years.size
    loss, start = np.zeros(n_units * n_years, np.int64), np.zeros(n_units, np.int64)
    for first in range(0, land.loss_year.shape[0], STRIP_ROWS):
        stop = min(first + STRIP_ROWS, land.loss_year.shape[0])
        units = donors.in_rows(first, stop)
        units[project_forest[first:stop]] = n_units - 1  # the project is the last unit
        inside = units >= 0
        unit, loss_year = units[inside], land.loss_year[first:stop][inside]
        index = np.searchsorted(years, loss_year)
        lost_in_range = (loss_year >= years[0]) & (loss_year <= years[-1])
        loss += np.bincount(unit[lost_in_range] * n_years + index[lost_in_range], minlength=n_units * n_years)
        standing = land.forest_first[first:stop][inside] & ((loss_year == 0) | (loss_year >= years[0]))
        start += np.bincount(unit[standing], minlength=n_units)
    loss = loss.reshape(n_units, n_years).astype(float)
    # forest at the end of y − 1: the unit's forest at the start, less what it lost before y
    forest = start.astype(float)[:, None] - np.concatenate([np.zeros((n_units, 1)), np.cumsum(loss, axis=1)[:, :-1]],
                                                            axis=1)
    return loss, forest


def _synthetic(rate: np.ndarray, loss: np.ndarray, forest: np.ndarray, fit: np.ndarray, donors: np.ndarray,
               unit: int, penalty: float | None) -> tuple[np.ndarray, np.ndarray]:
    """``unit``'s synthetic rate over its mean on the ``fit`` years, from ``donors``, and the donors' weights:
    pooled (``penalty`` None: the donors' loss over their forest, year by year) or fitted on the normalised
    rates and pulled by ``penalty`` towards the donors' shares of the loss on the ``fit`` years."""
    if penalty is None:
        composite = loss[donors].sum(axis=0) / np.maximum(forest[donors].sum(axis=0), 1.0)
        mean = composite[fit].mean()
        return (composite / mean if mean > 0 else np.ones_like(composite)), forest[donors, 0] / forest[donors, 0].sum()
    mean_fit = rate[:, fit].mean(axis=1)
    norm = np.divide(rate, mean_fit[:, None], out=np.ones_like(rate), where=mean_fit[:, None] > 0)
    prior = loss[donors][:, fit].sum(axis=1)
    w = synthetic_weights(norm[unit, fit], norm[donors][:, fit].T, prior / max(prior.sum(), 1.0), penalty)
    return norm[donors].T @ w, w


def _validation_gaps(rate, loss, forest, pre: np.ndarray, n_donors: int, penalty: float | None,
                     min_training_years: int = 3) -> list[float]:
    """The project's (the last unit's) relative gaps on its own years before the start: the synthetic rate
    fitted on the years before each fake start s, the gap (Σ CF − Σ L) / Σ CF over s … start − 1, where nothing
    was avoided (a validation split of the years before the start: Abadie 2021, *Journal of Economic
    Literature* 59:391–425, §7)."""
    donors, gaps = np.arange(n_donors), []
    for s in range(min_training_years, int(pre.sum())):
        train = np.zeros(pre.size, bool)
        train[:s] = True
        test = pre & ~train
        synthetic, _ = _synthetic(rate, loss, forest, train, donors, rate.shape[0] - 1, penalty)
        cf = rate[-1, train].mean() * synthetic[test].sum()
        gaps.append(float((cf - rate[-1, test].sum()) / cf) if cf > 0 else 0.0)
    return gaps


def _choose_penalty(rate, loss, forest, pre: np.ndarray, n_donors: int) -> float:
    """The penalty of :data:`PENALTIES` whose validation gaps (:func:`_validation_gaps`) are smallest in mean
    square. The donors predicting one another would not do: the protected project is not one of them."""
    errors = [float(np.mean(np.square(_validation_gaps(rate, loss, forest, pre, n_donors, p) or [0.0])))
              for p in PENALTIES]
    return PENALTIES[int(np.argmin(errors))]


def _all_units(rate: np.ndarray, loss: np.ndarray, forest: np.ndarray, pre: np.ndarray, n_donors: int,
               weights: np.ndarray, penalty: float | None):
    """Each unit's synthetic rate (the project's, the last unit, from every donor; each donor's from the
    others; :func:`_synthetic`), its relative gap after the start (years weighted by ``weights``) and its
    pre/post RMSPE on the normalised rates, and the last unit's donor weights."""
    n_units = rate.shape[0]
    cf_rate = np.zeros_like(rate)
    gaps, rmspe = np.zeros(n_units), np.zeros((n_units, 2))
    w = np.zeros(n_donors)
    for u in range(n_units):  # one small NNLS (or sum) per unit, a few dozen donors: not per pixel
        others = np.array([d for d in range(n_donors) if d != u])
        synthetic, w = _synthetic(rate, loss, forest, pre, others, u, penalty)
        mean_pre = rate[u, pre].mean()
        cf_rate[u] = mean_pre * synthetic
        residual = (rate[u] / mean_pre if mean_pre > 0 else np.ones_like(synthetic)) - synthetic
        rmspe[u] = (np.sqrt(np.mean(residual[pre] ** 2)), np.sqrt(np.mean(residual[~pre] ** 2)))
        cf_post = float((weights * cf_rate[u]).sum())
        gaps[u] = (cf_post - float((weights * rate[u]).sum())) / cf_post if cf_post > 0 else 0.0
    return cf_rate, gaps, rmspe, w
