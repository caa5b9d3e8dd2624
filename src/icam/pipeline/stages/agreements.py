"""The agreements stages of a project run: the registry, compliance per monitoring period and benefits
(:func:`run_agreements`, the ``compliance`` stage, which needs no credits), then money (:func:`with_money`, the
``agreements`` stage, once the accounting is done).

1. The registry lives in the project's database (``PROJECT/.icam/ledger.sqlite`` or
   ``$ICAM_DATABASE_URL``). On the first run, when it holds no household, the files of
   ``[agreements]`` are imported into it (each all or nothing); afterwards the registry is the record
   and new field data come in through ``icam agreements import``.
2. Compliance (:mod:`icam.agreements.compliance`): the mapped loss in each agreement's conservation
   parcel per monitoring period while the agreement is in force, against the map's stated error (the
   user's accuracy of the loss class in the project area, the minimum mapping unit), with the field
   visits; then the benefits due under each agreement's breach rule, against the deliveries.
3. Money (:mod:`icam.agreements.economics`): credits sold (``sold_share`` of each vintage,
   ``sale_lag_years`` later, at ``price_usd_per_tco2e``), the revenue's allocation, the agreements'
   share against their costs (benefits due + ``admin_cost_usd_per_agreement_yr``) year by year; the
   opportunity cost of a hectare of forest for each alternative land use; and each agreement's
   break-even carbon price: PV of its costs / PV of the credits from the baseline deforestation its
   conservation parcel avoids (risk density × emission factor, after the deductions and buffer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from icam.agreements import compliance as cp
from icam.agreements import economics as ec
from icam.agreements import registry
from icam.agreements.models import Grievance
from icam.core.errors import InputError
from icam.core.indices import flat_indices
from icam.forest.activity import FOREST_LOSS, ZONE_CODES
from icam.forest.labels import read_labels
from icam.landscape import Landscape
from icam.landscape.vector import rasterize_ids
from icam.pipeline.config import IcamConfig
from icam.risk.matching_landscape import values_at
from icam.store.db import open_session

IMPORT_ORDER = ("households", "members", "parcels", "agreements", "benefit_schedule", "deliveries",
                "field_verifications", "grievances")
STATUSES = ("compliant", "to_verify", "breach", "not_in_force")
GEOPACKAGE = "agreements.gpkg"
DUE_TABLE = "tables/agreements_benefits_by_year.csv"


@dataclass(frozen=True, eq=False)
class AgreementsResult:
    """What the stages computed; ``summary`` is results.json's ``agreements``."""

    summary: dict
    statuses: pd.DataFrame  # one row per agreement and monitoring period
    parcels: object  # GeoDataFrame of the conservation parcels with their last status, for the report's map
    tables: dict[str, pd.DataFrame]
    agreements: object  # GeoDataFrame of the registry's agreements with their parcels, for the money


# --------------------------------------------------------------------------- registry

def seed_registry(session, config: IcamConfig) -> list:
    """Import the ``[agreements]`` files when the registry holds no household yet; the reports of what was read.
    Parcels in another CRS (an EPSG:4326 GeoJSON) are reprojected to the grid's."""

    if registry.table_counts(session).get("agr_households", 0):
        return []
    a = config.agreements
    return [registry.import_table(session, kind, getattr(a, kind), crs=config.grid.crs) for kind in IMPORT_ORDER
            if getattr(a, kind) is not None]


def _read_registry(session, crs) -> dict:
    visits = pd.DataFrame([v.__dict__ for v in registry.field_verifications(session)],
                          columns=["agreement_id", "visited_on", "finding", "cleared_ha", "officer", "notes"])
    return {"agreements": registry.agreements_with_parcels(session, crs=crs), "visits": visits,
            "schedule": registry.schedules(session), "deliveries": registry.deliveries(session),
            "counts": registry.table_counts(session), "grievances": _grievances_by_status(session)}


def _grievances_by_status(session) -> dict[str, int]:

    rows = dict(session.execute(select(Grievance.status, func.count()).group_by(Grievance.status)).all())
    return {k: int(rows.get(k, 0)) for k in ("open", "in_progress", "resolved")}


# --------------------------------------------------------------------------- compliance

def map_error(config: IcamConfig, landscape: Landscape, assessments) -> tuple[cp.MapError, str]:
    """The stated error the compliance rule uses, and where its user's accuracy comes from."""
    mmu = float(getattr(config.forest, "min_mapping_unit_ha", 0.0) or 0.0)
    pixel = float(config.grid.resolution_m)
    ua, source = config.agreements.loss_users_accuracy, "icam.toml (agreements.loss_users_accuracy)"
    if ua is None:
        ua, source = _project_loss_users_accuracy(config, assessments)
    return cp.MapError(users_accuracy=ua, min_mapping_unit_ha=mmu, pixel_size_m=pixel), source


def _project_loss_users_accuracy(config: IcamConfig, assessments) -> tuple[float, str]:
    """User's accuracy of the loss class in the project area: the labelled share of the project's mapped-loss
    stratum (strata by zone), pooled over the monitoring assessments; else the zone-wide estimate."""

    if not assessments:
        raise InputError("agreements: no user's accuracy of the loss class",
                         "give agreements.loss_users_accuracy, or [activity_data] assessments")
    project_stratum = FOREST_LOSS + 10 * next(k for k, v in ZONE_CODES.items() if v == "project_area")
    hits = n = 0
    for a, cfg in zip(assessments, config.activity_data.assessments):
        if a.start_year < config.periods.project_start.year:
            continue
        t = read_labels(cfg.samples)
        in_stratum = t["stratum"] == project_stratum
        hits += int((t.loc[in_stratum, "ref_class"] == FOREST_LOSS).sum())
        n += int(in_stratum.sum())
    if n:
        return hits / n, f"labelled sample of the project area's mapped loss ({hits} of {n} points are loss)"
    last = assessments[-1]
    return float(last.estimate.users_accuracy[FOREST_LOSS]), f"{last.name}, whole {last.zone}"


def _compliance(config, landscape, reg: dict, error: cp.MapError) -> pd.DataFrame:
    ags = reg["agreements"]
    parcels = ags[["conservation_parcel_id", "geometry"]].rename(columns={"conservation_parcel_id": "code"})
    since = dict(zip(ags["conservation_parcel_id"], ags["signed"]))
    until = dict(zip(ags["conservation_parcel_id"], ags["in_force_until"]))
    periods = [(p.start, p.end) for p in config.periods.monitoring]
    loss = cp.parcel_loss(parcels.set_geometry("geometry"), landscape.grid, landscape.forest, periods,
                          since=since, until=until)
    table = pd.DataFrame({"code": ags["agreement_id"], "parcel_code": ags["conservation_parcel_id"],
                          "tolerance_ha": ags["tolerance_ha"],
                          "needs_field_verification": ags["needs_field_verification"],
                          "signed": ags["signed"], "term_end": ags["in_force_until"]})
    visits = reg["visits"].rename(columns={"agreement_id": "agreement"})
    statuses = cp.assess_compliance(loss, table, error, visits if len(visits) else None)
    keys = ["parcel_code", "period_start", "period_end"]
    return statuses.merge(loss[keys + ["loss_px"]], on=keys, how="left", validate="one_to_one")


def _benefits(reg: dict, statuses: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    ags = reg["agreements"]
    schedule = reg["schedule"].rename(columns={"agreement_id": "agreement"})
    rules = dict(zip(ags["agreement_id"], ags["breach_rule"]))
    due = cp.benefits_due(schedule, statuses, rules)
    balance = cp.delivery_balance(due, reg["deliveries"].rename(columns={"agreement_id": "agreement"}))
    return due, balance


# --------------------------------------------------------------------------- money

def _credits_by_vintage(accounting) -> dict[int, int]:
    out: dict[int, int] = {}
    for p in accounting.ex_post.periods:
        for v in p.vintages:
            out[v.year] = out.get(v.year, 0) + v.credits
    return out


def _money(config, accounting, due: pd.DataFrame, ags) -> tuple[dict | None, pd.DataFrame | None]:
    revenue = config.agreements.revenue
    if revenue is None or accounting is None:
        return None, None
    credits = _credits_by_vintage(accounting)
    sales = [(v, int(n * revenue.sold_share), revenue.price_usd_per_tco2e, dt.date(v + revenue.sale_lag_years, 6, 30))
             for v, n in sorted(credits.items()) if int(n * revenue.sold_share)]
    by_year = ec.revenue_by_year(sales)
    allocation = ec.allocate_revenue(by_year, revenue.shares)
    for_agreements = allocation[allocation["use"] == "agreements"].set_index("year")["amount_usd"].to_dict()
    costs = _costs_by_year(config, due, ags)
    years = sorted(set(for_agreements) | set(costs))
    balance = ec.financial_sustainability({y: for_agreements.get(y, 0.0) for y in years},
                                          {y: costs.get(y, 0.0) for y in years})
    rows = [{"year": int(r.year), "revenue_usd": float(by_year.get(int(r.year), 0.0)),
             "agreements_usd": float(r.revenue_usd), "costs_usd": float(r.cost_usd),
             "balance_usd": float(r.balance_usd), "cumulative_usd": float(r.cumulative_balance_usd)}
            for r in balance.itertuples()]
    total_cost = sum(costs.values())
    summary = {"price_usd_per_tco2e": revenue.price_usd_per_tco2e, "sold_share": revenue.sold_share,
               "shares": dict(revenue.shares), "revenue_usd_total": float(sum(by_year.values())),
               "by_year": rows, "first_deficit_year": balance.attrs.get("first_deficit_year"),
               "coverage_ratio": float(sum(for_agreements.values()) / total_cost) if total_cost else None}
    return summary, allocation


def _costs_by_year(config, due: pd.DataFrame, ags) -> dict[int, float]:
    costs = due.groupby("year")["value_due_usd"].sum().to_dict()
    admin = config.agreements.admin_cost_usd_per_agreement_yr
    if admin:
        for signed, until in zip(ags["signed"], ags["in_force_until"]):
            for y in range(signed.year, until.year + 1):
                costs[y] = costs.get(y, 0.0) + admin
    return {int(y): float(v) for y, v in costs.items()}


def _opportunity_costs(config) -> list[dict]:
    a = config.agreements
    horizon = config.periods.crediting_period_years
    forest_npv = ec.npv({t: a.forest_net_revenue_usd_per_ha_yr for t in range(1, horizon + 1)}, a.discount_rate, 0)
    rows = []
    for option in a.alternatives:
        cost = ec.opportunity_cost_per_ha(ec.LandUseEconomics.from_option(option), a.forest_net_revenue_usd_per_ha_yr,
                                          a.discount_rate, horizon)
        rows.append({"land_use": option.name, "npv_usd_per_ha": cost + forest_npv, "forest_npv_usd_per_ha": forest_npv,
                     "opportunity_cost_usd_per_ha": cost})
    return rows


def _avoided_tco2e_per_year(landscape, risk, accounting, parcels) -> np.ndarray:
    """Baseline emissions a year inside each parcel: Σ risk density (ha/yr) × the stratum's EF (tCO2e/ha), on
    the parcels' cells only (the EF, the parcel ids and the risk as whole rasters were 1 GB at a jurisdiction)."""
    ids = rasterize_ids(parcels, landscape.grid)
    cells = flat_indices(ids > 0)
    ids = ids.ravel()[cells]
    ef = np.zeros(cells.size, dtype=np.float64)
    for s in accounting.strata:
        ef[s.mask.ravel()[cells]] = s.emission_factor.ef_tco2e_ha
    return np.bincount(ids, weights=values_at(risk.risk_ha_per_year, cells) * ef, minlength=len(parcels) + 1)[1:]


def _break_even(config, landscape, risk, accounting, ags, due: pd.DataFrame) -> pd.DataFrame | None:
    """Per agreement: avoided baseline emissions a year, PV of its costs, and its break-even carbon price."""
    if risk is None or accounting is None:
        return None
    # the share of avoided emissions that became credits so far (after leakage, the uncertainty deduction
    # and the buffer); no credits, no break-even price
    ner = sum(p.net_reductions_tco2e for p in accounting.ex_post.periods)
    credited = accounting.ex_post.totals["credits"]
    if ner <= 0 or credited <= 0:
        return None
    avoided = _avoided_tco2e_per_year(landscape, risk, accounting, ags)
    withheld_pct = 100.0 * (1.0 - credited / ner)
    cost_by_agreement = due.groupby(["agreement", "year"])["value_due_usd"].sum()
    rate, admin = config.agreements.discount_rate, config.agreements.admin_cost_usd_per_agreement_yr
    rows = []
    for a, signed, until, per_year in zip(ags["agreement_id"], ags["signed"], ags["in_force_until"], avoided):
        years = range(signed.year, until.year + 1)
        costs = {y: float(cost_by_agreement.get((a, y), 0.0)) + admin for y in years}
        cost_pv = ec.npv(costs, rate, signed.year)
        price = (ec.break_even_carbon_price(cost_pv, {y: per_year for y in years}, rate, signed.year, 0.0,
                                            withheld_pct) if per_year > 0 else None)
        rows.append({"agreement": a, "avoided_tco2e_per_yr": float(per_year), "cost_pv_usd": cost_pv,
                     "break_even_usd_per_tco2e": price})
    return pd.DataFrame(rows)


def _break_even_summary(config, table: pd.DataFrame | None) -> dict | None:
    if table is None or table["break_even_usd_per_tco2e"].isna().all():
        return None
    p = table["break_even_usd_per_tco2e"].dropna().to_numpy(dtype=float)
    price = config.agreements.revenue.price_usd_per_tco2e if config.agreements.revenue else None
    return {"median_usd_per_tco2e": float(np.median(p)), "p10_usd_per_tco2e": float(np.quantile(p, 0.1)),
            "p90_usd_per_tco2e": float(np.quantile(p, 0.9)), "n_agreements": int(p.size),
            "share_below_price": float((p <= price).mean()) if price else None}


# --------------------------------------------------------------------------- the stage

def run_agreements(config: IcamConfig, project_dir: Path, landscape: Landscape, assessments) -> AgreementsResult:
    """Seed the registry if empty, then compliance and benefits (module docstring): the money comes after the
    accounting (:func:`with_money`)."""

    with open_session(project_dir, create=True) as s:
        imported = seed_registry(s, config)
    with open_session(project_dir) as s:
        reg = _read_registry(s, landscape.grid.crs)
    if reg["agreements"].empty:
        raise InputError("agreements: the registry holds no agreement", "import agreements (icam agreements import)")
    error, ua_source = map_error(config, landscape, assessments)
    statuses = _compliance(config, landscape, reg, error)
    due, balance = _benefits(reg, statuses)
    summary = _summary(config, reg, statuses, due, balance, error, ua_source, imported)
    tables = {"tables/agreements_compliance.csv": statuses, "tables/agreements_benefits.csv": balance,
              DUE_TABLE: due}
    return AgreementsResult(summary=summary, statuses=statuses, parcels=_parcels_with_status(reg, statuses),
                            tables=tables, agreements=reg["agreements"])


def with_money(result: AgreementsResult, config: IcamConfig, landscape: Landscape, risk=None,
               accounting=None) -> AgreementsResult:
    """``result`` (:func:`run_agreements`) with the money: revenue and its allocation, opportunity costs and
    break-even carbon prices (module docstring)."""

    due = result.tables[DUE_TABLE]
    money, allocation = _money(config, accounting, due, result.agreements)
    break_even = _break_even(config, landscape, risk, accounting, result.agreements, due)
    summary = {**result.summary, "money": money, "opportunity_cost": _opportunity_costs(config),
               "break_even": _break_even_summary(config, break_even)}
    tables = dict(result.tables)
    if allocation is not None:
        tables["tables/agreements_revenue.csv"] = allocation
    if break_even is not None:
        tables["tables/agreements_break_even.csv"] = break_even
    return replace(result, summary=summary, tables=tables)


def _last_statuses(statuses: pd.DataFrame) -> pd.DataFrame:
    last_end = statuses["period_end"].max()
    return statuses[statuses["period_end"] == last_end]


def _parcels_with_status(reg: dict, statuses: pd.DataFrame):
    ags = reg["agreements"]
    last = _last_statuses(statuses).set_index("agreement")["status"]
    out = ags[["agreement_id", "household_id", "geometry"]].rename(
        columns={"agreement_id": "agreement", "household_id": "household"})
    out["status"] = out["agreement"].map(last).fillna("not_in_force")
    return out


def _counts(frame: pd.DataFrame) -> dict[str, int]:
    counts = frame["status"].value_counts()
    return {k: int(counts.get(k, 0)) for k in STATUSES}


def _summary(config, reg, statuses, due, balance, error, ua_source, imported) -> dict:
    ags = reg["agreements"]
    last = _last_statuses(statuses)
    in_force = last[last["status"] != "not_in_force"]
    area = dict(zip(ags["agreement_id"], ags["conservation_area_ha"]))
    periods = [{"start": str(start), "end": str(end), "counts": _counts(g),
                "loss_ha_in_conservation_areas": float(g["loss_ha"].sum())}
               for (start, end), g in statuses.groupby(["period_start", "period_end"], sort=True)]
    flagged = statuses[statuses["status"].isin(["to_verify", "breach"])]
    flagged = flagged.assign(_order=(flagged["status"] != "breach").astype(int)).sort_values(["_order", "loss_ha"],
                                                                                            ascending=[True, False])
    households = dict(zip(ags["agreement_id"], ags["household_id"]))
    by_item = balance.groupby("item")[["value_due_usd", "value_delivered_usd", "value_outstanding_usd"]].sum()
    promised = due.groupby("item")["value_promised_usd"].sum()
    return {
        "n_households": int(reg["counts"].get("agr_households", 0)), "n_agreements": int(len(ags)),
        "n_in_force": int(len(in_force)),
        "hectares_covered": float(sum(area[a] for a in in_force["agreement"])),
        "last_period": {"start": str(last["period_start"].iloc[0]), "end": str(last["period_end"].iloc[0])},
        "counts_by_status": _counts(last), "periods": periods,
        "map_error": {"users_accuracy": error.users_accuracy, "source": ua_source,
                      "min_mapping_unit_ha": error.min_mapping_unit_ha},
        "flagged": [{"agreement": r.agreement, "household": households[r.agreement],
                     "period_start": str(r.period_start), "period_end": str(r.period_end),
                     "loss_ha": float(r.loss_ha), "loss_px": int(r.loss_px), "status": r.status, "basis": r.basis}
                    for r in flagged.itertuples()],
        "benefits": {"promised_usd": float(due["value_promised_usd"].sum()),
                     "due_usd": float(due["value_due_usd"].sum()),
                     "delivered_usd": float(balance["value_delivered_usd"].sum()),
                     "outstanding_usd": float(balance["value_outstanding_usd"].sum()),
                     "by_item": [{"item": item, "promised_usd": float(promised.get(item, 0.0)),
                                  "due_usd": float(r.value_due_usd), "delivered_usd": float(r.value_delivered_usd),
                                  "outstanding_usd": float(r.value_outstanding_usd)}
                                 for item, r in by_item.iterrows()]},
        "grievances": reg["grievances"],
        "imported": [{"kind": r.kind, "rows": r.inserted} for r in imported],
        "files": {"geopackage": GEOPACKAGE},
    }


def write_outputs(result: AgreementsResult, project_dir: Path, out_dir: Path) -> dict[str, list[str]]:
    """The GeoPackage (parcels and agreements styled by status) and the CSV tables."""

    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    for name, frame in result.tables.items():
        frame.to_csv(out_dir / name, index=False)
    last = {a: st for a, st in zip(result.parcels["agreement"], result.parcels["status"]) if st != "not_in_force"}
    with open_session(project_dir) as s:
        registry.export_geopackage(s, out_dir / GEOPACKAGE, statuses=last)
    return {"vectors": [GEOPACKAGE], "tables": list(result.tables)}


def record(s, result: AgreementsResult) -> int:
    """Store the assessments in the registry, in the publishing transaction ``s``; returns how many."""

    rows = result.statuses[result.statuses["status"] != "not_in_force"].rename(columns={"agreement": "agreement_id"})
    return registry.record_assessments(s, rows[["agreement_id", "period_start", "period_end", "loss_px",
                                                "loss_ha", "status", "basis"]])
