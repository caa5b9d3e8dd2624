"""The conservation-agreements registry's tables (SQLAlchemy 2 typed models); migration 0002 creates them.

Every table is prefixed ``agr_``. Rows are keyed by integer ids; what people write on forms is the
``code`` of households (``HH0001``), parcels (``HH0001-CONS``) and agreements (``AC-2013-0001``),
unique in the registry. Areas are hectares (``_ha``), money US dollars (``_usd``, two decimals),
dates calendar dates. Geometries are stored as WKB with the CRS they are in (``crs``: ``EPSG:32718``,
or WKT where the CRS has no code); :mod:`icam.agreements.parcel_import` refuses invalid polygons on import.
Enumerations and non-negative quantities are check constraints, so a row written around the
importer is refused by the database too.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    sql,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from icam.store.db import Base

COMMUNITY_KINDS = ("community", "association")
PARCEL_KINDS = ("farm", "coffee", "conservation")
BREACH_RULES = ("suspend_next_period", "reduce_half", "none")
COMMITMENTS = ("no_clearing_primary_forest", "no_coffee_expansion", "no_commercial_logging",
               "no_hunting_endangered_species", "no_contamination", "support_patrols", "report_new_migrants")
COMPLIANCE_STATUSES = ("compliant", "to_verify", "breach")
FINDINGS = ("cleared", "not_cleared", "could_not_access")
GRIEVANCE_STATUSES = ("open", "in_progress", "resolved")
SEXES = ("female", "male", "other")
USD = Numeric(14, 2, asdecimal=False)  # cents exact in the database, floats in Python


def one_of(column: str, values: tuple[str, ...]) -> str:
    """The SQL of a check that ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Community(Base):
    """A community (caserío, sector) or a producers' association that households belong to."""

    __tablename__ = "agr_communities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="community")
    district: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (CheckConstraint(one_of("kind", COMMUNITY_KINDS), name="ck_agr_communities_kind"),)


class Household(Base):
    """A family living in (or farming) the protected forest; ``x_m``, ``y_m``: its house in the project CRS, m."""

    __tablename__ = "agr_households"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("agr_communities.id"), index=True)
    village: Mapped[str | None] = mapped_column(String(200))
    members_count: Mapped[int | None] = mapped_column(Integer)
    settled_year: Mapped[int | None] = mapped_column(Integer)
    x_m: Mapped[float | None] = mapped_column(Float)
    y_m: Mapped[float | None] = mapped_column(Float)

    community: Mapped[Community | None] = relationship()

    __table_args__ = (CheckConstraint("members_count IS NULL OR members_count >= 1",
                                      name="ck_agr_households_members_count"),
                      CheckConstraint("settled_year IS NULL OR settled_year BETWEEN 1900 AND 2100",
                                      name="ck_agr_households_settled_year"))


class Member(Base):
    """A person of a household."""

    __tablename__ = "agr_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("agr_households.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    sex: Mapped[str | None] = mapped_column(String(8))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(64))

    household: Mapped[Household] = relationship()

    __table_args__ = (CheckConstraint(f"sex IS NULL OR {one_of('sex', SEXES)}", name="ck_agr_members_sex"),
                      CheckConstraint("birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100",
                                      name="ck_agr_members_birth_year"))


class Parcel(Base):
    """A household's farm, coffee plot or conservation area: its polygon (WKB, in ``crs``) and area, ha."""

    __tablename__ = "agr_parcels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("agr_households.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    area_ha: Mapped[float] = mapped_column(Float)
    geometry: Mapped[bytes] = mapped_column(LargeBinary)
    crs: Mapped[str] = mapped_column(Text)

    household: Mapped[Household] = relationship()

    __table_args__ = (CheckConstraint(one_of("kind", PARCEL_KINDS), name="ck_agr_parcels_kind"),
                      CheckConstraint("area_ha > 0", name="ck_agr_parcels_area_ha"))


class Agreement(Base):
    """A conservation agreement: a household commits its conservation parcel for ``term_years`` from ``signed``.

    ``renewed_until``: the last day in force after renewals (None: the first term only).
    ``tolerance_ha``: loss inside the conservation parcel that still counts as compliant.
    ``breach_rule``: what a confirmed breach does to the benefits.
    """

    __tablename__ = "agr_agreements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("agr_households.id"), index=True)
    signed: Mapped[dt.date] = mapped_column(Date)
    term_years: Mapped[int] = mapped_column(Integer)
    renewed_until: Mapped[dt.date | None] = mapped_column(Date)
    conservation_parcel_id: Mapped[int] = mapped_column(ForeignKey("agr_parcels.id"), index=True)
    tolerance_ha: Mapped[float] = mapped_column(Float, default=0.0, server_default=sql.text("0"))
    needs_field_verification: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sql.true())
    breach_rule: Mapped[str] = mapped_column(String(32), default="suspend_next_period")
    implementer: Mapped[str | None] = mapped_column(String(200))
    authority: Mapped[str | None] = mapped_column(String(200))

    household: Mapped[Household] = relationship()
    conservation_parcel: Mapped[Parcel] = relationship()

    __table_args__ = (CheckConstraint("term_years >= 1", name="ck_agr_agreements_term_years"),
                      CheckConstraint("renewed_until IS NULL OR renewed_until > signed",
                                      name="ck_agr_agreements_renewed_until"),
                      CheckConstraint("tolerance_ha >= 0", name="ck_agr_agreements_tolerance_ha"),
                      CheckConstraint(one_of("breach_rule", BREACH_RULES), name="ck_agr_agreements_breach_rule"))


class Commitment(Base):
    """One commitment of an agreement (a family's undertaking: no clearing of primary forest, ...)."""

    __tablename__ = "agr_agreement_commitments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agr_agreements.id"))
    commitment: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("agreement_id", "commitment", name="uq_agr_agreement_commitments_agreement"),
                      CheckConstraint(one_of("commitment", COMMITMENTS),
                                      name="ck_agr_agreement_commitments_commitment"))


class BenefitSchedule(Base):
    """A benefit promised by an agreement: ``quantity_per_year`` ``unit`` of ``item`` each year first..last."""

    __tablename__ = "agr_benefit_schedule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agr_agreements.id"))
    item: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(64))
    quantity_per_year: Mapped[float] = mapped_column(Float)
    unit_cost_usd: Mapped[float] = mapped_column(USD)
    first_year: Mapped[int] = mapped_column(Integer)
    last_year: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("agreement_id", "item", "first_year", name="uq_agr_benefit_schedule_item"),
                      CheckConstraint("quantity_per_year >= 0 AND unit_cost_usd >= 0",
                                      name="ck_agr_benefit_schedule_amounts"),
                      CheckConstraint("last_year >= first_year", name="ck_agr_benefit_schedule_years"))


class Delivery(Base):
    """A benefit handed over; ``reference``: the form's submission (an ODK/KoboToolbox uuid) or a receipt."""

    __tablename__ = "agr_benefit_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agr_agreements.id"), index=True)
    item: Mapped[str] = mapped_column(String(200))
    delivered_on: Mapped[dt.date] = mapped_column(Date)
    quantity: Mapped[float] = mapped_column(Float)
    value_usd: Mapped[float] = mapped_column(USD)
    reference: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (CheckConstraint("quantity >= 0 AND value_usd >= 0", name="ck_agr_benefit_deliveries_amounts"),)


class ComplianceAssessment(Base):
    """An agreement's compliance over one monitoring period: mapped loss in its conservation parcel and the verdict.

    ``basis`` says what the status rests on (e.g. "loss 0.09 ha <= tolerance 0.10 ha"); ``assessed_at``
    is UTC ISO 8601 text, like the ledger's timestamps.
    """

    __tablename__ = "agr_compliance_assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agr_agreements.id"))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    loss_px: Mapped[int] = mapped_column(Integer)
    loss_ha: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    basis: Mapped[str] = mapped_column(Text)
    assessed_at: Mapped[str] = mapped_column(String(40))

    __table_args__ = (UniqueConstraint("agreement_id", "period_start", "period_end",
                                       name="uq_agr_compliance_assessments_period"),
                      CheckConstraint("period_end >= period_start", name="ck_agr_compliance_assessments_period"),
                      CheckConstraint("loss_px >= 0 AND loss_ha >= 0", name="ck_agr_compliance_assessments_loss"),
                      CheckConstraint(one_of("status", COMPLIANCE_STATUSES),
                                      name="ck_agr_compliance_assessments_status"))


class FieldVerification(Base):
    """A visit to an agreement's conservation parcel; ``cleared_ha``: forest found cleared, ha."""

    __tablename__ = "agr_field_verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agr_agreements.id"), index=True)
    visited_on: Mapped[dt.date] = mapped_column(Date)
    finding: Mapped[str] = mapped_column(String(24))
    cleared_ha: Mapped[float | None] = mapped_column(Float)
    officer: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint(one_of("finding", FINDINGS), name="ck_agr_field_verifications_finding"),
                      CheckConstraint("cleared_ha IS NULL OR cleared_ha >= 0",
                                      name="ck_agr_field_verifications_cleared_ha"))


class Grievance(Base):
    """A complaint received (about deliveries, boundaries, staff...), from a household or anonymous."""

    __tablename__ = "agr_grievances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("agr_households.id"), index=True)
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("agr_agreements.id"), index=True)
    received_on: Mapped[dt.date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolved_on: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (CheckConstraint(one_of("status", GRIEVANCE_STATUSES), name="ck_agr_grievances_status"),
                      CheckConstraint("resolved_on IS NULL OR resolved_on >= received_on",
                                      name="ck_agr_grievances_resolved_on"))


TABLES = ("agr_communities", "agr_households", "agr_members", "agr_parcels", "agr_agreements",
          "agr_agreement_commitments", "agr_benefit_schedule", "agr_benefit_deliveries",
          "agr_compliance_assessments", "agr_field_verifications", "agr_grievances")
