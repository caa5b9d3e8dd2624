"""Deforestation risk maps: the VT0007 benchmark (:mod:`icam.risk.benchmark`)."""

from icam.risk.benchmark import (
    BenchmarkFit,
    adjust_to_quantity,
    class_limits_m,
    density_per_year,
    distance_to_edge_m,
    fit_relative_frequency,
    modelling_regions,
    negligible_risk_threshold_m,
    predict_density,
    region_admin,
    region_class,
    vulnerability_classes,
)

__all__ = [
    "BenchmarkFit",
    "adjust_to_quantity",
    "class_limits_m",
    "density_per_year",
    "distance_to_edge_m",
    "fit_relative_frequency",
    "modelling_regions",
    "negligible_risk_threshold_m",
    "predict_density",
    "region_admin",
    "region_class",
    "vulnerability_classes",
]
