"""Avoided deforestation inside the project by pixel matching after PACT, with a difference in differences on
the years before the start (docs/methods.md, "Counterfactual checks: pixel matching").

Source: PACT's Tropical Moist Forest methodology (Swinfield et al., Cambridge Centre for Carbon Credits, v2.0
§6.5–6.6; tmf-implementation ``methods/matching/find_pairs.py``): a sample of the project's forest pixels
(K, a density per hectare), a sample of the matching area's ten times larger (S), each pixel of K paired
without replacement with its Mahalanobis-nearest pixel of S within calipers and exactly on categorical
variables, over seeded iterations; the annual loss of the project's pixels set against their pairs'.

Here the pairs are formed at the end of year m = start − 1 − ``pre_years`` (forest then, the covariates
then: distances to roads, settlements and the forest edge, elevation, slope, the forest cover within 1 km at
m and five and ten years before where the record has them), exactly on the administrative unit and the
carbon stratum, so that both the years before the start and after it are observed on the same pairs. For
year y, with A the pairs whose two cells are still forest at the end of y − 1 and L those of them whose
project cell (T) or control (C) is lost in y:

    h_C(y)   = L_C(y) / A_C(y)                              the controls' hazard in y
    E_T(y)   = A_T(y) × h_C(y)                              the project's loss at its controls' hazard
    k        = Σ_{y < start} L_T(y) / Σ_{y < start} E_T(y)  the project's hazard relative to its controls
                                                            before the start
    CF_T(y)  = k × E_T(y)                                   the pairs' counterfactual loss from the start on
    avoided  = Σ_{y ≥ start} w_y O(y) × (Σ_{y ≥ start} CF_T / Σ_{y ≥ start} L_T − 1)     ha

with O(y) the loss in y of all the project's forest at m (ha) and w_y the share of year y counted (the
monitoring periods' days in it over its days; 1 by default): the pairs give the relative effect, the whole
project its size, so that the project's pixels no control could be paired with (the remotest, whose hazard
is the lowest) weigh by their own loss, not by the paired ones'.

k is a difference in differences on the log hazard (Abadie 2005, *Review of Economic Studies* 72:1–19, in
its ratio form; Breslow & Day 1987, *Statistical Methods in Cancer Research* II §2.3, the standardised
incidence ratio): whatever sets the project apart from its pairs and does not change (its legal protection
before the start) cancels. Its assumption, parallel trends on the log hazard, is tested on the years before
the start: the score statistic for a linear trend in L_T − k·E_T, U = Σ (y − ȳ)(L_T(y) − k·E_T(y)) with ȳ
the E_T-weighted mean year (Breslow & Day 1987 §3.6), over its bootstrap standard error.

The 90 % interval: the pairs resampled by 1 km blocks of their project pixel (Poisson weights per block, a
spatial block bootstrap: Lahiri 2003, *Resampling Methods for Dependent Data* §12), in every iteration; the
replicates of all iterations pooled, so that the interval holds the iterations' spread too.
Units: ha, calendar years; loss years are calendar years (0 = never lost).
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numba
import numpy as np
from scipy.stats import norm

from icam.core.errors import InputError
from icam.core.indices import flat_indices
from icam.core.spilled import SpilledRaster
from icam.risk.matching import Matches, match, sample_cells
from icam.risk.matching_landscape import MatchingLandscape, values_at
from icam.risk.placebo import square_index

BLOCK_M = 1000.0
SPILL_MIN_CELLS = 8_000_000  # sampled cells above which the matching's covariates wait in files (32 MB a column)


@dataclass(frozen=True)
class Aggregates:
    """Per bootstrap block (rows) and year (columns): the pairs at risk (both cells forest), and those whose
    project cell, or control, is lost (cells)."""

    at_risk: np.ndarray
    lost_t: np.ndarray
    lost_c: np.ndarray

    def weighted(self, weights: np.ndarray) -> tuple[np.ndarray, ...]:
        """:func:`ratio_did`'s four totals per year under block ``weights`` (replicates × blocks), each
        replicates × years: the project's side and the controls' share the pairs at risk."""
        at_risk, lost_t, lost_c = (weights @ a for a in (self.at_risk, self.lost_t, self.lost_c))
        return at_risk, lost_t, at_risk, lost_c


def ratio_did(at_risk_t: np.ndarray, lost_t: np.ndarray, at_risk_c: np.ndarray, lost_c: np.ndarray,
              pre: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k, the counterfactual loss per year, the trend score U) from per-year totals (…, years; module
    docstring); ``pre`` marks the years before the start."""
    hazard_c = np.divide(lost_c, at_risk_c, out=np.zeros_like(lost_c, dtype=float), where=at_risk_c > 0)
    expected = at_risk_t * hazard_c
    e_pre = np.where(pre, expected, 0.0).sum(axis=-1)
    k = np.divide(np.where(pre, lost_t, 0.0).sum(axis=-1), e_pre, out=np.zeros_like(e_pre), where=e_pre > 0)
    counterfactual = k[..., None] * expected
    years = np.arange(pre.size, dtype=float)
    mean_year = np.divide(np.where(pre, expected * years, 0.0).sum(axis=-1), e_pre, out=np.zeros_like(e_pre),
                          where=e_pre > 0)
    score = np.where(pre, (years - mean_year[..., None]) * (lost_t - counterfactual), 0.0).sum(axis=-1)
    return k, counterfactual, score


@dataclass(eq=False)
class PixelMatching:
    """Pixel matching after PACT (module docstring), in scikit-learn's style: parameters here, ``fit`` on a
    landscape, learned state with a trailing underscore.

    density_per_ha: the project's forest pixels sampled per hectare; pool_ratio: control pixels sampled per
    project pixel; iterations: seeded repetitions; pre_years: the years before the start on which k and the
    parallel-trends test rest; calipers: covariate → largest difference within a pair, in its units (PACT's:
    elevation 200 m, slope 2.5°); caliper_sd: the caliper of the ``sd_calipered`` covariates, in standard
    deviations of the samples (the narrower of the two applies; 0.2 SD bounds each covariate's standardised
    mean difference after matching near 0.2: Austin 2011, *Pharmaceutical Statistics* 10:150–161);
    n_candidates: nearest controls a pixel may take;
    n_boot: bootstrap replicates per iteration; smd_max: the largest |SMD| after matching not flagged;
    covariates: the matching covariates' names (None: every one the landscape gives but the ``ignored``: PACT
    matches on access, elevation, slope and cover, and a caliper on the distance to rivers as well left under
    1 % of a protected forest's pixels paired on one simulated project); min_losses: the fewest
    clearings among the pairs' project pixels before the start, after it, and among their controls before it,
    under which nothing is estimated (a bootstrap of a handful of clearings shows no spread; ``identified_``
    False, ``losses_`` the counts, and ``avoided_ha_``, ``ci90_ha_``, ``k_``, ``parallel_trends_`` None).
    Learned: ``annual_`` (year → project and counterfactual ha), ``avoided_ha_``, ``ci90_ha_``, ``k_``,
    ``parallel_trends_``, ``balance_``, ``match_rate_``, ``pairs_``.
    """

    density_per_ha: float = 0.25
    pool_ratio: int = 10
    iterations: int = 10
    pre_years: int = 5
    calipers: Mapping[str, float] = field(default_factory=lambda: {"elevation_km": 0.2, "slope_deg": 2.5})
    caliper_sd: float = 0.2
    sd_calipered: tuple[str, ...] = ("elevation_km", "slope_deg", "roads_log1p_km", "settlements_log1p_km",
                                     "edge_log1p_100m")
    n_candidates: int = 20
    n_boot: int = 200
    smd_max: float = 0.2
    covariates: tuple[str, ...] | None = None
    ignored: tuple[str, ...] = ("rivers_log1p_km",)
    min_losses: int = 10
    seed: int = 0
    annual_: dict = field(init=False, default_factory=dict)
    avoided_ha_: float | None = field(init=False, default=None)
    ci90_ha_: tuple[float, float] | None = field(init=False, default=None)
    k_: float | None = field(init=False, default=None)
    parallel_trends_: dict | None = field(init=False, default=None)
    identified_: bool = field(init=False, default=False)
    losses_: dict = field(init=False, default_factory=dict)
    balance_: list = field(init=False, default_factory=list)
    match_rate_: float = field(init=False, default=float("nan"))
    pairs_: int = field(init=False, default=0)

    def fit(self, land: MatchingLandscape, project: np.ndarray, start_year: int, last_year: int,
            groups: np.ndarray | None = None, year_weights: Mapping[int, float] | None = None,
            pairings: dict | None = None) -> PixelMatching:
        """Pairs at the end of start_year − 1 − pre_years, then the avoided loss over start_year … last_year
        (module docstring); ``groups``: an integer raster matched exactly besides the strata (e.g. the
        administrative units); ``year_weights``: the share of each year the avoided loss counts (e.g. the
        monitoring periods' days in it over its days; 1 where not given); ``pairings``: a dict shared by fits
        on the same ``land``, ``project`` and ``groups``, where the pairs of each matching year are kept for
        the next fit that forms them (:meth:`_pairings`)."""
        m = start_year - 1 - self.pre_years
        if m < land.first_year or last_year < start_year:
            raise InputError(f"pixel matching: {self.pre_years} years before the start {start_year} reach back "
                             f"before the forest data ({land.first_year})",
                             "lower [counterfactual] pre_years or start the check later")
        years = np.arange(m + 1, last_year + 1)
        pre = years < start_year
        matchable = land.forest_at(m) & (land.strata > 0)
        treated_area = project & matchable
        zone_year = land.loss_year[treated_area]
        key = (m, self.density_per_ha, self.pool_ratio, self.iterations, self.seed, tuple(self.calipers.items()),
               self.caliper_sd, self.sd_calipered, self.n_candidates, self.covariates, self.ignored)
        if pairings is None or key not in pairings:
            draws = self._samples(land, treated_area, land.control & matchable)
            del matchable, treated_area  # the cells are drawn: not held through the matching (0.12 GB)
            pairs = self._pairings(land, draws, m, groups)
            if pairings is not None:
                pairings[key] = pairs
        else:
            pairs = pairings[key]
        runs = [self._totals(land, pairing, years) for pairing in pairs]
        zone_lost_ha = np.array([np.count_nonzero(zone_year == y) for y in years]) * land.cell_area_ha
        weights = np.array([(year_weights or {}).get(int(y), 1.0) for y in years])
        self._combine(runs, years, pre, zone_lost_ha, weights)
        return self

    def _features(self, land: MatchingLandscape, m: int, cells: np.ndarray) -> dict[str, np.ndarray | SpilledRaster]:
        """The matching covariates at the end of m, at ``cells`` (flat indices) only; above
        :data:`SPILL_MIN_CELLS` each in a file as soon as computed (:meth:`_pair` reads an iteration's samples:
        held, they were 0.69 GB at a jurisdiction through every iteration's matching, and their building the
        counterfactual estimates' peak; a project's are a few tens of MB, which the reads would cost seconds)."""
        # the edge enters once, as log1p(d / 100 m); the ignored covariates are not read (a jurisdiction's 28.6
        # million sampled cells: 114 MB a covariate)
        skipped = {"edge_km", *(self.ignored if self.covariates is None else ())}
        covers = ((f"forest_cover_1km_minus_{back}y", functools.partial(land.forest_cover_1km, m - back, cells))
                  for back in (5, 10) if m - back >= land.first_year)
        items = itertools.chain(land.matching_feature_items(m, cells, skip=skipped),
                                ((name, cover()) for name, cover in covers))
        features, names = {}, []
        for name, values in items:
            names.append(name)
            if self._matched_on(name):
                features[name] = SpilledRaster.of(values.reshape(1, -1)) if cells.size > SPILL_MIN_CELLS else values
            del values
        if self.covariates is None:
            return features
        missing = sorted(set(self.covariates) - set(names))
        if missing:
            raise InputError(f"pixel matching: no covariate named {', '.join(missing)}",
                             f"choose among {', '.join(names)}")
        return {name: features[name] for name in self.covariates}

    def _matched_on(self, name: str) -> bool:
        """Whether the matching reads covariate ``name``: the configured ones, else every one not ignored."""
        return name not in self.ignored if self.covariates is None else name in self.covariates

    def _calipers(self, features: Mapping[str, np.ndarray], cells: np.ndarray) -> dict[str, float]:
        """Each calipered covariate's width: the narrower of its absolute caliper and ``caliper_sd`` of its
        standard deviation over the treated and control samples."""
        widths = {k: float(v) for k, v in self.calipers.items() if k in features}
        for name in self.sd_calipered:
            if name in features:
                sd_width = self.caliper_sd * float(np.nanstd(np.asarray(features[name]).ravel()[cells]))
                widths[name] = min(widths.get(name, np.inf), sd_width)
        return widths

    def _samples(self, land: MatchingLandscape, treated_area: np.ndarray, pool_area: np.ndarray
                 ) -> list[tuple[tuple[np.ndarray, np.ndarray], np.random.Generator]]:
        """Each iteration's cells drawn from the project's (``treated_area``) and the control area's
        (``pool_area``) matchable forest (flat indices, ascending), and its generator."""
        n = max(1, int(round(self.density_per_ha * float(np.count_nonzero(treated_area)) * land.cell_area_ha)))
        rngs = [np.random.default_rng([self.seed, i]) for i in range(self.iterations)]
        return [((sample_cells(treated_area, n, rng), sample_cells(pool_area, n * self.pool_ratio, rng)), rng)
                for rng in rngs]

    def _pairings(self, land: MatchingLandscape, draws: list, m: int, groups: np.ndarray | None
                  ) -> list[tuple[Matches | None, int, np.random.Generator]]:
        """Each iteration's pairs formed at the end of year ``m`` between its cells drawn (``draws``, of
        :meth:`_samples`, emptied here: their flat indices are not held through the matching) (None where none
        formed), the project pixels offered, and its generator as matching left it (the bootstrap draws from it).
        They depend on m, not on the start or the last year: the placebos in time whose pairs are formed in the
        same year share them (four of the five on the demo's periods), and sharing them gives each the same
        numbers."""
        # every iteration's samples first, so that the covariates are computed once, at the sampled cells only
        samples, rngs = [sample for sample, _ in draws], [rng for _, rng in draws]
        draws.clear()
        sampled = np.zeros(land.loss_year.size, bool)  # a mask, not np.unique: millions of cells, one pass
        for part in (c for pair in samples for c in pair):
            sampled[part] = True
        del part  # the last pool's flat indices (0.12 GB at a jurisdiction), else held through the matching
        cells = flat_indices(sampled)  # int32 where the raster allows: a jurisdiction's 28.6 million, 0.11 GB less
        del sampled
        # each sample as its positions among the sampled cells, where the features are: int32, and the flat
        # indices dropped (a jurisdiction's pools are 14.8 million cells an iteration)
        samples = [tuple(_positions(cells, s) for s in sample) for sample in samples]
        features = self._features(land, m, cells)
        return [self._pair(land, groups, cells, features, sample, rng) for sample, rng in zip(samples, rngs)]

    def _pair(self, land: MatchingLandscape, groups: np.ndarray | None, cells: np.ndarray,
              features: Mapping[str, np.ndarray | SpilledRaster], sample: tuple[np.ndarray, np.ndarray],
              rng: np.random.Generator
              ) -> tuple[Matches | None, int, np.random.Generator]:
        """One iteration's pairs (flat cell indices): ``features`` hold the covariates at ``cells``, the sampled
        cells (``sample``: the treated's and the pool's positions in ``cells``, each ascending) are matched on
        their values, read here, in that order; the exact groups are the strata (and ``groups``) there."""
        treated, pool = sample
        offered = np.concatenate([treated, pool])
        values = {name: np.concatenate([values_at(f, treated), values_at(f, pool)]) for name, f in features.items()}
        flat = cells[offered]
        exact = land.strata.ravel()[flat].astype(np.int32)
        if groups is not None:
            exact += groups.ravel()[flat].astype(np.int32) * 1000
        del flat
        mine = np.arange(offered.size, dtype=np.int32)  # the offered cells' positions among ``values``
        try:
            pairs = match(values, mine[:treated.size], mine[treated.size:], groups=exact, replace=False, rng=rng,
                          calipers=self._calipers(values, mine), n_candidates=self.n_candidates)
        except InputError:  # no pixel of the project has a control within the calipers: nothing to estimate
            return None, treated.size, rng
        return (replace(pairs, treated=cells[offered[pairs.treated]], controls=cells[offered[pairs.controls]]),
                treated.size, rng)

    def _totals(self, land: MatchingLandscape, pairing: tuple, years: np.ndarray) -> dict:
        """One iteration's totals per year over ``years``, at the point and in the bootstrap replicates."""
        pairs, offered, rng = pairing
        if pairs is None:
            empty = np.zeros((1, years.size))
            return {"pairs": None, "point": (empty,) * 4, "boot": (np.zeros((self.n_boot, years.size)),) * 4,
                    "offered": offered}
        rng = copy.deepcopy(rng)  # the iteration's bootstrap draws, the same for every fit sharing its pairs
        agg = _aggregate(land, pairs, years)
        point = agg.weighted(np.ones((1, agg.at_risk.shape[0])))
        boot = agg.weighted(rng.poisson(1.0, (self.n_boot, agg.at_risk.shape[0])).astype(float))
        return {"pairs": pairs, "point": point, "boot": boot, "offered": offered}

    def _combine(self, runs: Sequence[dict], years: np.ndarray, pre: np.ndarray, zone_lost_ha: np.ndarray,
                 weights: np.ndarray) -> None:
        post = ~pre
        weighted_lost_ha = float((zone_lost_ha * weights)[post].sum())

        def estimate(totals):
            k, cf, score = ratio_did(*totals, pre)
            lost = totals[1]
            ratio = _ratio(cf[..., post].sum(axis=-1), lost[..., post].sum(axis=-1))
            return k, cf, lost, score, weighted_lost_ha * (ratio - 1)

        points = [estimate(r["point"]) for r in runs]
        boots = [estimate(r["boot"]) for r in runs]
        self.balance_ = _mean_balance([r["pairs"] for r in runs if r["pairs"] is not None], self.smd_max)
        paired = [0 if r["pairs"] is None else r["pairs"].treated.size for r in runs]
        self.pairs_ = int(np.mean(paired))
        self.match_rate_ = float(np.mean([n / r["offered"] for n, r in zip(paired, runs)]))
        self.losses_ = {"project_before": float(np.mean([r["point"][1][0][pre].sum() for r in runs])),
                        "project_after": float(np.mean([r["point"][1][0][post].sum() for r in runs])),
                        "controls_before": float(np.mean([r["point"][3][0][pre].sum() for r in runs]))}
        self.identified_ = min(self.losses_.values()) >= self.min_losses
        self.annual_ = {int(y): {"project_ha": float(o), "before_start": bool(b)}
                        for y, o, b in zip(years, zone_lost_ha, pre)}
        if not self.identified_:  # a bootstrap of a handful of clearings (or none) shows no spread: no estimate
            self.k_, self.avoided_ha_, self.ci90_ha_, self.parallel_trends_ = None, None, None, None
            return
        self.k_ = float(np.mean([p[0][0] for p in points]))
        self.avoided_ha_ = float(np.mean([p[4][0] for p in points]))
        pooled = np.concatenate([b[4] - p[4][0] for b, p in zip(boots, points)]) + self.avoided_ha_
        self.ci90_ha_ = (float(np.percentile(pooled, 5)), float(np.percentile(pooled, 95)))
        cf, lost = (np.mean([p[i][0] for p in points], axis=0) for i in (1, 2))
        scale = np.where(pre, _ratio(zone_lost_ha[pre].sum(), lost[pre].sum()),
                         _ratio(zone_lost_ha[post].sum(), lost[post].sum()))
        for y, c in zip(years, cf * scale):
            self.annual_[int(y)]["counterfactual_ha"] = float(c)
        # the trend score in pairs' cells; its z is unit-free
        score = float(np.mean([p[3][0] for p in points]))
        score_se = float(np.std(np.concatenate([b[3] - p[3][0] for b, p in zip(boots, points)])))
        z = score / score_se if score_se > 0 else 0.0
        self.parallel_trends_ = {"z": z, "p_value": float(_two_sided_p(z)), "years": [int(y) for y in years[pre]]}


@numba.njit(cache=True, nogil=True)
def _positions(cells: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """The positions in ``cells`` of ``drawn``, both ascending and every drawn cell among the cells: one merge
    of the two, where ``np.searchsorted`` took a binary search per cell (a jurisdiction's pool of 14.8 million
    in 28 million cells: 1.5 s an iteration)."""
    out = np.empty(drawn.size, np.int32)  # positions among a raster's cells: below 2**31
    j = 0
    for i in range(drawn.size):
        while cells[j] != drawn[i]:
            j += 1
        out[i] = j
    return out


def _ratio(numerator, denominator):
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    return np.divide(numerator, denominator, out=np.ones_like(numerator * denominator), where=denominator > 0)


def _aggregate(land: MatchingLandscape, pairs: Matches, years: np.ndarray) -> Aggregates:
    """Block × year totals of the pairs (1 km blocks of the project pixel). A pair is at risk in y while both
    its cells are forest at the end of y − 1, so that the two sides keep the same covariates year after year
    (a control's side, cleared faster, would otherwise keep its lowest-hazard cells and its hazard fall for
    no reason of the year's)."""
    width = land.loss_year.shape[1]
    rows, cols = np.divmod(pairs.treated, width)
    block = square_index(rows, cols, width, max(1, int(round(BLOCK_M / land.cell_size_m))))
    year_t, year_c = (land.loss_year.ravel()[cells][:, None] for cells in (pairs.treated, pairs.controls))
    at_risk = ((year_t == 0) | (year_t >= years)) & ((year_c == 0) | (year_c >= years))
    return Aggregates(*(_block_sums(block, m) for m in (at_risk, at_risk & (year_t == years),
                                                        at_risk & (year_c == years))))


def _block_sums(block: np.ndarray, indicator: np.ndarray) -> np.ndarray:
    n_blocks, n_years = int(block.max()) + 1, indicator.shape[1]
    flat = block[:, None] * n_years + np.arange(n_years)
    return np.bincount(flat.ravel(), weights=indicator.ravel(), minlength=n_blocks * n_years).reshape(n_blocks, n_years)


def _mean_balance(matches: Sequence[Matches], smd_max: float) -> list[dict]:
    rows = []
    for name in (matches[0].smd_before if matches else ()):
        before = float(np.mean([m.smd_before[name] for m in matches]))
        after = float(np.mean([m.smd_after[name] for m in matches]))
        rows.append({"covariate": name, "smd_before": before, "smd_after": after,
                     "flagged": bool(abs(after) >= smd_max)})
    return rows


def _two_sided_p(z: float) -> float:
    return 2 * norm.sf(abs(z))
