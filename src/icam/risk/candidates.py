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

import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from icam.core.blocks import cores
from icam.core.errors import InputError
from icam.core.process import release_freed_memory
from icam.core.spilled import SpilledRaster
from icam.landscape.grid import Grid
from icam.risk import benchmark as bm
from icam.risk import models as rm
from icam.risk import validate as va
from icam.risk.candidate_frame import Candidate, Period, RiskSetting, assess, map_auc, map_fom
from icam.risk.covariates import CovariateStack
from icam.risk.local_rate_candidate import local_rate_candidate, local_rate_score_t3
from icam.risk.quantity import adjust_to_quantity, density_per_year
from icam.risk.workflow import Assessment, BenchmarkResult, run_benchmark

__all__ = ["Candidate", "RiskResult", "RiskSetting", "run_candidates"]

MAX_DISTANCE_M = 1e6  # distances beyond a grid (no feature on it) are clipped to 1,000 km

@dataclass(frozen=True, eq=False)
class RiskResult:
    """The candidates, the VT0007 choice and the chosen risk map."""

    benchmark: BenchmarkResult
    candidates: list[Candidate]
    tests: dict[str, dict]  # alternative name → vt0007_model_test result
    chosen: str
    reason: str
    fom_threshold: float
    # chosen map adjusted to the expected deforestation, ha/pixel/year (spilled where the pipeline keeps it)
    risk_ha_per_year: np.ndarray | SpilledRaster
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
                         "allocated_ha_per_year": float(np.asarray(self.risk_ha_per_year).sum(dtype=np.float64))},
        }


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


def _new_model(name: str, s: RiskSetting, cell_shape: tuple[int, int] | None):
    if name == "logistic":
        return rm.LogisticRiskModel()
    if name == "gradient_boosting":
        return rm.GradientBoostingRiskModel(max_iter=50, max_leaf_nodes=15, random_state=s.seed)
    if name == "spatial":
        return rm.SpatialRiskModel(cell_shape=cell_shape, random_state=s.seed)
    raise InputError(f"unknown risk model {name!r}", "use logistic, gradient_boosting, spatial or local_rate")


# --------------------------------------------------------------------------- candidates

BAND_CELLS = 4 * rm.BLOCK_ROWS  # cells of a design matrix's band (60 MB at 15 covariates)


@dataclass(frozen=True, eq=False)
class ModelInputs:
    """What the scikit-learn-style candidates share: the static covariates, the spatial model's cells (its
    design matrices' last column, when it is configured) and the balanced samples of both fits at t1."""

    setting: RiskSetting
    static: dict[str, np.ndarray]
    cell_ids: np.ndarray | None
    cell_shape: tuple[int, int] | None
    samples: dict[str, tuple[np.ndarray, np.ndarray]]  # "calibration", "historical" → (x, y)

    @classmethod
    def build(cls, s: RiskSetting, spatial: bool) -> "ModelInputs":
        side_px = max(1, round(s.spatial_cell_km * 1000 / s.grid.resolution_m))
        cell_ids, cell_shape = rm.spatial_cells(s.grid.shape, side_px) if spatial else (None, None)
        static = static_layers(s)
        f1, f2, f3 = s.forest
        stack = covariate_stack(s, static, f1)
        samples = {}
        for period, lost in (("calibration", f1 & ~f2), ("historical", f1 & ~f3)):
            sample = rm.balanced_sample(lost, f1, s.sample_per_class, s.seed)
            cells = [] if cell_ids is None else [cell_ids.ravel()[sample]]
            samples[period] = np.column_stack([stack.sample(sample), *cells]), lost.ravel()[sample]
        return cls(s, static, cell_ids, cell_shape, samples)

    def predict(self, models: dict, forest: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Each fitted model's probability of deforestation on the cells of ``forest`` (float32, row-major), and
        the seconds each spent. The date's covariates are built once and its design matrix a band of about a
        million cells at a time, which every model predicts side by side in threads (their large numpy passes
        release the GIL, and the trees' kernel runs on every core by itself: numba's OpenMP layer is not safe
        in forked workers). The bands start at multiples of :func:`rm.predict_rows`'s blocks, so that its
        blocks, and the BLAS products over them, are those of the whole map's matrix: the same bits. That
        matrix was 0.55 GB at project scale and 2.4 GB at a jurisdiction's."""
        stack = covariate_stack(self.setting, self.static, forest)
        extra = [] if self.cell_ids is None else [self.cell_ids]
        ends = np.cumsum(np.count_nonzero(forest, axis=1))  # forest cells up to each raster row's end
        maps = {name: np.empty(int(ends[-1]), np.float32) for name in models}
        seconds = dict.fromkeys(models, 0.0)
        with ThreadPoolExecutor(min(cores(), len(models))) as pool:
            for done in range(0, int(ends[-1]), BAND_CELLS):
                x = _band(stack, forest, extra, ends, done, min(int(ends[-1]), done + BAND_CELLS))
                band = [(x, maps, done)] * len(models)
                for name, spent in zip(models, pool.map(self._predict_band, models.items(), band)):
                    seconds[name] += spent
        return maps, seconds

    def _predict_band(self, named_model: tuple, band: tuple) -> float:
        (name, model), (x, maps, done) = named_model, band
        started = time.perf_counter()
        maps[name][done:done + x.shape[0]] = rm.predict_rows(model, x, self.columns(name), rm.BLOCK_ROWS)
        return time.perf_counter() - started

    def columns(self, name: str) -> slice:
        """The model's columns of a design matrix: all but the spatial cells' column for the others."""
        return slice(None) if name == "spatial" or self.cell_ids is None else slice(0, -1)

    def covariates(self, name: str) -> list[str]:
        names = ["edge_km", "edge_log1p_100m", *self.static]  # covariate_stack's order
        return names + ["spatial_cell"] if name == "spatial" else names

    def fit(self, name: str, period: str):
        x, y = self.samples[period]
        return _new_model(name, self.setting, self.cell_shape).fit(x[:, self.columns(name)], y)


def _band(stack: CovariateStack, forest: np.ndarray, extra: list, ends: np.ndarray, start: int, stop: int
          ) -> np.ndarray:
    """Rows ``start`` … ``stop`` − 1 of the date's design matrix (``ends``: the forest cells up to each raster
    row's end), built from the raster rows that hold them."""
    first, last = np.searchsorted(ends, [start, stop - 1], side="right")
    before = int(ends[first - 1]) if first else 0
    x = stack.design(forest, extra, rows=slice(int(first), int(last) + 1))
    return x[start - before:stop - before]


def model_candidates(names: list[str], s: RiskSetting, cells: va.AssessmentCells, progress: Callable[[str], None]
                     ) -> tuple[list[Candidate], ModelInputs]:
    """Each model fitted on t1→t2 and assessed on both periods, one date at a time: the date's design matrix
    is built once and predicted by every model, and no map is kept (the chosen model's refit on t1→t3 and
    its score at t3 come after the choice, :func:`model_score_t3`)."""
    f1, f2, f3 = s.forest
    seconds = dict.fromkeys(names, 0.0)
    progress("risk: covariates")
    inputs = ModelInputs.build(s, spatial="spatial" in names)
    fitted, quality = {}, {}
    for name in names:
        progress(f"risk: fitting {name}")
        started = time.perf_counter()
        fitted[name] = inputs.fit(name, "calibration")
        seconds[name] += time.perf_counter() - started
    assessed: dict[str, dict] = {"calibration": {}, "confirmation": {}}
    for period, forest, lost in (("calibration", f1, f1 & ~f2), ("confirmation", f2, f2 & ~f3)):
        progress(f"risk: {period} maps of {', '.join(names)}")
        maps, spent = inputs.predict(fitted, forest)
        frame = Period.of(forest, lost, s, cells)

        def assess_one(name: str, period=period, forest=forest, lost=lost, maps=maps, frame=frame) -> float:
            started = time.perf_counter()
            assessed[period][name] = assess(period, maps[name], frame, s)
            if period == "confirmation":
                quality[name] = map_auc(maps[name], lost, forest, s.seed), map_fom(maps[name], lost, forest, s.zone)
            return time.perf_counter() - started

        with ThreadPoolExecutor(min(cores(), len(names))) as pool:
            for name, assessing in zip(names, pool.map(assess_one, names)):
                seconds[name] += spent[name] + assessing
        del maps, frame
    candidates = []
    for name in names:
        details = {"covariates": inputs.covariates(name)}
        if name == "spatial":
            details["spatial_precision"] = float(fitted[name].precision_)
        candidates.append(Candidate(name, assessed["calibration"][name], assessed["confirmation"][name], None,
                                    *quality[name], seconds[name], details))
    return candidates, inputs


def model_score_t3(name: str, inputs: ModelInputs) -> np.ndarray:
    """The chosen model refitted on the historical period (t1→t3) and applied to the forest at t3 (a map)."""
    f3 = inputs.setting.forest[2]
    p = inputs.predict({name: inputs.fit(name, "historical")}, f3)[0][name]
    score = np.zeros(f3.shape, dtype=np.float32)
    score[f3] = p
    return score


def benchmark_candidate(s: RiskSetting, bench: BenchmarkResult, seconds: float) -> Candidate:
    """The VT0007 benchmark as a candidate, assessed like the alternative models (its assessments without their
    per-pixel densities, which serve its AUC and figure of merit here and nothing after)."""
    _, f2, f3 = s.forest
    lost_cnf = f2 & ~f3
    cnf = bench.confirmation_assessment.density.dense()[f2]
    return Candidate("benchmark", _without_density(bench.calibration_assessment),
                     _without_density(bench.confirmation_assessment), None,
                     map_auc(cnf, lost_cnf, f2, s.seed), map_fom(cnf, lost_cnf, f2, s.zone), seconds,
                     {"threshold_m": {"calibration": bench.calibration.nrt_m, "historical": bench.historical.nrt_m}})


def _without_density(assessment: Assessment) -> Assessment:
    return replace(assessment, density=None)


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
                   progress: Callable[[str], None] | None = None, pool: Executor | None = None) -> RiskResult:
    """The benchmark and each configured alternative, the VT0007 choice, the chosen map for the future. ``pool``:
    where the raster steps that run block by block run (the distances to the forest edge, capped where the
    classes allow, and the local rate's window counts: the same numbers; :func:`icam.core.blocks.block_executor`;
    None: the whole map in this process)."""
    progress = progress or (lambda _: None)
    progress("risk: benchmark")
    started = time.perf_counter()
    bench = run_benchmark(s.forest, s.years, s.grid, s.units, expected_ha=expected_ha,
                          validity_years=validity_years, assessment_cell_ha=s.assessment_cell_ha, pool=pool)
    # its map serves only where it is chosen, once the others are assessed: in a file meanwhile (0.25 GB)
    bench = replace(bench, risk_ha_per_year=SpilledRaster.of(bench.risk_ha_per_year))
    # the heap's free pages given back before each candidate: the process keeps what its arrays free for the next
    # ones (icam.core.process), and a candidate's arrays of other sizes than the last one's did not fit in it (the
    # jurisdiction's risk stage: 3.26 → 3.03 GB resident, no slower)
    release_freed_memory()
    candidates = [benchmark_candidate(s, bench, time.perf_counter() - started)]
    bench = replace(bench, calibration_assessment=candidates[0].calibration,
                    confirmation_assessment=candidates[0].confirmation)  # 0.9 GB of densities at a jurisdiction
    cells = va.AssessmentCells.of(s.grid.shape, s.grid.resolution_m, s.assessment_cell_ha)
    sklearn_models = [m for m in models if m != "local_rate"]
    inputs = None
    if sklearn_models:
        modelled, inputs = model_candidates(sklearn_models, s, cells, progress)
        candidates += modelled
    if "local_rate" in models:
        progress("risk: local_rate")
        release_freed_memory()
        candidates.append(local_rate_candidate(s, bench, cells, pool))
    tests, chosen, reason = choose(candidates)
    progress(f"risk: the map of {chosen} at {s.years[2]}")
    release_freed_memory()
    score = (bench.risk_score.dense() if chosen == "benchmark" else local_rate_score_t3(s, bench, pool)
             if chosen == "local_rate" else model_score_t3(chosen, inputs))
    del inputs
    candidates = [replace(c, score_t3=score) if c.name == chosen else c for c in candidates]
    f1, f2, _ = s.forest
    threshold = va.vm0015_fom_threshold(f1 & ~f2, s.zone)
    risk = bench.risk_ha_per_year if chosen == "benchmark" else _risk_map(score, s.grid, bench.expected_ha,
                                                                          validity_years)
    return RiskResult(benchmark=bench, candidates=candidates, tests=tests, chosen=chosen, reason=reason,
                      fom_threshold=threshold, risk_ha_per_year=risk, expected_ha=bench.expected_ha,
                      validity_years=float(validity_years))


def _risk_map(score: np.ndarray, grid: Grid, expected_ha: float, validity_years: float) -> np.ndarray:
    """A relative-risk map adjusted to the expected deforestation, ha/pixel/year (float32)."""
    index = np.flatnonzero(score > 0)
    area = grid.cell_area_at_ha(index)
    adjusted, _ = adjust_to_quantity(score.ravel()[index] * area, expected_ha, area, overwrite=True)
    risk = np.zeros(score.size, dtype=np.float32)
    risk[index] = density_per_year(adjusted, validity_years, overwrite=True)
    return risk.reshape(score.shape)
