"""``[agreements]`` and ``[enforcement]``: the registries the field teams keep."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from icam.pipeline.config.base import Year, _Section


class RevenueSection(_Section):
    """REDD+ revenue: credits sold × price, and its allocation by documented shares."""

    price_usd_per_tco2e: float = Field(gt=0, le=1000, description="Price of a credit, USD per tCO2e.")
    sold_share: float = Field(1.0, ge=0, le=1, description="Share of each vintage's credits sold.")
    sale_lag_years: int = Field(1, ge=0, le=10, description="Years between a vintage and the sale of its credits.")
    shares: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: {"agreements": 0.6, "enforcement": 0.2, "monitoring": 0.1, "reserve": 0.1},
        description="Shares of the revenue by use (agreements, enforcement by the head office, monitoring, "
        "reserve, ...); they sum to 1.")

    @model_validator(mode="after")
    def _shares_sum_to_one(self):
        total = sum(self.shares.values())
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"shares sum to {total:g}, not 1")
        if "agreements" not in self.shares:
            raise ValueError("shares needs an 'agreements' share (what pays the agreements' benefits)")
        return self


class LandUseOption(_Section):
    """An alternative land use of a hectare of forest, for the opportunity cost of conservation."""

    name: str = Field(min_length=1, description="e.g. 'coffee', 'pasture'.")
    net_revenue_usd_per_ha_yr: float = Field(description="Net revenue once established, USD per ha and year.")
    establishment_cost_usd_per_ha: float = Field(0.0, ge=0, description="Clearing and planting cost, USD per ha.")
    years_to_first_revenue: int = Field(0, ge=0, le=20, description="Years before the first revenue (coffee: 2–3).")


class AgreementsSection(_Section):
    """Conservation agreements: the registry's files, compliance from the forest monitoring, money."""

    households: Path = Field(description="Households (CSV or an ODK/KoboToolbox export).")
    parcels: Path = Field(description="Parcels: farm, coffee and conservation polygons (GeoPackage).")
    agreements: Path = Field(description="Agreements (CSV): household, signing date, term, conservation parcel.")
    benefit_schedule: Path | None = Field(None, description="The benefit package per agreement and year (CSV).")
    deliveries: Path | None = Field(None, description="Benefit deliveries (CSV or an ODK/KoboToolbox export).")
    field_verifications: Path | None = Field(None, description="Field visits of conservation areas (CSV).")
    grievances: Path | None = Field(None, description="Grievances (CSV).")
    members: Path | None = Field(None, description="Household members (CSV).")
    loss_users_accuracy: float | None = Field(None, gt=0, le=1, description="User's accuracy of the map's loss "
                                              "class (its commission error); default: the activity data's estimate.")
    revenue: RevenueSection | None = Field(None, description="Credit sales and the allocation of the revenue.")
    alternatives: list[LandUseOption] = Field(default_factory=list, description="Land uses that would replace the "
                                              "forest, for the opportunity cost and the break-even carbon price.")
    forest_net_revenue_usd_per_ha_yr: float = Field(0.0, description="Net revenue of standing forest, USD/ha/yr.")
    discount_rate: float = Field(0.08, ge=0, le=0.5, description="Discount rate of the net present values.")
    admin_cost_usd_per_agreement_yr: float = Field(0.0, ge=0, description="Cost of running one agreement a "
                                                   "year beyond its benefits (staff, transport), USD.")


class PrioritySection(_Section):
    """The priority score of an alert event (:class:`icam.enforcement.priority.PriorityRule`; docs/methods.md):
    score = w_area·min(1, area/area_ref) + w_recent·exp(−age/recency) + zone weight + w_agreement·[in an
    agreement parcel] + w_road·exp(−road_km/road_ref) + w_risk·risk percentile + w_confidence·(confidence−1)/2."""

    w_area: float = Field(2.0, ge=0, description="Weight of the event's area (full weight at area_ref_ha).")
    area_ref_ha: float = Field(5.0, gt=0, description="Area at which the area term is full, ha.")
    w_recent: float = Field(2.0, ge=0, description="Weight of recency (full for an alert of today).")
    recency_days: float = Field(30.0, gt=0, description="Days over which recency falls to 37 %.")
    zone_weights: dict[str, float] = Field(
        default_factory=lambda: {"project_area": 2.0, "leakage_belt": 1.0, "outside": 0.0},
        description="Weight of the zone holding most of the event (project_area, leakage_belt, outside).")
    w_agreement: float = Field(1.5, ge=0, description="Weight of an event inside a conservation agreement's parcel.")
    w_road: float = Field(1.0, ge=0, description="Weight of closeness to a road (full at the road).")
    road_ref_km: float = Field(2.0, gt=0, description="Distance over which the road term falls to 37 %, km.")
    w_risk: float = Field(1.0, ge=0, description="Weight of the risk map's percentile at the event.")
    w_confidence: float = Field(1.0, ge=0, description="Weight of the alert's confidence (1 low … 3 highest).")
    high_at: float = Field(6.0, description="Score from which an event is high priority.")
    medium_at: float = Field(3.5, description="Score from which an event is medium priority.")

    @model_validator(mode="after")
    def _ordered(self):
        if self.medium_at > self.high_at:
            raise ValueError(f"medium_at ({self.medium_at}) is above high_at ({self.high_at})")
        return self


class EnforcementSection(_Section):
    """Enforcement: deforestation alerts for the field, patrols, incidents and response indicators."""

    alerts: Path | None = Field(None, description="Sub-annual alert raster (GeoTIFF on the project grid or "
                                "reprojected by nearest neighbour). Empty: alerts from the annual loss map's "
                                "annual_loss_year.")
    alerts_encoding: Literal["date_confidence", "gfw_integrated"] = Field(
        "date_confidence", description="date_confidence: band 1 = days since 2015-01-01 (0 = no alert), band 2 = "
        "confidence 1 low, 2 high, 3 highest; gfw_integrated: one band, GFW integrated alerts "
        "(leading digit 2 low, 3 high, 4 highest, then days since 2014-12-31).")
    annual_loss_year: Year | None = Field(None, description="Without an alert raster: the year of the annual loss "
                                          "map whose pixels become alerts (dated 1 July); default its last year.")
    since: dt.date | None = Field(None, description="Only alerts on or after this date.")
    as_of: dt.date | None = Field(None, description="The day of the alert list and the indicators; default the "
                                  "latest alert date.")
    max_gap_m: float = Field(60.0, ge=0, le=5000, description="Alert pixels closer than this are one event, m.")
    min_confidence: Literal[1, 2, 3] = Field(1, description="Lowest alert confidence kept (1 low, 2 high, 3 highest).")
    field_min_priority: Literal["high", "medium", "low"] = Field(
        "medium", description="Lowest priority in the field list (alerts_new.gpx, .kml, .geojson and the field "
        "sheet); every alert is in alerts.gpkg.")
    roads: Path | None = Field(None, description="Roads (lines) for the distance to road; default "
                               "risk.covariates.roads.")
    settlements: Path | None = Field(None, description="Settlements for the distance to settlement; default "
                                     "risk.covariates.settlements.")
    patrols: Path | None = Field(None, description="Patrols (CSV: patrol_id, start_at, end_at, transport, team, "
                                 "zone); seeds the registry on the first run.")
    tracks: Path | None = Field(None, description="Patrol GPS tracks, GPX files named <patrol_id>.gpx (a glob "
                                "pattern); seeds the registry on the first run.")
    observations: Path | None = Field(None, description="Patrol observations (ODK/KoboToolbox CSV export); seeds "
                                      "the registry on the first run.")
    actions: Path | None = Field(None, description="Follow-up actions on incidents (CSV: observation_uuid, action, "
                                 "taken_on, taken_by); seeds the registry on the first run.")
    match_distance_m: float = Field(250.0, gt=0, description="An observation this close to an alert checks it, m.")
    match_days: float = Field(180.0, gt=0, description="… when made within this many days after the alert.")
    priority: PrioritySection = PrioritySection()


