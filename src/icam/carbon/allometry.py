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
- wood density from the Global Wood Density Database by species, then genus, then family, then
  the stand (plot) or dataset mean, each with a standard deviation (BIOMASS ``getWoodDensity``);
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
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
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


def _as_float(name: str, values, *, positive: bool = False) -> np.ndarray:
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
    wd = _as_float("wood density", wd_g_cm3)
    d = _as_float("diameter", d_cm)
    h = _as_float("height", h_m)
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
    wd = _as_float("wood density", wd_g_cm3, positive=True)
    d = _as_float("diameter", d_cm, positive=True)
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
            raise InputError(f"unknown height–diameter method {self.method!r}", f"choose one of {', '.join(HD_METHODS)}")
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
        a0, b0 = (1.0 / intercept, slope / intercept) if intercept > 0 and slope > 0 else (1.5 * h.max(), float(np.median(d)))
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
        d = _as_float("diameter", d_cm, positive=True)
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
        d = _as_float("diameter", d_cm)
        return self.a * (1.0 - np.exp(-self.b * d ** self.c))

    def to_dict(self) -> dict:
        return {"region": self.region, "a": self.a, "b": self.b, "c": self.c, "rse_m": self.rse_m}


def _csv_rows(path: Path, what: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
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
    rows = _csv_rows(path, "Feldpausch coefficients", ("a", "b", "c", "RSE"))
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


# --------------------------------------------------------------------------- wood density

LEVELS = ("species", "genus", "family", "stand", "dataset")
#: BIOMASS: taxa with at least this many records define the mean SD of a taxonomic level (``sd_10``).
MIN_RECORDS_FOR_SD = 10
#: Truncation bounds of simulated wood density (the GWDD's minimum and maximum; BIOMASS ``AGBmonteCarlo``).
WD_MIN_G_CM3, WD_MAX_G_CM3 = 0.08, 1.39
_UNDETERMINED = {"", "na", "nan", "none", "sp", "sp.", "spp", "spp.", "indet", "indet.", "unknown"}


def _norm(name) -> str:
    """Name as matched: trimmed, lower case; '' for undetermined (sp., Indet., empty, NA)."""
    s = "" if name is None else str(name).strip().lower()
    return "" if s in _UNDETERMINED or s.startswith("indet") else s


@dataclass(frozen=True, eq=False)
class WoodDensityEstimate:
    """Wood density of each tree with its SD and the level it came from.

    wd_g_cm3, sd_g_cm3: float64 per tree; level: str per tree, one of :data:`LEVELS`; n_records:
    GWDD records (species level), taxa (genus and family levels: species resp. genera averaged) or
    trees (stand and dataset levels) behind the value. Unpacks as ``wd, sd, level = estimate``.
    """

    wd_g_cm3: np.ndarray
    sd_g_cm3: np.ndarray
    level: np.ndarray
    n_records: np.ndarray

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.wd_g_cm3, self.sd_g_cm3, self.level))

    def level_counts(self) -> dict[str, int]:
        return {lv: int(np.count_nonzero(self.level == lv)) for lv in LEVELS}

    def level_shares(self) -> dict[str, float]:
        n = max(self.level.size, 1)
        return {lv: c / n for lv, c in self.level_counts().items()}

    def to_dict(self) -> dict:
        return {"n_trees": int(self.level.size), "level_counts": self.level_counts(),
                "mean_wd_g_cm3": float(np.mean(self.wd_g_cm3)) if self.level.size else None}


class WoodDensityTable:
    """The Global Wood Density Database (Chave et al. 2009; Zanne et al. 2009), or any table like it.

    Means follow BIOMASS ``getWoodDensity``: a species' value is the mean of its records; a genus'
    the mean of its species' means (records named to genus only count as one pseudo-species); a
    family's the mean of its genera's means. SDs per level follow BIOMASS's ``sd_10``: the mean,
    over taxa with at least 10 records in the whole table, of the SD of their records
    (recomputed from the table loaded, all regions; override with ``level_sd``). On the GWDD
    shipped with BIOMASS (16,467 records) this gives 0.0708 (species), 0.0942 (genus) and 0.1242
    (family) g/cm³.
    """

    def __init__(self, family: Sequence[str], genus: Sequence[str], species: Sequence[str], wd_g_cm3,
                 region: Sequence[str] | None = None, level_sd: Mapping[str, float] | None = None) -> None:
        wd = _as_float("wood density", wd_g_cm3, positive=True)
        n = wd.size
        if not (len(family) == len(genus) == len(species) == n) or (region is not None and len(region) != n):
            raise InputError("the wood-density table's columns differ in length")
        self._family = [_norm(f) for f in family]
        self._genus = [_norm(g) for g in genus]
        self._species = [_norm(s) for s in species]
        self._wd = wd
        self._region = None if region is None else [str(r).strip().lower() for r in region]
        self.level_sd = dict(level_sd) if level_sd is not None else self._level_sd()
        self._means: dict = {}

    @classmethod
    def from_csv(cls, path: str | Path, level_sd: Mapping[str, float] | None = None) -> WoodDensityTable:
        """Read a GWDD CSV with columns family, genus, species, wd (g/cm³) and optional region/regionId."""
        path = Path(path)
        rows = _csv_rows(path, "wood-density table", ("family", "genus", "species", "wd"))
        region = None
        if "regionId" in rows[0] or "region" in rows[0]:
            # Both spellings match: "SouthAmericaTrop" (regionId) and "South_America_(tropical)" (region).
            region = [f"{r.get('regionId', '')}|{r.get('region', '')}" for r in rows]
        return cls([r["family"] for r in rows], [r["genus"] for r in rows], [r["species"] for r in rows],
                   [float(r["wd"]) for r in rows], region=region, level_sd=level_sd)

    @property
    def regions(self) -> list[str]:
        return sorted({p for r in (self._region or []) for p in r.split("|") if p})

    def __len__(self) -> int:
        return self._wd.size

    def _level_sd(self) -> dict[str, float]:
        groups: dict[str, dict] = {"species": defaultdict(list), "genus": defaultdict(list), "family": defaultdict(list)}
        for f, g, s, w in zip(self._family, self._genus, self._species, self._wd):
            if g and s:
                groups["species"][(g, s)].append(w)
            if g:
                groups["genus"][g].append(w)
            if f:
                groups["family"][f].append(w)
        out = {}
        for level, taxa in groups.items():
            sds = [np.std(v, ddof=1) for v in taxa.values() if len(v) >= MIN_RECORDS_FOR_SD]
            out[level] = float(np.mean(sds)) if sds else float("nan")
        return out

    def _select(self, region) -> np.ndarray:
        if region is None:
            return np.ones(self._wd.size, dtype=bool)
        wanted = {region.lower()} if isinstance(region, str) else {r.lower() for r in region}
        if self._region is None:
            raise InputError("the wood-density table has no region column", "look up without region")
        sel = np.array([bool(wanted & set(r.split("|"))) for r in self._region])
        if not sel.any():
            raise InputError(f"no wood-density record in region {region!r}", f"choose among {', '.join(self.regions)}")
        return sel

    def _taxon_means(self, region) -> tuple[dict, dict, dict]:
        key = None if region is None else (region if isinstance(region, str) else tuple(region))
        if key in self._means:
            return self._means[key]
        sel = self._select(region)
        sp: dict = defaultdict(list)  # (genus, species or '') → records
        fam_of_genus: dict = defaultdict(set)
        for i in np.flatnonzero(sel):
            g = self._genus[i]
            if g:
                sp[(g, self._species[i])].append(self._wd[i])
                if self._family[i]:
                    fam_of_genus[g].add(self._family[i])
        species = {k: (float(np.mean(v)), len(v)) for k, v in sp.items()}
        by_genus: dict = defaultdict(list)
        for (g, _), (m, _) in species.items():
            by_genus[g].append(m)
        genus = {g: (float(np.mean(v)), len(v)) for g, v in by_genus.items()}
        by_family: dict = defaultdict(list)
        for g, fams in fam_of_genus.items():
            for f in fams:
                by_family[f].append(genus[g][0])
        family = {f: (float(np.mean(v)), len(v)) for f, v in by_family.items()}
        species = {k: v for k, v in species.items() if k[1]}  # genus-only records never match a species
        self._means[key] = (species, genus, family)
        return self._means[key]

    def lookup(self, family, genus, species, region=None, stand=None) -> WoodDensityEstimate:
        """Wood density of each tree: species mean, else genus, else family, else stand or dataset mean.

        ``family``, ``genus``, ``species``: names per tree (``family`` may be None: no family level,
        BIOMASS's default). Names match case-insensitively; "sp.", "Indet…", empty and NA never
        match. ``region``: a regionId (e.g. "SouthAmericaTrop") or region name, or several, to
        restrict the database (BIOMASS ``region``); None = world. ``stand``: plot id per tree;
        trees left unmatched get their stand's mean of the matched trees' values with its SD across
        those trees (level "stand"), or, without ``stand`` or where the stand has fewer than two
        matched trees, the dataset's (level "dataset").
        """
        genus = np.asarray(genus, dtype=object)
        species = np.asarray(species, dtype=object)
        n = genus.size
        family = np.full(n, "", dtype=object) if family is None else np.asarray(family, dtype=object)
        if not (family.size == species.size == n):
            raise InputError(f"{family.size} families, {n} genera and {species.size} species: lengths differ")
        sp_means, gen_means, fam_means = self._taxon_means(region)
        codes, uniques = [], []
        for col in (family, genus, species):
            u, inv = np.unique(col.astype(str), return_inverse=True)
            codes.append(inv.ravel())
            uniques.append([_norm(x) for x in u])
        taxa, taxon_of_tree = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
        taxon_of_tree = taxon_of_tree.ravel()
        t_wd = np.full(len(taxa), np.nan)
        t_sd = np.full(len(taxa), np.nan)
        t_n = np.zeros(len(taxa), dtype=np.int64)
        t_level = np.full(len(taxa), "", dtype=object)
        for t, (fi, gi, si) in enumerate(taxa):
            f, g, s = uniques[0][fi], uniques[1][gi], uniques[2][si]
            for level, hit in (("species", sp_means.get((g, s)) if g and s else None),
                               ("genus", gen_means.get(g) if g else None),
                               ("family", fam_means.get(f) if f else None)):
                if hit is not None:
                    t_wd[t], t_n[t], t_level[t], t_sd[t] = hit[0], hit[1], level, self.level_sd[level]
                    break
        wd, sd, nrec, level = t_wd[taxon_of_tree], t_sd[taxon_of_tree], t_n[taxon_of_tree], t_level[taxon_of_tree]
        found = level != ""
        if not found.any():
            raise InputError("no tree matched the wood-density database at species, genus or family level",
                             "check the taxonomy columns (genus and species names, families)")
        if stand is not None:
            stand = np.asarray(stand).astype(str)
            if stand.size != n:
                raise InputError(f"{stand.size} stand ids for {n} trees")
            for st in np.unique(stand[~found]):
                in_st = stand == st
                ref = wd[in_st & found]
                if ref.size >= 2:
                    fill = in_st & ~found
                    wd[fill], sd[fill], nrec[fill], level[fill] = ref.mean(), ref.std(ddof=1), ref.size, "stand"
        rest = level == ""
        if rest.any():
            ref = wd[found]
            wd[rest] = ref.mean()
            sd[rest] = ref.std(ddof=1) if ref.size >= 2 else self.level_sd["family"]
            nrec[rest] = ref.size
            level[rest] = "dataset"
        return WoodDensityEstimate(wd, sd, level.astype(str), nrec)


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
