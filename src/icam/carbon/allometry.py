"""Tree biomass from a forest inventory: Chave et al. 2014 allometry, tree heights, wood density.

The steps follow R's BIOMASS package (Réjou-Méchain et al. 2017, Methods in Ecology and Evolution
8:1163; github.com/umr-amap/BIOMASS), re-implemented with numpy/scipy:

- above-ground biomass (AGB, kg) of a tree: Chave et al. 2014 (Global Change Biology 20:3177)
  equation 4 when its height is known (BIOMASS ``computeAGB``), equation 7 with the
  environmental stress index E when it is not;
- heights from a local height–diameter model fitted to measured trees, ``HeightModel`` (BIOMASS
  ``modelHD``/``predictHeight``: log–log of degree 1 or 2, Michaelis–Menten, Weibull), or from
  Feldpausch et al. 2012 (Biogeosciences 9:3381) regional Weibull coefficients (BIOMASS
  ``retrieveH(region=)``);
- wood density: :mod:`icam.carbon.wood_density`;
- below-ground biomass by a root-to-shoot ratio, the carbon fraction and CO2 equivalents (IPCC 2006
  Guidelines Vol. 4 Ch. 4).

Units are in the names: d_cm (diameter at breast height), h_m (total height), wd_g_cm3 (wood
density, oven-dry mass over green volume), agb_kg. Functions compute; only the ``from_csv`` and
``load_*`` helpers read files. Formulas and sources: docs/methods.md, "Carbon stocks from tree
inventories".
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import curve_fit

from icam.core.errors import InputError

# --------------------------------------------------------------------------- Chave et al. 2014

#: Chave et al. 2014, eq. 4: AGB = 0.0673 × (ρ D² H)^0.976 (kg; ρ g/cm³, D cm, H m).
CHAVE2014_EQ4_A = 0.0673
CHAVE2014_EQ4_B = 0.976
#: Residual standard error of eq. 4 on the log scale, as commonly cited for Chave et al. 2014
#: (0.357). Not checked against the paper's text here (no stored copy could be read); BIOMASS
#: draws it from the posterior ``param_4``, which is not shipped with icam. A parameter wherever
#: it is used.
CHAVE2014_EQ4_RSE = 0.357
#: Chave et al. 2014, eq. 7: ln AGB = −1.803 − 0.976 E + 0.976 ln ρ + 2.673 ln D − 0.0299 (ln D)².
CHAVE2014_EQ7 = {"intercept": -1.803, "E": -0.976, "ln_wd": 0.976, "ln_d": 2.673, "ln_d2": -0.0299}


def as_float(name: str, values, *, positive: bool = False) -> np.ndarray:
    """``values`` as float64; negative (or, with ``positive``, zero) values are refused, NaN kept."""
    arr = np.asarray(values, dtype=np.float64)
    bad = arr <= 0 if positive else arr < 0
    if np.any(bad) or np.any(np.isinf(arr)):
        which = "non-positive" if positive else "negative"
        raise InputError(f"{name} holds {which} or infinite values", "check the inventory's units and missing values")
    return arr


def agb_chave2014_eq4_kg(wd_g_cm3, d_cm, h_m) -> np.ndarray:
    """Above-ground biomass (kg) of each tree, Chave et al. 2014 eq. 4: 0.0673 × (ρ D² H)^0.976.

    ρ wood density (g/cm³), D diameter at 1.3 m or above buttresses (cm), H total height (m);
    arrays broadcast. NaN in, NaN out (a tree without height has no eq. 4 biomass; see
    :class:`HeightModel`). BIOMASS ``computeAGB(D, WD, H)`` returns the same in Mg (÷ 1000).
    """
    wd = as_float("wood density", wd_g_cm3)
    d = as_float("diameter", d_cm)
    h = as_float("height", h_m)
    return CHAVE2014_EQ4_A * (wd * d * d * h) ** CHAVE2014_EQ4_B


def agb_chave2014_eq7_kg(wd_g_cm3, d_cm, e) -> np.ndarray:
    """Above-ground biomass (kg) without height, Chave et al. 2014 eq. 7.

    AGB = exp(−1.803 − 0.976 E + 0.976 ln ρ + 2.673 ln D − 0.0299 (ln D)²), ρ g/cm³, D cm.
    E is the site's environmental stress index (Chave et al. 2014 eq. 6b, from temperature
    seasonality, precipitation seasonality and climatic water deficit), read at the site from
    the gridded layer the authors distribute (BIOMASS ``computeE`` reads the same raster). icam
    does not download it: E is required. BIOMASS's ``computeAGB(coord=)`` uses refitted
    coefficients (−2.024, −0.896 E, 0.920, 2.795, −0.0461; Réjou-Méchain et al. 2017), not these.
    """
    wd = as_float("wood density", wd_g_cm3, positive=True)
    d = as_float("diameter", d_cm, positive=True)
    e = np.asarray(e, dtype=np.float64)
    if not np.all(np.isfinite(e)):
        raise InputError("the environmental stress index E must be finite",
                         "read E for the site from Chave et al. 2014's gridded layer")
    ln_d = np.log(d)
    c = CHAVE2014_EQ7
    return np.exp(c["intercept"] + c["E"] * e + c["ln_wd"] * np.log(wd) + c["ln_d"] * ln_d + c["ln_d2"] * ln_d * ln_d)


# --------------------------------------------------------------------------- heights

HD_METHODS = ("log1", "log2", "michaelis", "weibull")
#: BIOMASS ``modelHD`` refuses fewer than 15 measured heights.
MIN_HEIGHTS = 15


def _michaelis(d, a, b):
    return a * d / (b + d)


def _weibull(d, a, b, c):
    return a * (1.0 - np.exp(-((d / b) ** c)))


class HeightModel:
    """Local height–diameter model, fitted on measured trees (BIOMASS ``modelHD``).

    ``method``:

    - ``"log1"``: ln H = a + b ln D;
    - ``"log2"``: ln H = a + b ln D + c (ln D)²;
    - ``"michaelis"``: H = a D / (b + D) (Michaelis–Menten);
    - ``"weibull"``: H = a (1 − exp(−(D/b)^c)).

    Log models are fitted by least squares on ln H, the others by non-linear least squares
    (Levenberg–Marquardt, as BIOMASS's ``nlsLM``). ``use_weight=True`` weights each tree by D²H
    (proportional to its volume), BIOMASS's ``useWeight``. Learned: ``coef_`` (a, b[, c]),
    ``rse_m_`` = √(Σ (H − Ĥ)² / (n − p)) on the height scale (m), ``rse_log_`` the residual
    standard error on the log scale (log models; residuals unweighted, as BIOMASS reports it),
    ``n_`` trees used. Predictions of log models are back-transformed with Baskerville's (1972)
    correction, exp(ln Ĥ + rse_log²/2), as BIOMASS's ``predictHeight``.
    """

    def __init__(self, method: str = "log2", use_weight: bool = False) -> None:
        self.method = method
        self.use_weight = use_weight

    # -- fitting
    def fit(self, d_cm, h_m) -> HeightModel:
        """Fit on pairs (D cm, H m); pairs with a missing or non-positive value are dropped."""
        if self.method not in HD_METHODS:
            raise InputError(f"unknown height–diameter method {self.method!r}",
                             f"choose one of {', '.join(HD_METHODS)}")
        d = np.asarray(d_cm, dtype=np.float64).ravel()
        h = np.asarray(h_m, dtype=np.float64).ravel()
        if d.shape != h.shape:
            raise InputError(f"{d.size} diameters but {h.size} heights")
        keep = np.isfinite(d) & np.isfinite(h) & (d > 0) & (h > 0)
        d, h = d[keep], h[keep]
        if d.size < MIN_HEIGHTS:
            raise InputError(f"only {d.size} trees with a measured height; at least {MIN_HEIGHTS} are needed",
                             "use Feldpausch regional coefficients (feldpausch_height) instead")
        w = d * d * h if self.use_weight else None
        if self.method.startswith("log"):
            x = self._design(d)
            sw = np.ones_like(d) if w is None else np.sqrt(w)
            coef, *_ = np.linalg.lstsq(x * sw[:, None], np.log(h) * sw, rcond=None)
            resid = np.log(h) - x @ coef
            self.rse_log_ = float(math.sqrt(resid @ resid / (d.size - x.shape[1])))
        else:
            coef = self._fit_nonlinear(d, h, w)
            self.rse_log_ = None
        self.coef_ = tuple(float(c) for c in coef)
        self.n_ = int(d.size)
        resid_m = h - self.predict(d)
        self.rse_m_ = float(math.sqrt(resid_m @ resid_m / (d.size - len(self.coef_))))
        return self

    def _design(self, d: np.ndarray) -> np.ndarray:
        ln_d = np.log(d)
        cols = [np.ones_like(ln_d), ln_d] + ([ln_d * ln_d] if self.method == "log2" else [])
        return np.stack(cols, axis=-1)

    def _fit_nonlinear(self, d: np.ndarray, h: np.ndarray, w: np.ndarray | None) -> np.ndarray:
        sigma = None if w is None else 1.0 / np.sqrt(w)
        # Starting values: Lineweaver–Burk (1/H = 1/a + (b/a)/D) for Michaelis–Menten, whose
        # asymptote a and half-height diameter b then start the Weibull fit.
        slope, intercept = np.polyfit(1.0 / d, 1.0 / h, 1)
        a0, b0 = ((1.0 / intercept, slope / intercept) if intercept > 0 and slope > 0
                  else (1.5 * h.max(), float(np.median(d))))
        func, p0 = (_michaelis, [a0, b0]) if self.method == "michaelis" else (_weibull, [a0, b0, 0.8])
        try:
            coef, _ = curve_fit(func, d, h, p0=p0, sigma=sigma, maxfev=20_000)
        except (RuntimeError, ValueError) as exc:
            raise InputError(f"the {self.method} height model did not converge ({exc})", "try method='log2'") from exc
        if not np.all(np.isfinite(coef)) or np.any(coef <= 0):
            raise InputError(f"the {self.method} height model converged to impossible parameters {coef}",
                             "try method='log2'")
        return coef

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise RuntimeError("HeightModel is not fitted; call fit(d_cm, h_m) first")

    # -- prediction
    def _mean_log_or_height(self, d: np.ndarray) -> np.ndarray:
        if self.method.startswith("log"):
            return self._design(d) @ np.asarray(self.coef_)
        return (_michaelis if self.method == "michaelis" else _weibull)(d, *self.coef_)

    def predict(self, d_cm) -> np.ndarray:
        """Expected height (m) at each diameter (cm); log models with Baskerville's correction."""
        self._check_fitted()
        d = as_float("diameter", d_cm, positive=True)
        m = self._mean_log_or_height(d)
        return np.exp(m + 0.5 * self.rse_log_ ** 2) if self.method.startswith("log") else m

    def sample(self, d_cm, rng: np.random.Generator) -> np.ndarray:
        """Heights with a random residual drawn per tree, for Monte Carlo (BIOMASS ``predictHeight(err=TRUE)``).

        Log models: exp(ln Ĥ + ε), ε ~ N(0, rse_log²) (no Baskerville term: the mean of the draws is
        the corrected prediction); others: Ĥ + ε, ε ~ N(0, rse_m²). Heights ≤ 0 become 0.1 m, as BIOMASS.
        """
        self._check_fitted()
        d = np.asarray(d_cm, dtype=np.float64)
        m = self._mean_log_or_height(d)
        if self.method.startswith("log"):
            h = np.exp(m + rng.normal(0.0, self.rse_log_, size=m.shape))
        else:
            h = m + rng.normal(0.0, self.rse_m_, size=m.shape)
        return np.where(h > 0, h, 0.1)

    def score(self, d_cm, h_m) -> float:
        """R² of the predicted heights against measured ones (m)."""
        d = np.asarray(d_cm, dtype=np.float64)
        h = np.asarray(h_m, dtype=np.float64)
        keep = np.isfinite(d) & np.isfinite(h) & (d > 0)
        resid = h[keep] - self.predict(d[keep])
        return float(1.0 - resid @ resid / np.sum((h[keep] - h[keep].mean()) ** 2))

    def to_dict(self) -> dict:
        self._check_fitted()
        return {"method": self.method, "use_weight": self.use_weight, "coefficients": list(self.coef_),
                "rse_m": self.rse_m_, "rse_log": self.rse_log_, "n": self.n_}


def compare_height_models(d_cm, h_m, use_weight: bool = False) -> list[dict]:
    """Fit every method of :class:`HeightModel` and report each one's RSE (BIOMASS ``modelHD(method=NULL)``)."""
    return [HeightModel(m, use_weight).fit(d_cm, h_m).to_dict() for m in HD_METHODS]


# --------------------------------------------------------------------------- Feldpausch et al. 2012

#: Row order of BIOMASS's ``feldCoef`` table (its ``retrieveH`` documentation lists the regions in
#: this order; the CSV export carries no region column).
FELDPAUSCH_REGIONS = ("Africa", "CAfrica", "EAfrica", "WAfrica", "SAmerica", "BrazilianShield", "ECAmazonia",
                      "GuianaShield", "WAmazonia", "SEAsia", "NAustralia", "Pantropical")


@dataclass(frozen=True)
class FeldpauschCoefficients:
    """One region's Weibull height–diameter model, H = a (1 − exp(−b D^c)) (Feldpausch et al. 2012 eq. 5)."""

    region: str
    a: float
    b: float
    c: float
    rse_m: float

    def height_m(self, d_cm) -> np.ndarray:
        d = as_float("diameter", d_cm)
        return self.a * (1.0 - np.exp(-self.b * d ** self.c))

    def to_dict(self) -> dict:
        return {"region": self.region, "a": self.a, "b": self.b, "c": self.c, "rse_m": self.rse_m}


def csv_rows(path: Path, what: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a CSV file that must hold ``columns``; an InputError naming ``what`` otherwise."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from exc
    if not rows or not set(columns) <= set(rows[0]):
        raise InputError(f"{path} does not hold the columns {', '.join(columns)}")
    return rows


def load_feldpausch_coefficients(path: str | Path) -> dict[str, FeldpauschCoefficients]:
    """Read a Feldpausch coefficients CSV (columns a, b, c, RSE; optional ``region``) keyed by region.

    Without a ``region`` column the file must hold BIOMASS's 12 rows, named by :data:`FELDPAUSCH_REGIONS`.
    """
    path = Path(path)
    rows = csv_rows(path, "Feldpausch coefficients", ("a", "b", "c", "RSE"))
    if "region" in rows[0]:
        names = [r["region"].strip() for r in rows]
    elif len(rows) == len(FELDPAUSCH_REGIONS):
        names = list(FELDPAUSCH_REGIONS)
    else:
        raise InputError(f"{path} has {len(rows)} rows and no region column",
                         f"add a region column or give BIOMASS's {len(FELDPAUSCH_REGIONS)} rows in order")
    return {n: FeldpauschCoefficients(n, float(r["a"]), float(r["b"]), float(r["c"]), float(r["RSE"]))
            for n, r in zip(names, rows)}


def feldpausch_height(d_cm, region: str, coefficients: Mapping[str, FeldpauschCoefficients]) -> np.ndarray:
    """Height (m) from Feldpausch et al. 2012's Weibull model of ``region`` (BIOMASS ``retrieveH(region=)``).

    ``coefficients``: from :func:`load_feldpausch_coefficients`. Its ``rse_m`` is the height error
    to propagate (BIOMASS passes it as ``errH``). Alto Mayo lies in western Amazonia's Andean
    foothills: "WAmazonia" or, failing a local model, "SAmerica".
    """
    if region not in coefficients:
        raise InputError(f"unknown Feldpausch region {region!r}", f"choose one of {', '.join(coefficients)}")
    return coefficients[region].height_m(d_cm)


# --------------------------------------------------------------------------- biomass → carbon

#: IPCC 2006 Guidelines Vol. 4 Ch. 4 Table 4.4, root-to-shoot ratio R (below- / above-ground biomass).
ROOT_TO_SHOOT_IPCC2006 = {"tropical rain forest": 0.37, "tropical mountain systems": 0.27}
#: IPCC 2006 Guidelines Vol. 4 Ch. 4 Table 4.3, carbon fraction of dry matter, tropical and subtropical wood.
CARBON_FRACTION_IPCC2006 = 0.47
#: Molar mass ratio CO2 / C.
CO2_PER_C = 44.0 / 12.0


def bgb_from_agb(agb, root_to_shoot: float) -> np.ndarray:
    """Below-ground biomass = R × AGB, in AGB's units (IPCC 2006 Vol. 4 eq. 2.8 with Table 4.4's R)."""
    if not (root_to_shoot >= 0 and math.isfinite(root_to_shoot)):
        raise InputError(f"root-to-shoot ratio {root_to_shoot} must be a non-negative number")
    return np.asarray(agb, dtype=np.float64) * root_to_shoot


def carbon_from_biomass(biomass, carbon_fraction: float = CARBON_FRACTION_IPCC2006) -> np.ndarray:
    """Carbon = CF × dry biomass (t C from t d.m.; IPCC 2006 Vol. 4 Table 4.3, CF = 0.47)."""
    if not (0 < carbon_fraction <= 1):
        raise InputError(f"carbon fraction {carbon_fraction} must lie in (0, 1]")
    return np.asarray(biomass, dtype=np.float64) * carbon_fraction


def co2e_from_carbon(carbon) -> np.ndarray:
    """CO2 equivalent of a carbon mass: × 44/12."""
    return np.asarray(carbon, dtype=np.float64) * CO2_PER_C
