"""Alternative deforestation risk models: logistic, gradient boosting, spatial iCAR (riskmapjnr's local-rate
classes are in :mod:`icam.risk.local_rate`).

Sources. Balanced sampling and the spatially structured logistic model follow forestatrisk
(Vieilledent 2021, *J. Open Source Software* 6(59):2975; ``forestatrisk.sample`` and
``model_binomial_iCAR``), whose iCAR field is that of Besag, York & Mollié 1991 (*Annals of the
Institute of Statistical Mathematics* 43:1–20). See docs/methods.md, "Deforestation risk:
alternative models".

Every model has scikit-learn's surface (``fit(X, y)``, ``predict_proba(X)`` → (n, 2), ``predict``,
``score``; parameters stored in ``__init__``, learned state ending in ``_``), so
``sklearn.base.clone`` and model selection work. X holds covariates (one column per covariate, e.g.
from :meth:`CovariateStack.sample`); y is 1 for a cell deforested during the fitting period and 0
for a cell that stayed forest. Probabilities fitted on a balanced sample rank cells correctly but are
not the cells' probabilities (see :func:`balanced_sample`); the quantity comes from the expected
deforestation (``icam.risk.quantity.adjust_to_quantity``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from icam.core.errors import InputError
from icam.risk.covariates import CovariateStack
from icam.risk.trees import CompiledTrees

PRECISION_GRID = tuple(float(t) for t in np.logspace(-2, 2, 9))  # candidate iCAR precisions τ
HOLDOUT_SHARE = 0.2  # share of the samples held out to choose τ
CAR_RIDGE = 1e-6  # added to Q's diagonal so that the iCAR prior is proper (identifiability)


# --------------------------------------------------------------------------- sampling

def balanced_sample(deforested: np.ndarray, forest_at_start: np.ndarray, n_per_class: int,
                    seed: int) -> np.ndarray:
    """Row-major indices of ``n_per_class`` deforested and ``n_per_class`` undisturbed forest cells.

    Source: forestatrisk's ``sample()`` (Vieilledent 2021), which draws the same number of
    deforested and still-forested pixels (10,000 each by default) to fit its models. A class with
    fewer cells is taken whole. Cells are drawn without replacement with
    ``numpy.random.default_rng(seed)``; the result is sorted (int64).

    Sampling each class at its own rate changes only the intercept of a logistic model: with
    sampling fractions s₁ (deforested) and s₀ (forest), the fitted intercept estimates
    a + ln(s₁/s₀) and the slopes are unchanged (Prentice & Pyke 1979, *Biometrika* 66:403–411).
    Risk rankings are therefore right, absolute probabilities are not.

    deforested, forest_at_start: bool (rows, cols); only cells forested at the start count.
    """
    deforested = np.asarray(deforested, dtype=bool)
    forest = np.asarray(forest_at_start, dtype=bool)
    if forest.ndim != 2 or deforested.shape != forest.shape:
        raise InputError(f"deforested {deforested.shape} and forest {forest.shape} must be 2-D of one shape")
    if int(n_per_class) < 1:
        raise InputError(f"n_per_class must be at least 1, got {n_per_class}")
    lost = np.flatnonzero(forest & deforested)
    kept = np.flatnonzero(forest & ~deforested)
    if lost.size == 0 or kept.size == 0:
        raise InputError("a balanced sample needs both deforested and undisturbed forest cells",
                         "check the forest mask and the fitting period")
    rng = np.random.default_rng(seed)
    drawn = [rng.choice(pool, size=min(int(n_per_class), pool.size), replace=False) for pool in (lost, kept)]
    return np.sort(np.concatenate(drawn)).astype(np.int64)


# --------------------------------------------------------------------------- shared surface

def _check_x(X: np.ndarray, n_features: int | None = None) -> np.ndarray:
    """X as float64, or float32 as it is (a design matrix of a map: the models compute in float64)."""
    X = np.asarray(X)
    if X.dtype != np.float32:
        X = X.astype(np.float64, copy=False)
    if X.ndim != 2 or X.shape[0] == 0:
        raise InputError(f"X must be a non-empty 2-D matrix (samples, covariates), got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise InputError(f"X has {X.shape[1]} columns, the model was fitted with {n_features}")
    if not np.isfinite(X).all():
        raise InputError("X holds NaN or infinite values", "fill or exclude no-data cells")
    return X


def _check_y(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y).ravel()
    if y.size != n:
        raise InputError(f"y has {y.size} labels for {n} samples")
    if y.dtype != bool and not np.isin(y, (0, 1)).all():
        raise InputError("y must be boolean (1 = deforested, 0 = stayed forest)")
    y = y.astype(np.int64)
    if y.min() == y.max():
        raise InputError("y must hold both deforested and undisturbed cells")
    return y


class _RiskClassifier(ClassifierMixin, BaseEstimator):
    """Binary risk classifier: classes_ = [0, 1], ``predict`` from ``predict_proba``."""

    def _start_fit(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = _check_x(X)
        y = _check_y(y, X.shape[0])
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        return X, y

    def predict(self, X: np.ndarray) -> np.ndarray:
        """1 where the predicted probability of deforestation exceeds ½, else 0."""
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)]


# --------------------------------------------------------------------------- logistic and GBM

class LogisticRiskModel(_RiskClassifier):
    """Logistic regression of deforestation on standardised covariates (L2 penalty ½|w|²/C).

    logit p = intercept_ + Σ coef_ᵢ xᵢ, fitted by scikit-learn's ``LogisticRegression`` after
    ``StandardScaler`` (the spatial model without its spatial effect). ``coef_`` (per unit of each
    covariate) and ``intercept_`` are expressed on the covariates' own scale.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 1000):
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: np.ndarray) -> "LogisticRiskModel":
        X, y = self._start_fit(X, y)
        self.pipeline_ = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter))
        self.pipeline_.fit(X, y)
        scaler, logit = self.pipeline_[0], self.pipeline_[-1]
        self.coef_ = logit.coef_[0] / scaler.scale_
        self.intercept_ = float(logit.intercept_[0] - self.coef_ @ scaler.mean_)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, 2): probabilities of staying forest and of deforestation. scikit-learn's arithmetic on the
        fitted pipeline (the scaler's x − mean, then / scale, in float64; x·coefᵀ + intercept; the logistic),
        without its two validation passes over every block of a map: the same bits in half the time."""
        scaler, logit = self.pipeline_[0], self.pipeline_[-1]
        x = _check_x(X, self.n_features_in_).astype(np.float64)  # a copy, standardised in place
        x -= scaler.mean_
        x /= scaler.scale_
        p = expit((x @ logit.coef_.T + logit.intercept_).reshape(-1))
        return np.column_stack([1.0 - p, p])


class GradientBoostingRiskModel(_RiskClassifier):
    """Gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``, log loss).

    Non-linear responses and interactions between covariates without specifying them; a
    machine-learning alternative in the sense of VT0007 v1.0 §5.5 (it must beat the benchmark in
    the model test). Early stopping is scikit-learn's default (on above 10,000 samples, with a
    validation split drawn with ``random_state``). Predictions come from the same trees compiled
    (:class:`icam.risk.trees.CompiledTrees`, learned ``trees_``): scikit-learn's probabilities, to the bit,
    several times faster on a map.
    """

    def __init__(self, max_iter: int = 200, learning_rate: float = 0.1, max_leaf_nodes: int = 31,
                 random_state: int = 0):
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> "GradientBoostingRiskModel":
        X, y = self._start_fit(X, y)
        self.booster_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            random_state=self.random_state).fit(X, y)
        self.trees_ = CompiledTrees.from_sklearn(self.booster_)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, 2): probabilities of staying forest and of deforestation."""
        p = self.trees_.probability(_check_x(X, self.n_features_in_))
        return np.column_stack([1.0 - p, p])


# --------------------------------------------------------------------------- spatial iCAR model

def spatial_cells(shape: tuple[int, int], cell_px: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Coarse spatial cells of ``cell_px`` × ``cell_px`` pixels laid from the top-left corner.

    Returns (ids, cell_shape): ids int64 of ``shape``, id = ⌊row/cell_px⌋ · cols_c + ⌊col/cell_px⌋
    (row-major on the coarse grid, as forestatrisk numbers its cells), and cell_shape =
    (⌈rows/cell_px⌉, ⌈cols/cell_px⌉) = (rows_c, cols_c); cells at the right and bottom may be
    partial. forestatrisk uses 10 km cells: cell_px = round(10,000 m / pixel size in m).
    """
    rows, cols = (int(s) for s in shape)
    if rows < 1 or cols < 1:
        raise InputError(f"shape must be positive, got {shape}")
    if int(cell_px) < 1:
        raise InputError(f"cell_px must be at least 1, got {cell_px}")
    cell_px = int(cell_px)
    cell_shape = (-(-rows // cell_px), -(-cols // cell_px))
    ids = (np.arange(rows) // cell_px)[:, None] * cell_shape[1] + (np.arange(cols) // cell_px)[None, :]
    return ids.astype(np.int64), cell_shape


def car_structure(cell_shape: tuple[int, int]) -> sparse.csr_matrix:
    """Q = D − W of the 8-neighbour (king's move) graph of a rows × cols grid of cells (sparse).

    W_jk = 1 when cells j ≠ k touch by a side or a corner, D = diag(number of neighbours): the
    structure matrix of the intrinsic CAR prior p(ρ) ∝ exp(−½ τ ρᵀQρ), under which
    ρ_j | ρ_−j ~ N(mean of the neighbours' ρ, 1/(τ n_j)) (Besag, York & Mollié 1991; forestatrisk's
    ``cellneigh`` with rank 1). Q is singular (Q·1 = 0).
    """
    rows, cols = cell_shape
    ids = np.arange(rows * cols).reshape(rows, cols)
    pairs = []
    for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):  # each neighbour pair once
        a = ids[:rows - dr, max(0, -dc):cols - max(0, dc)]
        b = ids[dr:, max(0, dc):cols - max(0, -dc)]
        pairs.append(np.stack([a.ravel(), b.ravel()]))
    i, j = np.concatenate(pairs, axis=1)
    w = sparse.coo_matrix((np.ones(2 * i.size), (np.concatenate([i, j]), np.concatenate([j, i]))),
                          shape=(rows * cols, rows * cols)).tocsr()
    return (sparse.diags(np.asarray(w.sum(axis=1)).ravel()) - w).tocsr()


def _objective(theta: np.ndarray, x: np.ndarray, y: np.ndarray, cells: np.ndarray, q: sparse.csr_matrix,
               precision: float, ridge_beta: float) -> tuple[float, np.ndarray]:
    """(−log-likelihood + ½τρᵀQρ + ½λ|β|²) / n and its gradient; θ = (b₀, β, ρ)."""
    k = x.shape[1]
    b0, beta, rho = theta[0], theta[1:k + 1], theta[k + 1:]
    eta = b0 + x @ beta + rho[cells]
    q_rho = q @ rho
    value = (np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * precision * rho @ q_rho
             + 0.5 * ridge_beta * beta @ beta)
    residual = expit(eta) - y
    grad = np.concatenate(([residual.sum()], x.T @ residual + ridge_beta * beta,
                           np.bincount(cells, weights=residual, minlength=rho.size) + precision * q_rho))
    return value / y.size, grad / y.size


def _hessian(x: np.ndarray, cells: np.ndarray, weights: np.ndarray, q: sparse.csr_matrix, precision: float,
             ridge_beta: float) -> np.ndarray:
    """Dense Hessian of :func:`_objective` (× n) for θ = (b₀, β, ρ): Zᵀ diag(w) Z + penalties, Z = [1, x, cells]."""
    k, m = x.shape[1], q.shape[0]
    design = np.column_stack([np.ones(x.shape[0]), x])
    h = np.zeros((1 + k + m, 1 + k + m))
    h[:k + 1, :k + 1] = design.T @ (design * weights[:, None])
    cross = np.stack([np.bincount(cells, weights=weights * design[:, j], minlength=m) for j in range(k + 1)])
    h[:k + 1, k + 1:] = cross
    h[k + 1:, :k + 1] = cross.T
    h[k + 1:, k + 1:] = np.diag(np.bincount(cells, weights=weights, minlength=m)) + precision * q.toarray()
    h[1:k + 1, 1:k + 1] += ridge_beta * np.eye(k)
    return h


def _fit_map(x: np.ndarray, y: np.ndarray, cells: np.ndarray, q: sparse.csr_matrix, precision: float,
             ridge_beta: float, start: np.ndarray, max_iter: int = 50, tolerance: float = 1e-10) -> np.ndarray:
    """The posterior mode θ = (b₀, β, ρ) by damped Newton steps, with ρ centred to sum to zero.

    The objective is convex (logistic log-likelihood plus positive semi-definite penalties made
    definite by the ridges), and θ has only 1 + k + cells parameters, so the dense Hessian is cheap
    and Newton's method converges in a handful of steps where first-order methods crawl along the
    directions the cells and the covariates share. Steps are halved until the objective decreases;
    iterations stop when the decrease falls below ``tolerance`` (per sample).
    """
    # a multi-threaded BLAS solve of this small system spins for tens of ms when the cores are busy
    with threadpool_limits(1, user_api="blas"):
        return _newton(x, y, cells, q, precision, ridge_beta, start, max_iter, tolerance)


def _newton(x: np.ndarray, y: np.ndarray, cells: np.ndarray, q: sparse.csr_matrix, precision: float,
            ridge_beta: float, start: np.ndarray, max_iter: int, tolerance: float) -> np.ndarray:
    theta = start.astype(np.float64).copy()
    value, grad = _objective(theta, x, y, cells, q, precision, ridge_beta)
    k = x.shape[1]
    for _ in range(max_iter):
        eta = theta[0] + x @ theta[1:k + 1] + theta[k + 1:][cells]
        p = expit(eta)
        hessian = _hessian(x, cells, p * (1 - p), q, precision, ridge_beta) / y.size
        step = np.linalg.solve(hessian + 1e-12 * np.eye(hessian.shape[0]), grad)
        size = 1.0
        while True:
            candidate = theta - size * step
            new_value, new_grad = _objective(candidate, x, y, cells, q, precision, ridge_beta)
            if new_value <= value or size < 1e-6:
                break
            size /= 2
        decrease = value - new_value
        theta, value, grad = candidate, new_value, new_grad
        if decrease < tolerance:
            break
    shift = theta[k + 1:].mean()  # b₀ + ρ is what the data see: move ρ's mean into b₀
    theta[0] += shift
    theta[k + 1:] -= shift
    return theta


def _mean_log_loss(theta: np.ndarray, x: np.ndarray, y: np.ndarray, cells: np.ndarray) -> float:
    k = x.shape[1]
    eta = theta[0] + x @ theta[1:k + 1] + theta[k + 1:][cells]
    return float(np.mean(np.logaddexp(0.0, eta) - y * eta))


class SpatialRiskModel(_RiskClassifier):
    """Logistic regression with an intrinsic CAR spatial effect per coarse cell, fitted at its mode.

    logit p_i = intercept_ + Σ beta_ᵢ x_i + ρ_cell(i), the binomial iCAR model of forestatrisk's
    ``model_binomial_iCAR`` (Vieilledent 2021; Besag, York & Mollié 1991), with ρ an iCAR field
    over a coarse grid of ``cell_shape`` = (rows, cols) cells and 8-neighbour adjacency
    (:func:`car_structure`). forestatrisk samples the posterior by MCMC and predicts with the
    posterior means of β and ρ; icam computes the posterior MODE instead (the MAP / Laplace
    estimate), minimising by damped Newton steps (exact gradient and dense Hessian)

        −log L(b₀, β, ρ) + ½ τ ρᵀ(Q + εI)ρ + ½ (1/C) |β|²,

    on standardised covariates (ε = ``CAR_RIDGE`` makes the prior proper; b₀ is unpenalised; ρ is
    centred to sum to zero, its mean moved into the intercept). A cell without samples gets the
    value the prior implies, ρ_j = Σ_{k~j} ρ_k / (n_j + ε), the mean of its neighbours: exactly how
    the iCAR posterior mean interpolates into cells without data. Predictions use the cell's ρ
    (forestatrisk instead resamples ρ to the pixels by bilinear interpolation).

    Parameters: ``cell_shape`` (rows, cols) of the coarse grid (see :func:`spatial_cells`);
    ``cell_column``: the column of X holding each sample's cell id r · cols + c (default the last,
    as :func:`predict_map` appends it); ``precision``: τ, or None to choose it from
    ``PRECISION_GRID`` by the log loss on a random ``HOLDOUT_SHARE`` of the samples (drawn with
    ``random_state``) before refitting on all; ``C``: inverse ridge strength on the standardised β,
    as scikit-learn's. Learned: ``beta_`` (per unit of each covariate), ``intercept_``,
    ``spatial_effect_`` (float64, rows · cols, logit scale), ``precision_``.
    """

    def __init__(self, cell_shape: tuple[int, int], cell_column: int = -1, precision: float | None = None,
                 C: float = 1.0, random_state: int = 0):
        self.cell_shape = cell_shape
        self.cell_column = cell_column
        self.precision = precision
        self.C = C
        self.random_state = random_state

    def _n_cells(self) -> int:
        shape = tuple(int(s) for s in self.cell_shape)
        if len(shape) != 2 or min(shape) < 1:
            raise InputError(f"cell_shape must be two positive integers (rows, cols), got {self.cell_shape}")
        return shape[0] * shape[1]

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(covariates, int64 cell ids) from X."""
        n_col = X.shape[1]
        if not -n_col <= self.cell_column < n_col:
            raise InputError(f"cell_column {self.cell_column} is outside X's {n_col} columns")
        column = self.cell_column % n_col
        ids = X[:, column]
        n_cells = self._n_cells()
        if not (np.all(ids == np.floor(ids)) and ids.min() >= 0 and ids.max() < n_cells):
            raise InputError(f"cell ids (column {self.cell_column} of X) must be integers in 0..{n_cells - 1}",
                             "build them with spatial_cells for the same cell_shape")
        return np.delete(X, column, axis=1), ids.astype(np.int64)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "SpatialRiskModel":
        X, y = self._start_fit(X, y)
        x, cells = self._split(X)
        if not (self.C > 0 and (self.precision is None or self.precision > 0)):
            raise InputError("C and precision must be positive")
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1.0
        z = (x - mean) / scale
        q = car_structure(tuple(int(s) for s in self.cell_shape)) + CAR_RIDGE * sparse.eye(self._n_cells())
        start = np.zeros(1 + z.shape[1] + self._n_cells())
        self.precision_ = (float(self.precision) if self.precision is not None
                           else self._choose_precision(z, y, cells, q, start))
        theta = _fit_map(z, y, cells, q, self.precision_, 1.0 / self.C, start)
        k = z.shape[1]
        self.beta_ = theta[1:k + 1] / scale
        self.intercept_ = float(theta[0] - self.beta_ @ mean)
        self.spatial_effect_ = theta[k + 1:]
        return self

    def _choose_precision(self, z: np.ndarray, y: np.ndarray, cells: np.ndarray, q: sparse.csr_matrix,
                          start: np.ndarray) -> float:
        held = np.random.default_rng(self.random_state).random(y.size) < HOLDOUT_SHARE
        if held.all() or not held.any() or np.unique(y[~held]).size < 2:
            raise InputError(f"too few samples ({y.size}) to choose the spatial precision",
                             "pass precision explicitly or sample more cells")
        losses, theta = [], start
        for precision in PRECISION_GRID:  # warm start: each fit begins at the previous mode
            theta = _fit_map(z[~held], y[~held], cells[~held], q, precision, 1.0 / self.C, theta)
            losses.append(_mean_log_loss(theta, z[held], y[held], cells[held]))
        return PRECISION_GRID[int(np.argmin(losses))]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, 2): probabilities of staying forest and of deforestation."""
        x, cells = self._split(_check_x(X, self.n_features_in_))
        p = expit(self.intercept_ + x @ self.beta_ + self.spatial_effect_[cells])
        return np.column_stack([1.0 - p, p])


# --------------------------------------------------------------------------- maps

def predict_map(model: ClassifierMixin, stack: CovariateStack, mask: np.ndarray, block_rows: int = 512,
                extra_columns: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Probability of deforestation of every cell of ``mask`` (float32, 0 off the mask).

    model: a fitted classifier with ``predict_proba`` (any model of this module, or scikit-learn's).

    The design matrix is built and predicted ``block_rows`` rows at a time, so memory stays
    proportional to one block; blocks do not change the result. Columns are the stack's covariates
    in ``stack.names`` order, then each 2-D map of ``extra_columns`` in order (for
    :class:`SpatialRiskModel` with the default ``cell_column=-1``, pass
    ``extra_columns=[cells]`` from :func:`spatial_cells`), i.e. the layout the model was fitted on.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != stack.shape:
        raise InputError(f"mask {mask.shape} and covariates {stack.shape} differ in shape")
    if stack.valid is not None and (mask & ~stack.valid).any():
        raise InputError("the mask covers cells outside the covariates' valid mask")
    extras = [np.asarray(a) for a in (extra_columns or ())]
    if any(a.shape != stack.shape for a in extras):
        raise InputError(f"extra columns must be maps of the covariates' shape {stack.shape}")
    if int(block_rows) < 1:
        raise InputError(f"block_rows must be at least 1, got {block_rows}")
    probability = np.zeros(stack.shape, dtype=np.float32)
    for row0 in range(0, stack.shape[0], int(block_rows)):
        row1 = min(row0 + int(block_rows), stack.shape[0])
        inside = mask[row0:row1]
        if not inside.any():
            continue
        x = np.column_stack([stack.block(row0, row1)] + [a[row0:row1].ravel() for a in extras])
        probability[row0:row1][inside] = model.predict_proba(x[inside.ravel()])[:, 1]
    return probability


BLOCK_ROWS = 1 << 18  # rows of a design matrix a model predicts at once


def predict_rows(model: ClassifierMixin, x: np.ndarray, columns: slice = slice(None),
                 block_rows: int = BLOCK_ROWS) -> np.ndarray:
    """Probability of deforestation of each row of a design matrix (float32 (n,)), ``block_rows`` at a time.

    x: (n, k) float32 from :meth:`CovariateStack.design`, shared by every model of a date; ``columns`` picks
    the model's own (e.g. all but the spatial model's cell column). Blocks bound the memory of the models'
    float64 arithmetic to one block's and do not change the result.
    """
    if int(block_rows) < 1:
        raise InputError(f"block_rows must be at least 1, got {block_rows}")
    out = np.empty(x.shape[0], dtype=np.float32)
    for row0 in range(0, x.shape[0], int(block_rows)):
        block = x[row0:row0 + int(block_rows), columns]
        out[row0:row0 + block.shape[0]] = model.predict_proba(block)[:, 1]
    return out
