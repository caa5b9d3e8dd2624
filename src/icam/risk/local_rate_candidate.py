"""The ``local_rate`` risk-map candidate (:mod:`icam.risk.candidates`): riskmapjnr's moving-window local
deforestation rate, 30 equal-width classes below the benchmark's negligible-risk threshold, fitted per class ×
unit like the benchmark (:mod:`icam.risk.local_rate`, :mod:`icam.risk.benchmark`)."""

from __future__ import annotations

import functools
import time
from concurrent.futures import Executor

import numpy as np

from icam.core.blocks import BLOCK_PX, map_blocks
from icam.risk import benchmark as bm
from icam.risk import local_rate as lr
from icam.risk import validate as va
from icam.risk.candidate_frame import Candidate, Period, RiskSetting, assess, map_auc, map_fom
from icam.risk.workflow import BenchmarkResult


def _class_frequency(fitted: bm.BenchmarkFit, classes: np.ndarray, s: RiskSetting) -> np.ndarray:
    """Each cell's class frequency (:func:`bm.predict_density` at a cell area of 1), float32, block by block:
    the same values without the whole map's float64 density and gathers (1.1 GB at a jurisdiction's 61 Mpx,
    where the risk stage's traced peak was: 3.58 GB, 3.28 GB since)."""
    return map_blocks(functools.partial(_class_frequency_block, fitted), [classes, s.units], dtype=np.float32,
                      block_px=BLOCK_PX)


def _class_frequency_block(fitted: bm.BenchmarkFit, classes: np.ndarray, units: np.ndarray) -> np.ndarray:
    return bm.predict_density(fitted, classes, units, 1.0).astype(np.float32)


def _class_frequency_on(fitted: bm.BenchmarkFit, classes: np.ndarray, s: RiskSetting,
                        forest: np.ndarray) -> np.ndarray:
    """``_class_frequency(fitted, classes, s)[forest]``, computed on the cells of ``forest`` alone (at a
    jurisdiction the float64 density and float32 maps it skips are 0.7 GB)."""
    counted = classes[forest]
    out = np.zeros(counted.size, np.float32)
    classed = counted > 0
    out[classed] = bm.predict_density(fitted, counted[classed], s.units[forest][classed], 1.0)
    return out


def local_rate_candidate(s: RiskSetting, bench: BenchmarkResult, cells: va.AssessmentCells,
                         pool: Executor | None = None) -> Candidate:
    """riskmapjnr's moving-window local rate, 30 equal-width classes × unit, below the benchmark's NRT,
    assessed on both periods (its map at t3 comes after the choice, :func:`local_rate_score_t3`)."""
    started = time.perf_counter()
    f1, f2, f3 = s.forest
    lost_cal, lost_cnf = f1 & ~f2, f2 & ~f3
    rate_cal = lr.local_deforestation_rate(lost_cal, f1, s.local_rate_window_px, pool)
    # the cells below the calibration NRT at t1 and t2, as the benchmark classed them (the same forest and
    # distances); both classed before the assessments, so that the float32 rates are gone by then (0.25 GB)
    classes_cal = lr.local_rate_classes(rate_cal, bench.near_edge.mask("calibration_t1"))
    classes_cnf = lr.local_rate_classes(rate_cal, bench.near_edge.mask("calibration_t2"))
    del rate_cal
    fit = bm.fit_relative_frequency(classes_cal, s.units, lost_cal, f1)
    calibration = assess("calibration", _class_frequency_on(fit, classes_cal, s, f1),
                          Period.of(f1, lost_cal, s, cells), s)
    del classes_cal
    p_cnf = _class_frequency_on(fit, classes_cnf, s, f2)
    confirmation = assess("confirmation", p_cnf, Period.of(f2, lost_cnf, s, cells), s)
    auc, fom = map_auc(p_cnf, lost_cnf, f2, s.seed), map_fom(p_cnf, lost_cnf, f2, s.zone)
    return Candidate("local_rate", calibration, confirmation, None, auc, fom, time.perf_counter() - started,
                     {"window_px": s.local_rate_window_px})


def local_rate_score_t3(s: RiskSetting, bench: BenchmarkResult, pool: Executor | None = None) -> np.ndarray:
    """The local-rate classes of the historical period fitted per class × unit, on the forest at t3 (a map)."""
    f1, _, f3 = s.forest
    lost_all = f1 & ~f3
    rate_all = lr.local_deforestation_rate(lost_all, f1, s.local_rate_window_px, pool)
    near_all = bench.near_edge.mask("historical_t1")
    fit_all = bm.fit_relative_frequency(lr.local_rate_classes(rate_all, near_all), s.units, lost_all, f1)
    near_3 = bench.risk_classes >= 2  # the benchmark's classes at t3: class 1 lies at or beyond the NRT
    return _class_frequency(fit_all, lr.local_rate_classes(rate_all, near_3), s)
