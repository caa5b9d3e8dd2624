"""The verdict: prorating yearly estimates to the monitoring periods, the ratios and the flag by hand."""

from datetime import date

import pytest

from icam.carbon.periods import MonitoringPeriod
from icam.counterfactual.verdict import MethodEstimate, verdict, year_weights


def test_year_weights_by_hand():
    # 2008-06-15 – 2009-06-14: 200 of 2008's 366 days and 165 of 2009's 365; then all of the rest of 2009
    first = MonitoringPeriod(date(2008, 6, 15), date(2009, 6, 14))
    second = MonitoringPeriod(date(2009, 6, 15), date(2009, 12, 31))
    assert year_weights([first]) == pytest.approx({2008: 200 / 366, 2009: 165 / 365})
    assert year_weights([first, second]) == pytest.approx({2008: 200 / 366, 2009: 1.0})


def test_flag_by_hand_and_the_method_the_baseline_rests_on_left_out():
    matching = MethodEstimate("pixel_matching", 1000.0, (600.0, 1400.0))
    synthetic = MethodEstimate("synthetic_control", 800.0, (200.0, 1300.0))
    # 2,200 ha: above 1.5 × 1,400 = 2,100
    out = verdict(2200.0, [matching, synthetic])
    assert out["over_crediting_flag"] is True and out["largest_upper_ha"] == 1400.0
    assert out["ratio_to_baseline"] == {"pixel_matching": 2.2, "synthetic_control": 2.75}
    # without pixel matching the bound is 1.5 × 1,300 = 1,950: still flagged; at 1,900 ha it is not
    assert verdict(2200.0, [matching, synthetic], excluded=["pixel_matching"])["over_crediting_flag"] is True
    calm = verdict(1900.0, [matching, synthetic], excluded=["pixel_matching"])
    assert calm["over_crediting_flag"] is False and calm["methods_left_out"] == ["pixel_matching"]
    alone = verdict(1900.0, [matching], excluded=["pixel_matching"])
    assert alone["over_crediting_flag"] is None and "no independent method" in alone["verdict"]


def test_a_method_without_an_estimate_is_left_out_of_the_verdict():
    unestimated = MethodEstimate("pixel_matching", None, None)
    out = verdict(2200.0, [unestimated])
    assert out["over_crediting_flag"] is None and out["ratio_to_baseline"] == {"pixel_matching": None}
    assert out["methods_in_verdict"] == []
    assert MethodEstimate("x", None, None).to_dict()["ci90_ha"] is None
