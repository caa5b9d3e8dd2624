"""Compiled tree inference (icam.risk.trees): scikit-learn's own probabilities, to the bit, on the rows it is
given (float32 design matrices, float64, missing values); models it cannot compile are refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from icam.core.errors import InputError
from icam.risk.trees import CompiledTrees


def fitted(seed: int, n_features: int, max_leaf_nodes: int, missing: bool) -> tuple[HistGradientBoostingClassifier,
                                                                                    np.ndarray]:
    """A classifier fitted on a non-linear response with an interaction (and NaNs when ``missing``), and
    unseen rows of the same kind to predict."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3000, n_features)).astype(np.float32)
    logit = x[:, 0] - 0.8 * x[:, -1] ** 2 + x[:, 0] * x[:, -1]
    y = (logit + rng.logistic(size=x.shape[0]) > 0).astype(int)
    if missing:
        x[rng.random(x.shape) < 0.05] = np.nan
    with threadpool_limits(1):
        model = HistGradientBoostingClassifier(max_iter=25, max_leaf_nodes=max_leaf_nodes, random_state=seed).fit(x, y)
    new = rng.normal(size=(2000, n_features)).astype(np.float32)
    if missing:
        new[rng.random(new.shape) < 0.05] = np.nan
    return model, new


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n_features=st.integers(1, 6), max_leaf_nodes=st.integers(2, 31),
       missing=st.booleans())
def test_compiled_trees_equal_scikit_learn_to_the_bit(seed, n_features, max_leaf_nodes, missing):
    model, x = fitted(seed, n_features, max_leaf_nodes, missing)
    trees = CompiledTrees.from_sklearn(model)
    expected = model.predict_proba(x)[:, 1]
    np.testing.assert_array_equal(trees.probability(x), expected)  # float32 rows, compared in float64
    np.testing.assert_array_equal(trees.probability(x.astype(np.float64)), expected)
    np.testing.assert_array_equal(trees.raw_scores(x), model.decision_function(x))


def test_a_single_tree_worked_by_hand():
    """Two leaves split on x₀ ≤ t: the raw score is the baseline plus the leaf on the row's side."""
    x = np.array([[0.0], [1.0], [2.0], [3.0]] * 50, dtype=np.float32)
    y = np.array([0, 0, 1, 1] * 50)
    model = HistGradientBoostingClassifier(max_iter=1, max_leaf_nodes=2, learning_rate=1.0,
                                           early_stopping=False).fit(x, y)
    trees = CompiledTrees.from_sklearn(model)
    assert trees.roots.tolist() == [0] and trees.is_leaf.tolist() == [False, True, True]
    threshold = trees.threshold[0]
    assert 1.0 <= threshold < 2.0  # between the classes
    left, right = trees.value[trees.left[0]], trees.value[trees.right[0]]
    expected = trees.baseline + np.where(x[:4, 0] <= threshold, left, right)
    np.testing.assert_array_equal(trees.raw_scores(x[:4]), expected)
    assert left < 0 < right


def test_refuses_what_it_cannot_compile():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    with pytest.raises(InputError, match="binary"):
        CompiledTrees.from_sklearn(HistGradientBoostingClassifier(max_iter=3).fit(x, rng.integers(0, 3, 300)))
    categorical = np.column_stack([rng.integers(0, 4, 300), x[:, 0]])
    model = HistGradientBoostingClassifier(max_iter=3, categorical_features=[0]).fit(categorical,
                                                                                    categorical[:, 0] > 1)
    with pytest.raises(InputError, match="categorical"):
        CompiledTrees.from_sklearn(model)
    trees = CompiledTrees.from_sklearn(HistGradientBoostingClassifier(max_iter=3).fit(x, x[:, 0] > 0))
    with pytest.raises(InputError, match=r"\(rows, 2\)"):
        trees.raw_scores(x[:, :1])
