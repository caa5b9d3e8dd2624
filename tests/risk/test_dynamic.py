"""The dynamic baseline against a landscape whose hazard is known: a covariate, a zone with a fixed relative
hazard (k) and yearly swings shared by every cell."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from icam.core.errors import InputError
from icam.risk.dynamic import LEVEL_CELLS, MatchedControlBaseline, _standardised_design, _year_cells
from icam.risk.matching_landscape import MatchingLandscape

SIDE, FIRST, LAST = 240, 2000, 2016
TRUE_K = 0.2


def _landscape(seed: int, driver: float = 1.0):
    """Cells lost year by year with p = 1 − exp(−exp(β0_y + 1.0·x + log k·[zone])), x a smooth gradient; the
    zone is the left third; after 2007 the hazard of the top half is multiplied by ``driver``, which no
    covariate sees. Returns the landscape, the zone and each year's expected zone loss (ha)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:SIDE, 0:SIDE]
    x = (cols / SIDE + 0.3 * rng.normal(size=(SIDE, SIDE))).astype(np.float32)
    zone = cols < SIDE // 3
    beta0 = {y: np.log(0.01) + rng.normal(0, 0.3) for y in range(FIRST + 1, LAST + 1)}
    forest = np.ones((SIDE, SIDE), bool)
    loss_year = np.zeros((SIDE, SIDE), np.int16)
    expected = {}
    for y in range(FIRST + 1, LAST + 1):
        eta = beta0[y] + 1.0 * x + np.where(zone, np.log(TRUE_K), 0.0)
        if y > 2007:
            eta = eta + np.where(rows < SIDE // 2, np.log(driver), 0.0)
        p = -np.expm1(-np.exp(eta))
        expected[y] = float(p[zone & forest].sum()) * 0.09
        lost = forest & (rng.random((SIDE, SIDE)) < p)
        loss_year[lost] = y
        forest &= ~lost
    land = MatchingLandscape(loss_year=loss_year, forest_first=np.ones((SIDE, SIDE), bool), first_year=FIRST,
                             control=~zone, strata=np.ones((SIDE, SIDE), np.int16), strata_names=("forest",),
                             static={"x": x}, cell_size_m=30.0, cell_area_ha=0.09)
    return land, zone, expected


def test_k_and_the_baseline_recover_the_known_hazard():
    land, zone, expected = _landscape(3)
    model = MatchedControlBaseline(n_treated=3000, n_fit=20_000, seed=0).fit(land, {"zone": zone},
                                                                           range(2001, 2008))
    assert model.k_["zone"] == pytest.approx(TRUE_K, rel=0.15)
    predicted = model.predict(range(2008, 2017))["zone"]["forest"]
    total = sum(v.baseline_ha for v in predicted.values())
    truth = sum(expected[y] for y in range(2008, 2017))
    # the counterfactual's expected loss over nine years, within three of k's standard errors (k's error is
    # shared by every year; the yearly swings come from the controls, observed the same year)
    assert abs(total - truth) < 3 * model.k_se_["zone"] / model.k_["zone"] * truth
    assert all(v.se_ha > 0 for v in predicted.values())


def test_historical_years_before_the_data_are_refused():
    land, zone, _ = _landscape(4)
    with pytest.raises(InputError, match="start before the forest data"):
        MatchedControlBaseline().fit(land, {"zone": zone}, [2000])


def test_placebo_tiles_measure_a_driver_no_covariate_sees():
    """After 2007 an unseen driver multiplies the hazard by 1.5 in the top half of the landscape: the control
    area's level a_y settles near 1.25, so a tile wholly in one half misses by about +0.2 or −0.2 (0.2² =
    0.04; less for the tiles the boundary cuts); without the driver V is only the noise of the tiles' own k
    (their binomial noise is taken out)."""
    def fitted(driver):
        land, zone, _ = _landscape(5, driver=driver)
        model = MatchedControlBaseline(n_treated=3000, n_fit=20_000, min_placebo_tiles=8, seed=0)
        model.fit(land, {"zone": zone}, range(2001, 2008)).predict(range(2008, 2017))
        return model

    with_driver, without = fitted(1.5), fitted(1.0)
    assert 0.02 < with_driver.drift_var_["zone"][2016] < 0.06
    assert without.drift_var_["zone"][2016] < 0.006
    assert with_driver.placebo_["zone"]["tiles"] >= 6


def test_forest_cover_is_scipys_box_mean_of_the_forest_to_the_bit():
    """The 1 km cover is filtered in its own buffer: SciPy's uniform filter of the forest as a new raster, to the
    bit, whole and at cells."""
    land, _, _ = _landscape(3)
    expected = ndimage.uniform_filter(land.forest_at(2004).astype(np.float32), size=67, mode="nearest")
    np.testing.assert_array_equal(land.forest_cover_1km(2004), expected)
    cells = np.random.default_rng(1).choice(SIDE * SIDE, 300, replace=False)
    np.testing.assert_array_equal(land.forest_cover_1km(2004, cells), expected.ravel()[cells])

def test_covariates_at_cells_are_the_whole_rasters_values_there():
    """The counterfactual checks read the covariates at their sampled cells only (one raster held at a time):
    the same numbers as the whole rasters', with the edge distance and the 1 km cover of the year asked."""
    land, _, _ = _landscape(5)
    cells = np.random.default_rng(0).choice(SIDE * SIDE, 500, replace=False)
    whole, at = land.matching_features(2006), land.matching_features(2006, cells)
    assert set(whole) == set(at) == {"x", "edge_log1p_100m", "edge_km", "forest_cover_1km"}
    for name in whole:
        np.testing.assert_array_equal(at[name], np.asarray(whole[name]).ravel()[cells])
    # the covariates a matching skips are not computed; the others keep their order and values
    kept = land.matching_features(2006, cells, skip={"edge_km", "x"})
    assert list(kept) == ["edge_log1p_100m", "forest_cover_1km"]
    for name in kept:
        np.testing.assert_array_equal(kept[name], at[name])
    # a year's hazards take the covariates at their cells from one distance raster they share: the same values,
    # and the shared raster is left as it was
    edge_m = land.edge_distance_m(2006)
    kept = edge_m.copy()
    shared = land.features(2006, cells, edge_m)
    for name in shared:
        np.testing.assert_array_equal(shared[name], np.asarray(whole[name]).ravel()[cells])
    for name, values in land.features(2006, None, edge_m).items():
        np.testing.assert_array_equal(values, whole[name])
    np.testing.assert_array_equal(edge_m, kept)
    # a cell lost by 2006 is non-forest: its distance to non-forest is 0
    lost = np.flatnonzero((land.loss_year.ravel() > 0) & (land.loss_year.ravel() <= 2006))[:50]
    assert np.all(land.features(2006, lost)["edge_km"] == 0)


def _year_levels(model: MatchedControlBaseline, years) -> dict[int, float]:
    predicted = model.predict(years)["zone"]["forest"]
    return {y: v.year_effect for y, v in predicted.items()}


def test_the_years_level_uses_every_control_cell_up_to_n_level():
    """With no more control cells than ``n_level``, a_y is the root of Σ p(a h) = the year's loss over every
    control cell forest at the start of the year, worked here from the fitted β with cloglog's solver."""
    from icam.risk import cloglog

    land, zone, _ = _landscape(6)
    model = MatchedControlBaseline(n_treated=3000, n_fit=20_000, seed=0).fit(land, {"zone": zone},
                                                                           range(2001, 2008))
    levels = _year_levels(model, [2010, 2014])
    for year, level in levels.items():
        forest = land.forest_at(year - 1)
        cells = np.flatnonzero(land.control & forest)
        features = land.features(year - 1)
        mean, sd = model._scale
        hazard = cloglog.relative_hazard(list(features.values()), cells, mean, sd, model.coef_)
        lost = np.count_nonzero(land.loss_year.ravel()[cells] == year)
        assert level == cloglog.solve_scale(hazard, lost)


def test_the_years_level_on_a_sample_of_the_controls_is_within_its_error():
    """A fifth of the control cells (``n_level``) estimate each year's level a_y within four of the standard
    errors its sample's losses give (relative SE 1/√(cells lost)), and the baseline's SE grows to say so."""
    land, zone, _ = _landscape(7)
    n_control = int(np.count_nonzero(land.control))

    def fitted(n_level):
        return MatchedControlBaseline(n_treated=3000, n_fit=20_000, n_level=n_level, seed=0).fit(
            land, {"zone": zone}, range(2001, 2008))

    whole, sampled = fitted(n_control), fitted(n_control // 5)
    years = range(2008, 2017)
    full, part = _year_levels(whole, years), _year_levels(sampled, years)
    for y in years:
        lost_in_sample = 0.01 * n_control / 5  # about 1 % a year
        assert abs(part[y] / full[y] - 1) < 4 / np.sqrt(lost_in_sample)
        assert part[y] != full[y]
    se_whole = whole.predict(years)["zone"]["forest"]
    se_part = sampled.predict(years)["zone"]["forest"]
    assert all(se_part[y].se_ha > se_whole[y].se_ha for y in years)


def test_years_before_the_historical_period_are_refused():
    land, zone, _ = _landscape(8)
    model = MatchedControlBaseline(n_treated=3000, n_fit=20_000, seed=0).fit(land, {"zone": zone},
                                                                           range(2003, 2008))
    with pytest.raises(InputError, match="predicts from the historical reference period's first year"):
        model.predict([2002, 2010])


def test_each_years_cells_are_those_of_its_forest_raster():
    """A year's cells, taken from the HRP's start cells by their loss year, are the cells of that year's forest
    raster in each zone and among the level's."""
    land, zone, _ = _landscape(6)
    forest_first = land.forest_first.copy()
    forest_first[:5] = False  # some cells not forest at the start
    land = MatchingLandscape(land.loss_year, forest_first, land.first_year, land.control, land.strata,
                             land.strata_names, land.static, land.cell_size_m, land.cell_area_ha)
    model = MatchedControlBaseline(n_treated=500, n_fit=5000, n_level=20_000, seed=0).fit(land, {"zone": zone},
                                                                                          range(2001, 2005))
    for year in (2001, 2004, 2010):
        forest = land.forest_at(year - 1)
        cells = _year_cells(model, year)
        np.testing.assert_array_equal(cells["zone"], np.flatnonzero(zone & forest & (land.strata > 0)))
        np.testing.assert_array_equal(cells[LEVEL_CELLS], model._level_cells[forest.ravel()[model._level_cells]])
        assert 0 < cells[LEVEL_CELLS].size < np.count_nonzero(land.control & forest)  # a sample of the controls


def test_the_historical_years_predicted_from_the_fits_hazards_equal_those_computed_again():
    """predict takes the HRP's years from the hazards the fit kept: the same baselines, SEs and levels to the
    bit as the year tasks that compute every distance and hazard again (the fit's kept hazards forgotten)."""
    land, zone, _ = _landscape(9)
    model = MatchedControlBaseline(n_treated=2000, n_fit=10_000, seed=0).fit(land, {"zone": zone}, range(2001, 2008))
    years = range(2004, 2011)  # the HRP's last four and three after it
    kept = model.predict(years)
    assert set(model._hrp_hazards) == set(range(2001, 2008))
    model._hrp_hazards = {}
    assert model.predict(years) == kept


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=5), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_the_design_built_in_place_is_the_stacked_scaled_and_joined_one(n_rows, n_covariates, seed):
    """β's design: the years' rows stacked, standardised (NaN to 0, a constant column's SD taken as 1) and joined
    to an intercept per year, to the bit."""
    if sum(n_rows) == 0:
        return
    rng = np.random.default_rng(seed)
    rows = [rng.normal(3, 2, (n, n_covariates)) for n in n_rows]
    for r in rows:
        r[rng.random(r.shape) < 0.1] = np.nan
        r[:, 0] = 7.0 if n_covariates > 1 else r[:, 0]  # a constant column where there are others
    x = np.vstack(rows)
    mean, sd = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    sd[sd == 0] = 1.0
    intercepts = np.eye(len(rows))[np.concatenate([np.full(n, i) for i, n in enumerate(n_rows)])]
    expected = np.hstack([np.nan_to_num((x - mean) / sd), intercepts])
    design, (got_mean, got_sd) = _standardised_design(list(rows))
    np.testing.assert_array_equal(design, expected)
    np.testing.assert_array_equal(got_mean, mean)
    np.testing.assert_array_equal(got_sd, sd)
