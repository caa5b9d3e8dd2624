"""Deforestation 2001–2024 with and without the project: the true hazard model run twice on the same draws.

For forest cell i in year y (docs/methods.md, the simulator):

    p_iy = 1 − exp(−exp(η_iy)),
    η_iy = β0_y + β_edge·d_edge_km + β_edge_log·log1p(d_edge_m / 100) + β_road·log1p(d_road_km)
           + β_settle·log1p(d_settle_km) + β_slope·slope_deg + β_elev·(elev_m − 800)/1000
           + β_legal·[protected forest] + σ_re·ε_i
           + log((1 − w_y) + w_y·(1 − F))·[protected forest, with-project run only]

β0_y is solved each year so that the counterfactual loses the target share of the reference region's forest;
w_y is the share of year y after the project start and F the project effect (the fractional reduction of the
hazard). A cell is lost when U_iy < p_iy with U_iy = Φ(Z_iy). The counterfactual uses the same U and no
project or agreement effect. Complying households' conservation areas lose nothing from the signing year on;
a breaching household clears a patch of its conservation area in its breach year (with F = 0 the project has
no effect at all: the agreements protect nothing and nobody breaches). Displacement: each year
from the start, D × (the counterfactual's loss inside the project − the with-project loss inside it, floored
at 0) is cleared in the leakage belt's forest cells of highest η that year (the same households clearing
outside), in the with-project run only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from icam.core.forked import imap_into
from icam.simulate.edge import EdgeTerm
from icam.simulate.geometry import Geometry
from icam.simulate.hazard import (
    _coarse_distance_km,
    _field,
    _solve_beta0,
    _upsample,
    _year_draws,
    eta_at,
    exceeds,
)
from icam.simulate.households import Households
from icam.simulate.params import (
    FIRST_YEAR,
    HAZARD,
    LAST_YEAR,
    PROJECT_START,
    RESOLUTION_M,
    ROAD_BLOCK_PX,
    TARGET_RATE,
    TARGET_RATE_NOISE_SD,
    YEAR_OFFSET,
    _rng,
)
from icam.simulate.terrain import LandUse2000, Terrain

NEVER = 9999  # a household that never signs, or never breaches


@dataclass(frozen=True, eq=False)
class Deforestation:
    """Year of loss (year − 2000, 0 = none) with the project and without it, and how they came about."""

    loss_year: np.ndarray
    loss_year_counterfactual: np.ndarray
    beta0_by_year: dict[int, float]
    target_rate_by_year: dict[int, float]
    sign_year: np.ndarray  # per household; NEVER where it did not sign
    breach_year: np.ndarray  # per household; NEVER where it did not breach
    breach_area_ha: np.ndarray  # per household
    prevented_px_by_year: dict[int, int]  # counterfactual − with-project loss inside the project, floored at 0
    displaced_px_by_year: dict[int, int]  # cleared in the leakage belt by displacement (in loss_year)
    agreements_active: bool  # False with a project effect of 0: the project, agreements included, changes nothing


@dataclass(frozen=True)
class ProjectEffect:
    """The project's true effect: ``effect`` = F, the fractional reduction of the hazard inside the project area
    after the start (multiplier 1 − F); ``displacement`` = D, the share of the prevented clearing moved to the
    leakage belt in the same year."""

    effect: float
    displacement: float


def static_predictor(geom: Geometry, terrain: Terrain, rng: np.random.Generator) -> np.ndarray:
    """The static part of η (roads, settlements, slope, elevation, legal protection, the random effect), float32."""
    h = HAZARD
    # the distances' terms on their own block-sized cells, then repeated over each block's cells: the same
    # values as on every cell (nearest-neighbour upsampling), without the log over tens of millions of cells
    d_road_km = _coarse_distance_km([geom.highway, *geom.secondary_roads], geom.grid)
    d_settlement_km = _coarse_distance_km([pt for _, pt, _ in geom.settlements], geom.grid)
    x_static = _upsample((h["beta_road_per_log1p_km"] * np.log1p(d_road_km)
                          + h["beta_settlement_per_log1p_km"] * np.log1p(d_settlement_km)).astype(np.float32),
                         ROAD_BLOCK_PX)
    del d_road_km, d_settlement_km
    gy, gx = np.gradient(terrain.dem.astype(np.float32), RESOLUTION_M)
    x_static += h["beta_slope_per_degree"] * np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)
    del gx, gy
    x_static += h["beta_elevation_per_km_above_800m"] * (terrain.dem.astype(np.float32) - 800) / 1000
    x_static += h["sigma_random_effect"] * _field(rng, terrain.dem.shape, 8, h["random_effect_correlation_km"])
    x_static[terrain.project_mask] += h["beta_legal_protection"]
    return x_static


def target_rates(seed: int) -> dict[int, float]:
    """The counterfactual's target loss share of the region's forest per year: the target rate times lognormal
    noise."""
    rate_rng = _rng(seed, 6)
    return {y: TARGET_RATE * float(np.exp(rate_rng.normal(0, TARGET_RATE_NOISE_SD)))
            for y in range(FIRST_YEAR, LAST_YEAR + 1)}


def _household_years(households: Households) -> tuple[np.ndarray, np.ndarray]:
    n_hh = len(households.table)
    sign_year, breach_year = np.full(n_hh, NEVER), np.full(n_hh, NEVER)
    for i, hh in enumerate(households.table):
        if hh.get("_signed"):
            sign_year[i] = hh["_signed"].year
            if hh.get("_breach_year"):
                breach_year[i] = hh["_breach_year"]
    return sign_year, breach_year


def _project_shift(year: int, effect: float) -> float:
    """The project's term of η in ``year``: the year's cumulative hazard is the share (1 − w) before the
    start at the old rate and w after it at (1 − ``effect``) times the rate; −inf where nothing is left."""
    days_2008 = 366
    start_doy = PROJECT_START.timetuple().tm_yday
    w = 1.0 if year > PROJECT_START.year else (days_2008 - start_doy + 1) / days_2008
    multiplier = (1 - w) + w * (1 - effect)
    return math.log(multiplier) if multiplier > 0 else -math.inf


def _displace(edge: np.ndarray, x_static: np.ndarray, b0: float, lost: np.ndarray, forest: np.ndarray,
              belt_rows: np.ndarray, n_cells: int) -> int:
    """Add to ``lost`` (in place) the ``n_cells`` standing, not yet lost leakage-belt cells of highest η (the
    ``edge`` term + ``x_static`` + ``b0``: the belt is outside the project, so η has no project term there);
    return how many were added (fewer where the belt has fewer)."""
    if n_cells <= 0:
        return 0
    flat = lost.ravel()
    candidates = belt_rows[forest.ravel()[belt_rows] & ~flat[belt_rows]]
    n_cells = min(n_cells, candidates.size)
    if n_cells == 0:
        return 0
    order = np.argpartition(-eta_at(edge, x_static, candidates, b0), n_cells - 1)[:n_cells]
    flat[candidates[order]] = True
    return n_cells


class _Agreements:
    """The conservation areas' cells per household, their protection and the breaches (a patch of 7–20
    standing cells, 0.63–1.8 ha, cleared at once; a household with fewer than 7 standing cells left has
    nothing to breach and keeps complying)."""

    def __init__(self, lu: LandUse2000, households: Households, seed: int, cell_ha: float, active: bool = True):
        self.cells, self.household = lu.conservation_cells()
        self.sign_year, self.breach_year = _household_years(households)
        self.active = active
        if not active:  # a project without effect: the agreements change nothing, nobody breaches
            self.breach_year[:] = NEVER
        self.breach_area_ha = np.zeros(len(households.table))
        self.rng, self.cell_ha = _rng(seed, 4), cell_ha

    def apply(self, year: int, lost: np.ndarray, forest: np.ndarray) -> None:
        """Protect complying signers' conservation areas from ``lost`` and add this year's breaches, in place."""
        if not self.active:
            return
        width = lost.shape[1]
        breaching = []
        for i in np.flatnonzero(self.breach_year == year):
            cells = self.cells[self.household == i]
            standing = cells[forest.ravel()[cells]]
            if standing.size < 7:
                self.breach_year[i] = NEVER
            else:
                breaching.append((i, standing))
        protected = (self.sign_year <= year) & (year < self.breach_year)
        lost.ravel()[self.cells[protected[self.household]]] = False
        for i, standing in breaching:
            r, c = np.divmod(standing, width)
            seed_cell = self.rng.integers(standing.size)
            dist = (r - r[seed_cell]) ** 2 + (c - c[seed_cell]) ** 2
            n_cells = int(self.rng.integers(7, 21))
            patch = standing[np.argsort(dist, kind="stable")[:n_cells]]
            lost.ravel()[patch] = True
            self.breach_area_ha[i] = patch.size * self.cell_ha


@numba.njit(cache=True, nogil=True)
def _record_loss(lost, forest, loss_year, code):
    """``loss_year[lost] = code; forest &= ~lost`` in one pass (numpy's mask assignment and its two passes with
    a temporary mask took 0.03–0.1 s a run and a year at a jurisdiction, in the loop the simulation waits on)."""
    lost, forest, loss_year = lost.ravel(), forest.ravel(), loss_year.ravel()
    for i in range(lost.size):
        if lost[i]:
            loss_year[i] = code
            forest[i] = False


def _draws_task(_: None, out: np.ndarray, seed: int, year: int) -> None:
    _year_draws(seed, year, out)


def simulate_loss(terrain: Terrain, lu: LandUse2000, households: Households, x_static: np.ndarray, seed: int,
                  cell_ha: float, report: Callable[[str, float], None], effect: ProjectEffect,
                  belt_mask: np.ndarray) -> Deforestation:
    """Loss 2001–2024 with and without the project (module docstring), on the same yearly draws.

    ``belt_mask``: the leakage belt's cells, where the displaced clearing goes.
    """
    shape = lu.forest.shape
    agreements = _Agreements(lu, households, seed, cell_ha, active=effect.effect > 0)
    forest_act, forest_cf = lu.forest.copy(), lu.forest.copy()
    loss_act, loss_cf = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    region_flat = np.flatnonzero(terrain.region_mask)
    calib_idx = np.sort(_rng(seed, 5).choice(region_flat, size=min(400_000, region_flat.size), replace=False))
    del region_flat
    project_rows = np.flatnonzero(terrain.project_mask.ravel())
    belt_rows = np.flatnonzero((belt_mask & ~terrain.project_mask).ravel())
    target = target_rates(seed)
    beta0, prevented, displaced = {}, {}, {}
    # the years' draws do not depend on the forest: workers draw the next ones while this loop runs, forked with
    # the draws' kernels compiled (a fresh install's numba cache is empty: each worker compiled them, 2 s each)
    _year_draws(seed, FIRST_YEAR, np.empty((1, 1), np.float32))
    draws = imap_into(_draws_task, None, [(seed, year) for year in target], shape, np.float32)
    # each run's edge term, kept as its forest shrinks: the with-project run's own from the year after the start
    cf_edge, act_edge = EdgeTerm(forest_cf, HAZARD), None
    # the two runs' compiled passes (their cells lost, then their edge terms) side by side, in a thread of this
    # process (they release the GIL): one after the other they left the draws' workers idle, the loop their
    # bottleneck (a jurisdiction's 24 years: 15 s of cells lost and 11 s of edge terms on one core)
    with ThreadPoolExecutor(1) as beside:
        for n_done, (year, draws_y) in enumerate(zip(target, draws)):
            report(f"simulating: deforestation {year}", 0.15 + 0.7 * n_done / len(target))
            code = year - YEAR_OFFSET
            # counterfactual: no project, no agreements
            edge_cf = cf_edge.term
            sample = calib_idx[forest_cf.ravel()[calib_idx]]
            beta0[year] = b0 = _solve_beta0(eta_at(edge_cf, x_static, sample), target[year])
            cf_exceeds = beside.submit(exceeds, edge_cf, x_static, b0, draws_y, forest_cf)
            # with the project: same draws; both runs are identical up to the project start, so the
            # counterfactual's edge term serves until then
            if year <= PROJECT_START.year:
                edge = edge_cf
            else:
                if act_edge is None:
                    act_edge = EdgeTerm(forest_act, HAZARD)
                edge = act_edge.term
            if year < PROJECT_START.year:
                lost = exceeds(edge, x_static, b0, draws_y, forest_act)
            else:
                lost = exceeds(edge, x_static, b0, draws_y, forest_act, _project_shift(year, effect.effect),
                               terrain.project_mask)
            lost_cf = cf_exceeds.result()
            _record_loss(lost_cf, forest_cf, loss_cf, code)
            n_cf_project = int(np.count_nonzero(lost_cf.ravel()[project_rows]))
            agreements.apply(year, lost, forest_act)
            if year >= PROJECT_START.year:
                prevented[year] = max(0, n_cf_project - int(np.count_nonzero(lost.ravel()[project_rows])))
                displaced[year] = _displace(edge, x_static, b0, lost, forest_act, belt_rows,
                                            int(round(effect.displacement * prevented[year])))
            _record_loss(lost, forest_act, loss_act, code)
            cf_lost = beside.submit(cf_edge.lose, forest_cf, lost_cf)  # once the with-project run read the term
            if act_edge is not None:
                act_edge.lose(forest_act, lost)
            cf_lost.result()
            del lost, lost_cf, draws_y, edge, edge_cf
    return Deforestation(loss_year=loss_act, loss_year_counterfactual=loss_cf, beta0_by_year=beta0,
                         target_rate_by_year=target, sign_year=agreements.sign_year,
                         breach_year=agreements.breach_year, breach_area_ha=agreements.breach_area_ha,
                         prevented_px_by_year=prevented, displaced_px_by_year=displaced,
                         agreements_active=agreements.active)
