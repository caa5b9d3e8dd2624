"""The simulated landscape in 2000: terrain, land use, canopy cover (docs/methods.md, the simulator).

Non-forest in 2000 is a corridor along the highway (wider near towns), discs around settlements, clearings
along secondary roads (relative distances to them below a threshold solved for the forest share, with
smooth random perturbations of the widths) and puna above ~3,400 m. The random fields are drawn from one
generator in a fixed order (terrain, then land use, then canopy cover), so the same seed gives the same
landscape.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from rasterio.features import rasterize
from scipy import ndimage

from icam.landscape.vector import rasterize_values
from icam.simulate.geometry import Geometry
from icam.simulate.hazard import _coarse_distance_km, _field
from icam.simulate.households import Households
from icam.simulate.params import (
    LAND_USE_2000,
    LU_COFFEE,
    LU_CROPS,
    LU_FOREST,
    LU_PASTURE,
    LU_SETTLEMENT,
    LU_WATER,
    RESOLUTION_M,
)
from icam.simulate.upsample import bilinear_zoom

BLOCK_PX = 16  # valley coordinates are smooth: computed on 16-cell blocks and interpolated


@dataclass(frozen=True, eq=False)
class Terrain:
    """Elevation (m, int16), the zone masks, and the block centres' coordinates (m)."""

    dem: np.ndarray
    region_mask: np.ndarray
    project_mask: np.ndarray
    block_xs: np.ndarray
    block_ys: np.ndarray


@dataclass(frozen=True, eq=False)
class LandUse2000:
    """Land use in 2000 (LU_* codes), forest, water, each conservation area's household (1-based, 0 = none),
    and the solved corridor threshold."""

    land_use: np.ndarray
    forest: np.ndarray
    water: np.ndarray
    conservation_household: np.ndarray
    threshold_m: float
    project_width_divisor: float

    def conservation_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """The conservation areas' cells (flat indices) and each one's household (0-based, int32)."""
        cells = np.flatnonzero(self.conservation_household)
        return cells, self.conservation_household.ravel()[cells].astype(np.int32) - 1


def _mask(geometry, grid) -> np.ndarray:
    return rasterize([(geometry, 1)], out_shape=grid.shape, transform=grid.transform, fill=0,
                     dtype="uint8").astype(bool)


def build_terrain(geom: Geometry, rng: np.random.Generator) -> Terrain:
    """A valley floor rising upstream, ridges across it, and smooth random relief; elevation 800–3,500 m."""
    grid, shape, k = geom.grid, geom.grid.shape, geom.scale.feature_scale
    rows_c = (np.arange(shape[0] // BLOCK_PX) + 0.5) * BLOCK_PX
    cols_c = (np.arange(shape[1] // BLOCK_PX) + 0.5) * BLOCK_PX
    xs = grid.transform.c + cols_c * RESOLUTION_M
    ys = grid.transform.f - rows_c * RESOLUTION_M
    s_km, t_km = geom.to_st(*np.meshgrid(xs, ys))
    t_rel = np.abs(t_km - geom.river_t(s_km))
    ridge_km = 35.0 * k
    floor_m = 850 + 4.0 * np.clip(s_km / k + 60, 0, None)
    relief = np.sin(np.pi / 2 * np.clip(t_rel / ridge_km, 0, None)) ** 2
    trend = bilinear_zoom((floor_m + 1900 * relief).astype(np.float32), BLOCK_PX)
    modulation = 1 + 0.2 * _field(rng, shape, 16, 12 * k)
    elevation = trend * 1.0
    elevation += (modulation - 1) * (trend - 850)
    elevation += 150 * _field(rng, shape, 16, 4 * k) + 40 * _field(rng, shape, 4, 0.5)
    dem = np.clip(np.round(elevation), 800, 3500).astype(np.int16)
    return Terrain(dem=dem, region_mask=_mask(geom.reference_region, grid),
                   project_mask=_mask(geom.project_area, grid), block_xs=xs, block_ys=ys)


def _highway_half_width(geom: Geometry, terrain: Terrain) -> np.ndarray:
    """Half-width (relative) of the highway corridor, wider near towns of more than 2,000 people."""
    lu = LAND_USE_2000
    xs_c, ys_c = np.meshgrid(terrain.block_xs, terrain.block_ys)
    town_pull = np.zeros(xs_c.shape)
    for _, pt, pop in geom.settlements:
        if pop > 2000:
            d_t = np.hypot(xs_c - pt.x, ys_c - pt.y) / 1000
            town_pull = np.maximum(town_pull, min(1.0, math.sqrt(pop / 5000))
                                   * np.exp(-d_t / (lu["town_decay_per_spacing"] * geom.scale.town_spacing_km)))
    half_width = lu["highway_half_width_km"] + lu["highway_town_extra_km"] * town_pull
    return bilinear_zoom(half_width.astype(np.float32), BLOCK_PX)


def _settlement_discs(geom: Geometry, r: np.ndarray) -> None:
    """Each settlement's disc, in place: distance to its point over its radius where that is nearer (computed
    exactly in a window of 6 radii around each settlement; r beyond it is far above the threshold)."""
    gt, shape = geom.grid.transform, r.shape
    for _, pt, pop in geom.settlements:
        radius_m = 1000 * LAND_USE_2000["settlement_radius_km"] * (pop / 300) ** 0.35
        col, row = (pt.x - gt.c) / gt.a, (pt.y - gt.f) / gt.e
        half = int(6 * radius_m / RESOLUTION_M) + 1
        r0, r1 = max(0, int(row) - half), min(shape[0], int(row) + half + 1)
        c0, c1 = max(0, int(col) - half), min(shape[1], int(col) + half + 1)
        if r0 >= r1 or c0 >= c1:
            continue
        rr, cc = np.ogrid[r0:r1, c0:c1]
        d_s = (np.hypot(rr + 0.5 - row, cc + 0.5 - col) * (RESOLUTION_M / radius_m)).astype(np.float32)
        np.minimum(r[r0:r1, c0:c1], d_s, out=r[r0:r1, c0:c1])


def _relative_distance(geom: Geometry, terrain: Terrain, rng: np.random.Generator) -> np.ndarray:
    """r = min over the highway corridor, secondary roads and settlements of (distance / local half-width),
    widths perturbed by smooth lognormal fields and narrowing with elevation; 0 on the puna."""
    lu, grid, shape = LAND_USE_2000, geom.grid, geom.grid.shape
    # the roads' distance transforms (SciPy's releases the GIL; 1–2 s each at a jurisdiction) in two threads while
    # this one draws the widths' fields: the simulation's first seconds use one core
    with ThreadPoolExecutor(2) as pool:
        highway, secondary = (pool.submit(_coarse_distance_km, roads, grid, 2)
                              for roads in ([geom.highway], geom.secondary_roads))
        half_width = _highway_half_width(geom, terrain)
        f_edge = lu["edge_noise_sd"][0] * _field(rng, shape, 8, 2.0)
        f_edge += lu["edge_noise_sd"][1] * _field(rng, shape, 4, 0.4)
        f_edge -= lu["elevation_narrowing_per_km"] * (terrain.dem.astype(np.float32) - 800) / 1000
        np.exp(f_edge, out=f_edge)  # width multiplier
        r = bilinear_zoom(highway.result(), 2)  # smooth: the corridor's boundary is drawn from it
        r /= half_width
        del half_width
        r_sec = bilinear_zoom(secondary.result(), 2)
    r_sec /= lu["secondary_half_width_km"] * np.exp(lu["secondary_noise_sd"] * _field(rng, shape, 8, 1.5))
    np.minimum(r, r_sec, out=r)
    del r_sec
    _settlement_discs(geom, r)
    r /= f_edge
    del f_edge
    puna = (terrain.dem.astype(np.float32) + 100 * _field(rng, shape, 8, 1.5)) >= lu["puna_above_m"]
    r[puna] = 0.0
    return r


def _solve_corridor(r: np.ndarray, terrain: Terrain, forest_share_2000: float) -> tuple[float, float]:
    """(m, c): non-forest where r < m outside the protected forest and r·c < m inside it; m gives the scale's
    forest share, c the protected forest's own (legal protection since 1987 narrows the corridor inside)."""
    region, project = terrain.region_mask, terrain.project_mask
    step = max(1, int(region.sum() // 2_000_000))
    outside = region & ~project
    q_project = 1 - LAND_USE_2000["project_forest_share_before_parcels"]
    n_nonforest = (1 - forest_share_2000) * int(region.sum())
    n_project = q_project * int(project.sum())
    q_outside = float(np.clip((n_nonforest - n_project) / max(1, int(outside.sum())), 0.0, 1.0))
    m = float(np.quantile(r[outside][::step], q_outside))
    c_project = max(1.0, m / max(float(np.quantile(r[project][::step], q_project)), 1e-9))
    return m, c_project


def _burn_parcels(land_use: np.ndarray, households: Households, grid) -> np.ndarray:
    """Households' parcels burnt into the land use (farm: pasture or crops, coffee plot, conservation area:
    forest); returns each conservation area's household (1-based index, 0 = none)."""
    shape = grid.shape
    hh_index = {h["household_id"]: i for i, h in enumerate(households.table)}
    burn = []
    for parcel in households.parcels:
        hh = households.table[hh_index[parcel["household_id"]]]
        code = {"farm": hh["farm_land_use"], "coffee": LU_COFFEE, "conservation": LU_FOREST}[parcel["kind"]]
        burn.append((parcel["geometry"], code))
    if burn:
        parcel_codes = rasterize_values(burn, grid, np.uint8)
        land_use[:] = np.where(parcel_codes > 0, parcel_codes, land_use)
    ca_geoms = [(p_["geometry"], hh_index[p_["household_id"]] + 1) for p_ in households.parcels
                if p_["kind"] == "conservation"]
    ids = np.min_scalar_type(len(households.table))  # not int32: a jurisdiction's 0.24 GB through the simulation
    return rasterize_values(ca_geoms, grid, ids) if ca_geoms else np.zeros(shape, ids)


def build_land_use(geom: Geometry, households: Households, terrain: Terrain,
                   rng: np.random.Generator) -> LandUse2000:
    """Land use in 2000: the corridor's non-forest split into pasture, coffee (900–2,000 m) and crops by a
    smooth field, settlements, households' parcels, water."""
    grid, shape, k = geom.grid, geom.grid.shape, geom.scale.feature_scale
    water = _mask(geom.river.buffer(45 * max(k, 0.67)), grid)
    # settlements: built-up disc of radius 150 m x sqrt(population / 1000)
    towns = [(pt.buffer(150 * math.sqrt(pop / 1000) + 30), 1) for _, pt, pop in geom.settlements]
    built = rasterize(towns, out_shape=shape, transform=grid.transform, fill=0, dtype="uint8").astype(bool)
    r = _relative_distance(geom, terrain, rng)
    m, c_project = _solve_corridor(r, terrain, geom.scale.forest_share_2000)
    r[terrain.project_mask] *= c_project
    nonforest = (r < m) | built
    del r
    coffee_field = _field(rng, shape, 8, 1.0 * k)
    dem = terrain.dem
    land_use = np.full(shape, LU_FOREST, dtype=np.uint8)
    land_use[nonforest] = LU_PASTURE
    land_use[nonforest & (coffee_field > 0) & (dem >= 900) & (dem <= 2000)] = LU_COFFEE
    land_use[nonforest & (coffee_field < -0.8)] = LU_CROPS
    land_use[built] = LU_SETTLEMENT
    del coffee_field, nonforest
    ca_id = _burn_parcels(land_use, households, grid)
    land_use[water] = LU_WATER
    return LandUse2000(land_use=land_use, forest=land_use == LU_FOREST, water=water, conservation_household=ca_id,
                       threshold_m=m,
                       project_width_divisor=c_project)


def canopy_cover_2000(lu: LandUse2000, rng: np.random.Generator) -> np.ndarray:
    """Canopy cover in 2000 (%, uint8): forest 60–100 %, non-forest 0–25 %, plus isolated specks of trees
    (< 0.5 ha, which the minimum mapping unit removes)."""
    land_use, shape = lu.land_use, lu.land_use.shape
    tc_field = _field(rng, shape, 8, 0.8)
    noise = rng.random(shape, dtype=np.float32)
    treecover = np.zeros(shape, dtype=np.float32)
    treecover[:] = 60 + 40 * np.clip(0.7 + 0.12 * tc_field + 0.15 * (noise - 0.5), 0, 1)
    low = {LU_COFFEE: (10, 25), LU_PASTURE: (0, 10), LU_CROPS: (0, 8), LU_SETTLEMENT: (0, 5), LU_WATER: (0, 0)}
    for code, (lo, hi) in low.items():
        sel = land_use == code
        treecover[sel] = lo + (hi - lo) * noise[sel]
    del tc_field
    away = ~ndimage.binary_dilation(lu.forest | lu.water, iterations=2)
    lattice = np.zeros(shape, bool)
    lattice[::4, ::4] = True
    seeds = lattice & away & (noise < 0.004 * 16)
    speck = seeds.copy()
    size = rng.integers(1, 5, size=shape[0] * shape[1] // 16, dtype=np.uint8).reshape(shape[0] // 4, -1)
    size_full = np.zeros(shape, np.uint8)
    size_full[::4, ::4] = size
    speck[:, 1:] |= seeds[:, :-1] & (size_full[:, :-1] >= 2) & away[:, 1:]
    speck[1:, :] |= seeds[:-1, :] & (size_full[:-1, :] >= 3) & away[1:, :]
    speck[1:, 1:] |= seeds[:-1, :-1] & (size_full[:-1, :-1] >= 4) & away[1:, 1:]
    treecover[speck] = 45 + 45 * noise[speck]
    return np.round(treecover).astype(np.uint8)
