"""The simulator's truth: each household's behaviour, and the summary written to ``truth/hazard.json``."""

from __future__ import annotations

import math

import numpy as np

from icam.simulate.deforestation import NEVER, Deforestation, ProjectEffect
from icam.simulate.households import Households
from icam.simulate.params import (
    AGREEMENT_SHARE,
    BREACH_SHARE,
    DRAW_CELL_WEIGHT,
    DRAW_SMOOTH_PX,
    DRAW_SMOOTH_WEIGHT,
    EDGE_BLOCK_PX,
    ELEVATION_STRATA_M,
    HAZARD,
    LAND_USE_2000,
    LAND_USE_CODES,
    LAST_YEAR,
    PROJECT_START,
    RESOLUTION_M,
    ROAD_BLOCK_PX,
    WAVE_SHARES,
    YEAR_OFFSET,
)
from icam.simulate.terrain import LandUse2000, Terrain

HAZARD_MODEL = (
    "p = 1 - exp(-exp(eta)); eta = beta0[year] + beta_edge_km*d_edge_km + "
    "beta_edge_log*log1p(d_edge_m/100) + beta_road*log1p(d_road_km) + "
    "beta_settlement*log1p(d_settlement_km) + beta_slope*slope_deg + "
    "beta_elevation*(elevation_m-800)/1000 + beta_legal*protected + sigma_re*field + "
    "log((1-w)+w*(1-project_effect))*protected (with-project run only; w = share of the year after "
    f"the project start); loss where U < p, U = Phi({DRAW_SMOOTH_WEIGHT}*Z_smooth + "
    f"{DRAW_CELL_WEIGHT:.3f}*Z_cell), Z_smooth = white noise smoothed by a Gaussian of {DRAW_SMOOTH_PX} "
    "cells, rescaled to unit variance")


def record_households(households: Households, lu: LandUse2000, loss: Deforestation, cell_ha: float) -> None:
    """Each household's agreement, behaviour and conservation-area loss (ha), added to its row in place."""
    cells, owner = lu.conservation_cells()
    ca_loss_year = loss.loss_year.ravel()[cells]
    ca_loss_year_cf = loss.loss_year_counterfactual.ravel()[cells]
    agreement_of = {a["household_id"]: a["agreement_id"] for a in reversed(households.agreements)}
    for i, hh in enumerate(households.table):
        mine = owner == i
        ly = ca_loss_year[mine].astype(int) + YEAR_OFFSET
        ly_cf = ca_loss_year_cf[mine].astype(int) + YEAR_OFFSET
        lost_m, lost_cf_m = ca_loss_year[mine] > 0, ca_loss_year_cf[mine] > 0
        s_year, b_year = loss.sign_year[i], loss.breach_year[i]
        signed = s_year != NEVER
        hh["agreement_id"] = agreement_of.get(hh["household_id"])
        hh["signed"] = hh["_signed"].isoformat() if hh.get("_signed") else None
        hh["behaviour"] = ("no_agreement" if not signed else "no_effect" if not loss.agreements_active
                           else "breaches" if b_year != NEVER else "complies")
        hh["breach_year"] = int(b_year) if b_year != NEVER else None
        hh["breach_area_ha"] = round(float(loss.breach_area_ha[i]), 2)
        hh["ca_loss_before_signing_ha"] = round(float(np.count_nonzero(lost_m & (ly < s_year)) * cell_ha), 2)
        hh["ca_loss_after_signing_ha"] = (round(float(np.count_nonzero(lost_m & (ly >= s_year)) * cell_ha), 2)
                                          if signed else None)
        hh["ca_loss_after_signing_counterfactual_ha"] = (
            round(float(np.count_nonzero(lost_cf_m & (ly_cf >= s_year)) * cell_ha), 2) if signed else None)
        hh["ca_loss_2001_2024_ha"] = round(float(np.count_nonzero(lost_m) * cell_ha), 2)


def loss_ha_by_year(loss_year: np.ndarray, where: np.ndarray, cell_ha: float) -> dict[int, float]:
    """Loss (ha) per calendar year inside ``where``."""
    counts = np.bincount(loss_year[where], minlength=LAST_YEAR - YEAR_OFFSET + 1)
    return {YEAR_OFFSET + code: float(counts[code] * cell_ha) for code in range(1, LAST_YEAR - YEAR_OFFSET + 1)}


def realised_rates(loss_year: np.ndarray, region_forest: np.ndarray) -> dict[int, float]:
    """Loss per year as a share of the region's forest at the start of that year."""
    counts = np.bincount(loss_year[region_forest], minlength=LAST_YEAR - YEAR_OFFSET + 1)
    remaining = int(np.count_nonzero(region_forest)) - np.concatenate([[0], np.cumsum(counts[1:])])
    return {YEAR_OFFSET + c: float(counts[c] / remaining[c - 1]) for c in range(1, LAST_YEAR - YEAR_OFFSET + 1)}


def hazard_truth(scale: str, seed: int, forest_share_2000: float, terrain: Terrain, lu: LandUse2000,
                 loss: Deforestation, households: Households, agreement_history: dict, cell_ha: float,
                 effect: ProjectEffect) -> dict:
    """The content of ``truth/hazard.json``."""
    region = terrain.region_mask & lu.forest
    project = terrain.project_mask & lu.forest

    def by_year(loss_year, where) -> dict[str, float]:
        return {str(y): round(v, 2) for y, v in loss_ha_by_year(loss_year, where, cell_ha).items()}

    days_2008 = 366
    start_doy = PROJECT_START.timetuple().tm_yday
    return {
        "generator": "icam.simulate.scenario", "scale": scale, "seed": seed,
        "model": HAZARD_MODEL,
        "coefficients": {**HAZARD, "beta_project": math.log(1 - effect.effect) if effect.effect < 1 else None},
        "project_effect": effect.effect,
        "hazard_ratio_project": 1 - effect.effect,
        "beta0_by_year": {str(y): round(b, 6) for y, b in loss.beta0_by_year.items()},
        "target_rate_by_year": {str(y): round(r, 6) for y, r in loss.target_rate_by_year.items()},
        "realised_rate_by_year_reference_region": {str(y): round(r, 6) for y, r in
                                                   realised_rates(loss.loss_year, region).items()},
        "protection_effect": {"applies_to": "project area", "from": PROJECT_START.isoformat(),
                              "hazard_multiplier": 1 - effect.effect,
                              "year_2008_weight": round((days_2008 - start_doy + 1) / days_2008, 4)},
        "agreement_effect": {"applies_to": "conservation areas of households with a signed agreement",
                             "from": "the signing year (inclusive)",
                             "hazard_multiplier": 0.0 if loss.agreements_active else 1.0,
                             "breach": "a patch of 7-20 standing cells cleared in breach_year; the area is unprotected "
                                       "from then on", "agreement_share": AGREEMENT_SHARE,
                             "breach_share_of_signers": BREACH_SHARE,
                             "wave_shares": {str(k_): v for k_, v in WAVE_SHARES.items()}},
        "leakage": {"displacement": effect.displacement,
                    "rule": "each year from the project start, displacement x (counterfactual loss inside the project "
                            "- with-project loss inside it, floored at 0) is cleared in the leakage belt's standing "
                            "forest cells of highest eta that year (the same households clearing outside)",
                    "displaced_ha_by_year": {str(y): round(n * cell_ha, 2)
                                             for y, n in loss.displaced_px_by_year.items()}},
        "elevation_strata_m": ELEVATION_STRATA_M,
        "edge_distance": {"cell_m": EDGE_BLOCK_PX * RESOLUTION_M, "forest_if_share_at_least": 0.5,
                          "metric": "octagonal chamfer max(chessboard, taxicab/sqrt(2))"},
        "road_distance_cell_m": ROAD_BLOCK_PX * RESOLUTION_M,
        "draws": {"smooth_sd_cells": DRAW_SMOOTH_PX, "smooth_weight": DRAW_SMOOTH_WEIGHT,
                  "cell_weight": round(DRAW_CELL_WEIGHT, 6)},
        "land_use_2000": {**LAND_USE_2000, "threshold_m": round(lu.threshold_m, 6),
                          "project_width_divisor": round(lu.project_width_divisor, 6)},
        "land_use_codes": {str(c): n for c, n in LAND_USE_CODES.items()},
        "forest_share_2000_target": forest_share_2000,
        "loss_ha_by_year": {
            "reference_region": by_year(loss.loss_year, region),
            "reference_region_counterfactual": by_year(loss.loss_year_counterfactual, region),
            "project_area": by_year(loss.loss_year, project),
            "project_area_counterfactual": by_year(loss.loss_year_counterfactual, project),
        },
        "n_households": len(households.table), "n_agreements": len(households.agreements),
        "n_breaching": sum(1 for hh in households.table if hh["behaviour"] == "breaches"),
        "agreement_history": agreement_history,
    }
