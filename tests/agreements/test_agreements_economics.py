"""Money of the agreements: revenue by vintage, its allocation, sustainability, NPV, opportunity cost,
break-even carbon price. Every number worked by hand in the comments."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icam.agreements.economics import (
    LandUseEconomics,
    allocate_revenue,
    break_even_carbon_price,
    financial_sustainability,
    npv,
    opportunity_cost_per_ha,
    revenue_by_vintage,
    revenue_by_year,
)
from icam.core.errors import InputError

D = dt.date
# 1.1, 1.21, 1.331: the discount factors of years 1, 2, 3 at 10 %
ANNUITY_3Y_10PCT = 1 / 1.1 + 1 / 1.21 + 1 / 1.331  # 0.909091 + 0.826446 + 0.751315 = 2.486852


def test_revenue_by_vintage():
    sales = [(2020, 600, 5.0, D(2021, 3, 1)), (2020, 400, 6.0, "2022-01-15"), (2021, 100, 8.0, D(2022, 5, 1))]
    table = revenue_by_vintage({2020: 1000, 2021: 500}, sales).set_index("vintage")
    # 2020: 600 × 5 + 400 × 6 = 3,000 + 2,400 = 5,400 USD for 1,000 t, 5.40 USD/t; nothing left
    assert (table.loc[2020, "sold"], table.loc[2020, "unsold"], table.loc[2020, "revenue_usd"]) == (1000, 0, 5400)
    assert math.isclose(table.loc[2020, "average_price_usd_per_t"], 5.4)
    assert table.loc[2020, "first_sale"] == D(2021, 3, 1) and table.loc[2020, "last_sale"] == D(2022, 1, 15)
    # 2021: 100 × 8 = 800 USD, 400 unsold
    assert (table.loc[2021, "sold"], table.loc[2021, "unsold"], table.loc[2021, "revenue_usd"]) == (100, 400, 800)
    assert revenue_by_year(sales) == {2021: 3000.0, 2022: 3200.0}


def test_sales_above_a_vintage_are_refused():
    with pytest.raises(InputError, match="vintage 2021 add up to 501 credits, more than the 500 issued"):
        revenue_by_vintage({2021: 500}, [(2021, 501, 5.0, D(2022, 1, 1))])
    with pytest.raises(InputError, match="add up to 1001"):  # 600 + 401 in two sales
        revenue_by_vintage({2020: 1000}, [(2020, 600, 5.0, D(2021, 1, 1)), (2020, 401, 5.0, D(2021, 2, 1))])
    with pytest.raises(InputError, match="vintage 2019, which has no credits"):
        revenue_by_vintage({2020: 1000}, [(2019, 1, 5.0, D(2021, 1, 1))])
    with pytest.raises(InputError, match="quantity > 0"):
        revenue_by_vintage({2020: 1000}, [(2020, 0, 5.0, D(2021, 1, 1))])


def test_allocation_by_shares():
    shares = {"agreements": 0.6, "enforcement": 0.2, "monitoring": 0.1, "reserve": 0.1}
    table = allocate_revenue({2021: 1000.0, 2022: 500.0}, shares)
    # 1,000 × (0.6, 0.2, 0.1, 0.1) = 600, 200, 100, 100; 500 × ... = 300, 100, 50, 50
    assert [round(x, 9) for x in table["amount_usd"]] == [600, 200, 100, 100, 300, 100, 50, 50]
    assert list(table["use"][:4]) == list(shares)
    with pytest.raises(InputError, match="sum to 0.9, not 1"):
        allocate_revenue({2021: 1000.0}, {"agreements": 0.6, "enforcement": 0.2, "monitoring": 0.1})
    with pytest.raises(InputError, match="between 0 and 1"):
        allocate_revenue({2021: 1000.0}, {"agreements": 1.2, "reserve": -0.2})
    # within 1e-9 of 1 is accepted
    allocate_revenue({2021: 1.0}, {"agreements": 0.7 + 5e-10, "reserve": 0.3})


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.integers(2000, 2050), st.floats(0, 1e9), min_size=1, max_size=10),
       st.lists(st.floats(0.001, 1), min_size=1, max_size=6))
def test_allocated_revenue_sums_to_revenue(revenue, weights):
    total = math.fsum(weights)
    shares = {f"use{i}": w / total for i, w in enumerate(weights)}
    if abs(math.fsum(shares.values()) - 1) > 1e-9:
        return
    table = allocate_revenue(revenue, shares)
    for year, amount in table.groupby("year")["amount_usd"].sum().items():
        assert math.isclose(amount, revenue[year], rel_tol=1e-9, abs_tol=1e-6)


def test_financial_sustainability():
    table = financial_sustainability({2020: 100, 2021: 100, 2022: 50}, {2020: 80, 2021: 110, 2022: 60, 2023: 10})
    # balances 100−80 = 20, 100−110 = −10, 50−60 = −10, 0−10 = −10; cumulative 20, 10, 0, −10
    assert list(table["balance_usd"]) == [20, -10, -10, -10]
    assert list(table["cumulative_balance_usd"]) == [20, 10, 0, -10]
    # coverage 100/80 = 1.25, 100/110 = 0.909, 50/60 = 0.833, 0/10 = 0
    assert [round(x, 3) for x in table["coverage_ratio"]] == [1.25, 0.909, 0.833, 0.0]
    assert table.attrs["first_deficit_year"] == 2021
    assert table.attrs["first_cumulative_deficit_year"] == 2023
    ok = financial_sustainability({2020: 10}, {2020: 5})
    assert ok.attrs["first_deficit_year"] is None and ok.attrs["first_cumulative_deficit_year"] is None


def test_npv_by_hand():
    # 3 years of 100 at 10 % from 2020: 100/1.1 + 100/1.21 + 100/1.331 = 90.909 + 82.645 + 75.131 = 248.685
    assert math.isclose(npv({2021: 100, 2022: 100, 2023: 100}, 0.10, 2020), 248.68519909842224)
    # −100 now and 110 in a year at 10 %: 0
    assert math.isclose(npv({2020: -100, 2021: 110}, 0.10, 2020), 0, abs_tol=1e-12)
    # a year before the base is compounded: 100 × 1.1
    assert math.isclose(npv({2019: 100}, 0.10, 2020), 110)
    with pytest.raises(InputError, match="discount rate"):
        npv({2021: 1}, -1.5, 2020)


def test_opportunity_cost_by_hand():
    coffee = LandUseEconomics("coffee", 1000.0, establishment_cost_usd_per_ha=1000.0, years_to_first_revenue=1)
    # alternative: −1000 + 0/1.1 + 1000/1.21 + 1000/1.331 = −1000 + 826.446 + 751.315 = 577.761
    # forest: 50 × (1/1.1 + 1/1.21 + 1/1.331) = 50 × 2.486852 = 124.343
    # opportunity cost 577.761 − 124.343 = 453.418 USD/ha
    expected = -1000 + 1000 / 1.21 + 1000 / 1.331 - 50 * ANNUITY_3Y_10PCT
    assert math.isclose(expected, 453.418, abs_tol=1e-3)
    assert math.isclose(opportunity_cost_per_ha(coffee, 50.0, 0.10, 3), expected)
    # revenue by year after clearing: year 2 earns 500, year 3 earns 800, year 1 is missing (0)
    variable = LandUseEconomics("coffee", {2: 500.0, 3: 800.0})
    assert math.isclose(opportunity_cost_per_ha(variable, 0.0, 0.10, 3), 500 / 1.21 + 800 / 1.331)
    as_list = LandUseEconomics("coffee", [0.0, 500.0, 800.0])
    assert math.isclose(opportunity_cost_per_ha(as_list, 0.0, 0.10, 3), 500 / 1.21 + 800 / 1.331)
    with pytest.raises(InputError, match="whole number of years"):
        opportunity_cost_per_ha(coffee, 0.0, 0.1, 0)


def test_break_even_price_by_hand():
    # credits = 100 × (1 − 0.10) × (1 − 0.20) = 72 a year for 2021-2023; PV at 10 % from 2020 = 72 × 2.486852
    # = 179.0533; price = 1000 / 179.0533 = 5.5849 USD/tCO2e
    price = break_even_carbon_price(1000.0, {2021: 100, 2022: 100, 2023: 100}, 0.10, 2020, buffer_pct=20,
                                    uncertainty_deduction_pct=10)
    assert math.isclose(price, 1000 / (72 * ANNUITY_3Y_10PCT))
    assert math.isclose(price, 5.5849, abs_tol=1e-4)
    # check: at that price the credits' revenue has the cost's present value
    assert math.isclose(npv({y: 72 * price for y in (2021, 2022, 2023)}, 0.10, 2020), 1000)
    with pytest.raises(InputError, match="no credits"):
        break_even_carbon_price(1000.0, {2021: 0}, 0.1, 2020, 20, 10)
    with pytest.raises(InputError, match="buffer"):
        break_even_carbon_price(1000.0, {2021: 100}, 0.1, 2020, 100, 10)


def test_land_use_from_a_config_option():
    class Option:  # the attribute names of icam.pipeline.config's LandUseOption
        name, net_revenue_usd_per_ha_yr = "pasture", 80.0
        establishment_cost_usd_per_ha, years_to_first_revenue = 300.0, 0

    pasture = LandUseEconomics.from_option(Option())
    assert pasture.revenue(1) == 80.0 and pasture.establishment_cost_usd_per_ha == 300.0
