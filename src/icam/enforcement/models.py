"""Law-enforcement monitoring tables (alerts, patrol plans, patrols, tracks, observations, incidents, actions), in
the spirit of SMART (Spatial Monitoring and Reporting Tool); migration 0003 creates them.

Every table is prefixed ``enf_``. Rows are keyed by integer ids; what people write is the ``alert_id`` of an
alert (``GLAD-2024-000123``) and the ``code`` of plans and patrols (``PAT-2024-017``), unique. Positions are
WGS 84 longitude / latitude in degrees (what GPS receivers, GPX and ODK record); areas hectares (``_ha``);
distances kilometres (``_km``). Times (``DateTime``) are UTC without a zone; dates are calendar dates.

A patrol's track is stored as its GPS points (:class:`TrackPoint`: patrol, seq, time, lon, lat) rather than
one WKB line: every point keeps its time (speed, gaps, time spent near an alert), and a point query needs no
geometry library in the database. ``Patrol.distance_km`` is the geodesic length of the track (WGS 84
ellipsoid), computed on import by :func:`icam.enforcement.tracks.import_gpx_track`.

Enumerations and non-negative quantities are check constraints, so a row written around the importers is
refused by the database too.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, Date, DateTime, Float, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from icam.agreements.models import one_of
from icam.store.db import Base

ALERT_STATUSES = ("new", "assigned", "checked")
VERDICTS = ("true_positive", "false_positive")
TRANSPORTS = ("foot", "vehicle", "boat")
CATEGORIES = ("clearing", "logging", "hunting", "new_settlement", "fire", "none")
SEVERITIES = ("low", "medium", "high")
ACTIONS = ("report_to_authorities", "agreement_warning", "sanction", "none")
TABLES = ("enf_alerts", "enf_patrol_plans", "enf_plan_alerts", "enf_patrols", "enf_track_points",
          "enf_observations", "enf_incidents", "enf_actions")


class Alert(Base):
    """A deforestation alert: recent loss of ``area_ha`` around (``lon``, ``lat``), first seen ``first_date``.

    ``priority``: the alert model's class (e.g. high / medium / low), ``score`` its score; ``agreement_code``:
    the conservation agreement whose parcel it falls in, if any. ``status``: new → assigned (to a plan) →
    checked (visited); ``verdict``: what the visit found (true_positive / false_positive; None until checked);
    ``visited_at``: when the observation that decided it was made (UTC).
    """

    __tablename__ = "enf_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(64), unique=True)
    first_date: Mapped[dt.date] = mapped_column(Date)
    last_date: Mapped[dt.date | None] = mapped_column(Date)
    area_ha: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    zone: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    agreement_code: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="new")
    verdict: Mapped[str | None] = mapped_column(String(16))
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime)
    visited_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    __table_args__ = (CheckConstraint(one_of("status", ALERT_STATUSES), name="ck_enf_alerts_status"),
                      CheckConstraint(f"verdict IS NULL OR {one_of('verdict', VERDICTS)}",
                                      name="ck_enf_alerts_verdict"),
                      CheckConstraint("area_ha >= 0", name="ck_enf_alerts_area_ha"),
                      CheckConstraint("lon BETWEEN -180 AND 180 AND lat BETWEEN -90 AND 90",
                                      name="ck_enf_alerts_position"),
                      CheckConstraint("last_date IS NULL OR last_date >= first_date", name="ck_enf_alerts_last_date"))


plan_alerts = Table(
    "enf_plan_alerts", Base.metadata,
    Column("plan_id", ForeignKey("enf_patrol_plans.id"), primary_key=True),
    Column("alert_id", ForeignKey("enf_alerts.id"), primary_key=True, index=True),
)


class PatrolPlan(Base):
    """A planned patrol: when, where (``zone``), who (``team``) and which alerts it is to check."""

    __tablename__ = "enf_patrol_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    planned_start: Mapped[dt.date] = mapped_column(Date)
    planned_end: Mapped[dt.date] = mapped_column(Date)
    zone: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(200))

    alerts: Mapped[list[Alert]] = relationship(secondary=plan_alerts)

    __table_args__ = (CheckConstraint("planned_end >= planned_start", name="ck_enf_patrol_plans_planned_end"),)


class Patrol(Base):
    """A patrol done: team, start and end (UTC), transport, zone, and its effort: ``distance_km`` (geodesic
    length of the track) and ``days`` (patrol-days: calendar days with track points, else days spanned)."""

    __tablename__ = "enf_patrols"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("enf_patrol_plans.id"), index=True)
    team: Mapped[str | None] = mapped_column(String(200))
    zone: Mapped[str | None] = mapped_column(String(64))
    start_at: Mapped[dt.datetime] = mapped_column(DateTime)
    end_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    transport: Mapped[str] = mapped_column(String(16), default="foot")
    distance_km: Mapped[float | None] = mapped_column(Float)
    days: Mapped[float | None] = mapped_column(Float)

    plan: Mapped[PatrolPlan | None] = relationship()

    __table_args__ = (CheckConstraint(one_of("transport", TRANSPORTS), name="ck_enf_patrols_transport"),
                      CheckConstraint("distance_km IS NULL OR distance_km >= 0", name="ck_enf_patrols_distance_km"),
                      CheckConstraint("days IS NULL OR days >= 0", name="ck_enf_patrols_days"),
                      CheckConstraint("end_at IS NULL OR end_at >= start_at", name="ck_enf_patrols_end_at"))


class TrackPoint(Base):
    """A GPS point of a patrol's track: ``seq`` (0, 1, ... in the order recorded), time ``t`` (UTC), lon, lat."""

    __tablename__ = "enf_track_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("enf_patrols.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    segment: Mapped[int] = mapped_column(Integer, default=0)
    t: Mapped[dt.datetime] = mapped_column(DateTime)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)

    __table_args__ = (CheckConstraint("seq >= 0 AND segment >= 0", name="ck_enf_track_points_seq"),
                      CheckConstraint("lon BETWEEN -180 AND 180 AND lat BETWEEN -90 AND 90",
                                      name="ck_enf_track_points_position"))


class Observation(Base):
    """What a patrol saw at (``lon``, ``lat``) at ``observed_at`` (UTC): a ``category`` (``none``: nothing found,
    e.g. an alert visited and no clearing), the area affected, photos (file names, ';'-separated), the
    alert it checks (set by hand on the form or by :func:`icam.enforcement.patrols.match_alerts`), and the
    form submission's id (``uuid``: Kobo's ``_uuid``, ODK's instanceID)."""

    __tablename__ = "enf_observations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("enf_patrols.id"), index=True)
    uuid: Mapped[str | None] = mapped_column(String(64), unique=True)
    observed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String(16))
    area_ha: Mapped[float | None] = mapped_column(Float)
    photos: Mapped[str | None] = mapped_column(Text)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("enf_alerts.id"), index=True)

    patrol: Mapped[Patrol] = relationship()
    alert: Mapped[Alert | None] = relationship()

    __table_args__ = (CheckConstraint(one_of("category", CATEGORIES), name="ck_enf_observations_category"),
                      CheckConstraint("area_ha IS NULL OR area_ha >= 0", name="ck_enf_observations_area_ha"),
                      CheckConstraint("lon BETWEEN -180 AND 180 AND lat BETWEEN -90 AND 90",
                                      name="ck_enf_observations_position"))


class Incident(Base):
    """An illegal activity found by an observation (any category but ``none``): category, severity, zone."""

    __tablename__ = "enf_incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("enf_observations.id"), index=True)
    category: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(8), default="medium")
    zone: Mapped[str | None] = mapped_column(String(64))

    observation: Mapped[Observation] = relationship()

    __table_args__ = (CheckConstraint(one_of("category", CATEGORIES[:-1]), name="ck_enf_incidents_category"),
                      CheckConstraint(one_of("severity", SEVERITIES), name="ck_enf_incidents_severity"))


class Action(Base):
    """What was done about an incident, on ``taken_on``, by whom (``taken_by``: a person or an office)."""

    __tablename__ = "enf_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("enf_incidents.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    taken_on: Mapped[dt.date] = mapped_column(Date)
    taken_by: Mapped[str | None] = mapped_column(String(200))

    incident: Mapped[Incident] = relationship()

    __table_args__ = (CheckConstraint(one_of("action", ACTIONS), name="ck_enf_actions_action"),)


__all__ = ["ACTIONS", "ALERT_STATUSES", "CATEGORIES", "SEVERITIES", "TABLES", "TRANSPORTS", "VERDICTS", "Action",
           "Alert", "Incident", "Observation", "Patrol", "PatrolPlan", "TrackPoint", "plan_alerts"]
