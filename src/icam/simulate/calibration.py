"""The simulator's calibration figures, measured from a simulated project's truth files and boundaries alone.

The figures issue 15's calibration targets are in (the real Alto Mayo Protected Forest): mean with-project loss
inside the protected forest (the project area) 250–450 ha/yr over 2001–2012 (SERNANP: ~340) and 120–300 ha/yr
over 2018–2022 (~195 by 2020), forest in it in 2014 within 5 % of 144,000 ha, and the reference region's loss
0.5–1 %/yr. A smaller landscape's areas are also given scaled to the AMPF's 182,000 ha.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from rasterio.features import rasterize

AMPF_HA = 182_000.0


def _mask(folder: Path, name: str, shape, transform) -> np.ndarray:
    zone = gpd.read_file(folder / "inputs" / "boundaries" / f"{name}.gpkg")
    return rasterize([(g, 1) for g in zone.geometry], out_shape=shape, transform=transform, fill=0,
                     dtype="uint8").astype(bool)


def calibration_figures(folder: Path) -> dict:
    """The calibration figures of one simulated project folder (truth files and boundaries only)."""
    folder = Path(folder)
    with rasterio.open(folder / "truth" / "true_lossyear.tif") as src:
        loss, transform, shape = src.read(1), src.transform, src.shape
        cell_ha = abs(transform.a * transform.e) / 1e4
    with rasterio.open(folder / "inputs" / "land_use_2000.tif") as src:
        forest = src.read(1) == 1
    project = _mask(folder, "project_area", shape, transform) & forest
    region = _mask(folder, "reference_region", shape, transform) & forest
    by_year = np.bincount(loss[project], minlength=25)[1:] * cell_ha  # 2001..2024
    region_px = np.bincount(loss[region], minlength=25)[1:]
    remaining = region.sum() - np.concatenate([[0], np.cumsum(region_px)[:-1]])
    project_area_ha = float(gpd.read_file(folder / "inputs" / "boundaries" / "project_area.gpkg").area.sum()) / 1e4
    factor = AMPF_HA / project_area_ha
    figures = {
        "project_area_ha": round(project_area_ha, 1),
        "loss_2001_2012_ha_per_yr": float(by_year[:12].mean()),
        "loss_2018_2022_ha_per_yr": float(by_year[17:22].mean()),
        "forest_2014_ha": float((project.sum() - np.count_nonzero(project & (loss > 0) & (loss <= 14))) * cell_ha),
        "region_loss_pct_per_yr": float(100 * (region_px / remaining).mean()),
    }
    for key in ("loss_2001_2012_ha_per_yr", "loss_2018_2022_ha_per_yr", "forest_2014_ha"):
        figures[key.replace("_ha", "_ha_at_182000ha", 1)] = round(figures[key] * factor, 1)
        figures[key] = round(figures[key], 1)
    figures["region_loss_pct_per_yr"] = round(figures["region_loss_pct_per_yr"], 3)
    return figures
