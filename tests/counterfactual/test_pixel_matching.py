"""Pixel matching with a difference in differences, against a landscape whose counterfactual is known: the
same yearly draws run with and without the project's reduction of the hazard."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.core.errors import InputError
from icam.counterfactual.pixel_matching import PixelMatching, ratio_did
from icam.risk.dynamic import MatchingLandscape

SIDE, FIRST, LAST, START = 240, 2000, 2016, 2008
ZONE_K = 0.3


def _landscape(seed: int, effect: float, pre_trend: float = 1.0):
    """Loss with p = 1 − exp(−exp(log 0.03 + x + log k·[zone] + log(1 − effect)·[zone, y ≥ START])), x a
    noisy gradient the zone and its controls share only in part; the counterfactual draws the same
    uniforms without the effect. ``pre_trend``: the zone's hazard × pre_trend^(y − FIRST) before the start
    (parallel trends broken). Returns the landscape, the zone and the true avoided loss (ha) from START."""
    rng = np.random.default_rng(seed)
    _, cols = np.mgrid[0:SIDE, 0:SIDE]
    x = (cols / SIDE + 0.3 * rng.normal(size=(SIDE, SIDE))).astype(np.float32)
    zone = cols < SIDE // 3
    actual, counterfactual = np.zeros((2, SIDE, SIDE), np.int16)
    for y in range(FIRST + 1, LAST + 1):
        u = rng.random((SIDE, SIDE))
        eta = np.log(0.03) + x + np.where(zone, np.log(ZONE_K) + np.log(pre_trend) * (min(y, START) - FIRST), 0.0)
        for loss, shift in ((counterfactual, 0.0), (actual, np.log1p(-effect) if y >= START else 0.0)):
            lost = (loss == 0) & (u < -np.expm1(-np.exp(eta + np.where(zone, shift, 0.0))))
            loss[lost] = y
    avoided = [np.count_nonzero(zone & (counterfactual == y)) - np.count_nonzero(zone & (actual == y))
               for y in range(START, LAST + 1)]
    land = MatchingLandscape(loss_year=actual, forest_first=np.ones((SIDE, SIDE), bool), first_year=FIRST,
                             control=~zone, strata=np.ones((SIDE, SIDE), np.int16), strata_names=("forest",),
                             static={"x": x}, cell_size_m=30.0, cell_area_ha=0.09)
    return land, zone, float(sum(avoided)) * 0.09


def _fit(land, zone, **kw):
    params = {"density_per_ha": 1 / 0.09, "pool_ratio": 2, "iterations": 2, "n_boot": 300, "covariates": ("x",), **kw}
    return PixelMatching(**params).fit(land, zone, START, LAST)


def test_ratio_did_by_hand():
    # two years before the start, one after. Controls: 100 at risk, 10 and 20 lost (h 0.1, 0.2) then 100, 10.
    # The zone: 50 at risk, 2 and 4 lost → E = 5, 10, k = 6 / 15 = 0.4; after: E = 50 × 0.1 = 5, CF = 2
    at_risk_c, lost_c = np.array([100.0, 100.0, 100.0]), np.array([10.0, 20.0, 10.0])
    at_risk_t, lost_t = np.array([50.0, 50.0, 50.0]), np.array([2.0, 4.0, 1.0])
    k, cf, score = ratio_did(at_risk_t, lost_t, at_risk_c, lost_c, np.array([True, True, False]))
    assert k == pytest.approx(0.4)
    assert cf.tolist() == pytest.approx([2.0, 4.0, 2.0])
    assert score == pytest.approx(0.0)  # the two years before the start sit exactly on k


def test_the_avoided_loss_is_recovered_and_the_intervals_cover_the_truth_over_ten_landscapes():
    # with 90 % intervals, 7 or more of 10 covering has probability 0.987; fewer says they are too narrow
    truths, estimates, covered = [], [], 0
    for seed in range(10, 20):
        land, zone, truth_ha = _landscape(seed, effect=0.4)
        est = _fit(land, zone)
        truths.append(truth_ha)
        estimates.append(est.avoided_ha_)
        covered += est.ci90_ha_[0] <= truth_ha <= est.ci90_ha_[1]
        assert est.k_ == pytest.approx(ZONE_K, rel=0.25)
        assert all(not row["flagged"] for row in est.balance_)
    assert covered >= 7
    assert np.mean(estimates) == pytest.approx(np.mean(truths), rel=0.2)
    assert sorted(est.annual_) == list(range(START - 5, LAST + 1))


@pytest.mark.parametrize("seed", [4, 8])
def test_no_effect_gives_an_interval_holding_zero(seed):
    land, zone, truth_ha = _landscape(seed, effect=0.0)
    assert truth_ha == 0
    est = _fit(land, zone)
    assert est.ci90_ha_[0] <= 0 <= est.ci90_ha_[1]


def test_a_zone_whose_hazard_climbs_before_the_start_fails_the_parallel_trends_test():
    land, zone, _ = _landscape(5, effect=0.0, pre_trend=1.35)
    assert _fit(land, zone).parallel_trends_["p_value"] < 0.05


def test_pairs_that_lose_too_few_pixels_give_no_estimate():
    land, zone, _ = _landscape(6, effect=0.4)
    few = _fit(land, zone, density_per_ha=0.05)  # about 86 of the zone's 19,200 pixels
    assert not few.identified_ and few.avoided_ha_ is None and few.ci90_ha_ is None and few.k_ is None
    assert min(few.losses_.values()) < few.min_losses
    assert all("counterfactual_ha" not in row for row in few.annual_.values())
    enough = _fit(land, zone)
    assert enough.identified_ and min(enough.losses_.values()) >= enough.min_losses


def test_years_before_the_forest_record_are_refused():
    land, zone, _ = _landscape(6, effect=0.0)
    with pytest.raises(InputError, match="before the forest data"):
        PixelMatching(pre_years=8).fit(land, zone, START, LAST)


def test_a_project_no_control_can_pair_with_gives_no_estimate():
    land, zone, _ = _landscape(7, effect=0.4)
    x = land.static["x"].copy()
    x[zone] += 50.0  # every project pixel far beyond any control's covariate, out of the caliper
    est = _fit(land.__class__(**{**land.__dict__, "static": {"x": x}}), zone, calipers={"x": 1.0})
    assert not est.identified_ and est.pairs_ == 0 and est.match_rate_ == 0 and est.balance_ == []


def test_fits_whose_pairs_form_in_the_same_year_share_them_and_their_numbers():
    """Placebos in time starting 2004 with 3 years before and 2003 with 2 pair at the end of 2000 alike: with a
    shared ``pairings`` dict the second takes the first's pairs (and their bootstrap draws), and each gives
    what it gives alone; a fit pairing in another year forms its own."""
    land, zone, _ = _landscape(4, 0.0)

    def fit(start, pre, pairings=None):
        return PixelMatching(density_per_ha=1 / 0.09, pool_ratio=2, iterations=2, n_boot=100, covariates=("x",),
                             pre_years=pre, min_losses=1).fit(land, zone, start, start + 3, pairings=pairings)

    pairings: dict = {}
    shared = [fit(2004, 3, pairings), fit(2003, 2, pairings)]
    assert len(pairings) == 1
    alone = [fit(2004, 3), fit(2003, 2)]
    for a, b in zip(shared, alone):
        assert (a.avoided_ha_, a.ci90_ha_, a.k_, a.pairs_) == (b.avoided_ha_, b.ci90_ha_, b.k_, b.pairs_)
        assert a.avoided_ha_ is not None
    fit(2006, 2, pairings)
    assert len(pairings) == 2


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 500), share=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_positions_of_drawn_cells_are_searchsorteds(n, share, seed):
    from icam.counterfactual.pixel_matching import _positions

    rng = np.random.default_rng(seed)
    cells = np.sort(rng.choice(10 * n, size=n, replace=False))
    drawn = cells[rng.random(n) < share]
    np.testing.assert_array_equal(_positions(cells, drawn), np.searchsorted(cells, drawn))


@pytest.mark.parametrize("spilled", [False, True])
def test_an_iterations_pairs_from_its_samples_values_are_those_of_every_sampled_cells_covariates(spilled,
                                                                                             monkeypatch):
    """The pairs matched on one iteration's samples, read from the covariates held or in files, are those
    matched on the covariates at every sampled cell, by the samples' positions (how they were formed before)."""
    from icam.counterfactual import pixel_matching
    from icam.counterfactual.pixel_matching import _positions
    from icam.risk.matching import match

    if spilled:
        monkeypatch.setattr(pixel_matching, "SPILL_MIN_CELLS", 0)

    land, zone, _ = _landscape(6, 0.3)
    est = PixelMatching(density_per_ha=1 / 0.09, pool_ratio=3, iterations=2, n_boot=10, calipers={"x": 0.5},
                        min_losses=1, pre_years=2)
    m = START - 1 - est.pre_years  # 2005: the cover five years before is a covariate, ten years before is not
    matchable = land.forest_at(m) & (land.strata > 0)
    draws = est._samples(land, zone & matchable, land.control & matchable)
    expected = []
    cells = np.unique(np.concatenate([c for (t, p), _ in draws for c in (t, p)]))
    features = {**land.matching_features(m, cells, skip={"edge_km"}),
                "forest_cover_1km_minus_5y": land.forest_cover_1km(m - 5, cells)}
    exact = land.strata.ravel()[cells].astype(np.int32)
    for (treated, pool), rng in draws:
        t, p = _positions(cells, treated), _positions(cells, pool)
        pairs = match(features, t, p, groups=exact, replace=False, rng=rng,
                      calipers=est._calipers(features, np.concatenate([t, p])), n_candidates=est.n_candidates)
        expected.append((cells[pairs.treated], cells[pairs.controls], pairs.distance, treated.size))
    got = est._pairings(land, est._samples(land, zone & matchable, land.control & matchable), m, None)
    assert len(got) == len(expected) == 2
    for (pairs, offered, _), (treated, controls, distance, n_treated) in zip(got, expected):
        assert offered == n_treated and pairs.treated.size > 0
        np.testing.assert_array_equal(pairs.treated, treated)
        np.testing.assert_array_equal(pairs.controls, controls)
        np.testing.assert_array_equal(pairs.distance, distance)


def test_a_covariate_not_offered_is_refused_naming_those_that_are():
    land, zone, _ = _landscape(6, 0.3)
    est = PixelMatching(density_per_ha=1 / 0.09, pool_ratio=2, iterations=1, covariates=("x", "slope"), pre_years=2)
    with pytest.raises(InputError, match=r"no covariate named slope; choose among x, edge_log1p_100m, "
                                         r"forest_cover_1km, forest_cover_1km_minus_5y\.$"):
        est.fit(land, zone, START, LAST)
