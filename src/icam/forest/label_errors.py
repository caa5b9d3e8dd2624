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


def stratified_total(values: np.ndarray, strata: np.ndarray, strata_area_ha: Mapping) -> tuple[float, float]:
    """(Σ_h A_h ȳ_h, its SE) of a sampled variable over the strata's areas (ha); a stratum of one point adds
    no variance term (its variance cannot be estimated)."""
    frame = pd.DataFrame({"y": np.asarray(values, dtype=np.float64), "h": np.asarray(strata)})
    groups = frame.groupby("h")["y"]
    mean, var, n = groups.mean(), groups.var(ddof=1).fillna(0.0), groups.size()
    area = pd.Series({h: float(strata_area_ha[h]) for h in mean.index})
    total = float((area * mean).sum())
    variance = float((area ** 2 * var / n).sum())
    return total, float(np.sqrt(variance))
