"""Risk-map candidates of a project: the VT0007 benchmark and the alternative models, tested alike.

Source: VT0007 v1.0 (2024) §5.5. Every candidate is fitted on the calibration period (t1→t2),
assessed on it (the "calibration fit") and on the confirmation period (t2→t3, predicted from the
calibration fit with the covariates at t2); each prediction is turned into a density (ha/pixel)
and adjusted to the period's actual loss before the comparison in assessment cells, exactly as
the benchmark (:mod:`icam.risk.workflow`). An alternative replaces the benchmark only if its
median absolute error is lower in BOTH periods; among the alternatives that pass, the one with
the lowest confirmation MedAE is chosen. The chosen candidate is refitted on the historical
period (t1→t3) and applied to the forest at t3: the risk map of the baseline.

Candidates:
- ``benchmark``: distance-to-edge classes × administrative units (VT0007 §5.3).
- ``logistic``, ``gradient_boosting``, ``spatial``: :mod:`icam.risk.models` on a balanced sample,
  with the covariates distance to the forest edge (km, and log1p(d/100 m)), to roads,
  settlements and rivers (log1p(km)), elevation (km), slope (degrees), protection (inside the
  project area) and the administrative unit (one column per unit but the first); the spatial
  model adds iCAR effects on cells of ``spatial_cell_km``.
- ``local_rate``: riskmapjnr's JNR approach, the share of forest lost in a moving window during
  the fitting period, sliced into 30 classes of equal width and fitted per class × unit like the
  benchmark. Its calibration fit is in-sample by construction (the rate holds the period's own
  loss), as in riskmapjnr; its confirmation test uses the calibration period's rates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from rasterio.features import rasterize

from icam.core.errors import InputError
from icam.landscape.grid import Grid
from icam.risk import benchmark as bm
from icam.risk import models as rm
from icam.risk import validate as va
from icam.risk.covariates import CovariateStack, distance_to_mask_m
from icam.risk.workflow import Assessment, BenchmarkResult, cell_px, compare_on_forest, finite_or_none, run_benchmark

AUC_SAMPLE_PX = 400_000  # forest pixels drawn to compute a map's AUC (ranks of millions are slow, and no better)
MAX_DISTANCE_M = 1e6  # distances beyond a grid (no feature on it) are clipped to 1,000 km

DESCRIPTIONS = {
    "benchmark": "VT0007 benchmark: distance to the forest edge in 30 classes × administrative unit",
    "logistic": "logistic regression on the covariates",
    "gradient_boosting": "gradient-boosted trees on the covariates",
    "spatial": "logistic regression with iCAR spatial effects (posterior mode)",
    "local_rate": "riskmapjnr's local deforestation rate in a moving window, 30 classes × unit",
}


@dataclass(frozen=True, eq=False)
class RiskSetting:
    """Where and when the candidates are fitted and assessed."""

    grid: Grid
    forest: tuple[np.ndarray, np.ndarray, np.ndarray]  # bool, forest at t1, t2, t3 inside the zone
    years: tuple[int, int, int]
    units: np.ndarray  # int32 unit id inside the zone (≥ 1), 0 outside
    assessment_cell_ha: float
    static_covariates: dict[str, np.ndarray] = field(default_factory=dict)  # float32 maps, NaN off the zone
    project: np.ndarray | None = None  # bool, protected (the project area)
    sample_per_class: int = 20_000
    spatial_cell_km: float = 10.0
    local_rate_window_px: int = 21
    seed: int = 42

    @property
    def zone(self) -> np.ndarray:
        return self.units > 0


@dataclass(frozen=True, eq=False)
class Candidate:
    """One risk map's assessment in both periods, and its score on the forest at t3."""

    name: str
    calibration: Assessment
    confirmation: Assessment
    score_t3: np.ndarray  # float32 relative risk on the forest at t3 (historical refit), 0 elsewhere
    auc_confirmation: float
    fom_confirmation: float
    seconds: float
    details: dict

    def metrics(self) -> dict:
        return {"name": self.name, "description": DESCRIPTIONS[self.name],
                "calibration": self.calibration.metrics(), "confirmation": self.confirmation.metrics(),
                "auc_confirmation": finite_or_none(self.auc_confirmation),
                "fom_confirmation": finite_or_none(self.fom_confirmation),
                "seconds": round(self.seconds, 2), **self.details}


@dataclass(frozen=True, eq=False)
class RiskResult:
    """The candidates, the VT0007 choice and the chosen risk map."""

    benchmark: BenchmarkResult
    candidates: list[Candidate]
    tests: dict[str, dict]  # alternative name → vt0007_model_test result
    chosen: str
    reason: str
    fom_threshold: float
    risk_ha_per_year: np.ndarray  # chosen map adjusted to the expected deforestation, ha/pixel/year
    expected_ha: float
    validity_years: float

    @property
    def chosen_candidate(self) -> Candidate:
        return next(c for c in self.candidates if c.name == self.chosen)

    def to_dict(self) -> dict:
        return {
            "years": {"calibration": [self.benchmark.calibration.start_year, self.benchmark.calibration.end_year],
                      "confirmation": [self.benchmark.calibration.end_year, self.benchmark.historical.end_year]},
            "benchmark": self.benchmark.to_dict(),
            "candidates": [c.metrics() for c in self.candidates],
            "vt0007_tests": self.tests,
            "vm0015_fom_threshold": self.fom_threshold,
            "chosen": self.chosen,
            "reason": self.reason,
            "risk_map": {"start_year": self.benchmark.historical.end_year, "validity_years": self.validity_years,
                         "expected_ha": self.expected_ha,
                         "expected_ha_per_year": self.expected_ha / self.validity_years,
                         "allocated_ha_per_year": float(self.risk_ha_per_year.sum(dtype=np.float64))},
        }


# --------------------------------------------------------------------------- map quality

def _auc(score: np.ndarray, lost: np.ndarray, forest: np.ndarray, seed: int) -> float:
    pool = np.flatnonzero(forest)
    rng = np.random.default_rng(seed)
    drawn = pool if pool.size <= AUC_SAMPLE_PX else rng.choice(pool, AUC_SAMPLE_PX, replace=False)
    labels = lost.ravel()[drawn]
    if labels.all() or not labels.any():
        return math.nan
    return va.auc(score.ravel()[drawn], labels)


def _fom(score: np.ndarray, lost: np.ndarray, forest: np.ndarray, zone: np.ndarray) -> float:
    """Figure of merit of the map that deforests the n highest-scored forest pixels, n = the actual loss.

    The n-th highest score is found by one partition of the forest's scores; pixels scoring above it
    are taken, then as many as needed of those scoring exactly it, in row-major order.
    """
    lost = lost & forest
    n = int(np.count_nonzero(lost))
    values = score[forest]
    if n == 0:
        return math.nan  # no loss in the period: the figure of merit is undefined
    kth = np.partition(values, values.size - n)[values.size - n]
    predicted = forest & (score > kth)
    ties = np.flatnonzero(forest & (score == kth))
    predicted.ravel()[ties[:n - int(np.count_nonzero(predicted))]] = True
    return va.figure_of_merit(lost, predicted, zone)


def _assess(period: str, score: np.ndarray, lost: np.ndarray, forest: np.ndarray, s: RiskSetting,
            cells: np.ndarray) -> Assessment:
    """A relative-risk map on the forest → density adjusted to the actual loss → assessment cells."""
    index = np.flatnonzero(forest)
    area = s.grid.cell_area_ha()[:, 0][index // s.grid.width]
    lost_px = lost.ravel()[index]
    adjusted, _ = bm.adjust_to_quantity(score.ravel()[index] * area, float(area[lost_px].sum()), area)
    side = va.assessment_cell_side_px(s.grid.resolution_m, s.assessment_cell_ha)
    return compare_on_forest(period, index, adjusted, lost_px, area, cells, cell_px(s.units, cells, side), s.grid,
                             s.assessment_cell_ha)


# --------------------------------------------------------------------------- covariates

def _edge_layers(forest: np.ndarray, grid: Grid) -> dict[str, np.ndarray]:
    distance = np.minimum(bm.distance_to_edge_m(forest, grid), MAX_DISTANCE_M)
    return {"edge_km": distance / 1000.0, "edge_log1p_100m": np.log1p(distance / 100.0)}


def static_layers(s: RiskSetting) -> dict[str, np.ndarray]:
    """The covariates that do not change with the date (float32, built once and shared by every date)."""
    layers = {name: np.asarray(a, dtype=np.float32) for name, a in s.static_covariates.items()}
    if s.project is not None:
        layers["protected"] = s.project.astype(np.float32)
    unit_ids = np.unique(s.units[s.zone])
    for unit in unit_ids[1:]:  # one indicator per unit but the first (the intercept's)
        layers[f"unit_{int(unit)}"] = (s.units == unit).astype(np.float32)
    return layers


def covariate_stack(s: RiskSetting, static: dict[str, np.ndarray], forest: np.ndarray) -> CovariateStack:
    """The covariates at one date: distance to that date's forest edge, then the static layers."""
    return CovariateStack({**_edge_layers(forest, s.grid), **static}, valid=s.zone)


def _spatial_setup(s: RiskSetting) -> tuple[np.ndarray, tuple[int, int]]:
    cell_px = max(1, round(s.spatial_cell_km * 1000 / s.grid.resolution_m))
    return rm.spatial_cells(s.grid.shape, cell_px)


def _new_model(name: str, s: RiskSetting, cell_shape: tuple[int, int] | None):
    if name == "logistic":
        return rm.LogisticRiskModel()
    if name == "gradient_boosting":
        return rm.GradientBoostingRiskModel(max_iter=50, max_leaf_nodes=15, random_state=s.seed)
    if name == "spatial":
        return rm.SpatialRiskModel(cell_shape=cell_shape, random_state=s.seed)
    raise InputError(f"unknown risk model {name!r}", "use logistic, gradient_boosting, spatial or local_rate")


# --------------------------------------------------------------------------- candidates

def _fit_predict(model, s: RiskSetting, forest_fit: np.ndarray, lost: np.ndarray, stack_fit: CovariateStack,
                 extra: list[np.ndarray]):
    sample = rm.balanced_sample(lost & forest_fit, forest_fit, s.sample_per_class, s.seed)
    x = stack_fit.sample(sample)
    if extra:
        x = np.column_stack([x] + [e.ravel()[sample] for e in extra])
    model.fit(x, lost.ravel()[sample])
    return model


def model_candidate(name: str, s: RiskSetting, cells: np.ndarray, stacks: list[CovariateStack],
                    progress: Callable[[str], None]) -> Candidate:
    """A scikit-learn-style model fitted on t1→t2, assessed on both periods, refitted on t1→t3, scored at t3."""
    started = time.perf_counter()
    f1, f2, f3 = s.forest
    lost_cal, lost_cnf, lost_all = f1 & ~f2, f2 & ~f3, f1 & ~f3
    cell_ids, cell_shape = _spatial_setup(s) if name == "spatial" else (None, None)
    extra = [cell_ids] if cell_ids is not None else []
    progress(f"risk: fitting {name}")
    model = _fit_predict(_new_model(name, s, cell_shape), s, f1, lost_cal, stacks[0], extra)
    p_cal = rm.predict_map(model, stacks[0], f1, extra_columns=extra)
    calibration = _assess("calibration", p_cal, lost_cal, f1, s, cells)
    del p_cal
    p_cnf = rm.predict_map(model, stacks[1], f2, extra_columns=extra)
    confirmation = _assess("confirmation", p_cnf, lost_cnf, f2, s, cells)
    auc, fom = _auc(p_cnf, lost_cnf, f2, s.seed), _fom(p_cnf, lost_cnf, f2, s.zone)
    del p_cnf
    progress(f"risk: refitting {name} on the historical period")
    final = _fit_predict(_new_model(name, s, cell_shape), s, f1, lost_all, stacks[0], extra)
    score = rm.predict_map(final, stacks[2], f3, extra_columns=extra)
    details = {"covariates": list(stacks[0].names) + (["spatial_cell"] if extra else [])}
    if name == "spatial":
        details["spatial_precision"] = float(final.precision_)
    return Candidate(name, calibration, confirmation, score, auc, fom, time.perf_counter() - started, details)


def local_rate_candidate(s: RiskSetting, bench: BenchmarkResult, cells: np.ndarray) -> Candidate:
    """riskmapjnr's moving-window local rate, 30 equal-width classes × unit, below the benchmark's NRT."""
    started = time.perf_counter()
    f1, f2, f3 = s.forest
    lost_cal, lost_cnf, lost_all = f1 & ~f2, f2 & ~f3, f1 & ~f3
    w = s.local_rate_window_px
    d1 = bm.distance_to_edge_m(f1, s.grid)
    near_cal, near_all = f1 & (d1 < bench.calibration.nrt_m), f1 & (d1 < bench.historical.nrt_m)
    del d1
    rate_cal = rm.local_deforestation_rate(lost_cal, f1, w)
    classes_cal = rm.local_rate_classes(rate_cal, near_cal)
    fit = bm.fit_relative_frequency(classes_cal, s.units, lost_cal, f1)

    def score(classes: np.ndarray, fitted: bm.BenchmarkFit) -> np.ndarray:
        return bm.predict_density(fitted, classes, s.units, 1.0).astype(np.float32)  # the class frequency

    calibration = _assess("calibration", score(classes_cal, fit), lost_cal, f1, s, cells)
    del classes_cal
    near_2 = f2 & (bm.distance_to_edge_m(f2, s.grid) < bench.calibration.nrt_m)
    p_cnf = score(rm.local_rate_classes(rate_cal, near_2), fit)
    confirmation = _assess("confirmation", p_cnf, lost_cnf, f2, s, cells)
    auc, fom = _auc(p_cnf, lost_cnf, f2, s.seed), _fom(p_cnf, lost_cnf, f2, s.zone)
    del p_cnf, rate_cal
    rate_all = rm.local_deforestation_rate(lost_all, f1, w)
    fit_all = bm.fit_relative_frequency(rm.local_rate_classes(rate_all, near_all), s.units, lost_all, f1)
    near_3 = bench.risk_classes >= 2  # the benchmark's classes at t3: class 1 lies at or beyond the NRT
    final = score(rm.local_rate_classes(rate_all, near_3), fit_all)
    return Candidate("local_rate", calibration, confirmation, final, auc, fom, time.perf_counter() - started,
                     {"window_px": w})


def benchmark_candidate(s: RiskSetting, bench: BenchmarkResult, seconds: float) -> Candidate:
    """The VT0007 benchmark as a candidate, assessed like the alternative models."""
    _, f2, f3 = s.forest
    lost_cnf = f2 & ~f3
    cnf = bench.confirmation_assessment.density.dense()
    return Candidate("benchmark", bench.calibration_assessment, bench.confirmation_assessment, bench.risk_score.dense(),
                     _auc(cnf, lost_cnf, f2, s.seed), _fom(cnf, lost_cnf, f2, s.zone), seconds,
                     {"threshold_m": {"calibration": bench.calibration.nrt_m, "historical": bench.historical.nrt_m}})


def choose(candidates: list[Candidate]) -> tuple[dict[str, dict], str, str]:
    """VT0007 §5.5: each alternative against the benchmark; the passing one with the lowest CNF MedAE wins."""
    bench = candidates[0]
    tests = {c.name: va.vt0007_model_test(bench.calibration.comparison, bench.confirmation.comparison,
                                          c.calibration.comparison, c.confirmation.comparison)
             for c in candidates[1:]}
    passing = [c for c in candidates[1:] if tests[c.name]["alternative_passes"]]
    if not passing:
        return tests, "benchmark", ("the benchmark: no alternative has a lower median absolute error in both "
                                    "the calibration and the confirmation periods" if tests else
                                    "the benchmark: no alternative model was configured")
    best = min(passing, key=lambda c: va.median_absolute_error(c.confirmation.comparison))
    b_fit, b_cnf = (va.median_absolute_error(x.comparison) for x in (bench.calibration, bench.confirmation))
    a_fit, a_cnf = (va.median_absolute_error(x.comparison) for x in (best.calibration, best.confirmation))
    others = f" (of {len(passing)} passing)" if len(passing) > 1 else ""
    return tests, best.name, (f"{best.name}{others}: median absolute error {a_fit:,.1f} ha against the benchmark's "
                              f"{b_fit:,.1f} ha in calibration and {a_cnf:,.1f} ha against {b_cnf:,.1f} ha in "
                              "confirmation, lower in both as VT0007 §5.5 requires")


def run_candidates(s: RiskSetting, models: list[str], expected_ha: float | None, validity_years: float,
                   progress: Callable[[str], None] | None = None) -> RiskResult:
    """The benchmark and each configured alternative, the VT0007 choice, the chosen map for the future."""
    progress = progress or (lambda _: None)
    progress("risk: benchmark")
    started = time.perf_counter()
    bench = run_benchmark(s.forest, s.years, s.grid, s.units, expected_ha=expected_ha,
                          validity_years=validity_years, assessment_cell_ha=s.assessment_cell_ha)
    candidates = [benchmark_candidate(s, bench, time.perf_counter() - started)]
    cells = va.assessment_cells(s.grid.shape, s.grid.resolution_m, s.assessment_cell_ha)
    sklearn_models = [m for m in models if m != "local_rate"]
    if sklearn_models:
        progress("risk: covariates")
        static = static_layers(s)
        stacks = [covariate_stack(s, static, f) for f in s.forest]
        candidates += [model_candidate(m, s, cells, stacks, progress) for m in sklearn_models]
        del stacks, static
    if "local_rate" in models:
        progress("risk: local_rate")
        candidates.append(local_rate_candidate(s, bench, cells))
    tests, chosen, reason = choose(candidates)
    f1, f2, _ = s.forest
    threshold = va.vm0015_fom_threshold(f1 & ~f2, s.zone)
    winner = next(c for c in candidates if c.name == chosen)
    risk = bench.risk_ha_per_year if chosen == "benchmark" else _risk_map(winner.score_t3, s.grid,
                                                                          bench.expected_ha, validity_years)
    return RiskResult(benchmark=bench, candidates=candidates, tests=tests, chosen=chosen, reason=reason,
                      fom_threshold=threshold, risk_ha_per_year=risk, expected_ha=bench.expected_ha,
                      validity_years=float(validity_years))


def _risk_map(score: np.ndarray, grid: Grid, expected_ha: float, validity_years: float) -> np.ndarray:
    """A relative-risk map adjusted to the expected deforestation, ha/pixel/year (float32)."""
    index = np.flatnonzero(score > 0)
    area = grid.cell_area_ha()[:, 0][index // grid.width]
    adjusted, _ = bm.adjust_to_quantity(score.ravel()[index] * area, expected_ha, area)
    risk = np.zeros(score.size, dtype=np.float32)
    risk[index] = bm.density_per_year(adjusted, validity_years)
    return risk.reshape(score.shape)


def distance_to_features_m(geometries, grid: Grid) -> np.ndarray:
    """Distance (m) from each cell to the nearest cell touched by the geometries (lines, points, polygons)."""

    touched = rasterize(((g, 1) for g in geometries), out_shape=grid.shape, transform=grid.transform, fill=0,
                        all_touched=True, dtype="uint8").astype(bool)
    if not touched.any():
        raise InputError("the features lie outside the grid", "check the file's extent and CRS")
    return distance_to_mask_m(touched, grid)
