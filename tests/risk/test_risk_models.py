"""Alternative risk models (icam.risk.models) and covariates (icam.risk.covariates).

Numbers come from hand-worked rasters, from the known parameters of simulated fields (the truth
the models must recover), or from the models' own optimality conditions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

from icam.core.errors import InputError
from icam.landscape.grid import Grid
from icam.risk.benchmark import fit_relative_frequency
from icam.risk.covariates import CovariateStack, distance_to_mask_m, slope_deg
from icam.risk.local_rate import local_deforestation_rate, local_rate_classes
from icam.risk.models import (
    CAR_RIDGE,
    PRECISION_GRID,
    GradientBoostingRiskModel,
    LogisticRiskModel,
    SpatialRiskModel,
    balanced_sample,
    car_structure,
    predict_map,
    predict_rows,
    spatial_cells,
)
from icam.risk.validate import auc

SIDE_PX = 200  # simulated fields are 200 × 200 pixels


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These fits are small: OpenMP and BLAS threads only spin, and on a shared 2-core machine
    their spinning slows the tests (and the rest of the suite) several-fold."""
    with threadpool_limits(limits=1):
        yield


def sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def fisher_se(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Standard errors of (intercept, slopes) of a logistic fit: √diag((Xᵀ W X)⁻¹), W = p(1 − p)."""
    design = np.column_stack([np.ones(len(x)), x])
    information = design.T @ (design * (p * (1 - p))[:, None])
    return np.sqrt(np.diag(np.linalg.inv(information)))


# ------------------------------------------------------------------ balanced sampling

def test_balanced_sample_counts_classes_and_seed():
    deforested = np.zeros((10, 10), bool)
    deforested[:3, :3] = True          # 9 deforested forest cells
    deforested[9, 9] = True            # outside the forest: never sampled
    forest = np.ones((10, 10), bool)
    forest[9, 9] = False
    idx = balanced_sample(deforested, forest, n_per_class=5, seed=1)
    assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)  # sorted, no repeats
    assert deforested.ravel()[idx].sum() == 5 and (~deforested.ravel()[idx]).sum() == 5
    assert forest.ravel()[idx].all()
    np.testing.assert_array_equal(idx, balanced_sample(deforested, forest, 5, seed=1))
    assert not np.array_equal(idx, balanced_sample(deforested, forest, 5, seed=2))
    everything = balanced_sample(deforested, forest, n_per_class=50, seed=1)
    assert deforested.ravel()[everything].sum() == 9                 # the small class whole
    assert (~deforested.ravel()[everything]).sum() == 50
    with pytest.raises(InputError):
        balanced_sample(np.zeros((3, 3), bool), np.ones((3, 3), bool), 5, seed=0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40))
def test_balanced_sample_takes_min_of_request_and_class(seed, n):
    rng = np.random.default_rng(seed)
    forest = rng.random((12, 12)) < 0.8
    deforested = rng.random((12, 12)) < 0.2
    lost, kept = (forest & deforested).sum(), (forest & ~deforested).sum()
    if lost == 0 or kept == 0:
        return
    idx = balanced_sample(deforested, forest, n, seed)
    assert np.unique(idx).size == idx.size
    assert deforested.ravel()[idx].sum() == min(n, lost)
    assert (~deforested.ravel()[idx]).sum() == min(n, kept)


# ------------------------------------------------------------------ covariates

def test_distance_to_mask_by_hand_square_cells():
    mask = np.zeros((4, 5), bool)
    mask[1, 1] = True
    grid = Grid.from_bounds("EPSG:32718", (300_000, 9_300_000, 300_150, 9_300_120), 30.0)
    d = distance_to_mask_m(mask, grid)
    assert d.dtype == np.float32 and d[1, 1] == 0
    assert d[1, 2] == 30 and d[0, 0] == pytest.approx(30 * math.sqrt(2))
    assert d[3, 4] == pytest.approx(30 * math.sqrt(4 + 9))
    np.testing.assert_array_equal(d, distance_to_mask_m(mask, 30.0))
    assert np.isinf(distance_to_mask_m(np.zeros((3, 3), bool), 30.0)).all()


def test_distance_anisotropic_cells_rows_first():
    # cells 60 m wide (x, columns) and 30 m tall (y, rows): edt's anisotropy[0] must be the ROW spacing
    mask = np.zeros((3, 3), bool)
    mask[0, 0] = True
    for layout in (mask, np.asfortranarray(mask)):
        d = distance_to_mask_m(layout, Affine(60, 0, 0, 0, -30, 0))
        assert d[0, 1] == 60 and d[0, 2] == 120      # along a row: column spacing
        assert d[1, 0] == 30 and d[2, 0] == 60       # down a column: row spacing
        assert d[1, 1] == pytest.approx(math.hypot(30, 60))
        assert d[2, 2] == pytest.approx(math.hypot(60, 120))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(30.0, 30.0), (30.0, 60.0), (60.0, 30.0), (10.0, 25.0)]))
def test_distance_equals_brute_force(seed, spacing):
    rng = np.random.default_rng(seed)
    mask = rng.random((7, 9)) < 0.1
    if not mask.any():
        return
    dy, dx = spacing
    rows, cols = np.indices(mask.shape)
    targets_r, targets_c = np.nonzero(mask)
    brute = np.hypot((rows[..., None] - targets_r) * dy, (cols[..., None] - targets_c) * dx).min(axis=-1)
    d = distance_to_mask_m(mask, Affine(dx, 0, 0, 0, -dy, 0))
    np.testing.assert_allclose(d, brute, rtol=1e-6)


def test_slope_of_planes_by_hand():
    rows, cols = np.mgrid[0:5, 0:6]
    # 30 m cells; z rises 9 m per column (east) and 12 m per row: gradient (0.3, 0.4), |∇z| = 0.5
    plane = 9.0 * cols + 12.0 * rows
    s = slope_deg(plane, 30.0)
    assert s.dtype == np.float32
    np.testing.assert_allclose(s, math.degrees(math.atan(0.5)), rtol=1e-6)
    # 30 m wide × 60 m tall cells: 24 m per row is again 0.4 → same slope
    np.testing.assert_allclose(slope_deg(9.0 * cols + 24.0 * rows, Affine(30, 0, 0, 0, -60, 0)),
                               math.degrees(math.atan(0.5)), rtol=1e-6)
    np.testing.assert_array_equal(slope_deg(np.full((3, 3), 500.0), 30.0), 0)
    plane_45 = 30.0 * cols  # rise = run
    np.testing.assert_allclose(slope_deg(plane_45, 30.0), 45.0, rtol=1e-6)
    with pytest.raises(InputError):
        slope_deg(np.array([[1.0, np.nan], [1.0, 1.0]]), 30.0)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(2, 30), cols=st.integers(2, 12), band=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_slope_in_bands_is_the_whole_rasters_to_the_bit(rows, cols, band, seed):
    """Bands of any height (one row up to the whole raster) give the whole raster's differences and slope."""
    import icam.risk.covariates as covariates

    z = np.random.default_rng(seed).uniform(800, 3500, (rows, cols)).astype(np.float32)
    dz_dy, dz_dx = np.gradient(z.astype(np.float64), 60.0, 30.0)
    whole = np.degrees(np.arctan(np.hypot(dz_dx, dz_dy))).astype(np.float32)
    saved = covariates.SLOPE_BAND_ROWS
    covariates.SLOPE_BAND_ROWS = band
    try:
        banded = slope_deg(z, Affine(30, 0, 0, 0, -60, 0))
    finally:
        covariates.SLOPE_BAND_ROWS = saved
    np.testing.assert_array_equal(banded.view(np.uint32), whole.view(np.uint32))


def test_covariate_stack_sample_block_and_checks():
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    b = 100 + a
    stack = CovariateStack({"dist_m": a, "slope_deg": b})
    assert stack.names == ("dist_m", "slope_deg") and stack.shape == (3, 4)
    np.testing.assert_array_equal(stack.sample(np.array([0, 5, 11])), [[0, 100], [5, 105], [11, 111]])
    np.testing.assert_array_equal(stack.block(1, 3), stack.sample(np.arange(4, 12)))
    with pytest.raises(InputError, match="slope_deg"):
        CovariateStack({"dist_m": a, "slope_deg": np.where(a == 5, np.nan, b)})
    with pytest.raises(InputError, match="shape"):
        CovariateStack({"dist_m": a, "slope_deg": b[:2]})
    valid = a != 5
    partial = CovariateStack({"dist_m": a, "slope_deg": np.where(valid, b, np.nan)}, valid=valid)
    assert partial.sample(np.array([4, 6])).tolist() == [[4, 104], [6, 106]]
    with pytest.raises(InputError, match="valid"):
        partial.sample(np.array([5]))


# ------------------------------------------------------------------ logistic and boosting

@pytest.fixture(scope="module")
def linear_field():
    """Known logit a + b·x on 200 × 200 px, x ~ N(0, 1) per pixel, y ~ Bernoulli."""
    rng = np.random.default_rng(20240601)
    a, b = -3.0, 1.2
    x = rng.normal(size=(SIDE_PX, SIDE_PX))
    p = sigmoid(a + b * x)
    y = rng.random(x.shape) < p
    return a, b, x, p, y


def test_logistic_recovers_known_slope_and_offset(linear_field):
    a, b, x, p, y = linear_field
    forest = np.ones(x.shape, bool)
    idx = balanced_sample(y, forest, 2000, seed=3)
    xs, ys = x.ravel()[idx, None], y.ravel()[idx]
    model = LogisticRiskModel().fit(xs, ys)
    se_intercept, se_slope = fisher_se(xs, model.predict_proba(xs)[:, 1])
    # |error| < 4 SE: a correct estimator fails this with probability 6e-5
    assert abs(model.coef_[0] - b) < 4 * se_slope
    # balanced sampling shifts the intercept by ln(s1/s0) (Prentice & Pyke 1979)
    s1, s0 = ys.sum() / y.sum(), (~ys).sum() / (~y).sum()
    assert abs(model.intercept_ - (a + math.log(s1 / s0))) < 4 * se_intercept
    # the fitted probability is increasing in x like the truth: identical ranking, identical AUC
    predicted = model.predict_proba(x.reshape(-1, 1))[:, 1]
    assert auc(predicted, y.ravel()) == pytest.approx(auc(p.ravel(), y.ravel()), abs=1e-12)
    assert model.score(xs, ys) > 0.6


def test_boosting_finds_a_non_monotone_risk_that_logistic_misses():
    rng = np.random.default_rng(7)
    x1, x2 = rng.normal(size=(2, SIDE_PX, SIDE_PX))
    p = sigmoid(-3.0 + 0.8 * x1 + 1.5 * (x2**2 - 1))  # risk highest at both ends of x2
    y = rng.random(x1.shape) < p
    idx = balanced_sample(y, np.ones(y.shape, bool), 3000, seed=1)
    X = np.column_stack([x1.ravel(), x2.ravel()])
    unseen = np.ones(y.size, bool)
    unseen[idx] = False
    true_auc = auc(p.ravel()[unseen], y.ravel()[unseen])
    gbm = GradientBoostingRiskModel(max_iter=100).fit(X[idx], y.ravel()[idx])
    logistic = LogisticRiskModel().fit(X[idx], y.ravel()[idx])
    gbm_auc = auc(gbm.predict_proba(X[unseen])[:, 1], y.ravel()[unseen])
    logistic_auc = auc(logistic.predict_proba(X[unseen])[:, 1], y.ravel()[unseen])
    # lift over chance (AUC − ½): the true probabilities rank best; boosting must recover ≥ 90 % of
    # their lift, a straight logit in x2 cannot (it sees only the linear part, ≈ 27 % here)
    assert 0.9 * (true_auc - 0.5) < gbm_auc - 0.5 <= true_auc - 0.5 + 0.005
    assert logistic_auc - 0.5 < 0.5 * (true_auc - 0.5)


# ------------------------------------------------------------------ spatial model

@pytest.fixture(scope="module")
def spatial_field():
    """Known logit a + b·x + ρ(cell), ρ a smooth field on 10 × 10 cells of 20 × 20 px, sd 1."""
    rng = np.random.default_rng(11)
    ids, cell_shape = spatial_cells((SIDE_PX, SIDE_PX), 20)
    r, c = np.mgrid[0:10, 0:10]
    rho = np.sin(r / 2.5) + np.cos(c / 3.0)
    rho = ((rho - rho.mean()) / rho.std()).ravel()
    x = rng.normal(size=(SIDE_PX, SIDE_PX))
    a, b = -2.0, 1.0
    y = rng.random(x.shape) < sigmoid(a + b * x + rho[ids])
    idx = balanced_sample(y, np.ones(y.shape, bool), 3000, seed=2)
    X = np.column_stack([x.ravel()[idx], ids.ravel()[idx]])
    train = np.random.default_rng(3).random(idx.size) < 0.5
    return b, rho, ids, cell_shape, x, X, y.ravel()[idx], train


def test_spatial_cells_ids_and_shape():
    ids, cell_shape = spatial_cells((5, 7), 3)
    assert cell_shape == (2, 3)
    assert ids[0, 0] == 0 and ids[0, 3] == 1 and ids[0, 6] == 2 and ids[3, 0] == 3 and ids[4, 6] == 5
    assert np.bincount(ids.ravel()).tolist() == [9, 9, 3, 6, 6, 2]


def test_car_structure_is_the_8_neighbour_laplacian():
    q = car_structure((3, 4)).toarray()
    np.testing.assert_array_equal(q.sum(axis=1), 0)
    assert q[0, 0] == 3 and q[1, 1] == 5 and q[5, 5] == 8   # corner, edge, interior
    assert q[0, 5] == -1 and q[0, 2] == 0 and (q == q.T).all()


def test_spatial_model_recovers_known_effect_and_beats_logistic(spatial_field):
    b, rho, _, cell_shape, _, X, y, train = spatial_field
    model = SpatialRiskModel(cell_shape).fit(X[train], y[train])
    assert model.precision_ in PRECISION_GRID
    assert abs(model.spatial_effect_.sum()) < 1e-9
    # ≈ 30 samples per cell give each cell's logit an SE ≈ 1/√(30 · 0.2) ≈ 0.4 against a field of
    # sd 1: unsmoothed estimates would correlate ≈ 1/√(1 + 0.4²) = 0.93 with the truth
    assert np.corrcoef(model.spatial_effect_, rho)[0, 1] > 0.9
    se_slope = fisher_se(X[train, :1], model.predict_proba(X[train])[:, 1])[1]
    assert abs(model.beta_[0] - b) < 4 * se_slope
    logistic = LogisticRiskModel().fit(X[train, :1], y[train])
    spatial_loss = log_loss(y[~train], model.predict_proba(X[~train])[:, 1])
    assert spatial_loss < log_loss(y[~train], logistic.predict_proba(X[~train, :1])[:, 1]) - 0.02


def test_spatial_effect_of_an_empty_cell_is_its_neighbours_mean(spatial_field):
    _, _, _, cell_shape, _, X, y, _ = spatial_field
    empty = 44  # interior cell (4, 4): 8 neighbours
    keep = X[:, 1] != empty
    rho = SpatialRiskModel(cell_shape, precision=1.0).fit(X[keep], y[keep]).spatial_effect_
    neighbours = [33, 34, 35, 43, 45, 53, 54, 55]
    # stationarity in ρ_j with no data: (8 + ε) ρ_j = Σ neighbours ρ_k
    assert rho[empty] == pytest.approx(rho[neighbours].sum() / (8 + CAR_RIDGE), abs=1e-4)


def test_spatial_model_refuses_bad_cells(spatial_field):
    _, _, _, cell_shape, _, X, y, _ = spatial_field
    bad = X.copy()
    bad[0, 1] = 100  # cell 100 does not exist on 10 × 10 cells
    with pytest.raises(InputError, match="cell ids"):
        SpatialRiskModel(cell_shape, precision=1.0).fit(bad, y)
    with pytest.raises(InputError):
        SpatialRiskModel(cell_shape, precision=1.0).fit(X, np.zeros(len(y)))


@pytest.mark.parametrize("model", [LogisticRiskModel(C=0.5), GradientBoostingRiskModel(max_iter=20),
                                   SpatialRiskModel((10, 10), precision=2.0)])
def test_models_clone(model, spatial_field):
    _, _, _, _, _, X, y, _ = spatial_field
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    fitted = copy.fit(X, y)
    assert fitted.classes_.tolist() == [0, 1]
    assert set(np.unique(fitted.predict(X))) <= {0, 1}
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


# ------------------------------------------------------------------ prediction maps

def test_predict_map_blocks_do_not_change_the_result(spatial_field):
    _, _, ids, cell_shape, x, X, y, _ = spatial_field
    stack = CovariateStack({"x": x})
    mask = np.random.default_rng(5).random(x.shape) < 0.7
    model = SpatialRiskModel(cell_shape, precision=1.0).fit(X, y)
    whole = predict_map(model, stack, mask, block_rows=SIDE_PX, extra_columns=[ids])
    np.testing.assert_array_equal(whole, predict_map(model, stack, mask, block_rows=7, extra_columns=[ids]))
    assert whole.dtype == np.float32 and (whole[~mask] == 0).all()
    direct = model.predict_proba(np.column_stack([x[mask], ids[mask]]))[:, 1]
    np.testing.assert_allclose(whole[mask], direct, rtol=1e-6)
    logistic = LogisticRiskModel().fit(X[:, :1], y)
    np.testing.assert_array_equal(predict_map(logistic, stack, mask, block_rows=13),
                                  predict_map(logistic, stack, mask, block_rows=1000))


# ------------------------------------------------------------------ riskmapjnr local rates

def hand_landscape():
    forest = np.array([[1, 1, 1, 0, 0],
                       [1, 1, 1, 0, 0],
                       [1, 1, 1, 1, 1],
                       [0, 0, 1, 1, 1],
                       [0, 0, 1, 1, 1]], bool)
    deforested = np.zeros((5, 5), bool)
    deforested[[0, 2, 4], [0, 2, 4]] = True
    deforested[1, 3] = True  # not forest at the start: ignored
    return forest, deforested


def test_local_deforestation_rate_by_hand():
    forest, deforested = hand_landscape()
    rate = local_deforestation_rate(deforested, forest, window_px=3)
    assert rate.dtype == np.float32
    # each forest cell: lost / forest cells in its 3 × 3 window, clipped at the raster's edge;
    # e.g. (0,0): 4 forest, (0,0) lost; (1,1): 9 forest, (0,0) and (2,2) lost; (2,2): 7 forest
    # ((1,3) and (3,1) are not forest, the loss at (1,3) does not count)
    expected = np.array([[1 / 4, 1 / 6, 0, 0, 0],
                         [1 / 6, 2 / 9, 1 / 7, 0, 0],
                         [0, 1 / 7, 1 / 7, 1 / 7, 0],
                         [0, 0, 1 / 7, 2 / 9, 1 / 6],
                         [0, 0, 0, 1 / 6, 1 / 4]])
    np.testing.assert_allclose(rate, expected, rtol=1e-6)
    np.testing.assert_array_equal(local_deforestation_rate(deforested, forest, 1), deforested & forest)
    with pytest.raises(InputError):
        local_deforestation_rate(deforested, forest, window_px=4)


def test_local_rate_classes_by_hand_and_fit():
    rate = np.array([[0.0, 1 / 30, 0.034, 1 / 3, 0.5, 1.0]], dtype=np.float32)
    forest = np.ones(rate.shape, bool)
    forest[0, 5] = False
    assert local_rate_classes(rate, forest).tolist() == [[1, 1, 2, 10, 15, 0]]
    assert local_rate_classes(np.ones((1, 1)), np.ones((1, 1), bool)).tolist() == [[30]]
    # the classes feed the benchmark's relative frequency exactly like distance classes. With 20
    # classes 0.05 wide, the hand rates above fall in class 1 (rate 0: 4 cells, none lost),
    # 3 (1/7: 5 cells, (2,2) lost), 4 (1/6: 4 cells, none lost), 5 (2/9 and 1/4: 4 cells, (0,0) and (4,4) lost)
    forest5, deforested5 = hand_landscape()
    classes = local_rate_classes(local_deforestation_rate(deforested5, forest5, 3), forest5, n_classes=20)
    fit = fit_relative_frequency(classes, 0, deforested5, forest5, n_classes=20)
    assert fit.region_ids.tolist() == [1, 3, 4, 5]
    assert fit.forest_px.tolist() == [4, 5, 4, 4] and fit.deforested_px.tolist() == [0, 1, 0, 2]
    np.testing.assert_allclose(fit.relative_frequency, [0, 1 / 5, 0, 1 / 2])
    with pytest.raises(InputError):
        local_rate_classes(np.full((1, 2), 1.5), np.ones((1, 2), bool))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=50), st.integers(1, 255))
def test_local_rate_classes_monotone(rates, n_classes):
    rate = np.sort(np.array(rates))[None, :]
    classes = local_rate_classes(rate, np.ones(rate.shape, bool), n_classes).ravel().astype(int)
    assert classes.min() >= 1 and classes.max() <= n_classes
    assert np.all(np.diff(classes) >= 0)


def test_design_matrix_is_the_samples_in_float32(spatial_field):
    _, _, ids, _, x, _, _, _ = spatial_field
    stack = CovariateStack({"x": x, "x2": x ** 2})
    mask = np.random.default_rng(6).random(x.shape) < 0.6
    design = stack.design(mask, [ids])
    assert design.dtype == np.float32 and design.flags["C_CONTIGUOUS"] and design.shape == (mask.sum(), 3)
    np.testing.assert_array_equal(design[:, :2], stack.sample(np.flatnonzero(mask)).astype(np.float32))
    np.testing.assert_array_equal(design[:, 2], ids[mask])
    with pytest.raises(InputError, match="valid mask"):
        CovariateStack({"x": x}, valid=~mask).design(mask)


def test_predict_rows_equals_the_map_whatever_the_blocks(spatial_field):
    """Every model predicts a float32 design matrix as it predicts the map built from float64 blocks."""
    _, _, ids, cell_shape, x, X, y, _ = spatial_field
    stack = CovariateStack({"x": x})
    mask = np.random.default_rng(7).random(x.shape) < 0.7
    design = stack.design(mask, [ids])
    models = {"spatial": (SpatialRiskModel(cell_shape, precision=1.0).fit(X, y), slice(None), [ids]),
              "logistic": (LogisticRiskModel().fit(X[:, :1], y), slice(0, 1), []),
              "gbm": (GradientBoostingRiskModel(max_iter=10).fit(X[:, :1], y), slice(0, 1), [])}
    for model, columns, extra in models.values():
        whole = predict_map(model, stack, mask, extra_columns=extra)[mask]
        np.testing.assert_array_equal(predict_rows(model, design, columns), whole)
        np.testing.assert_array_equal(predict_rows(model, design, columns, block_rows=977), whole)


@settings(max_examples=25, deadline=None)
@given(n_features=st.integers(1, 6), seed=st.integers(0, 2**32 - 1), as_float32=st.booleans())
def test_logistic_probabilities_are_scikit_learns_to_the_bit(n_features, seed, as_float32):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, n_features)) * rng.uniform(0.01, 1000, n_features) + rng.normal(0, 100, n_features)
    y = rng.random(400) < 1 / (1 + np.exp(-(x[:, 0] - x[:, 0].mean()) / x[:, 0].std()))
    model = LogisticRiskModel(C=float(rng.uniform(0.1, 10))).fit(x, y)
    x_new = (rng.normal(size=(300, n_features)) * x.std(axis=0) + x.mean(axis=0)).astype(
        np.float32 if as_float32 else np.float64)
    before = x_new.copy()
    expected = model.pipeline_.predict_proba(x_new.astype(np.float64))
    np.testing.assert_array_equal(model.predict_proba(x_new), expected)
    np.testing.assert_array_equal(x_new, before)  # the caller's matrix is not standardised in place
