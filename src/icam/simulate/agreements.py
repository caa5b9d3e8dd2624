"""The demo's history of the conservation agreements: benefit packages, deliveries, field visits, grievances.

:func:`write_agreement_history` writes, under ``inputs/agreements/``, what the field office of the
simulated project would hold (all SIMULATED):

- ``benefit_schedule.csv``: every agreement's package, per year in force: 4 coffee
  technical-assistance visits (USD 30 each), 10 sacks of organic fertiliser (USD 18), one pruning-tool
  kit in the first year (USD 45), an improved cookstove in the first year for agreements signed from
  2014 on (USD 95);
- ``deliveries.csv``: a KoboToolbox-style export (group-prefixed columns, ``_uuid``,
  ``_submission_time``) of the deliveries: each scheduled item is delivered in its year with
  probability 0.9 (visits: a Binomial(4, 0.85) count), on a random day; a household whose breach the
  field office found gets nothing in the loss years of the monitoring period after the one holding the
  breach (the agreements' rule ``suspend_next_period``, :func:`icam.agreements.compliance.benefits_due`);
- ``field_verifications.csv``: a visit to every breaching household the year after its breach
  (finding ``cleared``, with the true cleared area), and to 2 % of the complying households a year
  (``not_cleared``);
- ``grievances.csv``: a few complaints about late deliveries.

Agreements run 5 years and 90 % are renewed for 5 more (``renewed_until``); the truth of who breached
is ``truth/households.csv``. Everything is drawn from ``numpy.random.default_rng([seed, 6101])``.
"""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from icam.agreements.compliance import period_loss_years
from icam.core.atomic import atomic_path

FOLDER = Path("inputs/agreements")
LAST_YEAR = 2024
RENEWAL_SHARE = 0.90
DELIVERY_PROBABILITY = 0.90
VISITS_PER_YEAR, VISIT_PROBABILITY = 4, 0.85
CONTROL_VISIT_SHARE = 0.02
COMMITMENTS = ("no_clearing_primary_forest; no_coffee_expansion; no_hunting_endangered_species; support_patrols; "
               "report_new_migrants")
PACKAGE = (  # item, unit, quantity per year, unit cost USD, first year only, from wave
    ("coffee technical assistance", "visit", VISITS_PER_YEAR, 30.0, False, 0),
    ("organic fertiliser", "sack", 10, 18.0, False, 0),
    ("pruning tools", "kit", 1, 45.0, True, 0),
    ("improved cookstove", "stove", 1, 95.0, True, 2014),
)


def _write(path: Path, rows: Sequence[dict], columns: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _years_in_force(signed: dt.date, until: dt.date) -> range:
    return range(signed.year, min(until.year, LAST_YEAR) + 1)


def _schedule(agreements: Sequence[dict], until: dict[str, dt.date]) -> list[dict]:
    rows = []
    for a in agreements:
        signed = dt.date.fromisoformat(a["signed"])
        last = min(until[a["agreement_id"]].year, LAST_YEAR)
        for item, unit, qty, cost, first_only, from_wave in PACKAGE:
            if int(a["wave"]) < from_wave:
                continue
            rows.append({"agreement_id": a["agreement_id"], "item": item, "unit": unit, "quantity_per_year": qty,
                         "unit_cost_usd": cost, "first_year": signed.year,
                         "last_year": signed.year if first_only else last})
    return rows


def _day(rng: np.random.Generator, year: int) -> dt.date:
    return dt.date(year, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))


def _deliveries(rng, schedule: list[dict], suspended: dict[str, set[int]]) -> list[dict]:
    rows = []
    for s in schedule:
        for year in range(s["first_year"], s["last_year"] + 1):
            if year in suspended.get(s["agreement_id"], set()):
                continue
            if s["unit"] == "visit":
                qty = int(rng.binomial(VISITS_PER_YEAR, VISIT_PROBABILITY))
            else:
                qty = s["quantity_per_year"] if rng.random() < DELIVERY_PROBABILITY else 0
            if qty == 0:
                continue
            day = _day(rng, year)
            rows.append({"_uuid": str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63)))),
                         "_submission_time": f"{day.isoformat()}T{int(rng.integers(8, 18)):02d}:00:00",
                         "delivery/agreement_id": s["agreement_id"], "delivery/item": s["item"],
                         "delivery/delivered_on": day.isoformat(), "delivery/quantity": qty,
                         "delivery/value_usd": round(qty * s["unit_cost_usd"], 2)})
    return rows


def _next_period_years(periods: Sequence[tuple[dt.date, dt.date]], year: int) -> set[int]:
    """The loss years of the monitoring period after the one that holds ``year`` (the same length after the last)."""

    spans = [(first, last) for _, _, first, last in period_loss_years(periods)]
    k = next((i for i, (first, last) in enumerate(spans) if first <= year <= last), None)
    if k is None:
        return set()
    if k + 1 < len(spans):
        return set(range(spans[k + 1][0], spans[k + 1][1] + 1))
    first, last = spans[k]
    return set(range(last + 1, last + 1 + last - first + 1))


def write_agreement_history(out_dir: Path, agreements: Sequence[dict], truth: Sequence[dict], seed: int,
                            periods: Sequence[tuple[dt.date, dt.date]]) -> dict:
    """Write the files of the module docstring; returns their relative paths and a summary for the truth.
    ``periods``: the monitoring periods, for the breach rule's suspension."""
    rng = np.random.default_rng([seed, 6101])
    until = {}
    for a in agreements:
        signed = dt.date.fromisoformat(a["signed"])
        years = int(a["term_years"]) * (2 if rng.random() < RENEWAL_SHARE else 1)
        until[a["agreement_id"]] = signed.replace(year=signed.year + years) - dt.timedelta(days=1)
        a["renewed_until"] = until[a["agreement_id"]].isoformat() if years > int(a["term_years"]) else ""
        a["commitments"] = COMMITMENTS
    by_household = {h["household_id"]: h for h in truth}
    visits, suspended = [], {}
    for a in agreements:
        hh = by_household[a["household_id"]]
        signed = dt.date.fromisoformat(a["signed"])
        if hh["behaviour"] == "breaches" and hh["breach_year"] not in (None, "") and int(hh["breach_year"]) < LAST_YEAR:
            year = int(hh["breach_year"]) + 1
            visits.append({"agreement_id": a["agreement_id"], "visited_on": _day(rng, year).isoformat(),
                           "finding": "cleared", "cleared_ha": hh["breach_area_ha"], "officer": "guardaparque 3",
                           "notes": "clearing inside the conservation area"})
            suspended[a["agreement_id"]] = _next_period_years(periods, int(hh["breach_year"]))
        for year in range(signed.year + 1, LAST_YEAR + 1):
            if hh["behaviour"] == "complies" and rng.random() < CONTROL_VISIT_SHARE:
                visits.append({"agreement_id": a["agreement_id"], "visited_on": _day(rng, year).isoformat(),
                               "finding": "not_cleared", "cleared_ha": 0.0, "officer": "guardaparque 1",
                               "notes": "routine visit"})
    schedule = _schedule(agreements, until)
    deliveries = _deliveries(rng, schedule, suspended)
    late = rng.choice(len(agreements), size=min(5, len(agreements)), replace=False) if agreements else []
    grievances = [{"agreement_id": agreements[i]["agreement_id"], "household_id": agreements[i]["household_id"],
                   "received_on": _day(rng, 2016 + k).isoformat(), "category": "late delivery",
                   "description": "fertiliser arrived after the flowering season", "status": "resolved",
                   "resolved_on": ""} for k, i in enumerate(late)]
    for g in grievances:
        g["resolved_on"] = (dt.date.fromisoformat(g["received_on"]) + dt.timedelta(days=30)).isoformat()
    folder = out_dir / FOLDER
    files = {"benefit_schedule": folder / "benefit_schedule.csv", "deliveries": folder / "deliveries.csv",
             "field_verifications": folder / "field_verifications.csv", "grievances": folder / "grievances.csv"}
    _write(files["benefit_schedule"], schedule, ["agreement_id", "item", "unit", "quantity_per_year", "unit_cost_usd",
                                                 "first_year", "last_year"])
    _write(files["deliveries"], deliveries, ["_uuid", "_submission_time", "delivery/agreement_id", "delivery/item",
                                             "delivery/delivered_on", "delivery/quantity", "delivery/value_usd"])
    _write(files["field_verifications"], sorted(visits, key=lambda v: v["visited_on"]),
           ["agreement_id", "visited_on", "finding", "cleared_ha", "officer", "notes"])
    _write(files["grievances"], grievances, ["agreement_id", "household_id", "received_on", "category", "description",
                                             "status", "resolved_on"])
    return {"files": {k: str(p.relative_to(out_dir)) for k, p in files.items()},
            "renewal_share": RENEWAL_SHARE, "delivery_probability": DELIVERY_PROBABILITY,
            "n_deliveries": len(deliveries), "n_field_visits": len(visits),
            "suspended": {k: sorted(v) for k, v in suspended.items()}}
