"""Carbon stocks per forest stratum from a tree-inventory CSV.

:func:`read_tree_inventory` reads and checks the file (one tree a row); :func:`stocks_from_inventory`
turns it into a :class:`~icam.carbon.stocks.StratumStock` per stratum with plots, following the
steps of R's BIOMASS package (Réjou-Méchain et al. 2017, Methods in Ecology and Evolution 8:1163):

1. wood density: the tree's ``wd_g_cm3`` where given, else the Global Wood Density Database lookup
   by species, genus, family, then plot mean (BIOMASS ``getWoodDensity``;
   :meth:`~icam.carbon.wood_density.WoodDensityTable.lookup`);
2. height: the tree's ``h_m`` where measured, else a local log–log height–diameter model (degree 2)
   fitted on the measured trees of its stratum (BIOMASS ``modelHD``/``predictHeight``;
   :class:`~icam.carbon.allometry.HeightModel`);
3. plot AGB (Mg/ha) by Chave et al. 2014 (Global Change Biology 20:3177) equation 4,
   AGB = 0.0673 × (ρ D² H)^0.976 kg, with the Monte Carlo propagation of diameter, wood-density,
   height and allometric errors (BIOMASS ``AGBmonteCarlo``; :func:`~icam.carbon.stocks.monte_carlo_agb`);
4. stratum stock: mean of its plots, sampling and measurement errors, BGB by the root-to-shoot
   ratio, carbon fraction (:func:`~icam.carbon.stocks.stratum_stock`).

The CSV: one row a tree (stem), header in the first line, UTF-8, comma-separated.

=============== ======== ==========================================================================
column          required meaning
=============== ======== ==========================================================================
plot            yes      plot id (text); a plot lies in one stratum and has one area
stratum         yes      forest stratum of the plot, a name of the project's carbon strata
plot_area_ha    yes      horizontal area of the plot (ha), the same on every row of the plot
d_cm            yes      diameter at 1.3 m or above buttresses (cm), in (0, 500]
family          no       botanical family (empty, "NA", "Indet." = unknown)
genus           no       genus
species         no       species epithet ("sp." = unknown)
h_m             no       measured total height (m), in (0, 120]; empty = not measured
wd_g_cm3        no       measured wood density (g/cm³), in [0.08, 1.39]; empty = look up
=============== ======== ==========================================================================

Column names match case-insensitively; other columns are ignored. Missing values: empty, NA, NaN,
null, none. Errors name the file and the rows as a spreadsheet numbers them (the header is row 1).
Formulas and sources: docs/methods.md, "Carbon stocks from tree inventories".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from icam.carbon.allometry import (
    CARBON_FRACTION_IPCC2006,
    CHAVE2014_EQ4_RSE,
    HeightModel,
)
from icam.carbon.stocks import (
    D_MAX_CM,
    MonteCarloAGB,
    StratumStock,
    monte_carlo_agb,
    stratum_stock,
)
from icam.carbon.wood_density import WD_MAX_G_CM3, WD_MIN_G_CM3, WoodDensityTable
from icam.core.errors import InputError

REQUIRED_COLUMNS = ("plot", "stratum", "plot_area_ha", "d_cm")
OPTIONAL_COLUMNS = ("family", "genus", "species", "h_m", "wd_g_cm3")
TAXON_COLUMNS = ("family", "genus", "species")
#: Tallest tropical trees measured are about 100 m; a larger value is a unit or typing error.
H_MAX_M = 120.0
#: A plot larger than this is taken for an area in m² (a 50 m × 100 m plot is 0.5 ha).
PLOT_AREA_MAX_HA = 100.0
#: Fewest measured heights to fit a stratum's height–diameter model (BIOMASS ``modelHD`` refuses
#: fewer than 15; icam asks for a few more since the model is used for every other tree).
MIN_MEASURED_HEIGHTS = 20
#: SD (g/cm³) of a wood density given per tree without a wood-density table: 0.0708, the
#: species-level SD of the GWDD shipped with BIOMASS (its ``sd_10``, the mean SD of species with at
#: least 10 records; see :class:`~icam.carbon.wood_density.WoodDensityTable`). With a table, its own
#: species-level SD is used. A given value is treated as a species mean, not a measurement of the tree.
GIVEN_WD_SD_G_CM3 = 0.0708
HEIGHT_SCOPES = ("stratum", "inventory")
_MISSING = ("", "na", "nan", "null", "none")
_ROWS_LISTED = 6


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, eq=False)
class TreeInventory:
    """Trees of a checked inventory, one array entry a tree.

    row: the tree's row in the file as a spreadsheet shows it (header = 1); plot, stratum, family,
    genus, species: str ('' = not given); plot_area_ha, d_cm: float; h_m, wd_g_cm3: float, NaN
    where not measured.
    """

    path: Path
    row: np.ndarray
    plot: np.ndarray
    stratum: np.ndarray
    plot_area_ha: np.ndarray
    d_cm: np.ndarray
    h_m: np.ndarray
    wd_g_cm3: np.ndarray
    family: np.ndarray
    genus: np.ndarray
    species: np.ndarray

    @property
    def n_trees(self) -> int:
        return int(self.d_cm.size)

    @property
    def plot_ids(self) -> tuple[str, ...]:
        return tuple(np.unique(self.plot).tolist())

    @property
    def strata(self) -> tuple[str, ...]:
        return tuple(np.unique(self.stratum).tolist())

    def plot_areas_ha(self) -> dict[str, float]:
        _, first = np.unique(self.plot, return_index=True)
        return {str(self.plot[i]): float(self.plot_area_ha[i]) for i in first}

    def plot_strata(self) -> dict[str, str]:
        _, first = np.unique(self.plot, return_index=True)
        return {str(self.plot[i]): str(self.stratum[i]) for i in first}

    def to_dict(self) -> dict:
        """Summary: trees, plots, measured heights and given wood densities per stratum."""
        out = {}
        for s in self.strata:
            m = self.stratum == s
            out[s] = {"n_plots": int(np.unique(self.plot[m]).size), "n_trees": int(m.sum()),
                      "n_heights_measured": int(np.isfinite(self.h_m[m]).sum()),
                      "n_wood_density_given": int(np.isfinite(self.wd_g_cm3[m]).sum())}
        return {"path": str(self.path), "n_trees": self.n_trees, "n_plots": len(self.plot_ids), "strata": out}


def _rows(mask: np.ndarray, row: np.ndarray) -> str:
    """'row 4' or 'rows 4, 9 and 12 more' for the rows where ``mask`` holds."""
    rows = row[mask].tolist()
    listed = ", ".join(str(r) for r in rows[:_ROWS_LISTED])
    more = f" and {len(rows) - _ROWS_LISTED} more" if len(rows) > _ROWS_LISTED else ""
    return f"{'row' if len(rows) == 1 else 'rows'} {listed}{more}"


def _read_frame(path: Path) -> pd.DataFrame:
    """The CSV as text cells ('' for empty), fully blank rows dropped but numbered as in the file."""
    what = f"tree inventory {path}"
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=False)
    except FileNotFoundError as exc:
        raise InputError(f"{what} not found", "check the path in icam.toml") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not UTF-8 text", "save it as 'CSV UTF-8 (comma delimited)'") from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{what} is empty",
                         f"give a header ({', '.join(REQUIRED_COLUMNS)}) and one row a tree") from exc
    except pd.errors.ParserError as exc:
        fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if fields:
            n, line, seen = fields.groups()
            raise InputError(f"{what}: row {line} has {seen} fields but the header has {n}",
                             "quote values that hold commas, and write decimals with a point") from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        raise InputError(f"{what} is not a readable CSV ({first})", "save it as comma-separated text") from exc
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}") from exc
    df = df.fillna("")
    df.columns = [str(c).strip().lower() for c in df.columns]
    df.index = df.index + 2  # spreadsheet rows: the header is row 1
    filled = df.apply(lambda c: c.str.strip() != "")
    return df[filled.any(axis=1)] if len(df) else df


def _numbers(df: pd.DataFrame, col: str, low: float, high: float, unit: str, *, low_open: bool,
             required: bool, problems: list[str]) -> np.ndarray:
    """Column ``col`` as float (NaN where missing); problems with its cells appended to ``problems``."""
    row = df.index.to_numpy()
    if col not in df:
        return np.full(len(df), np.nan)
    text = df[col].str.strip()
    missing = text.str.lower().isin(_MISSING).to_numpy()
    values = pd.to_numeric(text.where(~missing, None), errors="coerce").to_numpy(dtype=np.float64)
    not_number = ~missing & np.isnan(values)
    too_low = values <= low if low_open else values < low
    out_of_range = ~missing & ~not_number & (too_low | (values > high) | ~np.isfinite(values))
    if required and missing.any():
        problems.append(f"{col} is missing on {_rows(missing, row)}")
    if not_number.any():
        problems.append(f"{col} is not a number on {_rows(not_number, row)} (use a decimal point)")
    if out_of_range.any():
        bounds = f"{'(' if low_open else '['}{low:g}, {high:g}] {unit}"
        problems.append(f"{col} must lie in {bounds} on {_rows(out_of_range, row)}")
    return np.where(not_number | out_of_range, np.nan, values)


def _text(df: pd.DataFrame, col: str, *, required: bool, problems: list[str]) -> np.ndarray:
    if col not in df:
        return np.full(len(df), "", dtype=object)
    text = df[col].str.strip()
    text = text.where(~text.str.lower().isin(_MISSING), "")
    if required and (text == "").any():
        problems.append(f"{col} is empty on {_rows((text == '').to_numpy(), df.index.to_numpy())}")
    return text.to_numpy(dtype=object)


def _plot_consistency(plot: np.ndarray, values: np.ndarray, row: np.ndarray, col: str, problems: list[str]) -> None:
    """A problem for each plot whose rows give ``col`` more than one value (NaN values skipped)."""
    frame = pd.DataFrame({"plot": plot, "value": values, "row": row})
    frame = frame[(frame["plot"] != "") & frame["value"].notna() & (frame["value"] != "")]
    counts = frame.groupby("plot")["value"].nunique()
    for p in counts.index[counts > 1]:
        sub = frame[frame["plot"] == p]
        parts = [f"{v} ({_rows((sub['value'] == v).to_numpy(), sub['row'].to_numpy())})"
                 for v in sub["value"].value_counts().index]
        problems.append(f"plot {p!r} has {counts[p]} different {col} values: {', '.join(parts)}")


def read_tree_inventory(path: str | Path) -> TreeInventory:
    """Read and check a tree-inventory CSV (format: this module's docstring).

    Every problem found (missing columns; empty plot or stratum; missing, non-numeric or impossible
    diameters, areas, heights, wood densities; a plot with two areas or two strata) is reported in
    one :class:`~icam.core.errors.InputError` naming the file, the rows and the column.
    """
    path = Path(path)
    df = _read_frame(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"tree inventory {path} lacks the column(s) {', '.join(missing)}",
                         f"required: {', '.join(REQUIRED_COLUMNS)}; optional: {', '.join(OPTIONAL_COLUMNS)}; "
                         f"found: {', '.join(map(str, df.columns))}")
    if len(df) == 0:
        raise InputError(f"tree inventory {path} has a header but no tree rows")
    problems: list[str] = []
    text = {c: _text(df, c, required=c in REQUIRED_COLUMNS, problems=problems)
            for c in ("plot", "stratum", *TAXON_COLUMNS)}
    d = _numbers(df, "d_cm", 0.0, D_MAX_CM, "cm", low_open=True, required=True, problems=problems)
    area = _numbers(df, "plot_area_ha", 0.0, PLOT_AREA_MAX_HA, "ha", low_open=True, required=True, problems=problems)
    h = _numbers(df, "h_m", 0.0, H_MAX_M, "m", low_open=True, required=False, problems=problems)
    wd = _numbers(df, "wd_g_cm3", WD_MIN_G_CM3, WD_MAX_G_CM3, "g/cm³", low_open=False, required=False,
                  problems=problems)
    row = df.index.to_numpy()
    _plot_consistency(text["plot"], area, row, "plot_area_ha", problems)
    _plot_consistency(text["plot"], text["stratum"], row, "stratum", problems)
    if problems:
        raise InputError(f"tree inventory {path}: {'; '.join(problems)}",
                         "rows are numbered as a spreadsheet shows them (header = row 1)")
    return TreeInventory(path, row, text["plot"].astype(str), text["stratum"].astype(str), area, d, h, wd,
                         text["family"], text["genus"], text["species"])


# --------------------------------------------------------------------------- wood density and heights


@dataclass(frozen=True, eq=False)
class TreeWoodDensity:
    """Wood density (g/cm³) of each tree, its SD, and where it came from: "given" (the CSV) or a
    :data:`~icam.carbon.allometry.LEVELS` level of the table lookup."""

    wd_g_cm3: np.ndarray
    sd_g_cm3: np.ndarray
    level: np.ndarray

    def level_counts(self) -> dict[str, int]:
        names, counts = np.unique(self.level, return_counts=True)
        return {str(n): int(c) for n, c in zip(names, counts)}


def tree_wood_density(inventory: TreeInventory, wood_density: WoodDensityTable | None = None,
                      region: str | None = None, given_wd_sd_g_cm3: float | None = None) -> TreeWoodDensity:
    """Each tree's wood density: ``wd_g_cm3`` where given, else the table's lookup (BIOMASS
    ``getWoodDensity``: species → genus → family → plot mean → dataset mean, within ``region``).

    SD of a given value: ``given_wd_sd_g_cm3`` (e.g. the error of wood-core measurements), else the
    table's species-level SD, else :data:`GIVEN_WD_SD_G_CM3`. The lookup runs on every tree, so the
    plot-mean fallback of an unnamed tree averages the table's values of its plot's named trees
    (as BIOMASS), not the given values.
    """
    given = np.isfinite(inventory.wd_g_cm3)
    sd_given = GIVEN_WD_SD_G_CM3
    if given_wd_sd_g_cm3 is not None:
        sd_given = float(given_wd_sd_g_cm3)
    elif wood_density is not None and math.isfinite(wood_density.level_sd.get("species", math.nan)):
        sd_given = wood_density.level_sd["species"]
    wd = inventory.wd_g_cm3.copy()
    sd = np.full(inventory.n_trees, sd_given)
    level = np.full(inventory.n_trees, "given", dtype=object)
    if given.all():
        return TreeWoodDensity(wd, sd, level.astype(str))
    if wood_density is None:
        raise InputError(f"{int((~given).sum())} trees of {inventory.path} have no wd_g_cm3 and no wood-density "
                         "table was given", "give a wood-density table (GWDD CSV) or fill wd_g_cm3 for every tree")
    est = wood_density.lookup(inventory.family, inventory.genus, inventory.species, region=region,
                              stand=inventory.plot)
    wd[~given] = est.wd_g_cm3[~given]
    sd[~given] = est.sd_g_cm3[~given]
    level[~given] = est.level[~given]
    return TreeWoodDensity(wd, sd, level.astype(str))


def _height_groups(inventory: TreeInventory, scope: str) -> np.ndarray:
    if scope not in HEIGHT_SCOPES:
        raise InputError(f"unknown height-model scope {scope!r}", f"choose one of {', '.join(HEIGHT_SCOPES)}")
    return inventory.stratum if scope == "stratum" else np.full(inventory.n_trees, "inventory")


def fit_height_models(inventory: TreeInventory, *, scope: str = "stratum", method: str = "log2",
                      min_measured: int = MIN_MEASURED_HEIGHTS) -> dict[str, HeightModel]:
    """Height–diameter models (BIOMASS ``modelHD``) for the groups with trees lacking a height.

    ``scope="stratum"``: one model per stratum, fitted on its measured trees (forest types differ
    in height–diameter allometry: Feldpausch et al. 2011, Biogeosciences 8:1081); ``"inventory"``:
    one model, key "inventory", on every measured tree. A group needing a model with fewer than
    ``min_measured`` measured heights is refused.
    """
    groups = _height_groups(inventory, scope)
    measured = np.isfinite(inventory.h_m)
    models = {}
    for g in np.unique(groups[~measured]).tolist():
        fit = (groups == g) & measured
        if fit.sum() < min_measured:
            where = f"stratum {g!r}" if scope == "stratum" else "the inventory"
            raise InputError(f"{inventory.path}: {where} has {int(fit.sum())} trees with a measured h_m; at least "
                             f"{min_measured} are needed to fit the height model for its "
                             f"{int(((groups == g) & ~measured).sum())} trees without height",
                             "measure more heights" + (
                                 ", or fit one model on the whole inventory (height_model_scope='inventory')"
                                 if scope == "stratum" else ""))
        models[g] = HeightModel(method).fit(inventory.d_cm[fit], inventory.h_m[fit])
    return models


# --------------------------------------------------------------------------- Monte Carlo and stocks


def plot_agb_monte_carlo(inventory: TreeInventory, wood: TreeWoodDensity, height_models: Mapping[str, HeightModel], *,
                         height_model_scope: str = "stratum", measured_h_sd_m: float = 0.0, n_draws: int = 1000,
                         seed: int | None = 0, d_sd_cm: str | float | None = "chave2004",
                         allometric_sd: float = CHAVE2014_EQ4_RSE) -> MonteCarloAGB:
    """Monte Carlo AGB (Mg/ha) of every plot (BIOMASS ``AGBmonteCarlo``; Chave et al. 2014 eq. 4).

    Trees with a measured height draw it from N(h_m, ``measured_h_sd_m``) truncated; the others of
    each height group draw it from the group's model with its residual error. Each part is one
    :func:`~icam.carbon.stocks.monte_carlo_agb` run (seeds spawned from ``seed`` by numpy's
    SeedSequence); a plot's draws are the sum of its parts' draws (AGB per ha is additive over trees).
    ``d_sd_cm``, ``allometric_sd``: diameter and allometric errors, as in ``monte_carlo_agb``
    (None and 0 switch them off).
    """
    if not (isinstance(n_draws, (int, np.integer)) and n_draws >= 2):
        raise InputError(f"n_draws {n_draws!r} must be an integer ≥ 2")
    groups = _height_groups(inventory, height_model_scope)
    measured = np.isfinite(inventory.h_m)
    parts = [(measured, {"h_m": inventory.h_m[measured], "h_sd_m": measured_h_sd_m})] if measured.any() else []
    for g in sorted(set(np.unique(groups[~measured]).tolist())):
        if g not in height_models:
            raise InputError(f"no height model for {g!r}, whose trees lack heights", "fit it with fit_height_models")
        parts.append((~measured & (groups == g), {"height_model": height_models[g]}))
    plots = inventory.plot_ids
    col = {p: j for j, p in enumerate(plots)}
    areas = inventory.plot_areas_ha()
    draws = np.zeros((n_draws, len(plots)))
    sources: list[str] = []
    seeds = np.random.SeedSequence(seed).generate_state(len(parts))
    for (mask, heights), part_seed in zip(parts, seeds):
        mc = monte_carlo_agb(inventory.d_cm[mask], wood.wd_g_cm3[mask], wd_sd_g_cm3=wood.sd_g_cm3[mask],
                             plot_ids=inventory.plot[mask], plot_area_ha=areas, n_draws=n_draws,
                             seed=int(part_seed), d_sd_cm=d_sd_cm, allometric_sd=allometric_sd, **heights)
        draws[:, [col[p] for p in mc.plot_ids]] += mc.draws_mg_ha
        sources += [s for s in mc.sources if s not in sources]
    q025, q975 = np.quantile(draws, [0.025, 0.975], axis=0)
    return MonteCarloAGB(plots, np.array([areas[p] for p in plots]), draws.mean(axis=0), draws.std(axis=0, ddof=1),
                         q025, q975, draws, int(n_draws), seed, tuple(sources))


@dataclass(frozen=True, eq=False)
class InventoryStocks:
    """Everything :func:`inventory_stocks` computed: the stocks and what they rest on, for reports."""

    stocks: dict[str, StratumStock]
    monte_carlo: MonteCarloAGB
    wood_density: TreeWoodDensity
    height_models: dict[str, HeightModel]
    inventory: TreeInventory

    def to_dict(self) -> dict:
        return {"inventory": self.inventory.to_dict(), "stocks": {s: v.to_dict() for s, v in self.stocks.items()},
                "plots": self.monte_carlo.to_dict(), "wood_density_levels": self.wood_density.level_counts(),
                "height_models": {g: m.to_dict() for g, m in self.height_models.items()}}


def _root_to_shoot(inventory: TreeInventory, strata: Mapping[str, float]) -> dict[str, float]:
    unknown = [s for s in inventory.strata if s not in strata]
    if unknown:
        raise InputError(f"tree inventory {inventory.path} names stratum/strata {', '.join(map(repr, unknown))}, "
                         "not among the carbon strata", f"use one of {', '.join(map(repr, strata)) or '(none)'}")
    try:
        return {s: float(strata[s]) for s in inventory.strata}
    except (TypeError, ValueError) as exc:
        raise InputError(f"root-to-shoot ratios must be numbers ({exc})") from exc


def inventory_stocks(inventory: TreeInventory, *, strata: Mapping[str, float], wood_density: WoodDensityTable | None,
                     region: str | None = None, carbon_fraction: float = CARBON_FRACTION_IPCC2006,
                     n_draws: int = 1000, seed: int | None = 0, measured_h_sd_m: float = 0.0,
                     height_model_scope: str = "stratum", given_wd_sd_g_cm3: float | None = None,
                     d_sd_cm: str | float | None = "chave2004",
                     allometric_sd: float = CHAVE2014_EQ4_RSE) -> InventoryStocks:
    """:func:`stocks_from_inventory` with its intermediate results (Monte Carlo per plot, wood-density
    levels, height models)."""
    ratios = _root_to_shoot(inventory, strata)
    wood = tree_wood_density(inventory, wood_density, region, given_wd_sd_g_cm3)
    models = fit_height_models(inventory, scope=height_model_scope)
    mc = plot_agb_monte_carlo(inventory, wood, models, height_model_scope=height_model_scope,
                              measured_h_sd_m=measured_h_sd_m, n_draws=n_draws, seed=seed, d_sd_cm=d_sd_cm,
                              allometric_sd=allometric_sd)
    plot_stratum = inventory.plot_strata()
    stocks = {}
    for s in (s for s in strata if s in ratios):
        ids = [p for p in mc.plot_ids if plot_stratum[p] == s]
        ref = (f"tree inventory {inventory.path.name}: {len(ids)} plots, "
               f"{int((inventory.stratum == s).sum())} trees; Chave et al. 2014 eq. 4, "
               f"Monte Carlo {n_draws} draws (seed {seed})")
        stocks[s] = stratum_stock(mc, stratum=s, root_to_shoot=ratios[s], carbon_fraction=carbon_fraction,
                                  plot_ids=ids, reference=ref)
    return InventoryStocks(stocks, mc, wood, models, inventory)


def stocks_from_inventory(inventory: TreeInventory, *, strata: Mapping[str, float],
                          wood_density: WoodDensityTable | None, region: str | None = None,
                          carbon_fraction: float = CARBON_FRACTION_IPCC2006, n_draws: int = 1000,
                          seed: int | None = 0, measured_h_sd_m: float = 0.0,
                          height_model_scope: str = "stratum", given_wd_sd_g_cm3: float | None = None,
                          d_sd_cm: str | float | None = "chave2004",
                          allometric_sd: float = CHAVE2014_EQ4_RSE) -> dict[str, StratumStock]:
    """Carbon stock of each stratum with plots, from a tree inventory (after BIOMASS; Chave et al. 2014 eq. 4).

    ``strata``: stratum name → root-to-shoot ratio (IPCC 2006 Vol. 4 Table 4.4). A stratum of the
    inventory missing from ``strata`` is refused; strata of ``strata`` without plots are absent
    from the result (the caller gives them an IPCC default, :func:`~icam.carbon.stocks.ipcc_default_stock`).
    ``wood_density``: the table for trees without ``wd_g_cm3`` (None if every tree has one);
    ``region``: restricts its lookup (e.g. "SouthAmericaTrop"). Heights: measured where given,
    else the stratum's log2 :class:`~icam.carbon.allometry.HeightModel` (``height_model_scope=
    "inventory"``: one model for all). ``measured_h_sd_m``: SD of the height-measurement error;
    0 (default) takes measured heights as exact, as icam holds no sourced figure — give the SD
    found by the project's QA/QC re-measurements. ``given_wd_sd_g_cm3``: SD of given wood densities
    (:func:`tree_wood_density`); ``d_sd_cm``, ``allometric_sd``: diameter and Chave et al. 2014 eq. 4
    errors (:func:`~icam.carbon.stocks.monte_carlo_agb`; defaults as BIOMASS). Reproducible: same
    inputs and ``seed``, same result. Strata are returned in the order of ``strata``.
    """
    return inventory_stocks(inventory, strata=strata, wood_density=wood_density, region=region,
                            carbon_fraction=carbon_fraction, n_draws=n_draws, seed=seed,
                            measured_h_sd_m=measured_h_sd_m, height_model_scope=height_model_scope,
                            given_wd_sd_g_cm3=given_wd_sd_g_cm3, d_sd_cm=d_sd_cm,
                            allometric_sd=allometric_sd).stocks
