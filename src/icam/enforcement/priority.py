"""The priority of an alert event for the field: a documented weighted sum of what makes it urgent
(docs/methods.md, "Priority"; ``[enforcement.priority]``), and its three classes.

Reads the events :func:`icam.enforcement.alerts.describe` gives (their area, dates, zone, agreement, distance
to the road, risk percentile and confidence) and ranks them, highest score first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from icam.core.errors import InputError
from icam.enforcement.alerts import Events, date_to_days

PRIORITIES = ("high", "medium", "low")


def _default_zone_weights() -> dict[str, float]:
    return {"project_area": 2.0, "leakage_belt": 1.0, "outside": 0.0}


@dataclass(frozen=True)
class PriorityRule:
    """The priority of an event for the field, a weighted sum of what makes it urgent.

    score = w_area · min(1, area_ha / area_ref_ha)
          + w_recent · exp(−age_days / recency_days)
          + zone_weights[zone]                       (other_zone_weight for a zone not listed)
          + w_agreement · [the event touches a conservation agreement]
          + w_road · exp(−road_km / road_ref_km)
          + w_risk · risk_percentile
          + w_confidence · (max_confidence − 1) / 2

    age_days = as_of − last_days (the latest alert of the event: ongoing clearing is urgent).
    A term whose column is missing (no ``zone``, ``agreement``, ``road_km``, ``risk_percentile``:
    :func:`describe` was not given that layer) or NaN counts 0.
    Class: ``"high"`` when score ≥ high_at, ``"medium"`` when ≥ medium_at, else ``"low"``.

    The defaults were chosen for the demo, to be tuned by the head office: a 5 ha clearing counts as
    much as one found today (2 each, a month-old alert keeps 37 % of its recency); inside the
    project area 2, in the leakage belt 1; inside a conservation agreement 1.5 (a compliance
    matter for the agreements team too); at the road 1, fading over 2 km (access for both the
    clearing and the patrol); the risk map's percentile and the alert's confidence up to 1 each.
    The highest score is 2 + 2 + 2 + 1.5 + 1 + 1 + 1 = 10.5; high from 6, medium from 3.5.
    """

    w_area: float = 2.0
    area_ref_ha: float = 5.0
    w_recent: float = 2.0
    recency_days: float = 30.0
    zone_weights: Mapping[str, float] = field(default_factory=_default_zone_weights)
    other_zone_weight: float = 0.5
    w_agreement: float = 1.5
    w_road: float = 1.0
    road_ref_km: float = 2.0
    w_risk: float = 1.0
    w_confidence: float = 1.0
    high_at: float = 6.0
    medium_at: float = 3.5

    def __post_init__(self) -> None:
        for name in ("area_ref_ha", "recency_days", "road_ref_km"):
            if not getattr(self, name) > 0:
                raise InputError(f"priority rule: {name} = {getattr(self, name)} must be positive",
                                 "give a positive reference")
        if self.medium_at > self.high_at:
            raise InputError(f"priority rule: medium_at ({self.medium_at}) is above high_at ({self.high_at})",
                             "swap them")

    def terms(self, table: pd.DataFrame, as_of: dt.date | str | int) -> pd.DataFrame:
        """Each term of the score (columns ``p_area``, ``p_recent``, …), one row per event."""
        as_of_days = date_to_days(as_of)
        n = len(table)

        def col(name: str) -> np.ndarray:
            if name not in table.columns:
                return np.full(n, np.nan)
            return pd.to_numeric(table[name], errors="coerce").to_numpy(float)

        age = np.maximum(as_of_days - col("last_days"), 0)
        if "zone" in table.columns:
            zone = np.array([self.zone_weights.get(z, self.other_zone_weight) for z in table["zone"]], float)
        else:
            zone = np.zeros(n)
        touches = table["agreement"].notna().to_numpy() if "agreement" in table.columns else np.zeros(n, bool)
        out = pd.DataFrame({
            "p_area": self.w_area * np.minimum(1.0, col("area_ha") / self.area_ref_ha),
            "p_recent": self.w_recent * np.exp(-age / self.recency_days),
            "p_zone": zone,
            "p_agreement": self.w_agreement * touches.astype(float),
            "p_road": self.w_road * np.exp(-col("road_km") / self.road_ref_km),
            "p_risk": self.w_risk * col("risk_percentile"),
            "p_confidence": self.w_confidence * (col("max_confidence") - 1) / 2,
        }, index=table.index)
        return out.fillna(0.0)

    def classify(self, score) -> np.ndarray:
        """The priority class of each score: high from ``high_at``, medium from ``medium_at``, else low."""
        score = np.asarray(score, dtype=float)
        return np.where(score >= self.high_at - 1e-12, "high",
                        np.where(score >= self.medium_at - 1e-12, "medium", "low"))

    def apply(self, events: Events, as_of: dt.date | str | int) -> Events:
        """The events with ``age_days``, the terms, ``score`` and ``priority``, highest score first."""
        table = events.table.copy()
        terms = self.terms(table, as_of)
        table["age_days"] = np.maximum(date_to_days(as_of) - table["last_days"].to_numpy(np.int64), 0)
        for name in terms.columns:
            table[name] = terms[name]
        table["score"] = terms.sum(axis=1).to_numpy()
        table["priority"] = self.classify(table["score"])
        table = table.sort_values(["score", "alert_id"], ascending=[False, True], kind="stable")
        return events.with_table(table)
