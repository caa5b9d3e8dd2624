"""The simulator's true emission factors and yearly emissions (``truth/emission_factor_tco2e_per_ha.tif`` and
``truth/truth.json``), from its own stock model, independent of :mod:`icam.carbon`.

Per forest pixel, the CO2e released if it is cleared, net of the post-deforestation stock:

    EF = (AGB_s × (1 + R:S_s) × CF − C_post) × 44/12   (tCO2e/ha)

with AGB_s the true mean above-ground biomass of the pixel's elevation stratum s (Mg d.m./ha: the population
mean the simulated inventory's plots are drawn around, ``target_agb_mg_ha`` in truth/inventory.json), R:S_s
the stratum's root-to-shoot ratio and C_post the post-deforestation class's stock (tC/ha, the pools counted)
as the simulated icam.toml states them (:func:`icam.simulate.files.carbon_config`), CF = 0.47 (IPCC 2006
Vol. 4 Ch. 4). A year's emissions are Σ EF × cell area over the cells lost that year, over the whole
simulated landscape.
"""

from __future__ import annotations

import numpy as np

from icam.simulate.deforestation import Deforestation
from icam.simulate.files import carbon_config
from icam.simulate.params import CARBON_FRACTION, FIRST_YEAR, LAST_YEAR, YEAR_OFFSET

CO2_PER_C = 44.0 / 12.0


def emission_factor(dem: np.ndarray, forest_2000: np.ndarray, inventory_truth: dict) -> np.ndarray:
    """Per-pixel emission factor (tCO2e/ha, float32), NaN outside the forest of 2000."""
    config = carbon_config()
    pools = config["pools"]
    post_c = sum(config["post_deforestation"][pool][0] for pool in pools)
    strata = config["strata"]
    ef_by_stratum = []
    for stratum in strata:
        agb = inventory_truth["strata"][stratum["name"]]["target_agb_mg_ha"]
        biomass = agb * (1 + stratum["root_to_shoot"]) if "below_ground" in pools else agb
        ef_by_stratum.append((biomass * CARBON_FRACTION - post_c) * CO2_PER_C)
    edges = [s["range"][0] for s in strata[1:]]  # below the second stratum's floor: the first stratum, and so on
    table = np.asarray(ef_by_stratum, dtype=np.float32)
    ef = np.empty(dem.shape, np.float32)
    # a band of rows at a time: the strata's int64 index of a jurisdiction's whole DEM was 0.49 GB
    for r0 in range(0, dem.shape[0], _BAND_ROWS):
        ef[r0:r0 + _BAND_ROWS] = table[np.digitize(dem[r0:r0 + _BAND_ROWS], edges)]
    ef[~forest_2000] = np.nan
    return ef


_BAND_ROWS = 1024  # rows of :func:`emission_factor` at a time


def _emissions_by_year(loss_year: np.ndarray, ef: np.ndarray, cell_ha: float) -> np.ndarray:
    """Σ EF × cell area (tCO2e) per loss-year code 0..LAST_YEAR − 2000 (code 0: not lost)."""
    lost = loss_year > 0
    return np.bincount(loss_year[lost], weights=ef[lost].astype(np.float64),
                       minlength=LAST_YEAR - YEAR_OFFSET + 1) * cell_ha


def truth_by_year(loss: Deforestation, project_forest: np.ndarray, ef: np.ndarray, cell_ha: float,
                  effect: float, displacement: float) -> dict:
    """The content of ``truth/truth.json``: per calendar year, true loss inside the project with and without the
    project, displaced loss (ha), and true emissions with and without the project over the whole landscape."""
    n_codes = LAST_YEAR - YEAR_OFFSET + 1
    with_px = np.bincount(loss.loss_year[project_forest], minlength=n_codes)
    without_px = np.bincount(loss.loss_year_counterfactual[project_forest], minlength=n_codes)
    e_with = _emissions_by_year(loss.loss_year, ef, cell_ha)
    e_without = _emissions_by_year(loss.loss_year_counterfactual, ef, cell_ha)
    years = {}
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        code = year - YEAR_OFFSET
        years[str(year)] = {
            "loss_project_with_project_ha": round(float(with_px[code] * cell_ha), 4),
            "loss_project_without_project_ha": round(float(without_px[code] * cell_ha), 4),
            "prevented_project_ha": round(float(loss.prevented_px_by_year.get(year, 0) * cell_ha), 4),
            "displaced_loss_ha": round(float(loss.displaced_px_by_year.get(year, 0) * cell_ha), 4),
            "emissions_with_project_tco2e": round(float(e_with[code]), 3),
            "emissions_without_project_tco2e": round(float(e_without[code]), 3),
        }
    return {
        "project_effect": effect, "displacement": displacement, "cell_area_ha": cell_ha,
        "emissions_scope": "whole simulated landscape: sum of truth/emission_factor_tco2e_per_ha.tif x cell area "
                           "over the cells of truth/true_lossyear.tif (with) and truth/counterfactual_lossyear.tif "
                           "(without) lost in the year",
        "loss_scope": "project area's forest of 2000; the displaced loss lies in the leakage belt",
        "emission_factor": "(AGB of the elevation stratum x (1 + root-to-shoot) x 0.47 - post-deforestation stock) "
                           "x 44/12, tCO2e/ha",
        "by_year": years,
    }
