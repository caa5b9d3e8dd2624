"""Compiled inference for scikit-learn's histogram gradient boosting: the same trees, one pass over the rows.

scikit-learn's ``HistGradientBoostingClassifier.predict_proba`` copies X to float64 and walks it once per
tree (50 passes over a map of 9 million forest pixels for icam's gradient-boosting candidate): at project
scale that was 61 s of the risk stage. :class:`CompiledTrees` holds the fitted trees as flat arrays and
predicts with a numba kernel that takes each row through every tree while the row is in cache, in
parallel over rows, reading float32 or float64 X as it is. The decision rule is scikit-learn's own
(``_predictor.pyx``, ``_predict_one_from_raw_data``): a row goes left when its value is ≤ the node's
``num_threshold`` (the comparison in float64), a missing value (NaN) where ``missing_go_to_left`` says;
the raw score is the baseline plus the leaves' values, and the probability of class 1 its logistic. The
result equals scikit-learn's to the last bit (tests/risk/test_risk_trees.py); models with categorical
splits or more than two classes are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier

from icam.core.errors import InputError


@numba.njit(parallel=True, cache=True, nogil=True)
def _raw_scores(x, roots, feature, threshold, left, right, missing_left, is_leaf, value, baseline):
    """Σ over trees of each row's leaf value, plus the baseline (float64, one per row of x)."""
    n = x.shape[0]
    out = np.empty(n, dtype=np.float64)
    for i in numba.prange(n):
        total = baseline
        for root in roots:
            node = root
            while not is_leaf[node]:
                v = np.float64(x[i, feature[node]])
                if np.isnan(v):
                    node = left[node] if missing_left[node] else right[node]
                elif v <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            total += value[node]
        out[i] = total
    return out


@dataclass(frozen=True, eq=False)
class CompiledTrees:
    """A fitted binary ``HistGradientBoostingClassifier``'s trees as flat node arrays (children indexed
    across all trees); ``roots`` is where each tree starts."""

    roots: np.ndarray  # int64 (trees,)
    feature: np.ndarray  # int64 (nodes,)
    threshold: np.ndarray  # float64 (nodes,)
    left: np.ndarray  # int64 (nodes,)
    right: np.ndarray  # int64 (nodes,)
    missing_left: np.ndarray  # bool (nodes,)
    is_leaf: np.ndarray  # bool (nodes,)
    value: np.ndarray  # float64 (nodes,)
    baseline: float
    n_features: int

    @classmethod
    def from_sklearn(cls, model: HistGradientBoostingClassifier) -> "CompiledTrees":
        """The trees of a fitted binary classifier without categorical features."""
        if getattr(model, "n_trees_per_iteration_", None) != 1:
            raise InputError("only a fitted binary HistGradientBoostingClassifier can be compiled")
        nodes = [predictors[0].nodes for predictors in model._predictors]
        if any(n["is_categorical"].any() for n in nodes):
            raise InputError("a gradient-boosting model with categorical splits cannot be compiled")
        sizes = np.array([n.size for n in nodes], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        flat = np.concatenate(nodes)
        offset = np.repeat(starts, sizes)
        return cls(roots=starts, feature=flat["feature_idx"].astype(np.int64),
                   threshold=flat["num_threshold"].astype(np.float64),
                   left=flat["left"].astype(np.int64) + offset, right=flat["right"].astype(np.int64) + offset,
                   missing_left=flat["missing_go_to_left"].astype(bool), is_leaf=flat["is_leaf"].astype(bool),
                   value=flat["value"].astype(np.float64),
                   baseline=float(np.asarray(model._baseline_prediction).ravel()[0]),
                   n_features=int(model.n_features_in_))

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        """The log-odds of class 1 for each row of ``x`` (n, features), float32 or float64."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise InputError(f"x must be (rows, {self.n_features}), got {x.shape}")
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        return _raw_scores(np.ascontiguousarray(x), self.roots, self.feature, self.threshold, self.left, self.right,
                           self.missing_left, self.is_leaf, self.value, self.baseline)

    def probability(self, x: np.ndarray) -> np.ndarray:
        """The probability of class 1 for each row of ``x`` (float64)."""
        return expit(self.raw_scores(x))


__all__ = ["CompiledTrees"]
