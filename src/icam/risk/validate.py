"""Validating deforestation risk maps: the VT0007 model test, UDef-ARP's metrics, VM0015's FoM, AUC.

Sources. Verra, *VT0007 Unplanned Deforestation Allocation (UDef-A)*, v1.0, 21 February 2024,
section 5.5 "Testing and Model Selection": predicted and actual deforestation are compared in
assessment cells of the median project size (100,000 ha when it is unknown); an alternative risk
map replaces the benchmark only if its median absolute error is lower for BOTH the calibration
(fitting) period and the confirmation (CNF) period. The further metrics (mean absolute error, R²,
IoU = Σ min / Σ max over cells, residual maps) follow Clark Labs' UDef-ARP, the software Verra
distributes with the tool (github.com/ClarkCGA/UDef-ARP). Figure of merit: Pontius et al. 2008,
*Annals of Regional Science* 42:11–37, with VM0015's rule that a location model's FoM must be at
least the net observed change in the reference region over the calibration period as a share of
its area. AUC: Hanley & McNeil 1982, *Radiology* 143:29–36 (AUC = Mann–Whitney U / (n₁ n₀)).

Every function is vectorised: one ``np.bincount`` over assessment cells, one ranking for the AUC.
Units: areas in ha (pixel values are ha of deforestation per pixel over the period), shares as
fractions in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from icam.core.errors import InputError

MEDIAN_PROJECT_HA = 100_000  # VT0007 §5.5: assessment cell size when the median project size is unknown


# --------------------------------------------------------------------------- assessment cells

def assessment_cell_side_px(cell_size_m: float, cell_area_ha: float = MEDIAN_PROJECT_HA) -> int:
    """Side (pixels) of a square assessment cell of about ``cell_area_ha``: round(√(area·10⁴) / pixel size), ≥ 1."""
    size, area = float(cell_size_m), float(cell_area_ha)
    if not (math.isfinite(size) and size > 0):
        raise InputError(f"cell size must be positive, got {cell_size_m}")
    if not (math.isfinite(area) and area > 0):
        raise InputError(f"the assessment cell area must be positive, got {cell_area_ha} ha")
    return max(1, round(math.sqrt(area * 1e4) / size))


def assessment_cells(shape: tuple[int, int], cell_size_m: float,
                     cell_area_ha: float = MEDIAN_PROJECT_HA) -> np.ndarray:
    """Id of the square assessment cell holding each pixel (int32, or int64 past 2³¹ cells; ``shape``).

    Source: VT0007 v1.0 (2024) §5.5: assessment cells of the median project size, 100,000 ha when
    it is unknown. The side is round(√(cell_area_ha × 10⁴) / cell_size_m) pixels (at least 1), so a
    cell covers about ``cell_area_ha`` (exactly side² × pixel area). Cells are laid from the
    raster's top-left corner, numbered row by row (id = cell row × cells per row + cell column);
    cells on the right and bottom edges may be partial. cell_size_m: pixel size in metres.
    """
    if len(shape) != 2 or min(shape) < 0:
        raise InputError(f"shape must be (rows, cols), got {shape}")
    cells = AssessmentCells.of(shape, cell_size_m, cell_area_ha)
    return cells.window_ids((slice(0, cells.shape[0]), slice(0, cells.shape[1])))


@dataclass(frozen=True)
class AssessmentCells:
    """:func:`assessment_cells` without its raster (a jurisdiction's is 234 MB of int32): the ids of the pixels
    asked for, and each cell's pixel count, computed from the cells' layout."""

    shape: tuple[int, int]
    side: int

    @classmethod
    def of(cls, shape: tuple[int, int], cell_size_m: float, cell_area_ha: float = MEDIAN_PROJECT_HA):
        return cls((int(shape[0]), int(shape[1])), assessment_cell_side_px(cell_size_m, cell_area_ha))

    @property
    def per_row(self) -> int:
        return -(-self.shape[1] // self.side)

    @property
    def n_cells(self) -> int:
        return -(-self.shape[0] // self.side) * self.per_row

    @property
    def dtype(self) -> type:
        """The ids' type: int32, or int64 past 2³¹ cells."""
        return np.int32 if self.n_cells < 2**31 else np.int64

    def ids(self, index: np.ndarray) -> np.ndarray:
        """``assessment_cells(...).ravel()[index]``: the cell of each flat pixel index (one compiled pass: the
        rows' and columns' arrays were 0.3 GB at a jurisdiction's 36 million forest pixels)."""
        index = np.ascontiguousarray(index)
        out = np.empty(index.shape, self.dtype)
        _cell_ids(index.reshape(-1), self.shape[1], self.side, self.per_row, out.reshape(-1))
        return out

    def window_ids(self, window: tuple[slice, slice], dtype: type | None = None) -> np.ndarray:
        """The cell ids of a window of the raster, (rows, cols) absolute, as a map; ``dtype``: theirs
        (:attr:`dtype` by default)."""
        dtype = dtype or self.dtype
        r = (np.arange(window[0].start, window[0].stop, dtype=dtype) // self.side)[:, None]
        c = (np.arange(window[1].start, window[1].stop, dtype=dtype) // self.side)[None, :]
        return r * dtype(self.per_row) + c

    def pixels(self, units) -> np.ndarray:
        """Pixels of each cell where ``units`` > 0 (a raster), or every pixel (``units`` a scalar): one cell row
        of the raster at a time."""
        if np.ndim(units) == 0:
            rows = np.diff(np.r_[np.arange(0, self.shape[0], self.side), self.shape[0]])
            cols = np.diff(np.r_[np.arange(0, self.shape[1], self.side), self.shape[1]])
            return np.outer(rows, cols).ravel()
        starts = np.arange(0, self.shape[1], self.side)
        return np.concatenate([np.add.reduceat(np.count_nonzero(np.asarray(units)[r0:r0 + self.side] > 0, axis=0),
                                               starts) for r0 in range(0, self.shape[0], self.side)])


@numba.njit(cache=True, nogil=True)
def _cell_ids(index, width, side, per_row, out):
    """:meth:`AssessmentCells.ids` into ``out``: (row // side) × per_row + column // side of each flat index."""
    for i in range(index.size):
        row = index[i] // width
        out[i] = (row // side) * per_row + (index[i] - row * width) // side


# --------------------------------------------------------------------------- comparison

@dataclass(frozen=True, eq=False)
class CellComparison:
    """Predicted and actual deforestation summed per assessment cell.

    cell_ids: int64, the cells holding at least one pixel of the mask, ascending.
    predicted_ha, actual_ha: float64 per cell, Σ over the cell's masked pixels (ha).
    n_pixels: int64 per cell, masked pixels in the cell (its area in pixels).
    """

    cell_ids: np.ndarray
    predicted_ha: np.ndarray
    actual_ha: np.ndarray
    n_pixels: np.ndarray


def compare_by_cell(predicted_ha: np.ndarray, actual_ha: np.ndarray, cells: np.ndarray,
                    mask: np.ndarray | None = None) -> CellComparison:
    """Sum predicted and actual deforestation (ha per pixel) over the masked pixels of each cell.

    Source: VT0007 v1.0 (2024) §5.5 (the comparison in assessment cells); as UDef-ARP, the
    predicted map is the adjusted density (ha/pixel over the period) and the actual map the
    observed loss in ha per pixel (a bool loss map × pixel area). ``cells``: non-negative integer
    ids (e.g. :func:`assessment_cells`); ``mask``: bool, the pixels compared (the jurisdiction;
    None = all). Values must be finite and non-negative. Cells without a masked pixel are dropped.
    """
    predicted = np.asarray(predicted_ha, dtype=np.float64)
    actual = np.asarray(actual_ha, dtype=np.float64)
    cells = np.asarray(cells)
    mask = np.ones(cells.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if not (predicted.shape == actual.shape == cells.shape == mask.shape):
        raise InputError(f"predicted {predicted.shape}, actual {actual.shape}, cells {cells.shape} and "
                         f"mask {mask.shape} differ in shape")
    if not np.issubdtype(cells.dtype, np.integer):
        raise InputError("assessment cell ids must be integers", "use icam.risk.validate.assessment_cells")
    if not mask.any():
        raise InputError("the mask selects no pixel", "check the jurisdiction mask")
    ids = cells[mask].astype(np.int64, copy=False)
    if ids.min() < 0:
        raise InputError("assessment cell ids must be non-negative")
    for name, values in (("predicted", predicted), ("actual", actual)):
        if np.any(mask & (~(values >= 0) | np.isinf(values))):  # NaN fails values >= 0
            raise InputError(f"the {name} deforestation map holds negative or non-finite values")
    if int(ids.max()) <= 4 * ids.size + 1_000_000:  # compact ids (assessment_cells): dense bincounts
        n_pixels = np.bincount(ids)
        cell_ids = np.flatnonzero(n_pixels)
        # only pixels with predicted or actual loss add to the sums
        active = mask & ((predicted > 0) | (actual > 0))
        active_ids = cells[active].astype(np.int64, copy=False)
        size = n_pixels.size
        return CellComparison(
            cell_ids=cell_ids,
            predicted_ha=np.bincount(active_ids, weights=predicted[active], minlength=size)[cell_ids],
            actual_ha=np.bincount(active_ids, weights=actual[active], minlength=size)[cell_ids],
            n_pixels=n_pixels[cell_ids].astype(np.int64))
    p, a = predicted[mask], actual[mask]
    # sparse large ids: compact them first so that they cost no memory
    cell_ids, inverse = np.unique(ids, return_inverse=True)
    n = cell_ids.size
    return CellComparison(cell_ids=cell_ids,
                          predicted_ha=np.bincount(inverse, weights=p, minlength=n),
                          actual_ha=np.bincount(inverse, weights=a, minlength=n),
                          n_pixels=np.bincount(inverse, minlength=n).astype(np.int64))


def _errors(comparison: CellComparison) -> np.ndarray:
    return np.abs(comparison.actual_ha - comparison.predicted_ha)


def median_absolute_error(comparison: CellComparison) -> float:
    """Median over cells of |actual − predicted| (ha). VT0007 v1.0 (2024) §5.5's selection metric."""
    return float(np.median(_errors(comparison)))


def mean_absolute_error(comparison: CellComparison) -> float:
    """Mean over cells of |actual − predicted| (ha), as UDef-ARP reports it."""
    return float(np.mean(_errors(comparison)))


def r_squared(comparison: CellComparison) -> float:
    """Coefficient of determination of the cell sums, 1 − SS_res / SS_tot (dimensionless).

    SS_res = Σ (actual − predicted)², SS_tot = Σ (actual − mean actual)² over cells: the
    goodness of the prediction itself against the 1:1 line (the definition of scikit-learn's
    ``r2_score(actual, predicted)``, which UDef-ARP reports), NOT the squared correlation of a
    fitted regression line; it is negative when the prediction does worse than the mean. NaN when
    every cell has the same actual value (SS_tot = 0).
    """
    actual, predicted = comparison.actual_ha, comparison.predicted_ha
    ss_tot = float(np.sum((actual - actual.mean()) ** 2))
    if ss_tot == 0:
        return math.nan
    return 1.0 - float(np.sum((actual - predicted) ** 2)) / ss_tot


def iou(comparison: CellComparison) -> float:
    """Intersection over union of the cell sums, Σ min(pred, act) / Σ max(pred, act), in [0, 1].

    Source: UDef-ARP. 1 iff every cell's predicted sum equals its actual sum; 1 also when both are
    zero everywhere (nothing predicted, nothing happened).
    """
    lo = np.minimum(comparison.predicted_ha, comparison.actual_ha).sum()
    hi = np.maximum(comparison.predicted_ha, comparison.actual_ha).sum()
    if hi == 0:
        return 1.0
    return float(min(1.0, lo / hi))


def residual_map(comparison: CellComparison, cells: np.ndarray) -> np.ndarray:
    """Actual − predicted (ha) of each pixel's assessment cell, painted back onto the pixels.

    Source: UDef-ARP's residual maps. float64 of ``cells``'s shape; pixels whose cell is not in
    the comparison (no masked pixel) are NaN. Positive = more deforestation than predicted.
    """
    cells = np.asarray(cells)
    if not np.issubdtype(cells.dtype, np.integer):
        raise InputError("assessment cell ids must be integers")
    ids = comparison.cell_ids
    residual = comparison.actual_ha - comparison.predicted_ha
    flat = cells.ravel().astype(np.int64)
    out = np.full(flat.shape, np.nan)
    if ids.size:
        position = np.minimum(np.searchsorted(ids, flat), ids.size - 1)
        seen = ids[position] == flat
        out[seen] = residual[position[seen]]
    return out.reshape(cells.shape)


def weighted_rmse(predicted_ha: np.ndarray, actual_ha: np.ndarray, cells: np.ndarray,
                  mask: np.ndarray | None = None) -> float:
    """Root mean square error of the cell sums (ha), each cell weighted by its area.

    √( Σ_k w_k (actual_k − predicted_k)² / Σ_k w_k ), with w_k = the number of masked pixels in
    cell k (its area in pixels; on an equal-area grid proportional to ha). Full cells count alike;
    partial cells at the raster or jurisdiction edge count in proportion to the area they cover,
    so a sliver's error does not weigh as much as a full cell's.
    """
    return weighted_rmse_of_cells(compare_by_cell(predicted_ha, actual_ha, cells, mask))


def weighted_rmse_of_cells(comparison: CellComparison) -> float:
    """:func:`weighted_rmse` of cell sums already compared (weights: the cells' pixel counts)."""
    w = comparison.n_pixels.astype(np.float64)
    squared = (comparison.actual_ha - comparison.predicted_ha) ** 2
    return float(math.sqrt(np.sum(w * squared) / np.sum(w)))


# --------------------------------------------------------------------------- VT0007 model test

def vt0007_model_test(benchmark_fit_cells: CellComparison, benchmark_cnf_cells: CellComparison,
                      alt_fit_cells: CellComparison, alt_cnf_cells: CellComparison) -> dict:
    """Choose between the benchmark and an alternative risk map (VT0007 v1.0 (2024) §5.5).

    The alternative is chosen only if its median absolute error over the assessment cells is
    strictly lower than the benchmark's for BOTH the calibration fit and the confirmation (CNF)
    prediction; otherwise (including ties) the benchmark is kept. Returns a dict: the four
    medians (ha) as ``benchmark_fit_mdae``, ``benchmark_cnf_mdae``, ``alternative_fit_mdae``,
    ``alternative_cnf_mdae``; ``better_fit`` and ``better_cnf`` (bool, alternative lower);
    ``alternative_passes`` (bool, both); ``chosen`` ("alternative" or "benchmark") and ``reason``
    (one line).
    """
    for name, value in (("benchmark_fit_cells", benchmark_fit_cells), ("benchmark_cnf_cells", benchmark_cnf_cells),
                        ("alt_fit_cells", alt_fit_cells), ("alt_cnf_cells", alt_cnf_cells)):
        if not isinstance(value, CellComparison):
            raise InputError(f"{name} must be a CellComparison", "build it with compare_by_cell")
    b_fit, b_cnf = median_absolute_error(benchmark_fit_cells), median_absolute_error(benchmark_cnf_cells)
    a_fit, a_cnf = median_absolute_error(alt_fit_cells), median_absolute_error(alt_cnf_cells)
    better_fit, better_cnf = a_fit < b_fit, a_cnf < b_cnf
    passes = better_fit and better_cnf
    figures = (f"median absolute error fit {a_fit:.6g} vs {b_fit:.6g} ha, "
               f"confirmation {a_cnf:.6g} vs {b_cnf:.6g} ha (alternative vs benchmark)")
    if passes:
        reason = f"alternative chosen: lower in both periods; {figures}"
    else:
        failed = [name for name, ok in (("fit", better_fit), ("confirmation", better_cnf)) if not ok]
        reason = f"benchmark kept: alternative not lower in {' and '.join(failed)}; {figures}"
    return {
        "benchmark_fit_mdae": b_fit,
        "benchmark_cnf_mdae": b_cnf,
        "alternative_fit_mdae": a_fit,
        "alternative_cnf_mdae": a_cnf,
        "better_fit": bool(better_fit),
        "better_cnf": bool(better_cnf),
        "alternative_passes": bool(passes),
        "chosen": "alternative" if passes else "benchmark",
        "reason": reason,
    }


# --------------------------------------------------------------------------- figure of merit (VM0015)

def _binary_maps(reference_mask: np.ndarray | None, *maps: np.ndarray) -> tuple[np.ndarray, ...]:
    arrays = [np.asarray(m) for m in maps]
    shape = arrays[0].shape
    mask = np.ones(shape, dtype=bool) if reference_mask is None else np.asarray(reference_mask, dtype=bool)
    if any(a.shape != shape for a in arrays) or mask.shape != shape:
        raise InputError("the change maps and the reference mask differ in shape: "
                         + ", ".join(str(a.shape) for a in [*arrays, mask]))
    for a in arrays:
        if a.dtype != bool and not np.isin(a, (0, 1)).all():
            raise InputError("change maps must be boolean (1 = change, 0 = persistence)")
    if not mask.any():
        raise InputError("the reference mask selects no pixel", "check the reference region")
    return (mask, *(a.astype(bool)[mask] for a in arrays))


def figure_of_merit(observed_change: np.ndarray, predicted_change: np.ndarray,
                    reference_mask: np.ndarray | None = None) -> float:
    """Figure of merit FoM = B / (A + B + C + D), a fraction in [0, 1] (Pontius et al. 2008).

    Counted over the pixels of ``reference_mask`` (None = all): A = observed change predicted as
    persistence (misses), B = observed change predicted as change (hits), C = observed change
    predicted as change to the wrong category (0 for these binary change maps), D = observed
    persistence predicted as change (false alarms). Source: Pontius et al. 2008, Annals of Regional
    Science 42:11–37. Raises :class:`InputError` when there is neither observed nor predicted change.
    """
    _, observed, predicted = _binary_maps(reference_mask, observed_change, predicted_change)
    a = int(np.count_nonzero(observed & ~predicted))
    b = int(np.count_nonzero(observed & predicted))
    c = 0
    d = int(np.count_nonzero(~observed & predicted))
    total = a + b + c + d
    if total == 0:
        raise InputError("no observed and no predicted change in the reference region",
                         "the figure of merit is undefined without change")
    return b / total


def vm0015_fom_threshold(observed_change: np.ndarray, reference_mask: np.ndarray | None = None) -> float:
    """Minimum FoM under VM0015: net observed change in the reference region / its area (fraction).

    Net observed change over the calibration period as a share of the reference region's area
    (pixels of ``observed_change`` inside ``reference_mask`` / pixels of the mask). With a binary
    deforestation map the net change is the observed loss; pass a map of net change (loss not
    offset by regrowth) if regrowth should be netted out. Source: VM0015 (location of future
    deforestation: the risk map's FoM must be at least this share); compare with
    :func:`figure_of_merit`'s fraction, not a percentage.
    """
    mask, observed = _binary_maps(reference_mask, observed_change)
    return int(np.count_nonzero(observed)) / int(np.count_nonzero(mask))


def passes_vm0015_fom(fom: float, threshold: float) -> bool:
    """True iff the figure of merit is at least the VM0015 threshold (both fractions in [0, 1])."""
    fom, threshold = float(fom), float(threshold)
    for name, value in (("fom", fom), ("threshold", threshold)):
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise InputError(f"{name} must be a fraction in [0, 1], got {value}")
    return fom >= threshold


# --------------------------------------------------------------------------- AUC

def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve = Mann–Whitney U / (n₁ n₀), ties counting one half.

    U = Σ ranks of the positives − n₁(n₁ + 1)/2 with average ranks for ties
    (``scipy.stats.rankdata``), equal to the number of (positive, negative) pairs where the
    positive scores higher plus half the tied pairs. Source: Hanley & McNeil 1982, Radiology
    143:29–36. scores: finite numbers (e.g. risk density); labels: bool (1 = deforested), same
    shape; both classes must be present. 0.5 for constant scores, 1 for perfectly separated.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if scores.shape != labels.shape:
        raise InputError(f"scores ({scores.size}) and labels ({labels.size}) differ in size")
    if labels.dtype != bool and not np.isin(labels, (0, 1)).all():
        raise InputError("labels must be boolean (1 = deforested)")
    if not np.isfinite(scores).all():
        raise InputError("scores hold NaN or infinite values")
    labels = labels.astype(bool)
    n1 = int(np.count_nonzero(labels))
    n0 = labels.size - n1
    if n1 == 0 or n0 == 0:
        raise InputError("the AUC needs both deforested and not deforested pixels")

    # scipy.stats takes 0.6 s to import, a third of `icam risk benchmark` on Guadeloupe, which asks no AUC
    from scipy.stats import rankdata  # noqa: PLC0415

    ranks = rankdata(scores, method="average")
    u = float(ranks[labels].sum()) - n1 * (n1 + 1) / 2.0
    return u / (n1 * n0)

