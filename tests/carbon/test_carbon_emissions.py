"""Emission factors per transition (icam.carbon.emissions): values worked by hand, pools, errors."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.carbon.emissions import (
    CO2_PER_C,
    POOLS,
    CarbonStock,
    emission_factor,
    emission_factor_table,
)
from icam.core.errors import InputError

FOREST = CarbonStock.from_pairs("montane forest", {
    "above_ground": (150.0, 10.0), "below_ground": (40.0, 5.0), "dead_wood": (12.0, 3.0),
    "litter": (4.0, 1.0), "soil_organic_carbon": (80.0, 8.0)})
COFFEE = CarbonStock.from_pairs("coffee agroforestry", {
    "above_ground": (30.0, 4.0), "below_ground": (8.0, 2.0), "dead_wood": (2.0, 1.0),
    "litter": (6.0, 1.0), "soil_organic_carbon": (70.0, 7.0)})
# the same coffee without its litter and soil: excluding those is then allowed
COFFEE_AB = CarbonStock.from_pairs("coffee agroforestry", {
    "above_ground": (30.0, 4.0), "below_ground": (8.0, 2.0), "dead_wood": (2.0, 1.0)})
PASTURE = CarbonStock.from_pairs("pasture", {
    "above_ground": (5.0, 1.0), "below_ground": (6.0, 1.5), "dead_wood": (0.0, 0.0), "litter": (2.0, 0.5)})
CROPS = CarbonStock.from_pairs("crops", {
    "above_ground": (3.0, 0.5), "below_ground": (1.0, 0.2), "soil_organic_carbon": (60.0, 6.0)})


# ------------------------------------------------------------------ worked by hand


def test_coffee_agroforestry_by_hand():
    # (150 + 40) − (30 + 8) = 152 tC/ha; × 44/12 = 557.33 tCO2e/ha
    ef = emission_factor(FOREST, COFFEE_AB, ["above_ground", "below_ground"])
    assert ef.ef_tco2e_ha == pytest.approx(152 * 44 / 12) == pytest.approx(557.3333333)
    assert ef.by_pool_tco2e_ha == pytest.approx({"above_ground": 120 * 44 / 12, "below_ground": 32 * 44 / 12})
    assert ef.pools == ("above_ground", "below_ground")
    assert ef.excluded_pools == ("dead_wood", "litter", "soil_organic_carbon")
    assert ef.negative_pools == ()


def test_pasture_four_pools_by_hand():
    # (150 + 40 + 12 + 4) − (5 + 6 + 0 + 2) = 193 tC/ha → 707.67 tCO2e/ha
    ef = emission_factor(FOREST, PASTURE, ["above_ground", "below_ground", "dead_wood", "litter"])
    assert ef.ef_tco2e_ha == pytest.approx(193 * 44 / 12) == pytest.approx(707.6666667)


def test_crops_with_soil_by_hand():
    # (150 + 40 + 80) − (3 + 1 + 60) = 206 tC/ha → 755.33 tCO2e/ha
    ef = emission_factor(FOREST, CROPS, ["soil_organic_carbon", "above_ground", "below_ground"])
    assert ef.ef_tco2e_ha == pytest.approx(206 * 44 / 12) == pytest.approx(755.3333333)
    assert ef.pools == ("above_ground", "below_ground", "soil_organic_carbon")  # canonical order


def test_co2_factor_is_44_over_12():
    assert CO2_PER_C == pytest.approx(3.6666667)


# ------------------------------------------------------------------ pools


def test_excluded_pool_counts_zero_on_both_sides():
    # dead wood given on both sides (12 → 2) but excluded: the EF is that of the biomass pools alone
    with_dw = emission_factor(FOREST, COFFEE_AB, ["above_ground", "below_ground"])
    only = emission_factor(
        CarbonStock.from_pairs("f", {"above_ground": (150, 10), "below_ground": (40, 5)}),
        CarbonStock.from_pairs("c", {"above_ground": (30, 4), "below_ground": (8, 2)}))
    assert with_dw.ef_tco2e_ha == pytest.approx(only.ef_tco2e_ha)
    assert with_dw.se_tco2e_ha == pytest.approx(only.se_tco2e_ha)


def test_excluding_a_pool_that_would_lower_the_ef_is_refused():
    # litter is 6 tC/ha under coffee and 4 in the forest: leaving it out raises the EF (not conservative)
    with pytest.raises(InputError, match="litter.*not conservative"):
        emission_factor(FOREST, COFFEE, ["above_ground", "below_ground", "dead_wood", "soil_organic_carbon"])


def test_included_pool_may_contribute_negatively_and_is_reported():
    ef = emission_factor(FOREST, COFFEE, list(POOLS))
    # (150+40+12+4+80) − (30+8+2+6+70) = 286 − 116 = 170 tC/ha
    assert ef.ef_tco2e_ha == pytest.approx(170 * 44 / 12)
    assert ef.by_pool_tco2e_ha["litter"] == pytest.approx(-2 * 44 / 12)
    assert ef.negative_pools == ("litter",)


def test_excluded_pool_without_data_on_one_side_is_accepted():
    ef = emission_factor(FOREST, CROPS, ["above_ground", "below_ground"])  # crops give no litter
    assert ef.ef_tco2e_ha == pytest.approx((190 - 4) * 44 / 12)


# ------------------------------------------------------------------ standard errors


def test_se_propagation_by_hand():
    # √(10² + 5² + 4² + 2²) = √145 tC/ha; × 44/12 = 44.15 tCO2e/ha
    ef = emission_factor(FOREST, COFFEE_AB)
    assert ef.se_tco2e_ha == pytest.approx(math.sqrt(145) * 44 / 12) == pytest.approx(44.152513)


def test_se_one_pool_three_four_five():
    f = CarbonStock("f", {"above_ground": 100.0}, {"above_ground": 3.0})
    p = CarbonStock("p", {"above_ground": 20.0}, {"above_ground": 4.0})
    assert emission_factor(f, p, ["above_ground"]).se_tco2e_ha == pytest.approx(5 * 44 / 12)


def test_zero_se_gives_zero_se():
    f = CarbonStock("f", {"above_ground": 100.0}, {"above_ground": 0.0})
    p = CarbonStock("p", {"above_ground": 20.0}, {"above_ground": 0.0})
    assert emission_factor(f, p, ["above_ground"]).se_tco2e_ha == 0.0


# ------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize("make, match", [
    (lambda: CarbonStock("f", {"above_ground": -1.0}, {"above_ground": 1.0}), "negative"),
    (lambda: CarbonStock("f", {"above_ground": 1.0}, {"above_ground": -1.0}), "standard error .* negative"),
    (lambda: CarbonStock("f", {"aboveground": 1.0}, {"aboveground": 1.0}), "unknown carbon pool"),
    (lambda: CarbonStock("f", {"above_ground": 1.0}, {}), "no standard error"),
    (lambda: CarbonStock("f", {}, {"above_ground": 1.0}), "no stock"),
    (lambda: CarbonStock("f", {"above_ground": float("nan")}, {"above_ground": 1.0}), "finite"),
    (lambda: CarbonStock("f", {"above_ground": "lots"}, {"above_ground": 1.0}), "number"),
    (lambda: CarbonStock(" ", {"above_ground": 1.0}, {"above_ground": 1.0}), "name"),
    (lambda: CarbonStock.from_pairs("f", {"above_ground": 150.0}), "standard error"),
])
def test_bad_stocks_are_refused(make, match):
    with pytest.raises(InputError, match=match):
        make()


@pytest.mark.parametrize("pools, match", [
    ([], "no carbon pool"),
    (["above_ground", "above_ground"], "twice"),
    (["above_ground", "roots"], "unknown carbon pool"),
])
def test_bad_pool_lists_are_refused(pools, match):
    with pytest.raises(InputError, match=match):
        emission_factor(FOREST, COFFEE, pools)


def test_included_pool_without_a_stock_is_refused():
    with pytest.raises(InputError, match="'crops' has no stock for the included pool.*dead_wood"):
        emission_factor(FOREST, CROPS, ["above_ground", "dead_wood"])


def test_error_message_is_one_readable_line():
    with pytest.raises(InputError) as info:
        CarbonStock("f", {"above_ground": -5.0}, {"above_ground": 1.0})
    assert "above-ground biomass stock of 'f' is negative (-5.0 tC/ha)" in str(info.value)


# ------------------------------------------------------------------ tables


def test_table_of_every_transition():
    table = emission_factor_table([FOREST], [COFFEE_AB, PASTURE, CROPS])
    assert [(f.forest_class, f.post_class) for f in table.factors] == [
        ("montane forest", "coffee agroforestry"), ("montane forest", "pasture"), ("montane forest", "crops")]
    assert table.get("montane forest", "pasture").ef_tco2e_ha == pytest.approx((190 - 11) * 44 / 12)
    rows = table.to_rows()
    assert rows[0]["pools"] == "above_ground+below_ground"
    assert rows[2]["ef_tco2e_ha"] == pytest.approx((190 - 4) * 44 / 12)
    json.dumps(table.to_dict())


def test_table_of_chosen_transitions():
    lowland = CarbonStock.from_pairs("lowland forest", {"above_ground": (200, 15), "below_ground": (70, 8)})
    chosen = [("lowland forest", "pasture"), ("montane forest", "coffee agroforestry")]
    table = emission_factor_table([FOREST, lowland], [COFFEE_AB, PASTURE], transitions=chosen)
    assert len(table.factors) == 2
    assert table.get("lowland forest", "pasture").ef_tco2e_ha == pytest.approx((270 - 11) * 44 / 12)
    with pytest.raises(InputError, match="no emission factor"):
        table.get("lowland forest", "coffee agroforestry")


@pytest.mark.parametrize("kwargs, match", [
    ({"transitions": [("cloud forest", "pasture")]}, "unknown forest class"),
    ({"transitions": [("montane forest", "rice")]}, "unknown post-deforestation class"),
    ({"transitions": [("montane forest", "pasture")] * 2}, "twice"),
    ({"transitions": []}, "empty"),
])
def test_bad_transitions_are_refused(kwargs, match):
    with pytest.raises(InputError, match=match):
        emission_factor_table([FOREST], [COFFEE_AB, PASTURE], **kwargs)


def test_duplicate_class_names_are_refused():
    with pytest.raises(InputError, match="named 'pasture'"):
        emission_factor_table([FOREST], [PASTURE, PASTURE])


# ------------------------------------------------------------------ invariants

stock = st.floats(min_value=0, max_value=1000, allow_nan=False)
se = st.floats(min_value=0, max_value=100, allow_nan=False)
pool_sets = st.sets(st.sampled_from(POOLS), min_size=1).map(sorted)


@st.composite
def transition(draw):
    pools = draw(pool_sets)
    f = {p: (draw(stock), draw(se)) for p in pools}
    q = {p: (draw(stock), draw(se)) for p in pools}
    return pools, CarbonStock.from_pairs("forest", f), CarbonStock.from_pairs("post", q)


@settings(max_examples=150, deadline=None)
@given(transition(), st.floats(min_value=0, max_value=500, allow_nan=False))
def test_ef_is_linear_in_the_stock_difference(t, shift):
    pools, f, q = t
    ef = emission_factor(f, q, pools)
    diff = sum(f.stock_tc_ha[p] for p in pools) - sum(q.stock_tc_ha[p] for p in pools)
    assert ef.ef_tco2e_ha == pytest.approx(diff * 44 / 12, rel=1e-9, abs=1e-9)
    assert sum(ef.by_pool_tco2e_ha.values()) == pytest.approx(ef.ef_tco2e_ha, rel=1e-9, abs=1e-6)
    # the same shift on both sides of every pool leaves the EF unchanged: only differences count
    f2 = CarbonStock("forest", {p: v + shift for p, v in f.stock_tc_ha.items()}, f.se_tc_ha)
    q2 = CarbonStock("post", {p: v + shift for p, v in q.stock_tc_ha.items()}, q.se_tc_ha)
    assert emission_factor(f2, q2, pools).ef_tco2e_ha == pytest.approx(ef.ef_tco2e_ha, rel=1e-9, abs=1e-6)
    # raising one forest pool by d raises the EF by d × 44/12
    p0 = pools[0]
    f3 = CarbonStock("forest", {**f.stock_tc_ha, p0: f.stock_tc_ha[p0] + shift}, f.se_tc_ha)
    assert emission_factor(f3, q, pools).ef_tco2e_ha - ef.ef_tco2e_ha == pytest.approx(shift * 44 / 12, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(transition())
def test_ef_sign_and_se(t):
    pools, f, q = t
    ef = emission_factor(f, q, pools)
    diff = sum(f.stock_tc_ha[p] for p in pools) - sum(q.stock_tc_ha[p] for p in pools)
    if abs(diff) > 1e-6:
        assert math.copysign(1, ef.ef_tco2e_ha) == math.copysign(1, diff)
    if all(f.stock_tc_ha[p] >= q.stock_tc_ha[p] for p in pools):
        assert ef.ef_tco2e_ha >= 0 and ef.negative_pools == ()
    assert set(ef.negative_pools) == {p for p in pools if q.stock_tc_ha[p] > f.stock_tc_ha[p]}
    expected_se = math.sqrt(sum(f.se_tc_ha[p] ** 2 + q.se_tc_ha[p] ** 2 for p in pools)) * 44 / 12
    assert ef.se_tco2e_ha == pytest.approx(expected_se, rel=1e-9, abs=1e-12)
