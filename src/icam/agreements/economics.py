"""The money of a REDD+ project's agreements: credit revenue, its allocation, whether it pays for the
agreements, and what conserving a hectare costs.

Formulas and sources:

- Revenue of a sale = quantity (tCO2e) × price (USD/tCO2e); a vintage's sales cannot exceed the credits
  issued for it (standard).
- Allocation: amount of use u in year y = revenue_y × share_u, with Σ_u share_u = 1 (a benefit-sharing
  plan's shares; standard).
- Financial sustainability, year by year: balance_y = revenue_y − cost_y, cumulative balance
  B_y = Σ_{t ≤ y} balance_t, coverage ratio = revenue_y / cost_y (standard).
- Net present value (standard end-of-year discounting): NPV = Σ_y CF_y / (1 + r)^(y − y0), with y0
  the base year (undiscounted) and r the annual discount rate.
- Opportunity cost of conservation per hectare: the net present value of the most profitable
  alternative land use forgone minus that of keeping the forest (Börner & Wunder 2008, "Paying for
  avoided deforestation in the Brazilian Amazon: from cost assessment to scheme design",
  International Forestry Review 10(3):496–511; Pagiola & Bosquet 2009, "Estimating the costs of REDD
  at the country level", Forest Carbon Partnership Facility, World Bank):
  OC = [−K + Σ_{t=1..H} R_t / (1 + r)^t] − Σ_{t=1..H} F / (1 + r)^t, with K the establishment
  (clearing and planting) cost paid at t = 0, R_t the alternative's net revenue in year t after
  clearing (0 before its first revenue), F the forest's net revenue per year, H the horizon.
- Break-even carbon price: the price p at which the present value of the credit revenue equals the
  present value of the costs, p = PV(costs) / PV(credits), with credits_y = avoided_y × (1 − u) ×
  (1 − b) (u the uncertainty deduction, b the non-permanence buffer withholding; VCS Methodology
  Requirements and AFOLU Non-Permanence Risk Tool as applied in :mod:`icam.carbon.accounting`) and
  PV(credits) = Σ_y credits_y / (1 + r)^(y − y0) (standard).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from icam.core.errors import InputError

SHARE_TOLERANCE = 1e-9


def _finite(value, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} is {value!r}, not a number", "give a number") from None
    if not math.isfinite(x):
        raise InputError(f"{what} is {value!r}", "give a finite number")
    return x


def _rate(rate: float) -> float:
    r = _finite(rate, "the discount rate")
    if r <= -1:
        raise InputError(f"the discount rate is {r}", "give it as a share above −1, e.g. 0.08 for 8 %")
    return r


# ------------------------------------------------------------------------------------------- revenue


def revenue_by_vintage(credits_by_vintage: Mapping[int, int], sales: Sequence[tuple]) -> pd.DataFrame:
    """Credits sold and revenue per vintage.

    ``credits_by_vintage``: vintage → credits issued (tCO2e). ``sales``: (vintage, quantity,
    price_usd_per_t, sold_on) tuples. Refused: a sale of a vintage never issued, a quantity ≤ 0, a
    negative price, and sales of a vintage that add up to more than its credits.

    One row per vintage (ascending): ``vintage``, ``credits``, ``sold``, ``unsold``, ``revenue_usd``
    (Σ quantity × price), ``average_price_usd_per_t`` (revenue / sold; NaN where nothing sold),
    ``n_sales``, ``first_sale``, ``last_sale`` (dates or None).
    """
    credits = {}
    for v, c in credits_by_vintage.items():
        c = _finite(c, f"the credits of vintage {v}")
        if c < 0:
            raise InputError(f"vintage {v} has {c:g} credits", "credits issued cannot be negative")
        credits[int(v)] = c
    sold = {v: 0.0 for v in credits}
    revenue = {v: 0.0 for v in credits}
    dates: dict[int, list[dt.date]] = {v: [] for v in credits}
    for k, sale in enumerate(sales):
        try:
            vintage, quantity, price, sold_on = sale
        except (TypeError, ValueError):
            raise InputError(f"sale {k + 1} is {sale!r}",
                             "give (vintage, quantity, price_usd_per_t, sold_on)") from None
        vintage = int(vintage)
        if vintage not in credits:
            raise InputError(f"sale {k + 1} sells vintage {vintage}, which has no credits",
                             f"vintages with credits: {', '.join(map(str, sorted(credits))) or 'none'}")
        quantity = _finite(quantity, f"the quantity of sale {k + 1}")
        price = _finite(price, f"the price of sale {k + 1}")
        if quantity <= 0:
            raise InputError(f"sale {k + 1} sells {quantity:g} credits", "give a quantity > 0")
        if price < 0:
            raise InputError(f"sale {k + 1} has price {price:g} USD/t", "give a price ≥ 0")
        sold[vintage] += quantity
        revenue[vintage] += quantity * price
        dates[vintage].append(pd.Timestamp(sold_on).date())
    over = [v for v in credits if sold[v] > credits[v]]
    if over:
        v = over[0]
        raise InputError(f"the sales of vintage {v} add up to {sold[v]:g} credits, more than the {credits[v]:g} issued",
                         "a vintage's credits can be sold once: correct the quantities or the vintage")
    rows = [{"vintage": v, "credits": credits[v], "sold": sold[v], "unsold": credits[v] - sold[v],
             "revenue_usd": revenue[v], "average_price_usd_per_t": revenue[v] / sold[v] if sold[v] else math.nan,
             "n_sales": len(dates[v]), "first_sale": min(dates[v]) if dates[v] else None,
             "last_sale": max(dates[v]) if dates[v] else None} for v in sorted(credits)]
    return pd.DataFrame(rows, columns=["vintage", "credits", "sold", "unsold", "revenue_usd", "average_price_usd_per_t",
                                       "n_sales", "first_sale", "last_sale"])


def revenue_by_year(sales: Sequence[tuple]) -> dict[int, float]:
    """Revenue (USD) by calendar year of sale, from (vintage, quantity, price_usd_per_t, sold_on) tuples."""
    out: dict[int, float] = {}
    for _vintage, quantity, price, sold_on in sales:
        year = pd.Timestamp(sold_on).year
        out[year] = out.get(year, 0.0) + float(quantity) * float(price)
    return dict(sorted(out.items()))


def _check_shares(rules: Mapping[str, float]) -> dict[str, float]:
    if not rules:
        raise InputError("no revenue shares given", "give shares such as agreements, enforcement, monitoring, reserve")
    shares = {str(k): _finite(v, f"the share of {k}") for k, v in rules.items()}
    bad = [k for k, v in shares.items() if not 0 <= v <= 1]
    if bad:
        raise InputError(f"the share of {bad[0]} is {shares[bad[0]]:g}", "give each share between 0 and 1")
    total = math.fsum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise InputError(f"the revenue shares sum to {total:.12g}, not 1",
                         "make the shares of agreements, enforcement, monitoring, reserve (...) add up to 1")
    return shares


def allocate_revenue(revenue_by_year: Mapping[int, float], rules: Mapping[str, float]) -> pd.DataFrame:
    """The revenue of each year split by use: amount = revenue × share (module docstring).

    ``rules``: use → share (e.g. agreements, enforcement, monitoring, reserve), each in [0, 1], summing
    to 1 within 1e-9 (refused otherwise). Amounts are not rounded (round for display only), so each
    year's amounts add up to its revenue.

    Long table, one row per year and use (years ascending, uses in the order given): ``year``, ``use``,
    ``share``, ``amount_usd``.
    """
    shares = _check_shares(rules)
    rows = []
    for year in sorted(revenue_by_year):
        revenue = _finite(revenue_by_year[year], f"the revenue of {year}")
        for use, share in shares.items():
            rows.append({"year": int(year), "use": use, "share": share, "amount_usd": revenue * share})
    return pd.DataFrame(rows, columns=["year", "use", "share", "amount_usd"])


def financial_sustainability(revenue_for_agreements_by_year: Mapping[int, float],
                             agreement_costs_by_year: Mapping[int, float]) -> pd.DataFrame:
    """Does the revenue allocated to the agreements pay for them, year by year?

    Years are the union of both mappings (a missing year counts 0). Columns: ``year``,
    ``revenue_usd``, ``cost_usd``, ``balance_usd`` = revenue − cost, ``cumulative_balance_usd`` (running
    sum of the balances: a surplus carried forward as a reserve), ``coverage_ratio`` = revenue / cost
    (inf with revenue and no cost, NaN with neither), ``deficit`` (balance < 0), ``cumulative_deficit``
    (cumulative balance < 0).

    ``attrs["first_deficit_year"]``: the first year whose costs exceed its revenue, and
    ``attrs["first_cumulative_deficit_year"]``: the first year in which the accumulated surplus no
    longer covers them (None where never).
    """
    years = sorted(set(map(int, revenue_for_agreements_by_year)) | set(map(int, agreement_costs_by_year)))
    revenue = [_finite(revenue_for_agreements_by_year.get(y, 0.0), f"the revenue of {y}") for y in years]
    cost = [_finite(agreement_costs_by_year.get(y, 0.0), f"the cost of {y}") for y in years]
    if any(c < 0 for c in cost):
        raise InputError("an agreement cost is negative", "give costs ≥ 0")
    df = pd.DataFrame({"year": years, "revenue_usd": revenue, "cost_usd": cost}, columns=["year", "revenue_usd",
                                                                                            "cost_usd"])
    df["balance_usd"] = df["revenue_usd"] - df["cost_usd"]
    df["cumulative_balance_usd"] = df["balance_usd"].cumsum()
    df["coverage_ratio"] = [r / c if c > 0 else (math.inf if r > 0 else math.nan) for r, c in zip(revenue, cost)]
    df["deficit"] = df["balance_usd"] < 0
    df["cumulative_deficit"] = df["cumulative_balance_usd"] < 0
    first = df.loc[df["deficit"], "year"]
    first_cum = df.loc[df["cumulative_deficit"], "year"]
    df.attrs["first_deficit_year"] = int(first.iloc[0]) if len(first) else None
    df.attrs["first_cumulative_deficit_year"] = int(first_cum.iloc[0]) if len(first_cum) else None
    return df


# ------------------------------------------------------------------------------------------- costs


def npv(cashflows_by_year: Mapping[int, float], rate: float, base_year: int) -> float:
    """Net present value, USD: Σ_y CF_y / (1 + r)^(y − base_year) (standard end-of-year discounting; the
    base year is not discounted, an earlier year is compounded)."""
    r = _rate(rate)
    return math.fsum(_finite(cf, f"the cash flow of {y}") / (1 + r) ** (int(y) - int(base_year))
                     for y, cf in cashflows_by_year.items())


@dataclass(frozen=True)
class LandUseEconomics:
    """A land use that would replace a hectare of forest (the fields of icam.toml's ``[[agreements.alternatives]]``).

    net_revenue_usd_per_ha_yr: net revenue once producing, USD/ha/yr: a constant, or year after
        clearing (1, 2, ...) → value (a missing year earns 0), or a sequence for years 1, 2, ...
    establishment_cost_usd_per_ha: clearing and planting, paid at clearing (year 0).
    years_to_first_revenue: years after clearing without revenue (coffee: 2–3).
    """

    name: str
    net_revenue_usd_per_ha_yr: float | Mapping[int, float] | Sequence[float]
    establishment_cost_usd_per_ha: float = 0.0
    years_to_first_revenue: int = 0

    @classmethod
    def from_option(cls, option) -> "LandUseEconomics":
        """From an object with the same attribute names (e.g. an [[agreements.alternatives]] entry of icam.toml)."""
        return cls(option.name, option.net_revenue_usd_per_ha_yr, option.establishment_cost_usd_per_ha,
                   option.years_to_first_revenue)

    def revenue(self, t: int) -> float:
        """Net revenue in year t after clearing (t ≥ 1), USD/ha."""
        if t <= self.years_to_first_revenue:
            return 0.0
        r = self.net_revenue_usd_per_ha_yr
        if isinstance(r, Mapping):
            return _finite(r.get(t, 0.0), f"{self.name}'s revenue in year {t}")
        if isinstance(r, Sequence) and not isinstance(r, str):
            return _finite(r[t - 1], f"{self.name}'s revenue in year {t}") if t <= len(r) else 0.0
        return _finite(r, f"{self.name}'s net revenue")


def opportunity_cost_per_ha(land_use: LandUseEconomics, forest_net_revenue_per_ha: float, rate: float,
                            horizon_years: int) -> float:
    """USD/ha: NPV of the alternative land use minus NPV of the standing forest over ``horizon_years``
    (Börner & Wunder 2008; Pagiola & Bosquet 2009; module docstring):

    OC = −K + Σ_{t=1..H} R_t / (1 + r)^t − Σ_{t=1..H} F / (1 + r)^t.

    Negative where the forest pays more than the alternative (nothing to compensate).
    """
    r = _rate(rate)
    if int(horizon_years) != horizon_years or horizon_years < 1:
        raise InputError(f"the horizon is {horizon_years} years", "give a whole number of years ≥ 1")
    if land_use.years_to_first_revenue < 0:
        raise InputError(f"{land_use.name}: years to first revenue is {land_use.years_to_first_revenue}",
                         "give 0 or more years")
    k = _finite(land_use.establishment_cost_usd_per_ha, f"{land_use.name}'s establishment cost")
    f = _finite(forest_net_revenue_per_ha, "the forest's net revenue")
    h = int(horizon_years)
    alternative = -k + math.fsum(land_use.revenue(t) / (1 + r) ** t for t in range(1, h + 1))
    forest = math.fsum(f / (1 + r) ** t for t in range(1, h + 1))
    return alternative - forest


def break_even_carbon_price(agreement_cost_pv_usd: float, avoided_emissions_tco2e_by_year: Mapping[int, float],
                            rate: float, base_year: int, buffer_pct: float, uncertainty_deduction_pct: float) -> float:
    """USD per tCO2e at which the present value of the credits' revenue equals that of the costs:

    p = PV(costs) / Σ_y credits_y / (1 + r)^(y − base_year), credits_y = avoided_y × (1 − u/100) × (1 − b/100),

    with u = ``uncertainty_deduction_pct`` and b = ``buffer_pct`` in percent (module docstring). Credits are
    taken as continuous (no rounding to whole credits). Refused where no credit is earned.
    """
    r = _rate(rate)
    cost = _finite(agreement_cost_pv_usd, "the present value of the costs")
    b = _finite(buffer_pct, "the buffer")
    u = _finite(uncertainty_deduction_pct, "the uncertainty deduction")
    for what, v in (("buffer", b), ("uncertainty deduction", u)):
        if not 0 <= v < 100:
            raise InputError(f"the {what} is {v:g} %", "give a percentage in [0, 100), e.g. 15 for 15 %")
    net = (1 - u / 100) * (1 - b / 100)
    pv_credits = math.fsum(_finite(e, f"the avoided emissions of {y}") * net / (1 + r) ** (int(y) - int(base_year))
                           for y, e in avoided_emissions_tco2e_by_year.items())
    if pv_credits <= 0:
        raise InputError("the avoided emissions earn no credits (present value ≤ 0)",
                         "give the avoided emissions (tCO2e) by year")
    return cost / pv_credits
