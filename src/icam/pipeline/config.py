"""The project configuration, ``icam.toml``, validated by pydantic.

Every field carries its meaning and unit in ``description``; ``icam init`` writes a
commented template from the same models. Unknown keys and impossible values are refused
with the key's dotted name (:func:`load_config` turns pydantic's errors into one
:class:`~icam.core.errors.ConfigError` line).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Annotated, Literal, Union

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pyproj import CRS
from pyproj.exceptions import CRSError

from icam.carbon.buffer import NonPermanenceRisk
from icam.core.errors import ConfigError

CONFIG_NAME = "icam.toml"
Year = Annotated[int, Field(ge=1970, le=2100)]
# a value `icam init` writes for the user to replace, e.g. "<project name>": never run with one
_PLACEHOLDER = re.compile(r"^\s*<[^<>]*>\s*$")


def _no_placeholder(value: str) -> str:
    if _PLACEHOLDER.match(value):
        raise ValueError("still the template's placeholder; write the project's own value there")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectSection(_Section):
    """Who the project is."""

    name: str = Field(min_length=1, description="Project name, as in the project description.")
    vcs_id: int | None = Field(None, ge=1, description="Verra VCS project ID (944 for Alto Mayo); empty (\"\") if "
                               "not registered.")
    description: str = Field("", description="One line on the project, shown in the report.")

    _name_set = field_validator("name")(_no_placeholder)

    @field_validator("vcs_id", mode="before")
    @classmethod
    def _empty_is_none(cls, value):
        return None if isinstance(value, str) and not value.strip() else value


class GridSection(_Section):
    """The one grid every raster is read onto."""

    crs: str = Field(description="CRS of the grid in metres: an EPSG code ('EPSG:32718'), PROJ string or WKT. "
                     "Geographic CRSs are refused: pick the UTM zone or an equal-area CRS.")
    resolution_m: float = Field(gt=0, le=10_000, description="Cell size in metres (30 for Landsat-based maps).")
    bounds: tuple[float, float, float, float] | None = Field(
        None, description="Grid extent [xmin, ymin, xmax, ymax] in the grid CRS, metres. Default: the reference "
        "region's bounds, else the project area's, else the first forest raster's.")

    @field_validator("crs")
    @classmethod
    def _crs_is_projected(cls, value: str) -> str:
        _no_placeholder(value)
        try:
            crs = CRS.from_user_input(value)
        except CRSError as exc:
            reason = " ".join(str(exc).replace(";", ",").split())[:100]
            raise ValueError(f"PROJ does not know this CRS ({reason}); give an EPSG code such as 'EPSG:32718', a "
                             "PROJ string or WKT") from None
        if crs.is_geographic:
            raise ValueError("geographic (degrees); use a projected CRS in metres, e.g. the project's UTM zone "
                             "(EPSG:327xx south, EPSG:326xx north): icam reprojects the inputs onto it")
        unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
        if unit not in ("metre", "meter", "m"):
            raise ValueError(f"its axis unit is {unit!r}; use a projected CRS in metres (icam grids are in metres)")
        return value

    @field_validator("bounds")
    @classmethod
    def _bounds_ordered(cls, value):
        if value is not None and not all(math.isfinite(v) for v in value):
            raise ValueError("bounds must be finite numbers (metres in the grid CRS)")
        if value is not None and not (value[0] < value[2] and value[1] < value[3]):
            raise ValueError("bounds must be [xmin, ymin, xmax, ymax] with xmin < xmax and ymin < ymax")
        return value


class BoundariesSection(_Section):
    """Polygons (GeoPackage, Shapefile or GeoJSON, any CRS) rasterised into zones on the grid."""

    project_area: Path | None = Field(None, description="Project area polygon(s).")
    leakage_belt: Path | None = Field(None, description="Leakage belt polygon(s), outside the project area.")
    reference_region: Path | None = Field(None, description="Reference region or jurisdiction polygon(s).")
    admin_units: Path | None = Field(None, description="Administrative units (one polygon per unit).")
    admin_unit_field: str = Field("name", min_length=1,
                                  description="Attribute of admin_units holding each unit's name.")


class _Source(_Section):
    reproject: bool = Field(False, description="Allow reprojection onto the grid (nearest neighbour for categories). "
                            "Off by default: a raster on another grid is refused, never resampled silently.")


class _SingleBandSource(_Source):
    band: int | None = Field(None, ge=1, le=10_000, description="Band read from each file of this section (1 = "
                             "the first). Needed when a file has several bands: icam never picks one silently.")


Paths = Annotated[list[Path], Field(min_length=1)]


class HansenSource(_SingleBandSource):
    """Hansen Global Forest Change tiles (treecover2000, lossyear, datamask)."""

    kind: Literal["hansen"]
    treecover2000: Paths = Field(description="treecover2000 tiles (files or glob patterns), percent canopy cover "
                                 "in 2000.")
    lossyear: Paths = Field(description="lossyear tiles: 0 = no loss, k = loss in year_offset + k.")
    datamask: list[Path] = Field(default_factory=list, description="datamask tiles: 0 = no data, 1 = land, "
                                 "2 = water. Optional.")
    canopy_cover_min_pct: float = Field(30, ge=0, le=100, description="Forest = canopy cover above this percent "
                                        "in 2000.")
    min_mapping_unit_ha: float = Field(0.5, ge=0, le=1000, description="Forest patches smaller than this (ha, "
                                       "8-connected) are non-forest.")
    year_offset: Year = Field(2000, description="Year of lossyear value 0; value k means loss in year_offset + k.")
    last_year: Year = Field(description="Last year of loss in the data (2024 for GFC v1.12).")


class ForestMapsSource(_SingleBandSource):
    """Yearly forest/non-forest maps (JRC TMF, forestatrisk): one file per year."""

    kind: Literal["forest_maps"]
    maps: dict[Year, Path] = Field(min_length=2, description="Year -> forest map file.")
    forest_value: int = Field(1, description="Cell value for forest.")
    nonforest_value: int = Field(0, description="Cell value for non-forest.")
    nodata_value: int = Field(255, description="Cell value for no data.")


class FccSource(_SingleBandSource):
    """Forest-cover-change raster: codes for loss in each period and forest at the end (forestatrisk's fcc123,
    fcc12345)."""

    kind: Literal["fcc"]
    file: Path = Field(description="The change raster.")
    years: list[Year] = Field(min_length=2, description="Period boundaries, e.g. [2000, 2010, 2020] for fcc123.")
    loss_codes: list[list[int]] | None = Field(
        None, description="Codes of loss in each period; default [[1], [2], ...] (forestatrisk convention).")
    forest_codes: list[int] | None = Field(None, description="Codes of forest at the last year; default [number "
                                           "of periods + 1].")
    nonforest_codes: list[int] = Field(default_factory=list, description="Codes of non-forest throughout "
                                       "(forestatrisk has none: non-forest is nodata).")

    @model_validator(mode="after")
    def _codes_match_periods(self):
        n_periods = len(self.years) - 1
        if self.loss_codes is not None and len(self.loss_codes) != n_periods:
            raise ValueError(f"loss_codes has {len(self.loss_codes)} lists but years define {n_periods} periods")
        return self


class LandcoverStackSource(_Source):
    """Multi-band yearly land-cover stack (MapBiomas style): band i is the map of years[i]."""

    kind: Literal["landcover_stack"]
    file: Path = Field(description="The multi-band raster.")
    years: list[Year] = Field(min_length=2, description="Year of each band, in band order.")
    forest_classes: list[int] = Field(min_length=1, description="Land-cover codes that count as forest.")
    nodata_value: int | None = Field(None, description="Code for no data (default: the file's nodata).")


class LossYearSource(_SingleBandSource):
    """Year-of-loss raster (Hansen lossyear, Terra-i) with a forest map at the start year."""

    kind: Literal["loss_year"]
    forest_start: Path = Field(description="Forest map at start_year: forest_value = forest, nodata_value = no "
                               "data, other = non-forest.")
    loss_year: Path = Field(description="Year-of-loss raster: 0 = no loss, k = loss in year_offset + k.")
    start_year: Year = Field(description="Year of the forest_start map.")
    year_offset: int = Field(0, ge=0, le=2100, description="Added to the raster's values to give the calendar year.")
    last_year: Year = Field(description="Last year of loss in the data.")
    forest_value: int = Field(1, description="forest_start value for forest.")
    nodata_value: int = Field(255, description="forest_start value for no data.")


ForestSource = Annotated[
    Union[HansenSource, ForestMapsSource, FccSource, LandcoverStackSource, LossYearSource],
    Field(discriminator="kind"),
]


class MonitoringPeriod(_Section):
    """One monitoring period, first and last day."""

    start: dt.date = Field(description="First day of the monitoring period.")
    end: dt.date = Field(description="Last day of the monitoring period.")


class PeriodsSection(_Section):
    """Reference and monitoring periods (VM0015 / VT0007 vocabulary)."""

    historical_reference: tuple[Year, Year] = Field(description="Historical reference period [start year, end year].")
    calibration: tuple[Year, Year] = Field(description="Calibration period [T1, T2] for risk models.")
    confirmation: tuple[Year, Year] = Field(description="Confirmation period [T2, T3].")
    project_start: dt.date = Field(description="Project start date.")
    crediting_period_years: int = Field(20, ge=1, le=100, description="Length of the crediting period, years.")
    monitoring: list[MonitoringPeriod] = Field(default_factory=list, description="Monitoring periods, in order.")

    @model_validator(mode="after")
    def _ordered(self):
        for name in ("historical_reference", "calibration", "confirmation"):
            start, end = getattr(self, name)
            if start >= end:
                raise ValueError(f"{name} must be [start, end] with start < end, got [{start}, {end}]")
        if self.calibration[1] != self.confirmation[0]:
            raise ValueError("confirmation must start where calibration ends (T2)")
        previous_end = self.project_start - dt.timedelta(days=1)
        for i, period in enumerate(self.monitoring):
            if period.start > period.end:
                raise ValueError(f"monitoring[{i}] ends before it starts")
            if period.start <= previous_end:
                raise ValueError(f"monitoring[{i}] starts on {period.start}, before the previous period's end "
                                 f"or the project start")
            previous_end = period.end
        return self


class Assessment(_Section):
    """One sample-based estimate of forest loss between two epochs (strata = the map's classes)."""

    name: str = Field(min_length=1, description="Label, e.g. 'historical reference period' or 'monitoring 2008-2012'.")
    start_year: Year = Field(description="Epoch the period starts at: loss in the years after it, up to end_year.")
    end_year: Year = Field(description="Epoch the period ends at.")
    samples: Path = Field(description="Labelled reference sample (CSV or GeoPackage): id, x, y, stratum, map_class, "
                          "ref_class with classes 1 stable forest, 2 forest loss, 3 non-forest.")

    @model_validator(mode="after")
    def _ordered(self):
        if self.start_year >= self.end_year:
            raise ValueError(f"start_year {self.start_year} must be before end_year {self.end_year}")
        return self


class ActivityDataSection(_Section):
    """Sample-based activity data (Olofsson et al. 2014): areas of forest loss with confidence intervals."""

    zone: Literal["reference_region", "project_area", "leakage_belt", "grid"] = Field(
        "reference_region", description="Zone whose map is stratified and sampled.")
    strata: Literal["map_classes", "map_classes_by_zone"] = Field(
        "map_classes", description="Strata of the samples: the map classes (1 stable forest, 2 loss, 3 non-forest), "
        "or the map classes by zone (class + 10 in the project area, + 20 in the leakage belt), so that the "
        "project's own loss is estimated precisely (Stehman 2014).")
    assessments: list[Assessment] = Field(default_factory=list, description="One entry per period assessed.")


RiskZone = Literal["reference_region", "project_area", "leakage_belt", "grid"]
RISK_MODELS = ("logistic", "gradient_boosting", "spatial", "local_rate")


class RiskCovariates(_Section):
    """Spatial covariates of the alternative risk models (distance to the forest edge, to past
    deforestation, protection by the project area and the administrative unit come from the
    landscape itself)."""

    roads: Path | None = Field(None, description="Roads (lines; GeoPackage, Shapefile or GeoJSON): distance to "
                               "the nearest road.")
    settlements: Path | None = Field(None, description="Settlements (points or polygons): distance to the nearest.")
    rivers: Path | None = Field(None, description="Rivers (lines): distance to the nearest river.")
    elevation: Path | None = Field(None, description="Digital elevation model (GeoTIFF, metres): elevation and "
                                   "slope; reprojected onto the grid by bilinear resampling.")


class RiskSection(_Section):
    """Deforestation risk maps (VT0007 v1.0): the benchmark, alternative models that must beat it on
    both the calibration and the confirmation periods ([periods] calibration and confirmation)."""

    zone: RiskZone = Field("reference_region", description="Zone (the jurisdiction or reference region) where "
                           "the maps are fitted, assessed and the expected deforestation allocated.")
    assessment_cell_ha: float = Field(100_000, gt=0, description="Side² of the square assessment cells, ha "
                                      "(VT0007 §5.5: the median project size; 100,000 ha when unknown).")
    models: list[Literal["logistic", "gradient_boosting", "spatial", "local_rate"]] = Field(
        default_factory=lambda: list(RISK_MODELS), description="Alternative models tried against the benchmark: "
        "logistic, gradient_boosting, spatial (logistic with iCAR spatial effects), local_rate (riskmapjnr's "
        "moving-window rate). Empty: the benchmark only.")
    sample_per_class: int = Field(20_000, ge=100, le=5_000_000, description="Pixels drawn from each of the "
                                  "deforested and the undeforested forest to fit a model (balanced sample).")
    spatial_cell_km: float = Field(10, gt=0, description="Side of the cells of the spatial model's random "
                                   "effects, km (forestatrisk: 10 km).")
    local_rate_window_px: int = Field(21, ge=3, le=1001, description="Side of the local_rate model's moving "
                                      "window, pixels (odd).")
    seed: int = Field(42, description="Random seed of the balanced samples and the models.")
    covariates: RiskCovariates = RiskCovariates()

    @field_validator("local_rate_window_px")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"must be odd (a window centred on the pixel), got {value}")
        return value


class BaselineSection(_Section):
    """The baseline: the quantity of future deforestation and where it happens (VM0015 v1.1 step 4;
    VM0048 v1.0 with VT0007)."""

    quantity: Literal["average", "trend"] = Field("average", description="Projection of the annual "
                                                  "deforestation of the risk zone from the historical reference "
                                                  "period: its average, or its linear trend (VM0015 step 4.1).")
    years: tuple[Year, Year] | None = Field(None, description="Baseline years [first, last]; default the ten "
                                            "years after the historical reference period (VM0015's fixed "
                                            "baseline period).")
    validity_years: int = Field(6, ge=1, le=30, description="Years the VT0007 density map is valid for "
                                "(VM0048: six), from the first baseline year.")

    @model_validator(mode="after")
    def _ordered(self):
        if self.years is not None and self.years[0] > self.years[1]:
            raise ValueError(f"years must be [first, last] with first <= last, got {list(self.years)}")
        return self


CarbonPool = Literal["above_ground", "below_ground", "dead_wood", "litter", "soil_organic_carbon"]
StockPairs = Annotated[dict[CarbonPool, tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]]],
                       Field(min_length=1)]


class CarbonStratum(_Section):
    """One forest stratum of the carbon accounting: where it is and where its stock comes from.

    Its stock comes from the tree inventory's plots of this stratum when there are any, else from
    ``stock`` (entered), else from ``ipcc_default_agb_mg_ha`` (flagged "IPCC default" in the report).
    """

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_ .-]*$",
                      description="Stratum name, as in the inventory's stratum column.")
    range: tuple[float, float] | None = Field(None, description="Values of strata_raster in this stratum, [low, "
                                              "high) (e.g. elevation in m); required with strata_raster.")
    root_to_shoot: float = Field(0.37, ge=0, le=2, description="Below- to above-ground biomass ratio (IPCC 2006 "
                                 "Vol. 4 Table 4.4: 0.37 tropical rain forest, 0.27 tropical mountain systems).")
    stock: StockPairs | None = Field(None, description="Entered carbon stock per pool: pool = [stock, standard "
                                     "error], tC/ha; used when the stratum has no inventory plots.")
    ipcc_default_agb_mg_ha: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(ge=0)]] | None = Field(
        None, description="IPCC default above-ground biomass [value, standard error] in t d.m./ha, used when the "
        "stratum has neither plots nor an entered stock.")
    ipcc_reference: str = Field("", description="The table the IPCC default comes from, shown in the report.")

    @model_validator(mode="after")
    def _range_ordered(self):
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range must be [low, high) with low < high, got {list(self.range)}")
        return self


class CarbonSection(_Section):
    """Carbon accounting per monitoring period ([periods] monitoring), credits issued into the
    project's ledger (VM0015 v1.1 Part 3; docs/methods.md "Accounting in the pipeline")."""

    project_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                            description="Project identifier in the credit ledger and its serial numbers, "
                            "e.g. 'VCS944' (letters, digits, '_', '.', '-').")
    baseline_source: Literal["vt0007_density", "vm0015_allocation"] = Field(
        "vt0007_density", description="Baseline deforestation of the project area and leakage belt: the VT0007 "
        "density map (ha/yr per pixel) summed per stratum, or VM0015's year-by-year allocation to the riskiest "
        "forest (which front-loads the zones holding the riskiest pixels).")
    forest: StockPairs | None = Field(None, description="Carbon stock of a single forest stratum per pool: pool = "
                                      "[stock, standard error], tC/ha (pools: above_ground, below_ground, dead_wood, "
                                      "litter, soil_organic_carbon); give this or [[carbon.strata]].")
    strata_raster: Path | None = Field(None, description="Raster whose values place forest pixels in strata (e.g. "
                                       "the elevation model, m); needed with more than one stratum.")
    strata: list[CarbonStratum] = Field(default_factory=list, description="Forest strata ([[carbon.strata]]).")
    inventory: Path | None = Field(None, description="Tree inventory CSV: plot, stratum, plot_area_ha, d_cm, and "
                                   "optionally family, genus, species, h_m, wd_g_cm3.")
    wood_density: Path | None = Field(None, description="Wood-density table in the Global Wood Density Database's "
                                      "format, for trees without a measured wood density.")
    wood_density_region: str | None = Field(None, description="Region of the wood-density table to use (e.g. "
                                            "'South America (tropical)'); all regions when empty.")
    carbon_fraction: float = Field(0.47, gt=0, le=1, description="Carbon fraction of dry biomass (IPCC 2006).")
    inventory_draws: int = Field(1000, ge=100, le=100_000, description="Monte Carlo draws of the plots' biomass.")
    post_deforestation_class: str = Field("coffee agroforestry", min_length=1,
                                          description="Name of the land use that replaces the forest.")
    post_deforestation: StockPairs = Field(description="Long-term (20-year) average carbon stock of the "
                                           "post-deforestation class per pool: pool = [stock, standard error], tC/ha.")
    pools: list[CarbonPool] = Field(default_factory=lambda: ["above_ground", "below_ground"], min_length=1,
                                    description="Pools counted in the emission factor; each needs a stock in the "
                                    "strata and in post_deforestation (inventory strata give above_ground and "
                                    "below_ground).")
    market_leakage_factor: float = Field(0.0, ge=0, le=1, description="Market-leakage share of the gross "
                                         "reductions (0 for VM0015 unplanned deforestation).")
    uncertainty_rule: Literal["vcs", "excess_over_10", "art_trees_2_0"] = Field(
        "vcs", description="Uncertainty deduction: 'vcs' (U/1.6449 × 0.4307 of the 90 % half-width U, VCS "
        "Methodology Requirements v4.4 §2.4 as quoted by secondary sources), 'excess_over_10' (the excess over "
        "10 %), 'art_trees_2_0' (ART TREES v2.0 eq. 11).")
    buffer_pct: float | None = Field(None, ge=0, le=100, description="Non-permanence buffer, % of the net "
                                     "reductions after the uncertainty deduction, as the tool's result; give this or "
                                     "[carbon.non_permanence_risk].")
    non_permanence_risk: NonPermanenceRisk | None = Field(
        None, description="The AFOLU Non-Permanence Risk Tool v4.2 assessment (internal, external, natural), "
        "scored by icam into the buffer %.")
    ex_ante_effectiveness: float | None = Field(None, ge=0, le=1, description="Share of the baseline "
                                                "deforestation the project expects to avoid, for the ex-ante table of "
                                                "the crediting period (no ex-ante table when empty).")
    uncertainty_draws: int = Field(2000, ge=100, le=1_000_000, description="Monte Carlo draws for the uncertainty "
                                   "of the net reductions.")
    seed: int = Field(42, description="Random seed of the Monte Carlos.")

    @model_validator(mode="after")
    def _consistent(self):
        if (self.forest is None) == (not self.strata):
            raise ValueError("give either forest (one stratum) or [[carbon.strata]], not both or neither")
        if (self.buffer_pct is None) == (self.non_permanence_risk is None):
            raise ValueError("give either buffer_pct or [carbon.non_permanence_risk], not both or neither")
        names = [s.name for s in self.strata]
        if len(set(names)) != len(names):
            raise ValueError(f"two strata share a name in {names}")
        if len(self.strata) > 1 and self.strata_raster is None:
            raise ValueError("several strata need strata_raster (the raster whose values place pixels in strata)")
        if self.strata_raster is not None and any(s.range is None for s in self.strata):
            raise ValueError("with strata_raster every stratum needs its range [low, high)")
        for s in self.strata:
            if s.stock is None and s.ipcc_default_agb_mg_ha is None and self.inventory is None:
                raise ValueError(f"stratum '{s.name}' has no stock source: give an inventory, its stock or its "
                                 "ipcc_default_agb_mg_ha")
        missing = [p for p in self.pools if p not in self.post_deforestation]
        if missing:
            raise ValueError(f"post_deforestation has no stock for the counted pool(s) {', '.join(missing)}")
        for name, stock in [("forest", self.forest)] + [(f"strata {s.name}", s.stock) for s in self.strata]:
            missing = [p for p in self.pools if stock is not None and p not in stock]
            if missing:
                raise ValueError(f"{name} has no stock for the counted pool(s) {', '.join(missing)}")
        return self


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
    """The priority score of an alert event (:class:`icam.enforcement.alerts.PriorityRule`; docs/methods.md):
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


class IcamConfig(_Section):
    """The whole icam.toml."""

    project: ProjectSection
    grid: GridSection
    boundaries: BoundariesSection = BoundariesSection()
    forest: ForestSource
    periods: PeriodsSection | None = None
    activity_data: ActivityDataSection | None = None
    risk: RiskSection | None = None
    baseline: BaselineSection | None = None
    carbon: CarbonSection | None = None
    agreements: AgreementsSection | None = None
    enforcement: EnforcementSection | None = None

    @model_validator(mode="after")
    def _risk_needs_periods(self):
        if self.risk is not None and self.periods is None:
            raise ValueError("[risk] needs [periods] (its calibration and confirmation periods)")
        if self.baseline is not None and self.risk is None:
            raise ValueError("[baseline] needs [risk] (the map that places the baseline deforestation)")
        if self.carbon is not None and self.baseline is None:
            raise ValueError("[carbon] needs [baseline] (the baseline deforestation the credits are measured against)")
        if self.carbon is not None and not self.periods.monitoring:
            raise ValueError("[carbon] needs monitoring periods ([periods] monitoring)")
        return self


_KINDS = ("hansen", "forest_maps", "fcc", "landcover_stack", "loss_year")
_TEMPLATE_HINT = "`icam init` writes a template documenting every key"


def _dotted(loc: tuple) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(("function-", "model-"))]
    # pydantic inserts the discriminator's value (e.g. 'hansen') after 'forest'
    if len(parts) >= 2 and parts[0] == "forest" and parts[1] in _KINDS:
        parts.pop(1)
    return ".".join(parts)


def _describe(error: dict) -> tuple[str, str]:
    """(what is wrong, how to fix it) for pydantic's first error."""
    key = _dotted(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key '{key}' in {CONFIG_NAME}", f"remove it or check its spelling ({_TEMPLATE_HINT})"
    if kind == "missing":
        return f"missing key '{key}' in {CONFIG_NAME}", f"add it ({_TEMPLATE_HINT})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return f"'{key}.kind' is not a forest format in {CONFIG_NAME}", f"set it to one of {', '.join(_KINDS)}"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    shown = f" = {value!r}"[:80] if value is not None and not isinstance(value, dict) else ""
    where = f"'{key}'{shown}" if key else CONFIG_NAME
    problem, _, fix = message.partition("; ")  # a validator's message may end with its own fix
    return f"{where}: {problem} in {CONFIG_NAME}", fix or f"fix it ({_TEMPLATE_HINT})"


def parse_config(data: dict, base_dir: Path) -> IcamConfig:
    """Validate a parsed TOML mapping; relative paths are resolved against ``base_dir``."""
    try:
        config = IcamConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(*_describe(exc.errors()[0])) from None
    return _resolve_paths(config, base_dir)


def decode_text(raw: bytes) -> str:
    """A text file as users save it: UTF-8 (with or without a BOM), UTF-16 with a BOM (Windows' "Unicode"),
    else Windows-1252 / Latin-1 (Windows' "ANSI" in Spanish or Portuguese)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def load_config(path: Path) -> IcamConfig:
    """Read and validate ``icam.toml`` (a file, or a project folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_NAME
    if not path.exists():
        raise ConfigError(f"no {path.name} at {path.parent}",
                          f"run `icam init {path.parent}` to write a documented template")
    if not path.is_file():
        raise ConfigError(f"{path} is not a file", f"move it away and run `icam init {path.parent}`")
    try:
        text = decode_text(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read ({exc.strerror})", "check the file's permissions") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc})", "fix the syntax at the line given") from None
    return parse_config(data, path.parent.resolve())


def _resolve_paths(config: IcamConfig, base_dir: Path) -> IcamConfig:
    def resolve(value):
        if isinstance(value, Path):
            return value if value.is_absolute() else base_dir / value
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    boundaries = config.boundaries.model_copy(update={
        name: resolve(getattr(config.boundaries, name))
        for name in ("project_area", "leakage_belt", "reference_region", "admin_units")
    })
    forest = config.forest.model_copy(update={
        name: resolve(getattr(config.forest, name))
        for name, field in type(config.forest).model_fields.items()
        if name in ("treecover2000", "lossyear", "datamask", "maps", "file", "forest_start", "loss_year")
    })
    update = {"boundaries": boundaries, "forest": forest}
    if config.risk is not None:
        covariates = config.risk.covariates.model_copy(update={
            name: resolve(getattr(config.risk.covariates, name)) for name in RiskCovariates.model_fields})
        update["risk"] = config.risk.model_copy(update={"covariates": covariates})
    if config.activity_data is not None:
        assessments = [a.model_copy(update={"samples": resolve(a.samples)}) for a in config.activity_data.assessments]
        update["activity_data"] = config.activity_data.model_copy(update={"assessments": assessments})
    if config.agreements is not None:
        update["agreements"] = config.agreements.model_copy(update={
            name: resolve(getattr(config.agreements, name)) for name in
            ("households", "parcels", "agreements", "benefit_schedule", "deliveries", "field_verifications",
             "grievances", "members")})
    if config.carbon is not None:
        update["carbon"] = config.carbon.model_copy(update={
            name: resolve(getattr(config.carbon, name)) for name in ("strata_raster", "inventory", "wood_density")})
    if config.enforcement is not None:
        update["enforcement"] = config.enforcement.model_copy(update={
            name: resolve(getattr(config.enforcement, name)) for name in
            ("alerts", "roads", "settlements", "patrols", "tracks", "observations", "actions")})
    return config.model_copy(update=update)
