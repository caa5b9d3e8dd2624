"""Households of the simulated protected forest: farm, coffee plot and conservation area on 540 m blocks."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.affinity

from icam.simulate.geometry import Geometry
from icam.simulate.params import (
    AGREEMENT_SHARE,
    BREACH_SHARE,
    HOUSEHOLD_BLOCK_PX,
    LAST_YEAR,
    LU_CROPS,
    LU_PASTURE,
    RESOLUTION_M,
    WAVE_SHARES,
)


@dataclass
class Households:
    """The households (one dict a row), their parcels and their agreements, as the simulator writes them."""

    table: list[dict]
    parcels: list[dict]  # household_id, kind, geometry
    agreements: list[dict]


def _parcel_box(left_m: float, top_m: float, flip: bool, r0: int, r1: int, c0: int, c1: int) -> shapely.Polygon:
    """Rows r0..r1 and columns c0..c1 (cells) of a household block whose top-left corner is (left_m, top_m);
    ``flip`` mirrors the rows so that some conservation areas lie above the farm and some below."""
    if flip:
        r0, r1 = HOUSEHOLD_BLOCK_PX - r1, HOUSEHOLD_BLOCK_PX - r0
    c = RESOLUTION_M
    return shapely.box(left_m + c0 * c, top_m - r1 * c, left_m + c1 * c, top_m - r0 * c)


def _place_households(geom: Geometry, rng: np.random.Generator) -> Households:
    """Households on 540 m blocks inside the protected forest near roads: farm, coffee plot, conservation area.

    Block layout (rows from the block's top, in 30 m cells): the farm (5–7 x 5–7 cells, 2.3–4.4 ha) and the
    coffee plot (3–5 cells wide, 1.4–3.2 ha) side by side, the conservation area (18 cells wide, 4–10 high,
    6.5–16 ha) below them; flipped vertically at random. Edges lie on cell boundaries.
    """
    p = geom.scale
    grid = geom.grid
    bxmin, bymin, bxmax, bymax = geom.project_area.bounds
    size_m = HOUSEHOLD_BLOCK_PX * RESOLUTION_M
    gx0, gy1 = grid.transform.c, grid.transform.f
    col0 = math.floor((bxmin - gx0) / size_m)
    row0 = math.floor((gy1 - bymax) / size_m)
    cols = np.arange(col0, math.ceil((bxmax - gx0) / size_m))
    rows = np.arange(row0, math.ceil((gy1 - bymin) / size_m))
    cc, rr = np.meshgrid(cols, rows)
    left = gx0 + cc.ravel() * size_m
    top = gy1 - rr.ravel() * size_m
    boxes = shapely.box(left, top - size_m, left + size_m, top)
    inside = shapely.contains(geom.project_area, boxes)
    roads = shapely.union_all([geom.highway, *geom.secondary_roads])
    centres = shapely.centroid(boxes)
    d_road_km = shapely.distance(centres, roads) / 1000
    d_river_km = shapely.distance(centres, geom.river) / 1000
    towns = shapely.MultiPoint([pt for _, pt, pop in geom.settlements if pop > 2000])
    d_town_km = shapely.distance(centres, towns) / 1000 if not towns.is_empty else np.full(len(boxes), 99.0)
    ok = inside & (d_road_km <= p.household_cutoff_km) & (d_river_km > 0.45) & (d_town_km > 1.5)
    candidates = np.flatnonzero(ok)
    n = min(p.n_households, int(0.7 * len(candidates)))
    weights = np.exp(-d_road_km[candidates] / (p.household_cutoff_km / 2))
    chosen = np.sort(rng.choice(candidates, size=n, replace=False, p=weights / weights.sum()))

    names = [s[0] for s in geom.settlements]
    points = shapely.points([(s[1].x, s[1].y) for s in geom.settlements])
    table, parcels, agreements = [], [], []
    n_sign = int(round(AGREEMENT_SHARE * n))
    signers = set(rng.choice(n, size=n_sign, replace=False).tolist())
    waves = rng.choice(list(WAVE_SHARES), size=n, p=list(WAVE_SHARES.values()))
    order = sorted(signers)
    n_breach = max(1, int(round(BREACH_SHARE * n_sign))) if n_sign else 0
    for i, block in enumerate(chosen):
        hid = f"HH{i + 1:04d}"
        left_m, top_m = left[block], top[block]
        fw, fh = rng.integers(5, 8), rng.integers(5, 8)
        cw = rng.integers(3, 6)
        ch_ = rng.integers(4, 11)
        flip = rng.random() < 0.5
        farm = _parcel_box(left_m, top_m, flip, 0, fh, 0, fw)
        coffee = _parcel_box(left_m, top_m, flip, 0, fh, fw, fw + cw)
        conservation = _parcel_box(left_m, top_m, flip, fh, fh + ch_, 0, HOUSEHOLD_BLOCK_PX)
        centre = farm.centroid
        village = names[int(np.argmin(shapely.distance(points, centre)))]
        table.append({"household_id": hid, "village": village, "x_m": round(centre.x, 1), "y_m": round(centre.y, 1),
                      "members": int(rng.integers(2, 9)), "settled_year": int(rng.integers(1975, 2000)),
                      "farm_area_ha": round(farm.area / 1e4, 2), "coffee_area_ha": round(coffee.area / 1e4, 2),
                      "conservation_area_ha": round(conservation.area / 1e4, 2),
                      "farm_land_use": int(rng.choice([LU_PASTURE, LU_CROPS], p=[0.7, 0.3]))})
        for kind, g in (("farm", farm), ("coffee", coffee), ("conservation", conservation)):
            parcels.append({"parcel_id": f"{hid}-{kind[:4].upper()}", "household_id": hid, "kind": kind,
                            "area_ha": round(g.area / 1e4, 2), "geometry": g})
    breachers = set(rng.choice(order, size=min(n_breach, len(order)), replace=False).tolist()) if order else set()
    for j, i in enumerate(order):
        wave = int(waves[i])
        signed = dt.date(wave, 3, 1) + dt.timedelta(days=int(rng.integers(0, 260)))
        breach_year = int(rng.integers(wave + 1, min(wave + 6, LAST_YEAR) + 1)) if i in breachers else None
        hh = table[i]
        hh["_signed"] = signed
        hh["_breach_year"] = breach_year
        agreements.append({"agreement_id": f"AC-{wave}-{j + 1:04d}", "household_id": hh["household_id"],
                           "signed": signed.isoformat(), "wave": wave, "term_years": 5,
                           "conservation_parcel_id": f"{hh['household_id']}-CONS",
                           "committed_area_ha": hh["conservation_area_ha"],
                           "benefits": "coffee technical assistance; organic fertiliser; pruning tools",
                           "implementer": "ECOAN", "authority": "SERNANP"})
    return Households(table, parcels, agreements)


