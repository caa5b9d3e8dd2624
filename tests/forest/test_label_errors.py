"""The domain loss corrected for wrong reference labels: worked by hand, against Stehman's estimator, and
unbiased over repeated samples of a population whose truth is known."""

import numpy as np
import pandas as pd
import pytest

from icam.forest.area import stehman_estimate
from icam.forest.label_errors import corrected_loss, pure_strata_variance, stratified_total


def test_corrected_total_worked_by_hand():
    # e = 0.02 over 3 classes: a wrong label is each other class with 0.01, so y = (label − 0.01) / 0.97;
    # stratum 1 (1,000 ha): labels loss, forest, forest, forest → ȳ = (0.99 − 3 × 0.01) / 0.97 / 4 = 0.247423
    y = corrected_loss(np.array([True, False, False, False]), np.ones(4, bool), 0.02)
    assert y == pytest.approx([0.99 / 0.97, -0.01 / 0.97, -0.01 / 0.97, -0.01 / 0.97])
    total, se = stratified_total(y, np.ones(4, int), {1: 1000.0})
    assert total == pytest.approx(1000 * 0.96 / 0.97 / 4)
    assert se == pytest.approx(1000 * np.sqrt(np.var(y, ddof=1) / 4))


def test_a_stratum_without_a_loss_label_keeps_jeffreys_variance():
    """Stratum 11, 4,600 ha of mapped stable forest, 115 points in the domain, none labelled loss: its sample
    variance is 0; Jeffreys' q = 0.5 / 116 gives it q(1 − q) (e = 0: y is the 0/1 label), so its SE is
    4,600 × √(q(1 − q) / 115) = 28.1 ha. Stratum 12, 100 points, 25 loss labels, keeps its own variance; a
    stratum the domain shares (10 of 20 points, none loss) takes q = 0.5/11 × 10/20."""
    labels = np.array([False] * 115 + [True] * 25 + [False] * 75 + [False] * 20)
    strata = np.array([11] * 115 + [12] * 100 + [13] * 20)
    domain = np.array([True] * 215 + [True] * 10 + [False] * 10)
    floor = pure_strata_variance(labels, domain, strata, 0.0)
    q = 0.5 / 116
    assert set(floor) == {11, 13}
    assert floor[11] == pytest.approx(q * (1 - q))
    q13 = 0.5 / 11 * 10 / 20
    assert floor[13] == pytest.approx(q13 * (1 - q13))
    y = corrected_loss(labels, domain, 0.0)
    total, se = stratified_total(y, strata, {11: 4600.0, 12: 30.0, 13: 1000.0}, floor)
    assert total == pytest.approx(30.0 * 0.25)
    expected = np.sqrt(4600.0 ** 2 * q * (1 - q) / 115 + 30.0 ** 2 * np.var(y[115:215], ddof=1) / 100
                       + 1000.0 ** 2 * q13 * (1 - q13) / 20)
    assert se == pytest.approx(expected)
    assert 4600.0 * np.sqrt(q * (1 - q) / 115) == pytest.approx(28.1, abs=0.05)


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
