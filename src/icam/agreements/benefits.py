"""The benefits an agreement promises, what is due once a breach's sanction is applied (:func:`benefits_due`),
and their delivery (:func:`delivery_balance`). Money in US dollars; years are calendar years."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from icam.agreements.periods import days_in_year, overlap_days, to_date
from icam.core.errors import InputError

SANCTIONS = ("suspend_next_period", "reduce_half", "none")


def _sanction_years(statuses: pd.DataFrame) -> dict[str, dict[int, str]]:
    """agreement → {year: the breach period that sanctions it}: the loss years of the period after each
    breach period (the next period in ``statuses``; after the last one, a period of the same length
    starting the day after it ends)."""
    periods = sorted({(to_date(s, "period_start"), to_date(e, "period_end"))
                      for s, e in zip(statuses["period_start"], statuses["period_end"])})
    nxt = {}
    for i, (s, e) in enumerate(periods):
        if i + 1 < len(periods):
            nxt[(s, e)] = periods[i + 1]
        else:
            nxt[(s, e)] = (e + dt.timedelta(days=1), e + (e - s) + dt.timedelta(days=1))
    out: dict[str, dict[int, str]] = {}
    for row in statuses[statuses["status"] == "breach"].itertuples(index=False):
        key = (to_date(row.period_start, "period_start"), to_date(row.period_end, "period_end"))
        ns, ne = nxt[key]
        years = [y for y in range(ns.year, ne.year + 1) if 2 * overlap_days(ns, ne, y) > days_in_year(y)]
        for y in years:
            out.setdefault(row.agreement, {}).setdefault(y, f"{key[0]} – {key[1]}")
    return out


def benefits_due(schedule: pd.DataFrame, statuses: pd.DataFrame,
                 rules: Mapping[str, str] | str = "suspend_next_period") -> pd.DataFrame:
    """Benefits promised per agreement, year and item, and what is due after the breach sanctions.

    ``schedule``: columns ``agreement``, ``item``, ``quantity_per_year``, ``unit_cost_usd``,
    ``first_year``, ``last_year`` (both inclusive): the package the agreement promises each year.
    ``statuses``: :func:`assess_compliance`'s table (``agreement``, ``period_start``, ``period_end``,
    ``status``).
    ``rules``: the sanction of a breach, one for all or per agreement (missing: ``none``):

    - ``suspend_next_period``: nothing is due in the sanctioned years (factor 0);
    - ``reduce_half``: half of each item is due in them (factor 0.5; an indivisible item's half is
      an entitlement to half its value);
    - ``none``: the breach costs no benefit (factor 1).

    A breach in monitoring period P (final status ``breach`` only: a ``to_verify`` costs nothing
    until settled) sanctions the years of the next period, P+1, that is the calendar years whose
    majority of days P+1 holds (the same rule as the loss years); after the last period of
    ``statuses``, P+1 is a period of P's length starting the day after P ends. With the Alto Mayo
    periods a breach in 2014-06-15 – 2016-06-14 sanctions 2016 and 2017. A year sanctioned by two
    breaches is sanctioned once.

    One row per agreement, year and item: ``agreement``, ``year``, ``item``, ``quantity_promised``,
    ``value_promised_usd`` (= quantity × unit cost), ``factor``, ``quantity_due``, ``value_due_usd``
    (= promised × factor), ``sanction`` (the breach period, or empty).
    """
    missing = [c for c in ("agreement", "item", "quantity_per_year", "unit_cost_usd", "first_year", "last_year")
               if c not in schedule.columns]
    if missing:
        raise InputError(f"the benefit schedule has no column(s) {', '.join(missing)}",
                         "give agreement, item, quantity_per_year, unit_cost_usd, first_year, last_year")
    if isinstance(rules, str):
        rule_of = {a: rules for a in schedule["agreement"].unique()}
    else:
        rule_of = dict(rules)
    bad = {r for r in rule_of.values() if r not in SANCTIONS}
    if bad:
        raise InputError(f"unknown breach rule(s) {', '.join(sorted(bad))}", f"use one of {', '.join(SANCTIONS)}")
    qty = schedule["quantity_per_year"].astype(float).to_numpy()
    cost = schedule["unit_cost_usd"].astype(float).to_numpy()
    first = schedule["first_year"].astype(int).to_numpy()
    last = schedule["last_year"].astype(int).to_numpy()
    if (qty < 0).any() or (cost < 0).any():
        raise InputError("the benefit schedule has a negative quantity or unit cost", "give quantities and costs ≥ 0")
    if (last < first).any():
        k = int(np.flatnonzero(last < first)[0])
        raise InputError(f"benefit schedule row {k + 1} ends ({last[k]}) before it starts ({first[k]})",
                         "check first_year and last_year")
    n_years = last - first + 1
    rep = np.repeat(np.arange(len(schedule)), n_years)
    years = first[rep] + (np.arange(rep.size) - np.repeat(np.cumsum(n_years) - n_years, n_years))
    agreements = schedule["agreement"].to_numpy()[rep]
    sanctions = _sanction_years(statuses) if len(statuses) else {}
    factor_of = {"suspend_next_period": 0.0, "reduce_half": 0.5, "none": 1.0}
    factor = np.ones(rep.size)
    sanction = np.full(rep.size, "", dtype=object)
    for k, (a, y) in enumerate(zip(agreements, years)):
        period = sanctions.get(a, {}).get(int(y))
        if period is not None:
            r = rule_of.get(a, "none")
            factor[k] = factor_of[r]
            if r != "none":
                sanction[k] = f"{r.replace('_', ' ')}: breach in {period}"
    out = pd.DataFrame({"agreement": agreements, "year": years.astype(int), "item": schedule["item"].to_numpy()[rep],
                        "quantity_promised": qty[rep], "value_promised_usd": qty[rep] * cost[rep], "factor": factor})
    out["quantity_due"] = out["quantity_promised"] * factor
    out["value_due_usd"] = out["value_promised_usd"] * factor
    out["sanction"] = sanction
    return out.sort_values(["agreement", "year", "item"], kind="stable").reset_index(drop=True)


def delivery_balance(due: pd.DataFrame, deliveries: pd.DataFrame, *, as_of: dt.date | str | None = None
                     ) -> pd.DataFrame:
    """Due, delivered and outstanding benefits per agreement and item.

    ``due``: :func:`benefits_due`'s table. ``deliveries``: columns ``agreement``, ``item``,
    ``delivered_on`` (date), ``quantity``, ``value_usd``. ``as_of`` (optional): count only the years up
    to its year and the deliveries up to that day.

    One row per agreement and item (those due, then those delivered but never due), columns:
    ``agreement``, ``item``, ``quantity_due``, ``value_due_usd``, ``quantity_delivered``,
    ``value_delivered_usd``, ``quantity_outstanding`` = max(due − delivered, 0),
    ``value_outstanding_usd`` = max(due − delivered, 0) (never negative), ``quantity_over_delivered``
    = max(delivered − due, 0), ``value_over_delivered_usd`` likewise: over-delivery is reported apart,
    never netted against another item or agreement. So delivered + outstanding ≥ due always.
    """
    missing = [c for c in ("agreement", "item", "delivered_on", "quantity", "value_usd") if c not in deliveries.columns]
    if missing:
        raise InputError(f"the deliveries have no column(s) {', '.join(missing)}",
                         "give agreement, item, delivered_on, quantity, value_usd")
    deliveries = deliveries.copy()
    days = [to_date(v, f"delivery {k + 1} delivered_on") for k, v in enumerate(deliveries["delivered_on"])]
    deliveries["delivered_on"] = days
    deliveries["quantity"] = deliveries["quantity"].astype(float)
    deliveries["value_usd"] = deliveries["value_usd"].astype(float)
    if (deliveries["quantity"] < 0).any() or (deliveries["value_usd"] < 0).any():
        raise InputError("a delivery has a negative quantity or value", "record returns as corrections, not negatives")
    due = due.copy()
    if as_of is not None:
        as_of = to_date(as_of, "as_of")
        due = due[due["year"] <= as_of.year]
        deliveries = deliveries[deliveries["delivered_on"] <= as_of]
    d = due.groupby(["agreement", "item"], sort=False)[["quantity_due", "value_due_usd"]].sum()
    g = deliveries.groupby(["agreement", "item"], sort=False)[["quantity", "value_usd"]].sum()
    g.columns = ["quantity_delivered", "value_delivered_usd"]
    out = d.join(g, how="outer", sort=False).fillna(0.0)
    order = list(d.index) + [k for k in g.index if k not in d.index]
    out = out.loc[order] if order else out
    out["quantity_outstanding"] = (out["quantity_due"] - out["quantity_delivered"]).clip(lower=0)
    out["value_outstanding_usd"] = (out["value_due_usd"] - out["value_delivered_usd"]).clip(lower=0)
    out["quantity_over_delivered"] = (out["quantity_delivered"] - out["quantity_due"]).clip(lower=0)
    out["value_over_delivered_usd"] = (out["value_delivered_usd"] - out["value_due_usd"]).clip(lower=0)
    out = out.reset_index()
    return out[["agreement", "item", "quantity_due", "value_due_usd", "quantity_delivered", "value_delivered_usd",
                "quantity_outstanding", "value_outstanding_usd", "quantity_over_delivered", "value_over_delivered_usd"]]


__all__ = ["SANCTIONS", "benefits_due", "delivery_balance"]
