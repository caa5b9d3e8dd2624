"""Law-enforcement monitoring: deforestation alerts, patrol plans (and the alerts they target), patrols, their
GPS track points, observations, incidents and actions.

Adds tables only (all prefixed ``enf_``); the ledger's and the agreements registry's tables and rows are
untouched. Downgrade drops them.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("enf_alerts", "enf_patrol_plans", "enf_plan_alerts", "enf_patrols", "enf_track_points",
          "enf_observations", "enf_incidents", "enf_actions")
POSITION = "lon BETWEEN -180 AND 180 AND lat BETWEEN -90 AND 90"


def _id(table: str) -> list:
    return [sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id", name=f"pk_{table}")]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}")


def _index(table: str, column: str) -> None:
    op.create_index(f"ix_{table}_{column}", table, [column])


def upgrade() -> None:
    op.create_table(
        "enf_alerts", *_id("enf_alerts"),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=True),
        sa.Column("area_ha", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("zone", sa.String(64), nullable=True),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("agreement_code", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("alert_id", name="uq_enf_alerts_alert_id"),
        sa.CheckConstraint("status IN ('new', 'assigned', 'checked')", name="ck_enf_alerts_status"),
        sa.CheckConstraint("verdict IS NULL OR verdict IN ('true_positive', 'false_positive')",
                           name="ck_enf_alerts_verdict"),
        sa.CheckConstraint("area_ha >= 0", name="ck_enf_alerts_area_ha"),
        sa.CheckConstraint(POSITION, name="ck_enf_alerts_position"),
        sa.CheckConstraint("last_date IS NULL OR last_date >= first_date", name="ck_enf_alerts_last_date"),
    )
    op.create_table(
        "enf_patrol_plans", *_id("enf_patrol_plans"),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("planned_start", sa.Date(), nullable=False),
        sa.Column("planned_end", sa.Date(), nullable=False),
        sa.Column("zone", sa.String(64), nullable=True),
        sa.Column("team", sa.String(200), nullable=True),
        sa.UniqueConstraint("code", name="uq_enf_patrol_plans_code"),
        sa.CheckConstraint("planned_end >= planned_start", name="ck_enf_patrol_plans_planned_end"),
    )
    op.create_table(
        "enf_plan_alerts",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "alert_id", name="pk_enf_plan_alerts"),
        _fk("enf_plan_alerts", "plan_id", "enf_patrol_plans"),
        _fk("enf_plan_alerts", "alert_id", "enf_alerts"),
    )
    _index("enf_plan_alerts", "alert_id")
    op.create_table(
        "enf_patrols", *_id("enf_patrols"),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("team", sa.String(200), nullable=True),
        sa.Column("zone", sa.String(64), nullable=True),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("end_at", sa.DateTime(), nullable=True),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("days", sa.Float(), nullable=True),
        sa.UniqueConstraint("code", name="uq_enf_patrols_code"),
        _fk("enf_patrols", "plan_id", "enf_patrol_plans"),
        sa.CheckConstraint("transport IN ('foot', 'vehicle', 'boat')", name="ck_enf_patrols_transport"),
        sa.CheckConstraint("distance_km IS NULL OR distance_km >= 0", name="ck_enf_patrols_distance_km"),
        sa.CheckConstraint("days IS NULL OR days >= 0", name="ck_enf_patrols_days"),
        sa.CheckConstraint("end_at IS NULL OR end_at >= start_at", name="ck_enf_patrols_end_at"),
    )
    _index("enf_patrols", "plan_id")
    op.create_table(
        "enf_track_points", *_id("enf_track_points"),
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("segment", sa.Integer(), nullable=False),
        sa.Column("t", sa.DateTime(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        _fk("enf_track_points", "patrol_id", "enf_patrols"),
        sa.CheckConstraint("seq >= 0 AND segment >= 0", name="ck_enf_track_points_seq"),
        sa.CheckConstraint(POSITION, name="ck_enf_track_points_position"),
    )
    _index("enf_track_points", "patrol_id")
    op.create_table(
        "enf_observations", *_id("enf_observations"),
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(64), nullable=True),
        sa.Column("observed_at", sa.DateTime(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("area_ha", sa.Float(), nullable=True),
        sa.Column("photos", sa.Text(), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.UniqueConstraint("uuid", name="uq_enf_observations_uuid"),
        _fk("enf_observations", "patrol_id", "enf_patrols"),
        _fk("enf_observations", "alert_id", "enf_alerts"),
        sa.CheckConstraint("category IN ('clearing', 'logging', 'hunting', 'new_settlement', 'fire', 'none')",
                           name="ck_enf_observations_category"),
        sa.CheckConstraint("area_ha IS NULL OR area_ha >= 0", name="ck_enf_observations_area_ha"),
        sa.CheckConstraint(POSITION, name="ck_enf_observations_position"),
    )
    _index("enf_observations", "patrol_id")
    _index("enf_observations", "alert_id")
    op.create_table(
        "enf_incidents", *_id("enf_incidents"),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("zone", sa.String(64), nullable=True),
        _fk("enf_incidents", "observation_id", "enf_observations"),
        sa.CheckConstraint("category IN ('clearing', 'logging', 'hunting', 'new_settlement', 'fire')",
                           name="ck_enf_incidents_category"),
        sa.CheckConstraint("severity IN ('low', 'medium', 'high')", name="ck_enf_incidents_severity"),
    )
    _index("enf_incidents", "observation_id")
    op.create_table(
        "enf_actions", *_id("enf_actions"),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("taken_by", sa.String(200), nullable=True),
        _fk("enf_actions", "incident_id", "enf_incidents"),
        sa.CheckConstraint("action IN ('report_to_authorities', 'agreement_warning', 'sanction', 'none')",
                           name="ck_enf_actions_action"),
    )
    _index("enf_actions", "incident_id")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
