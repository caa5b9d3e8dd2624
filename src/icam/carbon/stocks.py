"""Plot biomass per hectare, its Monte Carlo uncertainty, and carbon stocks per forest stratum.

- :func:`plot_agb_per_ha`: Σ tree AGB / plot area (Mg/ha), deterministic.
- :func:`monte_carlo_agb`: propagation of diameter, wood-density, height and allometric errors to
  each plot's AGB (Mg/ha), after BIOMASS ``AGBmonteCarlo`` (Réjou-Méchain et al. 2017; Chave et al.
  2004, Phil. Trans. R. Soc. B 359:409) — vectorised as a draws × trees matrix, in chunks.
- :func:`stratum_stock`: a stratum's stock (AGB + BGB) × carbon fraction in t C/ha and t CO2e/ha,
  mean of its plots, with the sampling error across plots combined with the Monte Carlo error.
- :func:`ipcc_default_stock`: the same record from an IPCC default AGB for a stratum without plots,
  flagged ``source="IPCC default"``.

Pure functions; no file IO. Formulas and sources: docs/methods.md, "Carbon stocks from tree
inventories".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from icam.carbon.allometry import (
    CARBON_FRACTION_IPCC2006,
    CHAVE2014_EQ4_A,
    CHAVE2014_EQ4_B,
    CHAVE2014_EQ4_RSE,
    CO2_PER_C,
    HeightModel,
    as_float,
)
from icam.carbon.wood_density import WD_MAX_G_CM3, WD_MIN_G_CM3
from icam.core.errors import InputError

Z95 = 1.959963984540054
PLOTS = "plots"
IPCC_DEFAULT = "IPCC default"

#: Chave et al. 2004 (p. 412), as BIOMASS ``AGBmonteCarlo(Dpropag = "chave2004")``: 95 % of trees
#: get a diameter error SD of 0.0062 D + 0.0904 cm, a random 5 % (redrawn every iteration) 4.64 cm.
CHAVE2004_SMALL_SLOPE, CHAVE2004_SMALL_INTERCEPT_CM = 0.0062, 0.0904
CHAVE2004_LARGE_SD_CM, CHAVE2004_LARGE_SHARE = 4.64, 0.05
#: Truncation bounds of the simulated variables (BIOMASS ``AGBmonteCarlo``): D in [0.1, 500] cm,
#: H in [1.3, max H + 15] m when heights are given with an error.
D_MIN_CM, D_MAX_CM, H_MIN_M, H_MAX_MARGIN_M = 0.1, 500.0, 1.3, 15.0


def _num(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _plots(plot_ids, n: int) -> tuple[tuple, np.ndarray]:
    """Sorted distinct plot ids and each tree's index among them (one plot when ``plot_ids`` is None)."""
    if plot_ids is None:
        return ("plot",), np.zeros(n, dtype=np.int64)
    ids = np.asarray(plot_ids).astype(str)
    if ids.size != n:
        raise InputError(f"{ids.size} plot ids for {n} trees")
    uniq, inv = np.unique(ids, return_inverse=True)
    return tuple(uniq.tolist()), inv.ravel()


def _areas(plot_area_ha, plots: tuple) -> np.ndarray:
    if isinstance(plot_area_ha, Mapping):
        missing = [p for p in plots if p not in plot_area_ha]
        if missing:
            raise InputError(f"no area given for plot(s) {', '.join(missing)}")
        area = np.array([float(plot_area_ha[p]) for p in plots])
    else:
        area = np.full(len(plots), float(plot_area_ha))
    if not np.all((area > 0) & np.isfinite(area)):
        raise InputError("plot areas must be positive (ha)")
    return area


# --------------------------------------------------------------------------- deterministic


@dataclass(frozen=True, eq=False)
class PlotAGB:
    """Above-ground biomass of each plot: total (Mg) and per hectare (Mg/ha)."""

    plot_ids: tuple
    area_ha: np.ndarray
    n_trees: np.ndarray
    agb_mg: np.ndarray
    agb_mg_ha: np.ndarray

    def to_dict(self) -> dict:
        rows = zip(self.plot_ids, self.area_ha, self.n_trees, self.agb_mg, self.agb_mg_ha)
        return {"plots": [{"plot": p, "area_ha": float(a), "n_trees": int(n), "agb_mg": float(t),
                           "agb_mg_ha": float(h)} for p, a, n, t, h in rows]}


def plot_agb_per_ha(tree_agb_kg, plot_ids=None, plot_area_ha: float | Mapping = 1.0) -> PlotAGB:
    """AGB per hectare of each plot: Σ_trees AGB (kg) / 1000 / plot area (ha).

    ``plot_ids``: plot of each tree (None = one plot); ``plot_area_ha``: one area for all plots or
    a mapping plot → area. A tree with NaN AGB (e.g. no height) is refused: fill it first
    (:class:`~icam.carbon.allometry.HeightModel`), as a silent zero would bias the plot low.
    """
    agb = as_float("tree AGB", tree_agb_kg).ravel()
    if np.isnan(agb).any():
        raise InputError(f"{int(np.isnan(agb).sum())} trees have no AGB (missing height or wood density)",
                         "predict their heights with a HeightModel or Feldpausch coefficients")
    plots, idx = _plots(plot_ids, agb.size)
    area = _areas(plot_area_ha, plots)
    total = np.bincount(idx, weights=agb, minlength=len(plots)) / 1000.0
    return PlotAGB(plots, area, np.bincount(idx, minlength=len(plots)), total, total / area)


# --------------------------------------------------------------------------- Monte Carlo


@dataclass(frozen=True, eq=False)
class MonteCarloAGB:
    """Monte Carlo distribution of each plot's AGB (Mg/ha).

    mean, sd, q025, q975: per plot over the draws (the 2.5 % and 97.5 % quantiles bound BIOMASS's
    95 % credibility interval); draws_mg_ha: (n_draws, n_plots), kept for :func:`stratum_stock`.
    """

    plot_ids: tuple
    area_ha: np.ndarray
    mean_mg_ha: np.ndarray
    sd_mg_ha: np.ndarray
    q025_mg_ha: np.ndarray
    q975_mg_ha: np.ndarray
    draws_mg_ha: np.ndarray
    n_draws: int
    seed: int | None
    sources: tuple

    def to_dict(self) -> dict:
        plots = [{"plot": p, "area_ha": float(a), "mean_mg_ha": float(m), "sd_mg_ha": float(s),
                  "q025_mg_ha": float(lo), "q975_mg_ha": float(hi)}
                 for p, a, m, s, lo, hi in zip(self.plot_ids, self.area_ha, self.mean_mg_ha, self.sd_mg_ha,
                                               self.q025_mg_ha, self.q975_mg_ha)]
        return {"plots": plots, "n_draws": self.n_draws, "seed": self.seed, "sources": list(self.sources)}


def _truncnorm(rng: np.random.Generator, mean: np.ndarray, sd: np.ndarray, lower, upper) -> np.ndarray:
    """Normal(mean, sd) truncated to [lower, upper] by inverting the CDF (as BIOMASS's ``myrtruncnorm``).

    ``mean`` and ``sd`` broadcast to the result's shape; where sd is 0 the mean is returned.
    """
    mean, sd = np.broadcast_arrays(mean, sd)
    u = rng.random(mean.shape)
    pos = sd > 0
    safe = np.where(pos, sd, 1.0)
    lo = ndtr((lower - mean) / safe)
    hi = ndtr((upper - mean) / safe)
    x = mean + safe * ndtri(lo + u * (hi - lo))
    return np.where(pos, np.clip(x, lower, upper), mean)


def _sd_vector(name: str, sd, n: int) -> np.ndarray:
    arr = np.broadcast_to(as_float(name, 0.0 if sd is None else sd), (n,)) if np.ndim(sd) == 0 else as_float(name, sd)
    if arr.shape != (n,):
        raise InputError(f"{name} has {arr.size} values for {n} trees")
    if np.isnan(arr).any():
        raise InputError(f"{name} holds missing values")
    return np.asarray(arr, dtype=np.float64)


def _measured_heights(h_m, h_sd_m, n: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(heights, their SDs, the largest height drawn) for ``n`` trees with measured or estimated heights."""
    h = as_float("height", h_m, positive=True).ravel()
    if h.size != n or np.isnan(h).any():
        raise InputError(f"{h.size} heights for {n} diameters, {int(np.isnan(h).sum())} missing",
                         "predict missing heights with a HeightModel, or pass height_model instead")
    if h_sd_m is None:
        raise InputError("h_sd_m is required with h_m", "give the height error (m), or 0 to propagate none")
    return h, _sd_vector("height SD", h_sd_m, n), float(h.max()) + H_MAX_MARGIN_M


def _diameter_error(d_sd_cm, d: np.ndarray) -> tuple[np.ndarray, int, str]:
    """(SD of each diameter, how many trees take the large error, the source's label) for ``d_sd_cm``."""
    if isinstance(d_sd_cm, str):
        if d_sd_cm.lower() != "chave2004":
            raise InputError(f"unknown diameter error {d_sd_cm!r}", "use 'chave2004', a SD in cm, or None")
        return (CHAVE2004_SMALL_SLOPE * d + CHAVE2004_SMALL_INTERCEPT_CM, int(np.rint(CHAVE2004_LARGE_SHARE * d.size)),
                "diameter (Chave et al. 2004)")
    return _sd_vector("diameter SD", d_sd_cm, d.size), 0, "diameter (given SD)"


def monte_carlo_agb(d_cm, wd_g_cm3, *, wd_sd_g_cm3, plot_ids=None, plot_area_ha: float | Mapping = 1.0,
                    h_m=None, h_sd_m=None, height_model: HeightModel | None = None,
                    d_sd_cm: str | float | np.ndarray | None = "chave2004",
                    allometric_sd: float = CHAVE2014_EQ4_RSE, center_log_residual: bool = True,
                    n_draws: int = 1000, seed: int | None = 0, max_chunk_elements: int = 1_000_000) -> MonteCarloAGB:
    """Propagate measurement and model errors to each plot's AGB (Mg/ha), after BIOMASS ``AGBmonteCarlo``.

    Each draw, for every tree:

    1. diameter ~ N(D, σ_D) truncated to [0.1, 500] cm; ``d_sd_cm="chave2004"``: σ_D = 0.0062 D +
       0.0904 for 95 % of trees and 4.64 cm for a random 5 % (Chave et al. 2004 p. 412); a number or
       array: that SD; None or 0: no diameter error;
    2. wood density ~ N(ρ, σ_ρ) truncated to [0.08, 1.39] g/cm³, σ_ρ = ``wd_sd_g_cm3``
       (:meth:`~icam.carbon.wood_density.WoodDensityTable.lookup`'s SD, or 0);
    3. height: either ``height_model`` applied to the drawn diameter with its residual error
       (:meth:`~icam.carbon.allometry.HeightModel.sample`), or measured/estimated ``h_m`` ~ N(H, σ_H)
       truncated to [1.3, max H + 15] m, σ_H = ``h_sd_m`` (measurement error, or a Feldpausch
       model's RSE; 0 for none);
    4. ln AGB = ln 0.0673 + 0.976 ln(ρ D² H) + ε, ε ~ N(μ, σ²), σ = ``allometric_sd`` (Chave et al.
       2014 eq. 4). With ``center_log_residual`` (default) μ = −σ²/2 so that E[exp ε] = 1 and the
       draws centre on eq. 4 itself, treating 0.0673 as the mean-unbiased coefficient; with False
       μ = 0, which adds exp(σ²/2) − 1 ≈ 6.6 % for σ = 0.357. BIOMASS instead draws the intercept,
       slope and σ jointly from the posterior of eq. 4 (``param_4``); icam holds them fixed, so the
       uncertainty of the allometric coefficients themselves is not propagated.

    Plot AGB of a draw = Σ trees / 1000 / area. Returns mean, SD and 2.5 / 97.5 % quantiles per plot
    over ``n_draws`` draws. Reproducible: the same inputs, ``seed`` and ``max_chunk_elements`` give
    identical draws (numpy ``Generator(PCG64(seed))``); draws are computed in chunks of at most
    ``max_chunk_elements`` tree-draws.
    """
    d = as_float("diameter", d_cm, positive=True).ravel()
    n = d.size
    wd = as_float("wood density", wd_g_cm3, positive=True).ravel()
    if wd.size != n:
        raise InputError(f"{wd.size} wood densities for {n} diameters")
    if np.isnan(d).any() or np.isnan(wd).any():
        raise InputError("diameters and wood densities must all be given for the Monte Carlo")
    wd_sd = _sd_vector("wood-density SD", wd_sd_g_cm3, n)
    if (h_m is None) == (height_model is None):
        raise InputError("give either tree heights (h_m, with h_sd_m) or a fitted height_model, not both or neither")
    if h_m is not None:
        h, h_sd, h_max = _measured_heights(h_m, h_sd_m, n)
    d_sd, n_large, d_label = _diameter_error(d_sd_cm, d)
    if not (allometric_sd >= 0 and math.isfinite(allometric_sd)):
        raise InputError(f"allometric_sd {allometric_sd} must be a non-negative number")
    if not (isinstance(n_draws, (int, np.integer)) and n_draws >= 2):
        raise InputError(f"n_draws {n_draws} must be an integer ≥ 2")
    plots, idx = _plots(plot_ids, n)
    area = _areas(plot_area_ha, plots)
    # Tree → plot indicator, scaled so that a (draws × trees) @ it gives Mg/ha per plot.
    to_plot = np.zeros((n, len(plots)))
    to_plot[np.arange(n), idx] = 1.0 / (1000.0 * area[idx])

    rng = np.random.default_rng(seed)
    mu_eps = -0.5 * allometric_sd ** 2 if center_log_residual else 0.0
    ln_a = math.log(CHAVE2014_EQ4_A)
    chunk = max(1, min(n_draws, max_chunk_elements // max(n, 1)))
    out = np.empty((n_draws, len(plots)))
    for start in range(0, n_draws, chunk):
        k = min(chunk, n_draws - start)
        sd = np.broadcast_to(d_sd, (k, n))
        if n_large:
            sd = sd.copy()
            large = np.argpartition(rng.random((k, n)), n_large - 1, axis=1)[:, :n_large]
            sd[np.arange(k)[:, None], large] = CHAVE2004_LARGE_SD_CM
        d_sim = _truncnorm(rng, d, sd, D_MIN_CM, D_MAX_CM)
        wd_sim = _truncnorm(rng, np.broadcast_to(wd, (k, n)), wd_sd, WD_MIN_G_CM3, WD_MAX_G_CM3)
        if height_model is not None:
            h_sim = height_model.sample(d_sim, rng)
        else:
            h_sim = _truncnorm(rng, np.broadcast_to(h, (k, n)), h_sd, H_MIN_M, h_max)
        ln_agb = ln_a + CHAVE2014_EQ4_B * np.log(wd_sim * h_sim * d_sim * d_sim)
        if allometric_sd > 0:
            ln_agb += rng.normal(mu_eps, allometric_sd, size=(k, n))
        out[start:start + k] = np.exp(ln_agb) @ to_plot
    sources = (d_label if (n_large or np.any(d_sd > 0)) else None,
               "wood density" if np.any(wd_sd > 0) else None,
               "height model residual" if height_model is not None else ("height" if np.any(h_sd > 0) else None),
               "allometry (Chave et al. 2014 eq. 4)" if allometric_sd > 0 else None)
    q025, q975 = np.quantile(out, [0.025, 0.975], axis=0)
    return MonteCarloAGB(plots, area, out.mean(axis=0), out.std(axis=0, ddof=1), q025, q975, out, int(n_draws),
                         seed, tuple(s for s in sources if s))


# --------------------------------------------------------------------------- strata


@dataclass(frozen=True, eq=False)
class StratumStock:
    """Carbon stock of one forest stratum, per hectare, with its uncertainty.

    agb_mg_ha, bgb_mg_ha: above- and below-ground biomass (t d.m./ha); carbon_tc_ha = (AGB + BGB) ×
    carbon_fraction; co2e_tco2e_ha = carbon × 44/12. Standard errors (t C/ha): se_sampling (between
    plots), se_measurement (Monte Carlo: measurement and allometric errors), se (both, in
    quadrature); ci95 = carbon ± 1.96 se. ``source`` is "plots" or "IPCC default"; an IPCC default
    without a given SE has NaN (``None`` in to_dict) errors.
    """

    stratum: str
    source: str
    n_plots: int
    agb_mg_ha: float
    bgb_mg_ha: float
    root_to_shoot: float
    carbon_fraction: float
    carbon_tc_ha: float
    se_sampling_tc_ha: float
    se_measurement_tc_ha: float
    se_tc_ha: float
    reference: str = ""

    @property
    def co2e_tco2e_ha(self) -> float:
        return self.carbon_tc_ha * CO2_PER_C

    @property
    def se_tco2e_ha(self) -> float:
        return self.se_tc_ha * CO2_PER_C

    @property
    def ci95_tc_ha(self) -> tuple[float, float]:
        return self.carbon_tc_ha - Z95 * self.se_tc_ha, self.carbon_tc_ha + Z95 * self.se_tc_ha

    @property
    def ci95_tco2e_ha(self) -> tuple[float, float]:
        lo, hi = self.ci95_tc_ha
        return lo * CO2_PER_C, hi * CO2_PER_C

    def to_dict(self) -> dict:
        lo, hi = self.ci95_tc_ha
        lo2, hi2 = self.ci95_tco2e_ha
        return {"stratum": self.stratum, "source": self.source, "n_plots": self.n_plots,
                "agb_mg_ha": _num(self.agb_mg_ha), "bgb_mg_ha": _num(self.bgb_mg_ha),
                "root_to_shoot": self.root_to_shoot, "carbon_fraction": self.carbon_fraction,
                "carbon_tc_ha": _num(self.carbon_tc_ha), "co2e_tco2e_ha": _num(self.co2e_tco2e_ha),
                "se_sampling_tc_ha": _num(self.se_sampling_tc_ha),
                "se_measurement_tc_ha": _num(self.se_measurement_tc_ha),
                "se_tc_ha": _num(self.se_tc_ha), "ci95_low_tc_ha": _num(lo), "ci95_high_tc_ha": _num(hi),
                "se_tco2e_ha": _num(self.se_tco2e_ha), "ci95_low_tco2e_ha": _num(lo2), "ci95_high_tco2e_ha": _num(hi2),
                "reference": self.reference}


def _check_factors(root_to_shoot: float, carbon_fraction: float) -> float:
    if not (root_to_shoot >= 0 and math.isfinite(root_to_shoot)):
        raise InputError(f"root-to-shoot ratio {root_to_shoot} must be a non-negative number",
                         "IPCC 2006 Table 4.4: 0.37 tropical rain forest, 0.27 tropical mountain systems")
    if not (0 < carbon_fraction <= 1):
        raise InputError(f"carbon fraction {carbon_fraction} must lie in (0, 1]")
    return (1.0 + root_to_shoot) * carbon_fraction


def stratum_stock(plots: MonteCarloAGB, *, stratum: str, root_to_shoot: float,
                  carbon_fraction: float = CARBON_FRACTION_IPCC2006, plot_ids=None,
                  reference: str = "") -> StratumStock:
    """Carbon stock (t C/ha) of a stratum from its plots' Monte Carlo AGB.

    ``plot_ids``: the plots of ``plots`` in this stratum (None = all). With m plots, per-hectare
    values x̄_j (Monte Carlo means) and draws x_jk:

    - AGB = (1/m) Σ_j x̄_j (plots of equal weight: fixed-area plots as sampling units);
    - sampling SE = s / √m, s the SD of the x̄_j (simple random sampling of plots, no finite
      population correction; needs m ≥ 2);
    - measurement SE = SD over draws k of (1/m) Σ_j x_jk;
    - SE = √(sampling² + measurement²) (independent errors), 95 % CI = mean ± 1.96 SE;
    - BGB = R × AGB; carbon = (AGB + BGB) × CF; t CO2e = × 44/12. R and CF are taken as exact.
    """
    factor = _check_factors(root_to_shoot, carbon_fraction)
    if plot_ids is None:
        cols = np.arange(len(plots.plot_ids))
    else:
        wanted = [str(p) for p in plot_ids]
        missing = [p for p in wanted if p not in plots.plot_ids]
        if missing:
            raise InputError(f"plot(s) {', '.join(missing)} of stratum {stratum!r} are not in the Monte Carlo result")
        cols = np.array([plots.plot_ids.index(p) for p in wanted])
    m = cols.size
    if m < 2:
        raise InputError(f"stratum {stratum!r} has {m} plot; at least 2 are needed to estimate the sampling error",
                         "add plots, or use ipcc_default_stock with a documented SE")
    means = plots.mean_mg_ha[cols]
    agb = float(means.mean())
    se_samp = float(means.std(ddof=1) / math.sqrt(m))
    se_meas = float(plots.draws_mg_ha[:, cols].mean(axis=1).std(ddof=1))
    return StratumStock(stratum, PLOTS, int(m), agb, agb * root_to_shoot, float(root_to_shoot), float(carbon_fraction),
                        agb * factor, se_samp * factor, se_meas * factor, math.hypot(se_samp, se_meas) * factor,
                        reference)


def ipcc_default_stock(stratum: str, *, agb_mg_ha: float, root_to_shoot: float, reference: str,
                       carbon_fraction: float = CARBON_FRACTION_IPCC2006,
                       agb_se_mg_ha: float | None = None) -> StratumStock:
    """Carbon stock of a stratum without plots, from an IPCC default AGB (t d.m./ha), flagged "IPCC default".

    icam ships no default AGB value: the IPCC 2019 Refinement (Vol. 4 Ch. 4 Table 4.7, above-ground
    biomass in natural tropical forests by continent and ecological zone) could not be read from a
    stored source while this was written, so the value and its ``reference`` (table, ecological
    zone, continent, forest status) are required. ``agb_se_mg_ha``: an SE for the default if one is
    documented; otherwise the stock's errors are NaN and must be dealt with by the caller.
    """
    factor = _check_factors(root_to_shoot, carbon_fraction)
    if not (agb_mg_ha >= 0 and math.isfinite(agb_mg_ha)):
        raise InputError(f"default AGB {agb_mg_ha} for stratum {stratum!r} must be a non-negative number (t d.m./ha)")
    if not reference.strip():
        raise InputError(f"the IPCC default for stratum {stratum!r} needs its reference",
                         "name the table, ecological zone, continent and forest status")
    se = float("nan") if agb_se_mg_ha is None else float(agb_se_mg_ha)
    if not (math.isnan(se) or se >= 0):
        raise InputError(f"default AGB SE {agb_se_mg_ha} must be non-negative")
    return StratumStock(stratum, IPCC_DEFAULT, 0, float(agb_mg_ha), float(agb_mg_ha) * root_to_shoot,
                        float(root_to_shoot), float(carbon_fraction), float(agb_mg_ha) * factor,
                        float("nan"), se * factor, se * factor, reference)
