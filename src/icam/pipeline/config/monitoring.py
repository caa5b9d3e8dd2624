"""``[periods]``, ``[activity_data]``, ``[risk]`` and ``[baseline]``: the periods, the samples, the risk maps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from icam.pipeline.config.base import Year, _Section


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
    label_error_rate: float = Field(0.0, ge=0, lt=0.5, description="Share of reference labels that are wrong, each "
                                    "wrong label any other class alike, as a re-interpretation of part of the "
                                    "sample by a second interpreter measures it. The loss estimates are corrected "
                                    "for it (docs/methods.md, 'Label errors'); 0 takes the labels as the truth.")

    @property
    def by_zone(self) -> bool:
        """Whether the samples' strata are the map classes by zone (:func:`icam.forest.activity.strata_by_zone`)."""
        return self.strata == "map_classes_by_zone"


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




class CounterfactualSection(_Section):
    """Counterfactual checks of the baseline: the deforestation avoided inside the project estimated by
    methods independent of it, and whether the baseline over-credits (docs/methods.md, "Counterfactual
    checks")."""

    density_per_ha: float = Field(0.25, gt=0, le=100, description="Project forest pixels sampled per hectare for "
                                  "pixel matching (PACT: K).")
    pool_ratio: int = Field(10, ge=1, le=1000, description="Control pixels sampled per project pixel (PACT: S = "
                            "10 K).")
    iterations: int = Field(10, ge=1, le=200, description="Seeded repetitions of the sampling and matching "
                            "(PACT: 100).")
    pre_years: int = Field(5, ge=2, le=30, description="Years before the project start on which the difference "
                           "in differences and the parallel-trends test rest.")
    elevation_caliper_m: float = Field(200, gt=0, description="Largest elevation difference within a pair, m "
                                       "(PACT: 200).")
    slope_caliper_deg: float = Field(2.5, gt=0, description="Largest slope difference within a pair, degrees "
                                     "(PACT: 2.5).")
    caliper_sd: float = Field(0.2, gt=0, le=5, description="Caliper on elevation, slope and the distances to "
                              "roads, settlements and the forest edge, in standard deviations (the narrower of "
                              "this and the absolute caliper applies).")
    smd_max: float = Field(0.2, gt=0, description="Largest |standardised mean difference| after matching that is "
                           "not flagged.")
    donor_share: float = Field(0.1, gt=0, le=1, description="The synthetic control's donors: square tiles of the "
                               "control area, each holding this share of the project's forest.")
    synthetic_weights: Literal["pooled", "fitted"] = Field("pooled", description="The synthetic control's donor "
                                                           "weights: 'pooled' (the donors' loss over their forest, "
                                                           "year by year) or 'fitted' on the years before the start "
                                                           "(penalised towards the pooled donors, the penalty chosen "
                                                           "on the project's own years before the start).")
    donor_min_forest_share: float = Field(0.5, ge=0, le=1, description="The least forest share of a donor tile "
                                          "(the donors' forest cover similar to the project's).")
    placebo_in_time: bool = Field(True, description="Also run each method with fake start dates before the "
                                  "real one (their spread is the methods' noise).")
    placebo_iterations: int = Field(1, ge=1, le=200, description="Iterations of each placebo run (each fake "
                                    "start repeats the whole matching).")
    over_crediting_margin: float = Field(0.5, ge=0, description="The baseline over-credits when its avoided "
                                         "loss exceeds the largest upper 90 % bound of the independent methods by "
                                         "more than this share.")
    seed: int = Field(0, description="Random seed of the samples, the matchings and the bootstrap.")
