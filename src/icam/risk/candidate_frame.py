"""What every risk-map candidate is fitted and assessed with (:mod:`icam.risk.candidates`): the setting, a
candidate's record, and the quality of a map on one period (VT0007 v1.0 §5.5: a prediction turned into a density
adjusted to the period's actual loss and compared in assessment cells; the AUC and the figure of merit beside)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from icam.core.indices import flat_indices
from icam.landscape.grid import Grid
from icam.risk import validate as va
from icam.risk.quantity import adjust_to_quantity
from icam.risk.workflow import Assessment, compare_on_forest, finite_or_none

AUC_SAMPLE_PX = 400_000  # forest pixels drawn to compute a map's AUC (ranks of millions are slow, and no better)

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
    score_t3: np.ndarray | None  # the chosen one's float32 relative risk on the forest at t3 (historical
    # refit), 0 elsewhere; None for the others (their maps at t3 are never computed)
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


# --------------------------------------------------------------------------- map quality
# A map's scores are kept on its forest pixels only, in row-major order (``score[forest]``): 1-D, float32.

def map_auc(score: np.ndarray, lost: np.ndarray, forest: np.ndarray, seed: int) -> float:
    """The AUC of the scores of the forest pixels against their loss (on a seeded sample of
    :data:`AUC_SAMPLE_PX` of them where there are more); NaN where none, or all, were lost."""
    labels_all = lost[forest]
    rng = np.random.default_rng(seed)
    drawn = slice(None) if score.size <= AUC_SAMPLE_PX else rng.choice(score.size, AUC_SAMPLE_PX, replace=False)
    labels = labels_all[drawn]
    if labels.all() or not labels.any():
        return math.nan
    return va.auc(score[drawn], labels)


def map_fom(score: np.ndarray, lost: np.ndarray, forest: np.ndarray, zone: np.ndarray) -> float:
    """Figure of merit of the map that deforests the n highest-scored forest pixels, n = the actual loss.

    The n-th highest score is found by one partition of the forest's scores; pixels scoring above it
    are taken, then as many as needed of those scoring exactly it, in row-major order.
    """
    lost = lost & forest
    n = int(np.count_nonzero(lost))
    if n == 0:
        return math.nan  # no loss in the period: the figure of merit is undefined
    kth = np.partition(score, score.size - n)[score.size - n]
    taken = score > kth
    ties = np.flatnonzero(score == kth)
    taken[ties[:n - int(np.count_nonzero(taken))]] = True
    predicted = np.zeros(forest.shape, dtype=bool)
    predicted[forest] = taken
    return va.figure_of_merit(lost, predicted, zone)


@dataclass(frozen=True, eq=False)
class Period:
    """What every candidate's assessment of one period shares: the forest pixels at its start (flat indices),
    their areas, which of them were lost, the assessment cells and their pixel counts."""

    index: np.ndarray
    area_ha: np.ndarray
    lost_px: np.ndarray
    cells: va.AssessmentCells
    cell_px: np.ndarray

    @classmethod
    def of(cls, forest: np.ndarray, lost: np.ndarray, s: RiskSetting, cells: va.AssessmentCells) -> Period:
        index = flat_indices(forest)  # int32 where it fits: it lives through every candidate's assessment
        return cls(index, s.grid.cell_area_at_ha(index), lost.ravel()[index], cells,
                   cells.pixels(s.units))


def assess(period: str, score: np.ndarray, frame: Period, s: RiskSetting) -> Assessment:
    """A relative-risk map on the forest (``score`` per pixel of ``frame``) → density adjusted to the actual
    loss → assessment cells."""
    area = frame.area_ha
    lost_area = area[frame.lost_px]
    adjusted, _ = adjust_to_quantity(score * area, float(lost_area.sum()), area, overwrite=True)
    return compare_on_forest(period, frame.index, adjusted, frame.lost_px, lost_area, frame.cells, frame.cell_px,
                             s.grid, s.assessment_cell_ha, keep_density=False)
