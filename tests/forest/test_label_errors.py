"""The domain loss corrected for wrong reference labels: worked by hand, against Stehman's estimator, and
unbiased over repeated samples of a population whose truth is known."""

import numpy as np
import pandas as pd
import pytest

from icam.forest.area import stehman_estimate
from icam.forest.label_errors import corrected_loss, stratified_total


def test_corrected_total_worked_by_hand():
    # e = 0.02 over 3 classes: a wrong label is each other class with 0.01, so y = (label − 0.01) / 0.97;
    # stratum 1 (1,000 ha): labels loss, forest, forest, forest → ȳ = (0.99 − 3 × 0.01) / 0.97 / 4 = 0.247423
    y = corrected_loss(np.array([True, False, False, False]), np.ones(4, bool), 0.02)
    assert y == pytest.approx([0.99 / 0.97, -0.01 / 0.97, -0.01 / 0.97, -0.01 / 0.97])
    total, se = stratified_total(y, np.ones(4, int), {1: 1000.0})
    assert total == pytest.approx(1000 * 0.96 / 0.97 / 4)
    assert se == pytest.approx(1000 * np.sqrt(np.var(y, ddof=1) / 4))


def test_without_label_errors_it_is_stehmans_class_area():
    rng = np.random.default_rng(5)
    strata = rng.integers(1, 4, 300)
    ref = np.where(rng.random(300) < np.array([0.02, 0.6, 0.05])[strata - 1], 2, 1)
    samples = pd.DataFrame({"stratum": strata, "map_class": strata, "ref_class": ref})
    areas = {1: 50_000.0, 2: 800.0, 3: 3_000.0}
    expected = stehman_estimate(samples, areas)
    total, se = stratified_total(corrected_loss(ref == 2, np.ones(300, bool), 0.0), strata, areas)
    assert total == pytest.approx(expected.area_ha[2])
    assert se == pytest.approx(expected.se_ha[2])


def test_the_correction_removes_the_bias_of_wrong_labels():
    """A stable-forest stratum of 100,000 ha with 0.2 % true loss and a loss stratum of 1,000 ha with 50 %,
    labels wrong at e = 1 % (each wrong label either other class): over 2,000 repeated samples the corrected
    total averages the true 700 ha; the raw labels over-estimate it by about A × e/2 = 500 ha."""
    rng = np.random.default_rng(11)
    areas, share, n = {1: 100_000.0, 2: 1_000.0}, {1: 0.002, 2: 0.5}, {1: 1_500, 2: 500}
    truth = sum(areas[h] * share[h] for h in areas)
    e = 0.01
    strata = np.repeat([1, 2], [n[1], n[2]])
    raw, corrected = [], []
    for _ in range(2_000):
        true_loss = rng.random(strata.size) < np.where(strata == 1, share[1], share[2])
        wrong = rng.random(strata.size) < e
        # a wrong label is one of the two other classes at random: a true loss becomes forest or non-forest;
        # a true non-loss (all forest here) becomes loss half the time
        label_loss = np.where(wrong, ~true_loss & (rng.random(strata.size) < 0.5), true_loss)
        raw.append(stratified_total(corrected_loss(label_loss, np.ones_like(label_loss), 0.0), strata, areas)[0])
        corrected.append(stratified_total(corrected_loss(label_loss, np.ones_like(label_loss), e), strata, areas)[0])
    mc_se = np.std(corrected) / np.sqrt(len(corrected))
    assert abs(np.mean(corrected) - truth) < 3 * mc_se
    assert np.mean(raw) - truth == pytest.approx(areas[1] * e / 2, rel=0.15)
