"""Queries of the agreements registry: the tables the pipeline, the exports and the CLI read, and the compliance
assessments the pipeline writes (:func:`record_assessments`).

Areas are hectares, money US dollars, dates calendar dates; parcels come in the registry's CRS unless a
``crs`` is asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from icam.agreements.models import (
    COMPLIANCE_STATUSES,
    Agreement,
    BenefitSchedule,
    Commitment,
    Community,
    ComplianceAssessment,
    Delivery,
    FieldVerification,
    Grievance,
    Household,
    Member,
    Parcel,
)
from icam.core.errors import InputError
from icam.store.writes import codes, in_transaction, records


@dataclass(frozen=True)
class FieldVisit:
    """A field verification of an agreement's conservation parcel; ``cleared_ha`` in hectares."""

    agreement_id: str
    visited_on: dt.date
    finding: str
    cleared_ha: float | None
    officer: str
    notes: str | None


def table_counts(session: Session) -> dict[str, int]:
    """Rows per registry table, e.g. ``{"agr_households": 1000, ...}``."""
    models = (Community, Household, Member, Parcel, Agreement, Commitment, BenefitSchedule, Delivery,
              ComplianceAssessment, FieldVerification, Grievance)
    return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) for m in models}


def parcels(session: Session, crs=None) -> gpd.GeoDataFrame:
    """Every parcel: parcel_id, household_id, kind, area_ha, geometry (in ``crs``, default the registry's)."""
    rows = session.execute(select(Parcel.code, Household.code, Parcel.kind, Parcel.area_ha, Parcel.geometry,
                                  Parcel.crs).join(Household).order_by(Parcel.code)).all()
    frame = pd.DataFrame(rows, columns=["parcel_id", "household_id", "kind", "area_ha", "wkb", "crs"])
    target = crs if crs is not None else (frame["crs"].iloc[0] if len(frame) else None)
    parts = [gpd.GeoDataFrame(group.drop(columns=["wkb", "crs"]), geometry=shapely.from_wkb(group["wkb"].to_numpy()),
                              crs=name).to_crs(target) for name, group in frame.groupby("crs", sort=False)]
    if not parts:
        return gpd.GeoDataFrame(frame.drop(columns=["wkb", "crs"]), geometry=gpd.GeoSeries([], crs=target), crs=target)
    return pd.concat(parts).sort_values("parcel_id").reset_index(drop=True)


def agreements_table(session: Session) -> pd.DataFrame:
    """Every agreement: agreement_id, household_id, signed, term_years, renewed_until, in_force_until (the last day
    in force: renewed_until, else signed + term_years - 1 day), conservation_parcel_id, tolerance_ha,
    needs_field_verification, breach_rule, commitments (';'-joined), implementer, authority."""
    statement = (select(Agreement.code, Household.code, Agreement.signed, Agreement.term_years,
                        Agreement.renewed_until, Parcel.code, Agreement.tolerance_ha,
                        Agreement.needs_field_verification, Agreement.breach_rule, Agreement.implementer,
                        Agreement.authority)
                 .join(Household, Agreement.household_id == Household.id)
                 .join(Parcel, Agreement.conservation_parcel_id == Parcel.id).order_by(Agreement.code))
    frame = pd.DataFrame(session.execute(statement).all(), columns=[
        "agreement_id", "household_id", "signed", "term_years", "renewed_until", "conservation_parcel_id",
        "tolerance_ha", "needs_field_verification", "breach_rule", "implementer", "authority"])
    frame["in_force_until"] = [_term_end(s, t, r) for s, t, r in
                               zip(frame["signed"], frame["term_years"], frame["renewed_until"])]
    commitments = pd.DataFrame(session.execute(select(Agreement.code, Commitment.commitment).join(Agreement)
                                               .order_by(Commitment.commitment)).all(),
                               columns=["agreement_id", "commitment"])
    joined = commitments.groupby("agreement_id")["commitment"].agg(";".join)
    frame.insert(9, "commitments", [joined.get(code, "") for code in frame["agreement_id"]])
    return frame


def _term_end(signed: dt.date, term_years: int, renewed_until: dt.date | None) -> dt.date:
    if renewed_until is not None and not pd.isna(renewed_until):
        return renewed_until
    try:
        end = signed.replace(year=signed.year + int(term_years))
    except ValueError:  # signed on 29 February
        end = dt.date(signed.year + int(term_years), 3, 1)
    return end - dt.timedelta(days=1)


def agreements_with_parcels(session: Session, crs=None) -> gpd.GeoDataFrame:
    """One row per agreement (the columns of :func:`agreements_table`) with ``geometry`` its conservation parcel
    and ``conservation_area_ha``, plus ``farm_geometry`` and ``coffee_geometry``: the union of the household's
    farm (coffee) parcels, None where it has none. CRS: ``crs``, default the registry's."""
    table = agreements_table(session)
    plots = parcels(session, crs)
    conservation = plots.set_index("parcel_id")
    out = gpd.GeoDataFrame(table.assign(conservation_area_ha=table["conservation_parcel_id"].map(
        conservation["area_ha"])), geometry=table["conservation_parcel_id"].map(conservation.geometry).values,
        crs=plots.crs)
    for kind in ("farm", "coffee"):
        own = plots[plots["kind"] == kind]
        union = own.dissolve(by="household_id").geometry if len(own) else gpd.GeoSeries([], crs=plots.crs)
        out[f"{kind}_geometry"] = gpd.GeoSeries(union.reindex(out["household_id"].to_numpy()).values, crs=plots.crs,
                                                index=out.index)
    return out


def schedules(session: Session, agreements: list[str] | None = None) -> pd.DataFrame:
    """The benefit schedule: agreement_id, item, unit, quantity_per_year, unit_cost_usd, first_year, last_year
    (of the ``agreements`` named, else of every agreement)."""
    statement = select(Agreement.code, BenefitSchedule.item, BenefitSchedule.unit, BenefitSchedule.quantity_per_year,
                       BenefitSchedule.unit_cost_usd, BenefitSchedule.first_year, BenefitSchedule.last_year
                       ).join(Agreement)
    if agreements is not None:
        statement = statement.where(Agreement.code.in_(agreements))
    rows = session.execute(statement.order_by(Agreement.code, BenefitSchedule.item, BenefitSchedule.first_year)).all()
    return pd.DataFrame(rows, columns=["agreement_id", "item", "unit", "quantity_per_year", "unit_cost_usd",
                                       "first_year", "last_year"]).astype(
        {"quantity_per_year": "float64", "unit_cost_usd": "float64", "first_year": "int64", "last_year": "int64"})


def deliveries(session: Session) -> pd.DataFrame:
    """Every delivery: agreement_id, item, delivered_on, quantity, value_usd, reference."""
    rows = session.execute(select(Agreement.code, Delivery.item, Delivery.delivered_on, Delivery.quantity,
                                  Delivery.value_usd, Delivery.reference).join(Agreement)
                           .order_by(Agreement.code, Delivery.delivered_on, Delivery.item)).all()
    return pd.DataFrame(rows, columns=["agreement_id", "item", "delivered_on", "quantity", "value_usd", "reference"]
                        ).astype({"quantity": "float64", "value_usd": "float64"})


def deliveries_by_agreement(session: Session) -> pd.DataFrame:
    """Deliveries summed per agreement, calendar year and item: agreement_id, year, item, quantity, value_usd."""
    frame = deliveries(session)
    frame["year"] = pd.to_datetime(frame["delivered_on"]).dt.year.astype("int64")
    return (frame.groupby(["agreement_id", "year", "item"], as_index=False)[["quantity", "value_usd"]].sum()
            .sort_values(["agreement_id", "year", "item"]).reset_index(drop=True))


def field_verifications(session: Session) -> list[FieldVisit]:
    """Every field visit, by agreement and date."""
    rows = session.execute(select(Agreement.code, FieldVerification.visited_on, FieldVerification.finding,
                                  FieldVerification.cleared_ha, FieldVerification.officer, FieldVerification.notes)
                           .join(Agreement).order_by(Agreement.code, FieldVerification.visited_on)).all()
    return [FieldVisit(*row) for row in rows]


def compliance(session: Session) -> pd.DataFrame:
    """Every compliance assessment: agreement_id, period_start, period_end, loss_px, loss_ha, status, basis,
    assessed_at."""
    rows = session.execute(select(Agreement.code, ComplianceAssessment.period_start, ComplianceAssessment.period_end,
                                  ComplianceAssessment.loss_px, ComplianceAssessment.loss_ha,
                                  ComplianceAssessment.status, ComplianceAssessment.basis,
                                  ComplianceAssessment.assessed_at).join(Agreement)
                           .order_by(Agreement.code, ComplianceAssessment.period_start)).all()
    return pd.DataFrame(rows, columns=["agreement_id", "period_start", "period_end", "loss_px", "loss_ha", "status",
                                       "basis", "assessed_at"])


def latest_statuses(session: Session) -> dict[str, str]:
    """Each assessed agreement's status in its latest period (latest period_end)."""
    frame = compliance(session)
    if not len(frame):
        return {}
    latest = frame.sort_values(["period_end", "assessed_at"]).groupby("agreement_id").tail(1)
    return dict(zip(latest["agreement_id"], latest["status"]))


def record_assessments(session: Session, rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> int:
    """Write compliance assessments, replacing an agreement's earlier assessment of the same period.

    Each row: agreement_id (code), period_start, period_end (dates or ISO text), loss_px, loss_ha, status
    (compliant, to_verify, breach), basis, and optionally assessed_at (UTC ISO 8601; default now). Returns
    the number of rows written. An unknown agreement, status or a period ending before it starts is an
    :class:`InputError` and nothing is written.
    """
    frame = pd.DataFrame(rows if isinstance(rows, pd.DataFrame) else list(rows))
    if not len(frame):
        return 0
    table = _assessment_rows(session, frame)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ComplianceAssessment.__table__)
    updated = {c: statement.excluded[c] for c in ("loss_px", "loss_ha", "status", "basis", "assessed_at")}
    statement = statement.on_conflict_do_update(index_elements=["agreement_id", "period_start", "period_end"],
                                                set_=updated)
    in_transaction(session, lambda: session.execute(statement, records(table)))
    return len(table)


def _assessment_rows(session: Session, frame: pd.DataFrame) -> pd.DataFrame:
    ids = codes(session, Agreement)
    unknown = sorted(set(frame["agreement_id"]) - set(ids))
    if unknown:
        raise InputError(f"compliance assessments name {len(unknown)} agreement(s) not in the registry: "
                         f"{', '.join(map(str, unknown[:10]))}", "import the agreements first")
    bad = sorted(set(frame["status"]) - set(COMPLIANCE_STATUSES))
    if bad:
        raise InputError(f"unknown compliance status(es) {', '.join(map(str, bad))}",
                         f"use {', '.join(COMPLIANCE_STATUSES)}")
    start, end = pd.to_datetime(frame["period_start"]), pd.to_datetime(frame["period_end"])
    if bool((end < start).any()):
        raise InputError("a compliance assessment's period ends before it starts", "check period_start, period_end")
    if bool((frame["loss_px"] < 0).any() or (frame["loss_ha"] < 0).any()):
        raise InputError("a compliance assessment has a negative loss", "loss_px and loss_ha are 0 or more")
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
    assessed = frame["assessed_at"] if "assessed_at" in frame else pd.Series(now, index=frame.index)
    table = pd.DataFrame({"agreement_id": frame["agreement_id"].map(ids), "period_start": start, "period_end": end,
                          "loss_px": frame["loss_px"].astype("int64"), "loss_ha": frame["loss_ha"].astype("float64"),
                          "status": frame["status"], "basis": frame["basis"].astype(str),
                          "assessed_at": assessed.fillna(now).astype(str)})
    return table.drop_duplicates(["agreement_id", "period_start", "period_end"], keep="last")




def households_table(session: Session) -> pd.DataFrame:
    """Every household: household_id, community, village, members_count, settled_year, x_m, y_m."""
    rows = session.execute(select(Household.code, Community.name, Household.village, Household.members_count,
                                  Household.settled_year, Household.x_m, Household.y_m)
                           .outerjoin(Community, Household.community_id == Community.id).order_by(Household.code))
    return pd.DataFrame(rows.all(), columns=["household_id", "community", "village", "members_count", "settled_year",
                                             "x_m", "y_m"]).astype({"members_count": "Int64", "settled_year": "Int64"})


__all__ = ["FieldVisit", "agreements_table", "agreements_with_parcels", "compliance", "deliveries",
           "deliveries_by_agreement", "field_verifications", "households_table", "latest_statuses", "parcels",
           "record_assessments", "schedules", "table_counts"]
