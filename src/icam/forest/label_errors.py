"""A domain's loss from a stratified reference sample whose labels are wrong at a known rate.

Interpreters err. Where a wrong label is any other class alike (symmetric errors at rate e over K classes),
P(label = loss | true = loss) = 1 − e and P(label = loss | true ≠ loss) = e / (K − 1). A rare class in a large
stratum is then over-estimated: the stable-forest stratum's few false "loss" labels, each standing for
thousands of hectares, outweigh its few true ones (Foody 2010, *Remote Sensing of Environment*
114:2271–2285). Inverting the error matrix per sampled point (the matrix-inversion estimator of
misclassified categorical data, Kuha & Skinner 1997, in Lyberg et al. eds., *Survey Measurement and Process
Quality*, Wiley, 633–670) gives each point of the domain the unbiased value

    y_i = ([label_i = loss] − e/(K − 1)) / (1 − e − e/(K − 1)),   0 outside the domain,

and the domain's loss is the stratified total Σ_h A_h ȳ_h with variance Σ_h A_h² s²_h / n_h (Stehman 2014,
*International Journal of Remote Sensing* 35:4923–4939, the total of a sampled variable; no finite population
correction). With e = 0 this is Stehman's estimate of the class area in the domain.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def corrected_loss(is_loss_label: np.ndarray, in_domain: np.ndarray, error_rate: float,
                   n_classes: int = 3) -> np.ndarray:
    """Each point's y_i (module docstring): its loss label corrected for the label error rate, in the domain."""
    off = error_rate / (n_classes - 1)
    y = (np.asarray(is_loss_label, dtype=np.float64) - off) / (1.0 - error_rate - off)
    return np.where(np.asarray(in_domain, dtype=bool), y, 0.0)


def stratified_total(values: np.ndarray, strata: np.ndarray, strata_area_ha: Mapping,
                     min_variance: Mapping | None = None) -> tuple[float, float]:
    """(Σ_h A_h ȳ_h, its SE) of a sampled variable over the strata's areas (ha); a stratum of one point adds
    no variance term (its variance cannot be estimated). ``min_variance``: per stratum, a floor under its
    point variance s²_h (see :func:`pure_strata_variance`)."""
    frame = pd.DataFrame({"y": np.asarray(values, dtype=np.float64), "h": np.asarray(strata)})
    groups = frame.groupby("h")["y"]
    mean, var, n = groups.mean(), groups.var(ddof=1).fillna(0.0), groups.size()
    if min_variance:
        var = np.maximum(var, pd.Series({h: float(min_variance.get(h, 0.0)) for h in var.index}))
    area = pd.Series({h: float(strata_area_ha[h]) for h in mean.index})
    total = float((area * mean).sum())
    variance = float((area ** 2 * var / n).sum())
    return total, float(np.sqrt(variance))


def pure_strata_variance(is_loss_label: np.ndarray, in_domain: np.ndarray, strata: np.ndarray,
                         error_rate: float, n_classes: int = 3) -> dict:
    """Per stratum whose points in the domain all carry the same label (no loss label, or nothing else):
    the point variance of a Bernoulli at Jeffreys' estimate q = ½/(d + 1) of the unseen label's share (d
    the stratum's points in the domain, scaled by d/n for a stratum the domain shares), in the units of y.
    Its sample variance is 0 there, as if 115 points without a loss label ruled out any loss in 4,600 ha;
    the Jeffreys estimate (Brown, Cai & DasGupta 2001, *Statistical Science* 16:101–133, §4.1.2) is the
    usual way not to claim that certainty."""
    step = 1.0 / (1.0 - error_rate - error_rate / (n_classes - 1))  # y of a loss label − y of another
    frame = pd.DataFrame({"loss": np.asarray(is_loss_label, bool) & np.asarray(in_domain, bool),
                          "in": np.asarray(in_domain, bool), "h": np.asarray(strata)})
    g = frame.groupby("h").agg(n=("in", "size"), d=("in", "sum"), x=("loss", "sum"))
    pure = (g["d"] > 0) & ((g["x"] == 0) | (g["x"] == g["d"]))
    q = 0.5 / (g["d"] + 1.0) * g["d"] / g["n"]
    return {h: float(step ** 2 * q[h] * (1.0 - q[h])) for h in g.index[pure]}
