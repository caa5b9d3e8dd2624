"""The synthetic control: its weights by hand and as an invariant, and the avoided loss on landscapes whose
counterfactual is known (the same draws with and without the project's effect)."""

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.core.errors import InputError
from icam.counterfactual import synthetic_control
from icam.counterfactual.synthetic_control import SyntheticControl, synthetic_weights

sys.path.insert(0, str(Path(__file__).parent))
from test_pixel_matching import LAST, START, _landscape  # noqa: E402


def test_weights_by_hand():
    donors = np.array([[1.0, 3.0, 10.0], [2.0, 0.0, 10.0], [1.0, 1.0, 10.0]])  # years × donors
    assert synthetic_weights(donors[:, 1], donors) == pytest.approx([0.0, 1.0, 0.0], abs=1e-6)
    # the treated is the mean of the first two donors: (2, 1, 1)
    assert synthetic_weights(np.array([2.0, 1.0, 1.0]), donors) == pytest.approx([0.5, 0.5, 0.0], abs=1e-6)


@given(st.integers(2, 12), st.integers(2, 30), st.integers(0, 10_000))
@settings(max_examples=50, deadline=None)
def test_weights_are_a_convex_combination(n_years, n_donors, seed):
    rng = np.random.default_rng(seed)
    w = synthetic_weights(rng.gamma(2.0, size=n_years), rng.gamma(2.0, size=(n_years, n_donors)))
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0, abs=1e-6)


def test_the_avoided_loss_is_recovered_over_ten_landscapes():
    # 90 % intervals: 7 or more of 10 covering has probability 0.987
    truths, estimates, covered, covered_zero = [], [], 0, 0
    for seed in range(10, 20):
        land, zone, truth_ha = _landscape(seed, effect=0.4)
        sc = SyntheticControl().fit(land, zone, START, LAST)
        truths.append(truth_ha)
        estimates.append(sc.avoided_ha_)
        covered += sc.ci90_ha_[0] <= truth_ha <= sc.ci90_ha_[1]
        assert sum(sc.weights_.values()) == pytest.approx(1.0) and sc.n_donors_ >= 10
        land, zone, _ = _landscape(seed, effect=0.0)
        none = SyntheticControl().fit(land, zone, START, LAST)
        covered_zero += none.ci90_ha_[0] <= 0 <= none.ci90_ha_[1]
    assert covered >= 7 and covered_zero >= 7
    assert np.mean(estimates) == pytest.approx(np.mean(truths), rel=0.2)
    assert sorted(sc.annual_) == list(range(2001, LAST + 1))


def test_too_few_donors_give_no_estimate_and_too_short_a_record_is_refused():
    land, zone, _ = _landscape(3, effect=0.4)
    few = SyntheticControl(donor_share=2.0).fit(land, zone, START, LAST)  # donors twice the zone: one
    assert few.avoided_ha_ is None and few.ci90_ha_ is None and few.n_donors_ < few.min_donors
    with pytest.raises(InputError, match="fewer than two years of record before the start"):
        SyntheticControl().fit(land, zone, 2002, LAST)


def test_fitted_weights_choose_their_penalty_and_an_unknown_rule_is_refused():
    land, zone, truth_ha = _landscape(12, effect=0.4)
    fitted = SyntheticControl(weights="fitted").fit(land, zone, START, LAST)
    assert fitted.penalty_ in (0.0, 0.01, 0.1, 1.0, 10.0, 1e4) and fitted.ci90_ha_[0] < fitted.avoided_ha_
    assert sum(fitted.weights_.values()) == pytest.approx(1.0)
    assert len(fitted.validation_gaps_) == 4  # fake starts 2004-2007 with three years or more to fit on
    with pytest.raises(InputError, match="use 'pooled' or 'fitted'"):
        SyntheticControl(weights="best").fit(land, zone, START, LAST)


@pytest.mark.parametrize("weights", ["pooled", "fitted"])
def test_fits_sharing_a_longer_panel_are_the_fits_of_their_own(weights):
    """The placebos in time read the first years of the estimate's panel: every learned figure as a fit that
    computes its own; a panel of other donors or another first year is not taken."""
    land, zone, _ = _landscape(5, effect=0.4)
    control = SyntheticControl(weights=weights)
    panel = control.panel(land, zone, LAST)
    for start, last in ((START, LAST), (START - 2, START - 1), (START - 3, START - 1)):
        own = SyntheticControl(weights=weights).fit(land, zone, start, last)
        shared = SyntheticControl(weights=weights).fit(land, zone, start, last, panel=panel)
        assert shared.avoided_ha_ == own.avoided_ha_ and shared.ci90_ha_ == own.ci90_ha_
        assert shared.annual_ == own.annual_ and shared.weights_ == own.weights_
        assert shared.p_value_ == own.p_value_ and shared.validation_gaps_ == own.validation_gaps_
    assert not panel.covers(land.first_year, LAST, (0.2, 0.5)) and not panel.covers(land.first_year + 1, LAST,
                                                                                    (0.1, 0.5))


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 300), st.integers(0, 1000))
def test_the_panel_counted_by_strips_is_the_whole_rasters(strip_rows, seed):
    """The donors' and the project's series are counted a strip of rows at a time: the same counts as from the
    whole raster of unit numbers (each cell's donor tile, the project's cells the last unit), whatever the
    strip."""
    land, zone, _ = _landscape(seed % 7, effect=0.4)
    control = SyntheticControl()
    project_forest = zone & land.forest_at(land.first_year)
    donors = control._donors(land, project_forest, land.first_year)
    shape = land.loss_year.shape
    spread = donors.number.repeat(donors.side, axis=0).repeat(donors.side, axis=1)[:shape[0], :shape[1]]
    units = np.where(donors.domain, spread, -1)
    units[project_forest] = donors.n_tiles
    years = np.arange(land.first_year + 1, LAST + 1)
    unit, loss_year, first = units.ravel(), land.loss_year.ravel(), land.forest_first.ravel()
    lost = (unit >= 0) & (loss_year >= years[0]) & (loss_year <= years[-1])
    loss, standing = np.zeros((donors.n_tiles + 1, years.size)), np.zeros(donors.n_tiles + 1)
    np.add.at(loss, (unit[lost], loss_year[lost] - years[0]), 1)
    counted = (unit >= 0) & first & ((loss_year == 0) | (loss_year >= years[0]))
    np.add.at(standing, unit[counted], 1)
    original, synthetic_control.STRIP_ROWS = synthetic_control.STRIP_ROWS, strip_rows
    try:
        panel = control.panel(land, zone, LAST)
    finally:
        synthetic_control.STRIP_ROWS = original
    assert np.array_equal(panel.loss, loss)
    np.testing.assert_array_equal(panel.forest[:, 0], standing)
