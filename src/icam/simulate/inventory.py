"""The demo's tree inventory: simulated forest plots whose true above-ground biomass is known.

:func:`write_inventory` writes ``inputs/inventory/trees.csv`` (the format
:func:`icam.carbon.inventory.read_tree_inventory` reads) and ``inputs/inventory/wood_density.csv``
(the GWDD format :meth:`icam.carbon.wood_density.WoodDensityTable.from_csv` reads), and returns the
truth. Everything is SIMULATED: the taxa are real Andean-Amazonian names, but their wood densities,
abundances and the wood-density records are made up (plausible, not GWDD values), and so are
the trees.

For each stratum with plots, every plot's trees are drawn as follows (numpy ``Generator(PCG64)``
seeded from ``seed``, so the same seed writes byte-identical files):

- diameter D = 10 cm + Exponential(mean ``d_excess_cm``), capped at 180 cm, recorded to 0.1 cm: a
  reverse-J distribution of stems ≥ 10 cm;
- species from the stratum's flora (``flora``: "lowland" or "montane" abundances of :data:`TAXA`);
  true wood density = the species' mean + N(0, 0.06²) g/cm³, clipped to [0.15, 1.2]; 10 % of trees
  are named to genus only ("sp."), 5 % to family only, 2 % not at all;
- true height H = a (1 − exp(−b D^c)) × exp(ε), ε ~ N(0, σ²) (the Weibull form of Feldpausch et al.
  2012); ~30 % of trees have it "measured" (H × exp(N(0, 0.03²)), to 0.1 m), the others none;
- stem count: Poisson, with mean target AGB × area / (mean tree AGB of a 20,000-tree pilot
  sample) × a plot factor exp(N(−τ²/2, τ²)), τ = ``plot_cv``, so that plots vary around the target.

True plot AGB (Mg/ha) = Σ Chave et al. 2014 eq. 4, 0.0673 × (ρ D² H)^0.976 kg, on the true ρ and H
(and the recorded D) / 1000 / area. No allometric error is simulated: the truth is eq. 4 itself,
which icam's Monte Carlo is centred on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from icam.core.atomic import write_csv_rows


def _true_agb_kg(wd_g_cm3: np.ndarray, d_cm: np.ndarray, h_m: np.ndarray) -> np.ndarray:
    """The simulated trees' true above-ground biomass (kg): Chave et al. 2014 eq. 4, 0.0673 × (ρ D² H)^0.976.

    Written here rather than taken from icam.carbon: the truth is kept apart from the code it scores.
    """
    return 0.0673 * (wd_g_cm3 * d_cm * d_cm * h_m) ** 0.976


SIMULATED_NOTE = ("SIMULATED for the icam demo: real taxon names, made-up wood densities, abundances and trees; "
                  "not Global Wood Density Database records nor field data")
TREES_CSV = Path("inputs/inventory/trees.csv")
WOOD_DENSITY_CSV = Path("inputs/inventory/wood_density.csv")
TREE_COLUMNS = ("plot", "stratum", "plot_area_ha", "d_cm", "family", "genus", "species", "h_m", "wd_g_cm3")

#: Simulated taxa: family, genus, species, true mean wood density (g/cm³, made up but plausible),
#: relative abundance in the lowland/premontane flora and in the montane flora.
TAXA = (
    ("Fabaceae", "Inga", "edulis", 0.58, 6, 3),
    ("Fabaceae", "Inga", "thibaudiana", 0.62, 4, 2),
    ("Fabaceae", "Parkia", "multijuga", 0.40, 2, 0),
    ("Moraceae", "Pseudolmedia", "laevis", 0.64, 8, 2),
    ("Moraceae", "Clarisia", "racemosa", 0.57, 3, 0),
    ("Moraceae", "Ficus", "insipida", 0.38, 2, 1),
    ("Myristicaceae", "Virola", "sebifera", 0.48, 5, 0),
    ("Myristicaceae", "Otoba", "parvifolia", 0.45, 5, 2),
    ("Myristicaceae", "Iryanthera", "juruensis", 0.63, 3, 0),
    ("Urticaceae", "Cecropia", "sciadophylla", 0.36, 3, 1),
    ("Urticaceae", "Pourouma", "minor", 0.42, 4, 1),
    ("Lauraceae", "Ocotea", "aciphylla", 0.55, 3, 5),
    ("Lauraceae", "Nectandra", "cuspidata", 0.52, 3, 4),
    ("Sapotaceae", "Pouteria", "torta", 0.82, 4, 1),
    ("Sapotaceae", "Chrysophyllum", "venezuelanense", 0.68, 2, 0),
    ("Meliaceae", "Guarea", "kunthiana", 0.59, 3, 3),
    ("Meliaceae", "Cedrela", "montana", 0.45, 0, 2),
    ("Phyllanthaceae", "Hieronyma", "alchorneoides", 0.63, 2, 2),
    ("Melastomataceae", "Miconia", "calvescens", 0.58, 2, 6),
    ("Euphorbiaceae", "Alchornea", "glandulosa", 0.45, 1, 5),
    ("Rubiaceae", "Ladenbergia", "oblongifolia", 0.55, 1, 3),
    ("Clusiaceae", "Clusia", "multiflora", 0.62, 1, 5),
    ("Cunoniaceae", "Weinmannia", "pinnata", 0.60, 0, 5),
    ("Podocarpaceae", "Podocarpus", "oleifolius", 0.51, 0, 4),
    ("Chloranthaceae", "Hedyosmum", "racemosum", 0.44, 0, 4),
    ("Araliaceae", "Schefflera", "morototoni", 0.42, 2, 2),
)
FLORAS = {"lowland": 4, "montane": 5}  # column of TAXA holding the flora's abundances

#: Height–diameter laws H = a (1 − exp(−b D^c)) × exp(N(0, sigma_log²)). Lowland: Feldpausch et al.
#: 2012's South American coefficients (BIOMASS ``feldCoef``); montane: made up, shorter trees.
HEIGHT_LAWS = {"lowland": {"a": 42.574, "b": 0.0482, "c": 0.8307, "sigma_log": 0.20},
               "montane": {"a": 28.0, "b": 0.06, "c": 0.80, "sigma_log": 0.20}}

#: The demo's strata. Keys of each stratum: ``plots`` (number of plots; 0 = none, the stratum
#: then takes an IPCC default), ``plot_area_ha``, ``target_agb_mg_ha`` (the population's mean AGB
#: the plots are drawn around); optional ``flora`` ("lowland" | "montane", default "lowland"),
#: ``d_excess_cm`` (mean diameter above 10 cm, default 12), ``height_share`` (share of trees with a
#: measured height, default 0.3), ``plot_cv`` (between-plot SD of log stem density, default 0.15).
DEFAULT_STRATA = {
    "lowland_premontane": {"plots": 12, "plot_area_ha": 0.5, "target_agb_mg_ha": 230.0, "flora": "lowland",
                           "d_excess_cm": 13.0},
    "montane": {"plots": 10, "plot_area_ha": 0.5, "target_agb_mg_ha": 160.0, "flora": "montane",
                "d_excess_cm": 10.0},
    "upper_montane": {"plots": 0, "plot_area_ha": 0.5, "target_agb_mg_ha": 90.0, "flora": "montane"},
}

WD_TREE_SD_G_CM3 = 0.06  # true within-species spread of wood density
WD_RECORD_SD_G_CM3 = 0.07  # spread of the simulated database records around the species' mean
D_MIN_CM, D_CAP_CM = 10.0, 180.0
H_MEASUREMENT_SD_LOG = 0.03
GENUS_ONLY, FAMILY_ONLY, UNNAMED = 0.10, 0.05, 0.02
PILOT_TREES = 20_000


def _taxa(rng: np.random.Generator, flora: str, n: int) -> np.ndarray:
    """Indices into :data:`TAXA` of ``n`` trees drawn from ``flora``'s abundances."""
    weights = np.array([t[FLORAS[flora]] for t in TAXA], dtype=float)
    return rng.choice(len(TAXA), size=n, p=weights / weights.sum())


def _trees(rng: np.random.Generator, spec: Mapping, n: int) -> dict[str, np.ndarray]:
    """``n`` trees of a stratum: recorded D (cm), true WD (g/cm³), true H (m), taxon index."""
    flora = spec.get("flora", "lowland")
    law = HEIGHT_LAWS[flora]
    d = np.round(np.minimum(D_MIN_CM + rng.exponential(spec.get("d_excess_cm", 12.0), n), D_CAP_CM), 1)
    taxon = _taxa(rng, flora, n)
    mean_wd = np.array([t[3] for t in TAXA])[taxon]
    wd = np.clip(mean_wd + rng.normal(0.0, WD_TREE_SD_G_CM3, n), 0.15, 1.2)
    h = law["a"] * (1.0 - np.exp(-law["b"] * d ** law["c"])) * np.exp(rng.normal(0.0, law["sigma_log"], n))
    return {"d": d, "wd": wd, "h": h, "taxon": taxon}


def _names(rng: np.random.Generator, taxon: np.ndarray) -> tuple[list[str], list[str], list[str]]:
    """Family, genus, species as a field botanist recorded them: some to genus, family, or not at all."""
    u = rng.random(taxon.size)
    fam, gen, spp = [], [], []
    for t, x in zip(taxon.tolist(), u.tolist()):
        f, g, s = TAXA[t][:3]
        if x < UNNAMED:
            f, g, s = "", "", ""
        elif x < UNNAMED + FAMILY_ONLY:
            g, s = "Indet.", "Indet."
        elif x < UNNAMED + FAMILY_ONLY + GENUS_ONLY:
            s = "sp."
        fam.append(f)
        gen.append(g)
        spp.append(s)
    return fam, gen, spp


def _plot_rows(rng: np.random.Generator, stratum: str, plot: str, spec: Mapping, trees: dict) -> list[list]:
    n = trees["d"].size
    measured = rng.random(n) < spec.get("height_share", 0.3)
    h_obs = np.round(trees["h"] * np.exp(rng.normal(0.0, H_MEASUREMENT_SD_LOG, n)), 1)
    fam, gen, spp = _names(rng, trees["taxon"])
    area = f"{float(spec['plot_area_ha']):g}"
    return [[plot, stratum, area, f"{d:.1f}", f, g, s, f"{h:.1f}" if m else "", ""]
            for d, f, g, s, h, m in zip(trees["d"].tolist(), fam, gen, spp, h_obs.tolist(), measured.tolist())]


def _stratum(rng: np.random.Generator, name: str, spec: Mapping) -> tuple[list[list], dict]:
    """Rows of one stratum's plots and its truth."""
    area = float(spec["plot_area_ha"])
    pilot = _trees(rng, spec, PILOT_TREES)
    mean_tree_kg = float(_true_agb_kg(pilot["wd"], pilot["d"], pilot["h"]).mean())
    mean_stems = float(spec["target_agb_mg_ha"]) * area * 1000.0 / mean_tree_kg
    cv = float(spec.get("plot_cv", 0.15))
    rows, plot_agb, n_measured = [], {}, 0
    for i in range(int(spec["plots"])):
        plot = f"{name}-{i + 1:02d}"
        n = max(int(rng.poisson(mean_stems * np.exp(rng.normal(-cv * cv / 2, cv)))), 1)
        trees = _trees(rng, spec, n)
        plot_agb[plot] = float(_true_agb_kg(trees["wd"], trees["d"], trees["h"]).sum() / 1000.0 / area)
        new = _plot_rows(rng, name, plot, spec, trees)
        n_measured += sum(1 for r in new if r[7])
        rows += new
    values = np.array(list(plot_agb.values()))
    truth = {"n_plots": len(plot_agb), "n_trees": len(rows), "n_heights_measured": n_measured, "plot_area_ha": area,
             "target_agb_mg_ha": float(spec["target_agb_mg_ha"]),
             "agb_mg_ha": float(values.mean()) if values.size else None,
             "agb_sd_between_plots_mg_ha": float(values.std(ddof=1)) if values.size > 1 else None,
             "plot_agb_mg_ha": plot_agb, "flora": spec.get("flora", "lowland"),
             "height_law": dict(HEIGHT_LAWS[spec.get("flora", "lowland")])}
    return rows, truth


def _wood_density_rows(rng: np.random.Generator) -> list[list]:
    """10–14 simulated records per species around its true mean (GWDD columns plus a ``reference``)."""
    rows = []
    for f, g, s, wd, *_ in TAXA:
        for v in np.clip(wd + rng.normal(0.0, WD_RECORD_SD_G_CM3, int(rng.integers(10, 15))), 0.15, 1.2).tolist():
            rows.append([f, g, s, f"{v:.3f}", "South_America_(tropical)", "SouthAmericaTrop", "simulated (icam demo)"])
    return rows


def write_inventory(folder: Path, seed: int, strata: Mapping[str, Mapping] | None = None) -> dict:
    """Write the simulated inventory under ``folder`` and return its truth.

    ``strata``: stratum name → spec (keys: :data:`DEFAULT_STRATA`); None = :data:`DEFAULT_STRATA`.
    Writes ``folder/inputs/inventory/trees.csv`` (columns :data:`TREE_COLUMNS`; ``wd_g_cm3`` left
    empty, to be looked up) and ``folder/inputs/inventory/wood_density.csv`` (family, genus, species,
    wd, region, regionId, reference="simulated (icam demo)").

    Returns {"simulated": True, "note", "seed", "files": {"trees", "wood_density"} (paths relative to
    ``folder``), "allometry", "n_plots", "n_trees", "strata": {name: {"n_plots", "n_trees",
    "n_heights_measured", "plot_area_ha", "target_agb_mg_ha", "agb_mg_ha" (mean of the plots' true
    AGB, Mg/ha; None without plots), "agb_sd_between_plots_mg_ha", "plot_agb_mg_ha" {plot: Mg/ha},
    "flora", "height_law" {a, b, c, sigma_log}}}}. JSON-serialisable.
    """
    folder = Path(folder)
    strata = DEFAULT_STRATA if strata is None else strata
    rng = np.random.default_rng(seed)
    wd_rows = _wood_density_rows(rng)
    rows, truth = [], {}
    for name, spec in strata.items():
        new, truth[name] = _stratum(rng, name, spec)
        rows += new
    write_csv_rows(folder / TREES_CSV, TREE_COLUMNS, rows)
    write_csv_rows(folder / WOOD_DENSITY_CSV, ("family", "genus", "species", "wd", "region", "regionId", "reference"),
               wd_rows)
    return {"simulated": True, "note": SIMULATED_NOTE, "seed": seed,
            "files": {"trees": TREES_CSV.as_posix(), "wood_density": WOOD_DENSITY_CSV.as_posix()},
            "allometry": "Chave et al. 2014 eq. 4 on the true wood density and height of every tree",
            "n_plots": sum(t["n_plots"] for t in truth.values()), "n_trees": len(rows), "strata": truth}
