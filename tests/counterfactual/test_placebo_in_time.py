"""Placebos in time: the fake starts a record allows, and the method's noise where nothing was avoided."""

import sys
from pathlib import Path

from icam.counterfactual.pixel_matching import PixelMatching
from icam.counterfactual.placebo import fake_starts, placebo_in_time, summary

sys.path.insert(0, str(Path(__file__).parent))
from test_pixel_matching import START, _landscape  # noqa: E402


def test_fake_starts_keep_their_years_before_inside_the_record():
    # record from the end of 2000, real start 2008, five years before wanted, two at least
    assert fake_starts(2000, 2008, 5) == [(2003, 2), (2004, 3), (2005, 4), (2006, 5), (2007, 5)]
    assert fake_starts(2000, 2003, 5) == []


def test_placebos_before_a_real_effect_find_nothing():
    land, zone, _ = _landscape(11, effect=0.4)  # the effect starts in START: the placebos end before it

    def fit(start, last, pre):
        est = PixelMatching(density_per_ha=1 / 0.09, pool_ratio=2, iterations=1, n_boot=300, covariates=("x",),
                            pre_years=pre).fit(land, zone, start, last)
        return est.avoided_ha_, est.ci90_ha_

    runs = placebo_in_time(fit, 2000, START, 5)
    assert [r.fake_start for r in runs] == [2003, 2004, 2005, 2006, 2007]
    assert all(r.last_year == START - 1 for r in runs)
    result = summary(runs)
    assert result["share_covering_zero"] >= 0.8
    assert result["runs"] == result["estimated"] == 5 and result["sd_ha"] > 0


def test_placebos_the_method_could_not_estimate_are_counted_apart():
    runs = placebo_in_time(lambda s, last, pre: (None, None) if s < 2005 else (3.0, (-1.0, 5.0)), 2000, 2008, 5)
    result = summary(runs)
    assert result["runs"] == 5 and result["estimated"] == 3 and result["share_covering_zero"] == 1.0
    assert result["runs_detail"][0]["covers_zero"] is None and result["sd_ha"] == 0.0
