"""Validation of risk maps (icam.risk.validate): hand-worked examples and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from icam.core.errors import InputError
from icam.risk.validate import (
    AssessmentCells,
    CellComparison,
    assessment_cells,
    auc,
    compare_by_cell,
    figure_of_merit,
    iou,
    mean_absolute_error,
    median_absolute_error,
    passes_vm0015_fom,
    r_squared,
    residual_map,
    vm0015_fom_threshold,
    vt0007_model_test,
    weighted_rmse,
)


def _cmp(pred, act, n=None):
    pred = np.asarray(pred, dtype=float)
    act = np.asarray(act, dtype=float)
    n = np.ones(pred.size, dtype=np.int64) if n is None else np.asarray(n, dtype=np.int64)
    return CellComparison(np.arange(pred.size, dtype=np.int64), pred, act, n)


# --------------------------------------------------------------------------- assessment cells

def test_assessment_cells_side_and_ids():
    # 1 ha cells on 50 m pixels: side = round(100 / 50) = 2 pixels; 5 × 5 raster → 3 × 3 cells
    cells = assessment_cells((5, 5), 50.0, cell_area_ha=1.0)
    assert cells.dtype == np.int32  # int64 only past 2³¹ cells
    expected = np.array([[0, 0, 1, 1, 2],
                         [0, 0, 1, 1, 2],
                         [3, 3, 4, 4, 5],
                         [3, 3, 4, 4, 5],
                         [6, 6, 7, 7, 8]])
    np.testing.assert_array_equal(cells, expected)


def test_assessment_cells_default_is_100000_ha():
    # √(100,000 ha × 10⁴ m²/ha) = 31,623 m → 31623 / 30 = 1054.1 → 1054 pixels of 30 m
    cells = assessment_cells((1, 2200), 30.0)
    assert cells[0, 1053] == 0 and cells[0, 1054] == 1 and cells[0, 2108] == 2


def test_assessment_cells_rejects_bad_input():
    with pytest.raises(InputError):
        assessment_cells((3, 3), 0.0)
    with pytest.raises(InputError):
        assessment_cells((3, 3), 30.0, cell_area_ha=-1)


# --------------------------------------------------------------------------- comparison and metrics

# a 4 × 4 raster of 4 assessment cells (2 × 2 pixels each), the last pixel outside the mask
PRED = np.array([[1.0, 1.0, 0.0, 0.5],
                 [1.0, 1.0, 0.5, 0.0],
                 [2.0, 0.0, 0.0, 0.0],
                 [0.0, 0.0, 0.0, 9.0]])
ACT = np.array([[1.0, 0.0, 1.0, 1.0],
                [0.0, 1.0, 1.0, 1.0],
                [0.0, 0.0, 0.0, 0.0],
                [0.0, 1.0, 0.0, 5.0]])
MASK = np.ones((4, 4), dtype=bool)
MASK[3, 3] = False
CELLS = assessment_cells((4, 4), 10.0, cell_area_ha=0.04)  # side = round(20 / 10) = 2


def test_compare_by_cell_hand_sums():
    c = compare_by_cell(PRED, ACT, CELLS, MASK)
    np.testing.assert_array_equal(c.cell_ids, [0, 1, 2, 3])
    # cell 0: pred 4, act 2; cell 1: pred 1, act 4; cell 2: pred 2, act 1; cell 3: pred 0, act 0
    np.testing.assert_allclose(c.predicted_ha, [4.0, 1.0, 2.0, 0.0])
    np.testing.assert_allclose(c.actual_ha, [2.0, 4.0, 1.0, 0.0])
    np.testing.assert_array_equal(c.n_pixels, [4, 4, 4, 3])


def test_metrics_hand_worked():
    c = compare_by_cell(PRED, ACT, CELLS, MASK)
    # |errors| = 2, 3, 1, 0 → median 1.5, mean 1.5
    assert median_absolute_error(c) == pytest.approx(1.5)
    assert mean_absolute_error(c) == pytest.approx(1.5)
    # actual mean 7/4; SS_tot = 0.0625 + 5.0625 + 0.5625 + 3.0625 = 8.75; SS_res = 4 + 9 + 1 + 0 = 14
    assert r_squared(c) == pytest.approx(1 - 14 / 8.75)
    # Σ min = 2 + 1 + 1 + 0 = 4; Σ max = 4 + 4 + 2 + 0 = 10
    assert iou(c) == pytest.approx(0.4)
    # weights 4, 4, 4, 3: (4·4 + 4·9 + 4·1 + 3·0) / 15 = 56 / 15
    assert weighted_rmse(PRED, ACT, CELLS, MASK) == pytest.approx(math.sqrt(56 / 15))


def test_residual_map_paints_cells():
    c = compare_by_cell(PRED, ACT, CELLS, MASK)
    res = residual_map(c, CELLS)
    expected = np.array([[-2.0, -2.0, 3.0, 3.0],
                         [-2.0, -2.0, 3.0, 3.0],
                         [-1.0, -1.0, 0.0, 0.0],
                         [-1.0, -1.0, 0.0, 0.0]])
    np.testing.assert_allclose(res, expected)
    # a cell with no masked pixel is NaN
    mask = MASK.copy()
    mask[:2, :2] = False
    res = residual_map(compare_by_cell(PRED, ACT, CELLS, mask), CELLS)
    assert np.isnan(res[:2, :2]).all() and np.isfinite(res[2:, :]).all()


def test_r_squared_perfect_and_constant():
    assert r_squared(_cmp([1, 2, 3], [1, 2, 3])) == 1.0
    assert math.isnan(r_squared(_cmp([1, 2, 3], [2, 2, 2])))
    assert iou(_cmp([0, 0], [0, 0])) == 1.0


def test_compare_by_cell_rejects_bad_input():
    with pytest.raises(InputError):
        compare_by_cell(PRED, -ACT, CELLS, MASK)
    with pytest.raises(InputError):
        compare_by_cell(PRED, ACT, CELLS.astype(float), MASK)
    with pytest.raises(InputError):
        compare_by_cell(PRED, ACT[:3], CELLS, MASK)
    with pytest.raises(InputError):
        compare_by_cell(PRED, ACT, CELLS, np.zeros((4, 4), dtype=bool))


# --------------------------------------------------------------------------- VT0007 model test

def test_model_test_alternative_better_in_both():
    bench = _cmp([0, 0, 0], [2, 2, 2])      # MdAE 2
    alt = _cmp([1, 1, 1], [2, 2, 2])        # MdAE 1
    out = vt0007_model_test(bench, bench, alt, alt)
    assert out["chosen"] == "alternative" and out["alternative_passes"]
    assert out["benchmark_fit_mdae"] == 2 and out["alternative_cnf_mdae"] == 1
    assert "\n" not in out["reason"] and out["reason"].startswith("alternative chosen")


def test_model_test_keeps_benchmark_on_one_period_or_tie():
    bench = _cmp([0, 0, 0], [2, 2, 2])
    better = _cmp([1, 1, 1], [2, 2, 2])
    worse = _cmp([5, 5, 5], [2, 2, 2])
    out = vt0007_model_test(bench, bench, better, worse)
    assert out["chosen"] == "benchmark" and out["better_fit"] and not out["better_cnf"]
    assert "confirmation" in out["reason"]
    tie = vt0007_model_test(bench, bench, bench, bench)
    assert tie["chosen"] == "benchmark"
    with pytest.raises(InputError):
        vt0007_model_test(bench, bench, better, np.zeros(3))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=1, max_size=8), st.floats(0.01, 10), st.booleans())
def test_model_test_needs_both_periods(actual, gain, fit_is_better):
    actual = np.array(actual)
    bench = _cmp(actual + 20.0, actual)                   # errors all 20
    good = _cmp(actual + 20.0 - gain, actual)             # errors 20 − gain (lower)
    bad = _cmp(actual + 20.0 + gain, actual)              # errors 20 + gain (higher)
    fit, cnf = (good, bad) if fit_is_better else (bad, good)
    assert vt0007_model_test(bench, bench, fit, cnf)["chosen"] == "benchmark"
    assert vt0007_model_test(bench, bench, good, good)["chosen"] == "alternative"


# --------------------------------------------------------------------------- properties of the comparison

_shapes = st.tuples(st.integers(1, 6), st.integers(1, 6))


@st.composite
def _rasters(draw):
    shape = draw(_shapes)
    # quarter-hectare steps: exact in binary, so unequal cell sums never round to equal totals
    values = hnp.arrays(np.float64, shape, elements=st.integers(0, 200).map(lambda k: k / 4))
    pred, act = draw(values), draw(values)
    mask = draw(hnp.arrays(np.bool_, shape))
    mask.flat[0] = True
    side = draw(st.integers(1, 3))
    cells = assessment_cells(shape, 10.0, cell_area_ha=(side * 10.0) ** 2 / 1e4)
    return pred, act, cells, mask


@settings(max_examples=80, deadline=None)
@given(_rasters())
def test_cell_sums_equal_masked_pixel_sums(data):
    pred, act, cells, mask = data
    c = compare_by_cell(pred, act, cells, mask)
    assert c.predicted_ha.sum() == pytest.approx(pred[mask].sum(), rel=1e-12, abs=1e-9)
    assert c.actual_ha.sum() == pytest.approx(act[mask].sum(), rel=1e-12, abs=1e-9)
    assert c.n_pixels.sum() == mask.sum()


@settings(max_examples=80, deadline=None)
@given(_rasters())
def test_iou_in_unit_interval_and_one_iff_equal(data):
    pred, act, cells, mask = data
    c = compare_by_cell(pred, act, cells, mask)
    value = iou(c)
    assert 0.0 <= value <= 1.0
    assert (value == 1.0) == bool(np.array_equal(c.predicted_ha, c.actual_ha))
    assert iou(compare_by_cell(act, act, cells, mask)) == 1.0


# --------------------------------------------------------------------------- figure of merit

def test_figure_of_merit_hand_worked():
    observed = np.array([[1, 1, 0],
                         [1, 0, 0],
                         [0, 0, 1]], dtype=bool)
    predicted = np.array([[1, 0, 1],
                          [1, 1, 0],
                          [0, 0, 0]], dtype=bool)
    # A (observed, not predicted) = (0,1), (2,2) → 2; B (both) = (0,0), (1,0) → 2;
    # D (predicted, not observed) = (0,2), (1,1) → 2; FoM = 2 / 6
    assert figure_of_merit(observed, predicted) == pytest.approx(1 / 3)
    # outside the reference region nothing counts: drop the last row → A = 1, B = 2, D = 2
    mask = np.ones((3, 3), dtype=bool)
    mask[2] = False
    assert figure_of_merit(observed, predicted, mask) == pytest.approx(2 / 5)
    # threshold: 4 observed change pixels of 9; 3 of 6 inside the mask
    assert vm0015_fom_threshold(observed) == pytest.approx(4 / 9)
    assert vm0015_fom_threshold(observed, mask) == pytest.approx(0.5)
    assert not passes_vm0015_fom(1 / 3, 4 / 9)
    assert passes_vm0015_fom(0.5, 0.5)


def test_figure_of_merit_edge_cases():
    none = np.zeros((2, 2), dtype=bool)
    with pytest.raises(InputError):
        figure_of_merit(none, none)
    with pytest.raises(InputError):
        figure_of_merit(np.full((2, 2), 2), none)
    with pytest.raises(InputError):
        passes_vm0015_fom(40.0, 0.1)  # a percentage, not a fraction
    obs = np.array([True, False, True])
    assert figure_of_merit(obs, obs) == 1.0


# --------------------------------------------------------------------------- AUC

def _pairwise_auc(scores, labels):
    pos, neg = scores[labels], scores[~labels]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


def test_auc_hand_worked():
    scores = np.array([0.9, 0.4, 0.4, 0.2, 0.8])
    labels = np.array([True, True, False, False, False])
    # pairs (pos, neg): 0.9 beats all 3; 0.4 ties 0.4, beats 0.2, loses to 0.8 → (3 + 1.5) / 6
    assert auc(scores, labels) == pytest.approx(0.75)
    assert auc(scores, labels) == pytest.approx(_pairwise_auc(scores, labels))
    assert auc(np.ones(5), labels) == 0.5
    assert auc(np.array([3.0, 2.0, 1.0, 0.0]), np.array([1, 1, 0, 0])) == 1.0
    with pytest.raises(InputError):
        auc(scores, np.zeros(5, dtype=bool))
    with pytest.raises(InputError):
        auc(np.array([np.nan, 1.0]), np.array([True, False]))


@st.composite
def _scored(draw):
    n = draw(st.integers(2, 40))
    scores = draw(hnp.arrays(np.float64, n, elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, -3.0, 7.25])))
    labels = draw(hnp.arrays(np.bool_, n))
    labels[0], labels[1] = True, False
    return scores, labels


@settings(max_examples=100, deadline=None)
@given(_scored())
def test_auc_properties(data):
    scores, labels = data
    value = auc(scores, labels)
    assert value == pytest.approx(_pairwise_auc(scores, labels))
    assert auc(-scores, labels) == pytest.approx(1.0 - value)


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), side=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_assessment_cells_without_their_raster_are_the_rasters(rows, cols, side, seed):
    """The pipeline's assessments take each pixel's cell from the layout, not from a raster of ids: the same ids,
    and the same pixel count per cell within the units (or over the whole grid), as the raster gives."""
    raster = assessment_cells((rows, cols), 10.0, cell_area_ha=(side * 10.0) ** 2 / 1e4)
    cells = AssessmentCells.of((rows, cols), 10.0, (side * 10.0) ** 2 / 1e4)
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(rows * cols, size=rng.integers(1, rows * cols + 1), replace=False))
    np.testing.assert_array_equal(cells.ids(index), raster.ravel()[index])
    assert cells.ids(index).dtype == raster.dtype
    units = rng.integers(0, 3, size=(rows, cols))
    n_cells = int(raster.max()) + 1
    np.testing.assert_array_equal(cells.pixels(units), np.bincount(raster[units > 0], minlength=n_cells))
    np.testing.assert_array_equal(cells.pixels(1), np.bincount(raster.ravel(), minlength=n_cells))
