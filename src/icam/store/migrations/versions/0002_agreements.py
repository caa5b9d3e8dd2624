"""The conservation-agreements registry: communities, households, members, parcels (WKB + CRS), agreements,
their commitments, benefit schedules and deliveries, compliance assessments, field verifications, grievances.

Adds tables only (all prefixed ``agr_``); the ledger's tables and rows are untouched. Downgrade drops them.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

USD = sa.Numeric(14, 2, asdecimal=False)
TABLES = ("agr_communities", "agr_households", "agr_members", "agr_parcels", "agr_agreements",
          "agr_agreement_commitments", "agr_benefit_schedule", "agr_benefit_deliveries",
          "agr_compliance_assessments", "agr_field_verifications", "agr_grievances")


def _id(table: str) -> list:
    return [sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id", name=f"pk_{table}")]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}")


def _people() -> None:
    op.create_table(
        "agr_communities", *_id("agr_communities"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("district", sa.String(200), nullable=True),
        sa.UniqueConstraint("name", name="uq_agr_communities_name"),
        sa.CheckConstraint("kind IN ('community', 'association')", name="ck_agr_communities_kind"),
    )
    op.create_table(
        "agr_households", *_id("agr_households"),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("village", sa.String(200), nullable=True),
        sa.Column("members_count", sa.Integer(), nullable=True),
        sa.Column("settled_year", sa.Integer(), nullable=True),
        sa.Column("x_m", sa.Float(), nullable=True),
        sa.Column("y_m", sa.Float(), nullable=True),
        sa.UniqueConstraint("code", name="uq_agr_households_code"),
        _fk("agr_households", "community_id", "agr_communities"),
        sa.CheckConstraint("members_count IS NULL OR members_count >= 1", name="ck_agr_households_members_count"),
        sa.CheckConstraint("settled_year IS NULL OR settled_year BETWEEN 1900 AND 2100",
                           name="ck_agr_households_settled_year"),
    )
    op.create_index("ix_agr_households_community_id", "agr_households", ["community_id"])
    op.create_table(
        "agr_members", *_id("agr_members"),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sex", sa.String(8), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(64), nullable=True),
        _fk("agr_members", "household_id", "agr_households"),
        sa.CheckConstraint("sex IS NULL OR sex IN ('female', 'male', 'other')", name="ck_agr_members_sex"),
        sa.CheckConstraint("birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100", name="ck_agr_members_birth_year"),
    )
    op.create_index("ix_agr_members_household_id", "agr_members", ["household_id"])
    op.create_table(
        "agr_parcels", *_id("agr_parcels"),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("area_ha", sa.Float(), nullable=False),
        sa.Column("geometry", sa.LargeBinary(), nullable=False),
        sa.Column("crs", sa.Text(), nullable=False),
        sa.UniqueConstraint("code", name="uq_agr_parcels_code"),
        _fk("agr_parcels", "household_id", "agr_households"),
        sa.CheckConstraint("kind IN ('farm', 'coffee', 'conservation')", name="ck_agr_parcels_kind"),
        sa.CheckConstraint("area_ha > 0", name="ck_agr_parcels_area_ha"),
    )
    op.create_index("ix_agr_parcels_household_id", "agr_parcels", ["household_id"])


def _agreements() -> None:
    op.create_table(
        "agr_agreements", *_id("agr_agreements"),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("signed", sa.Date(), nullable=False),
        sa.Column("term_years", sa.Integer(), nullable=False),
        sa.Column("renewed_until", sa.Date(), nullable=True),
        sa.Column("conservation_parcel_id", sa.Integer(), nullable=False),
        sa.Column("tolerance_ha", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("needs_field_verification", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("breach_rule", sa.String(32), nullable=False),
        sa.Column("implementer", sa.String(200), nullable=True),
        sa.Column("authority", sa.String(200), nullable=True),
        sa.UniqueConstraint("code", name="uq_agr_agreements_code"),
        _fk("agr_agreements", "household_id", "agr_households"),
        _fk("agr_agreements", "conservation_parcel_id", "agr_parcels"),
        sa.CheckConstraint("term_years >= 1", name="ck_agr_agreements_term_years"),
        sa.CheckConstraint("renewed_until IS NULL OR renewed_until > signed", name="ck_agr_agreements_renewed_until"),
        sa.CheckConstraint("tolerance_ha >= 0", name="ck_agr_agreements_tolerance_ha"),
        sa.CheckConstraint("breach_rule IN ('suspend_next_period', 'reduce_half', 'none')",
                           name="ck_agr_agreements_breach_rule"),
    )
    op.create_index("ix_agr_agreements_household_id", "agr_agreements", ["household_id"])
    op.create_index("ix_agr_agreements_conservation_parcel_id", "agr_agreements", ["conservation_parcel_id"])
    op.create_table(
        "agr_agreement_commitments", *_id("agr_agreement_commitments"),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("commitment", sa.String(64), nullable=False),
        _fk("agr_agreement_commitments", "agreement_id", "agr_agreements"),
        sa.UniqueConstraint("agreement_id", "commitment", name="uq_agr_agreement_commitments_agreement"),
        sa.CheckConstraint("commitment IN ('no_clearing_primary_forest', 'no_coffee_expansion', "
                           "'no_commercial_logging', 'no_hunting_endangered_species', 'no_contamination', "
                           "'support_patrols', 'report_new_migrants')",
                           name="ck_agr_agreement_commitments_commitment"),
    )


def _benefits() -> None:
    op.create_table(
        "agr_benefit_schedule", *_id("agr_benefit_schedule"),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("quantity_per_year", sa.Float(), nullable=False),
        sa.Column("unit_cost_usd", USD, nullable=False),
        sa.Column("first_year", sa.Integer(), nullable=False),
        sa.Column("last_year", sa.Integer(), nullable=False),
        _fk("agr_benefit_schedule", "agreement_id", "agr_agreements"),
        sa.UniqueConstraint("agreement_id", "item", "first_year", name="uq_agr_benefit_schedule_item"),
        sa.CheckConstraint("quantity_per_year >= 0 AND unit_cost_usd >= 0", name="ck_agr_benefit_schedule_amounts"),
        sa.CheckConstraint("last_year >= first_year", name="ck_agr_benefit_schedule_years"),
    )
    op.create_table(
        "agr_benefit_deliveries", *_id("agr_benefit_deliveries"),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("value_usd", USD, nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        _fk("agr_benefit_deliveries", "agreement_id", "agr_agreements"),
        sa.CheckConstraint("quantity >= 0 AND value_usd >= 0", name="ck_agr_benefit_deliveries_amounts"),
    )
    op.create_index("ix_agr_benefit_deliveries_agreement_id", "agr_benefit_deliveries", ["agreement_id"])


def _monitoring() -> None:
    op.create_table(
        "agr_compliance_assessments", *_id("agr_compliance_assessments"),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("loss_px", sa.Integer(), nullable=False),
        sa.Column("loss_ha", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("assessed_at", sa.String(40), nullable=False),
        _fk("agr_compliance_assessments", "agreement_id", "agr_agreements"),
        sa.UniqueConstraint("agreement_id", "period_start", "period_end", name="uq_agr_compliance_assessments_period"),
        sa.CheckConstraint("period_end >= period_start", name="ck_agr_compliance_assessments_period"),
        sa.CheckConstraint("loss_px >= 0 AND loss_ha >= 0", name="ck_agr_compliance_assessments_loss"),
        sa.CheckConstraint("status IN ('compliant', 'to_verify', 'breach')",
                           name="ck_agr_compliance_assessments_status"),
    )
    op.create_table(
        "agr_field_verifications", *_id("agr_field_verifications"),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("finding", sa.String(24), nullable=False),
        sa.Column("cleared_ha", sa.Float(), nullable=True),
        sa.Column("officer", sa.String(200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        _fk("agr_field_verifications", "agreement_id", "agr_agreements"),
        sa.CheckConstraint("finding IN ('cleared', 'not_cleared', 'could_not_access')",
                           name="ck_agr_field_verifications_finding"),
        sa.CheckConstraint("cleared_ha IS NULL OR cleared_ha >= 0", name="ck_agr_field_verifications_cleared_ha"),
    )
    op.create_index("ix_agr_field_verifications_agreement_id", "agr_field_verifications", ["agreement_id"])
    op.create_table(
        "agr_grievances", *_id("agr_grievances"),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("agreement_id", sa.Integer(), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        _fk("agr_grievances", "household_id", "agr_households"),
        _fk("agr_grievances", "agreement_id", "agr_agreements"),
        sa.CheckConstraint("status IN ('open', 'in_progress', 'resolved')", name="ck_agr_grievances_status"),
        sa.CheckConstraint("resolved_on IS NULL OR resolved_on >= received_on", name="ck_agr_grievances_resolved_on"),
    )
    op.create_index("ix_agr_grievances_household_id", "agr_grievances", ["household_id"])
    op.create_index("ix_agr_grievances_agreement_id", "agr_grievances", ["agreement_id"])


def upgrade() -> None:
    _people()
    _agreements()
    _benefits()
    _monitoring()


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
