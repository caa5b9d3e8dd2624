"""Where the dynamic baseline's error comes from: docs/credibility.md, "Where the project-scale error comes from".

The dynamic baseline (:class:`icam.risk.dynamic.MatchedControlBaseline`) of the project area and the leakage
belt, fitted as the pipeline fits it, summed over 2009–2024 and compared with the simulator's counterfactual
loss (``truth/counterfactual_lossyear.tif``), on one simulated project, under variants of its inputs:

    truth              the true loss map (no map error at all)
    map                the simulated map the pipeline reads
    errors=K[,K...]    a map re-made from the true loss with only these kinds of the simulator's map errors
                       (omission, late, commission; icam.simulate.reference.MAP_ERRORS)
    simex=K[,K...]     the same errors applied once, twice and three times (λ = 0, 1, 2), and the baseline
                       extrapolated back to λ = −1 by the quadratic through them, 3·B0 − 3·B1 + B2
                       (simulation-extrapolation, Cook & Stefanski 1994, JASA 89:1314–1328)
    map-unadjusted     the simulated map with no adjustment at all, its baseline compared with the map's own
                       loss (not the counterfactual): the map's false loss is then on both sides
    simex-sample       SIMEX with the error process the reference sample estimates, per zone (project area,
                       leakage belt, the rest) and assessment: each mapped clearing (8-connected, one year)
                       dropped where the sample's true loss is never mapped (omission) or dated a year later
                       where it is mapped after the period (late), and false loss added (the share of the
                       mapped loss before the period's last year whose points are forest to the period's end)
                       on forest never lost in the map, within the 95th percentile of those points' distance
                       to the non-forest
    sieve=N            the map without its loss patches of fewer than N cells (8-connected, one year)
    ring=KM            the true map, controls only within KM of the project area and the belt
    static-edges[=truth]  the map (or the true map), the distance to the forest edge frozen at 2000
    frailty=THETA      the true map, the hazard of a cell divided by 1 + θ·k·H, H its cumulative hazard since
                       the historical period's start (gamma frailty: Vaupel, Manton & Stallard 1979,
                       Demography 16:439–454)

Every variant on a simulated map replaces the sample's adjustments by the exact ratios of true to mapped loss
(per zone over the historical years, per year for the control area), an oracle no project has: what is left
is the map's spatial error and the model's. Give it a project without effect (``project_effect=0``), whose
counterfactual is its truth.

    python benchmarks/map_errors.py /tmp/p42 truth map errors=omission simex=omission,late,commission ring=15

Prints one Markdown row per variant. Never part of `make test`; about 1–2 minutes a fit at project scale.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from rasterio.transform import rowcol
from scipy import ndimage

from icam.forest.activity import (
    FOREST_LOSS,
    STABLE_FOREST,
    activity_map,
    activity_zone,
    strata_by_zone,
    stratum_areas,
    zone_codes,
)
from icam.forest.label_errors import stratified_total
from icam.pipeline.config import load_config
from icam.pipeline.stages.carbon import ZONES, stratum_masks, stratum_stocks
from icam.pipeline.stages.carbon_dynamic import historical_years, matching_landscape
from icam.pipeline.stages.landscape import load_landscape
from icam.pipeline.stages.risk import zone_mask
from icam.risk import cloglog
from icam.risk.covariates import distance_to_mask_m
from icam.risk.dynamic import MatchedControlBaseline, MatchingLandscape
from icam.simulate import reference

SCORED_YEARS = range(2009, 2025)
YEAR_OFFSET = 2000
ERROR_KEYS = {"omission": ("omission_share_small_patches", "omission_share_large_patches"),
              "late": ("late_share",), "commission": ("commission_share",)}


@dataclass
class Project:
    """The simulated project as the dynamic baseline sees it, and its truth (loss years, calendar)."""

    land: MatchingLandscape
    zones: dict
    hrp: list
    true_year: np.ndarray
    counterfactual_year: np.ndarray
    config: object
    landscape: object


def read_project(folder: Path) -> Project:
    """The project's landscape as the pipeline's dynamic stage builds it, with its truth."""
    config = load_config(folder / "icam.toml")
    landscape = load_landscape(config)
    masks = stratum_masks(config, landscape, [s.name for s, _, _ in stratum_stocks(config)])
    risk_zone = zone_mask(landscape, config.risk.zone, "risk.zone")
    zones = {z: m & risk_zone for z, m in landscape.zones.masks().items() if z in ZONES}

    def calendar(name: str) -> np.ndarray:
        with rasterio.open(folder / "truth" / name) as src:
            code = src.read(1).astype(np.int16)
        return np.where(code > 0, code + YEAR_OFFSET, 0).astype(np.int16)

    return Project(matching_landscape(config, landscape, masks), zones, historical_years(config),
                   calendar("true_lossyear.tif"), calendar("counterfactual_lossyear.tif"), config, landscape)


@contextmanager
def only_errors(kinds: set[str]):
    """The simulator's map errors with every kind not in ``kinds`` set to 0, for the block."""
    saved = dict(reference.MAP_ERRORS)
    for kind, keys in ERROR_KEYS.items():
        if kind not in kinds:
            reference.MAP_ERRORS.update(dict.fromkeys(keys, 0.0))
    try:
        yield
    finally:
        reference.MAP_ERRORS.clear()
        reference.MAP_ERRORS.update(saved)


def remade_map(p: Project, kinds: set[str], times: int) -> np.ndarray:
    """The true loss through the chosen map errors, ``times`` times over (each time on the last result)."""
    code = np.where(p.true_year > 0, p.true_year - YEAR_OFFSET, 0).astype(np.uint8)
    with only_errors(kinds):
        for i in range(times):
            code, _ = reference.map_with_errors(code, p.land.forest_first, p.land.cell_size_m,
                                                np.random.default_rng(7 + i))
    return np.where(code > 0, code.astype(np.int16) + YEAR_OFFSET, 0).astype(np.int16)


def sieved(loss_year: np.ndarray, min_cells: int) -> np.ndarray:
    """``loss_year`` without the patches of fewer than ``min_cells`` cells lost in one year."""
    out = loss_year.copy()
    for year in np.unique(loss_year[loss_year > 0]):
        labels, _ = ndimage.label(loss_year == year, structure=np.ones((3, 3), bool))
        sizes = np.bincount(labels.ravel())
        out[(labels > 0) & (sizes[labels] < min_cells)] = 0
    return out


@dataclass(frozen=True)
class ErrorProcess:
    """A zone's map errors over an assessment, as its reference sample estimates them."""

    omission: float  # the share of the true loss the map never shows as loss at its cell
    late: float  # the chance a clearing is dated a year late (after the period, for the period's last year)
    commission: float  # the share of the mapped loss that is forest to the period's end (false loss)
    edge_m: float  # the 95th percentile of the false loss's distance to the non-forest at the period's start


def sample_error_process(p: Project) -> dict[tuple[int, int], ErrorProcess]:
    """(zone code, loss year) → its assessment's :class:`ErrorProcess`. The map's loss year at each point
    tells a missed clearing (never mapped) from one dated after the period; stratified totals over the zone's
    own strata (strata by zone)."""
    landscape, activity = p.landscape, p.config.activity_data
    region = activity_zone(landscape.zones, landscape.grid.shape, activity.zone)
    out = {}
    for a in activity.assessments:
        _, area = stratum_areas(strata_by_zone(activity_map(landscape.forest, region, a.start_year, a.end_year),
                                               landscape.zones), landscape.grid)
        table = pd.read_csv(a.samples)
        rows, cols = rowcol(landscape.grid.transform, table["x"].to_numpy(float), table["y"].to_numpy(float))
        rows, cols = np.asarray(rows), np.asarray(cols)
        map_year = pd.Series(p.land.loss_year[rows, cols], index=table.index)
        is_loss = table["ref_class"] == FOREST_LOSS
        distance_m = ndimage.distance_transform_edt(landscape.forest.forest_in(a.start_year)) * p.land.cell_size_m
        at_point = distance_m[rows, cols]
        for code in (0, 1, 2):
            in_zone = ((table["stratum"] // 10) == code).to_numpy()
            strata = table["stratum"].to_numpy()[in_zone]

            def total_ha(indicator: pd.Series, in_zone=in_zone, strata=strata, area=area) -> float:
                return stratified_total(indicator.to_numpy()[in_zone], strata, area)[0]

            true_ha = total_ha(is_loss)
            loss_stratum = FOREST_LOSS + 10 * code
            # mapped loss before the period's last year: interpreters take a last-year clearing for forest
            mapped_loss = (table["stratum"] == loss_stratum) & (map_year < a.end_year)
            false = mapped_loss & (table["ref_class"] == STABLE_FOREST)
            last_year_ha = true_ha / (a.end_year - a.start_year)  # the period's loss spread evenly over its years
            process = ErrorProcess(
                omission=total_ha(is_loss & (map_year == 0)) / true_ha if true_ha > 0 else 0.0,
                late=min(1.0, total_ha(is_loss & (map_year > a.end_year)) / last_year_ha) if true_ha > 0 else 0.0,
                commission=float(false.sum() / max(1, mapped_loss.sum())),
                edge_m=float(np.percentile(at_point[false], 95)) if false.any() else 0.0)
            out.update({(code, y): process for y in range(a.start_year + 1, a.end_year + 1)})
    return out


def degraded(loss_year: np.ndarray, p: Project, process: dict, rng: np.random.Generator) -> np.ndarray:
    """``loss_year`` through the sample's error process once more (see ``simex-sample``): from the last year
    back, each clearing (8-connected, one year) dropped or dated a year late; then the false loss, year by
    year."""
    out, zones = loss_year.copy(), zone_codes(p.landscape.zones, loss_year.shape)
    flat_out, flat_zone = out.ravel(), zones.ravel()
    none = ErrorProcess(0.0, 0.0, 0.0, 0.0)
    years = sorted(int(y) for y in np.unique(loss_year[loss_year > 0]))
    for year in reversed(years):  # a clearing moved to year + 1 is not drawn again
        labels, _ = ndimage.label(out == year, structure=np.ones((3, 3), bool))
        cells = np.flatnonzero(labels)
        patch = labels.ravel()[cells] - 1
        _, first = np.unique(patch, return_index=True)
        e = [process.get((z, year), none) for z in range(3)]
        u, zone = rng.random(first.size), flat_zone[cells[first]]
        dropped = u < np.array([x.omission for x in e])[zone]
        late = ~dropped & (u < np.array([x.omission + x.late for x in e])[zone]) & (year < years[-1])
        flat_out[cells[dropped[patch]]] = 0
        flat_out[cells[late[patch]]] = year + 1
    for year in years:
        forest_before = p.land.forest_first & ((out == 0) | (out >= year))
        distance_m = ndimage.distance_transform_edt(forest_before) * p.land.cell_size_m
        never_lost = p.land.forest_first & (out == 0)
        for code in range(3):
            e = process.get((code, year), none)
            n_false = int(round(e.commission * np.count_nonzero((out == year) & (zones == code))))
            candidates = np.flatnonzero(never_lost & (zones == code) & (distance_m <= e.edge_m))
            if n_false and candidates.size:
                flat_out[rng.choice(candidates, size=min(n_false, candidates.size), replace=False)] = year
    return out


def exact_ratios(p: Project, land: MatchingLandscape) -> tuple[dict, dict]:
    """Per zone, true over mapped loss over the historical years; per year, the control area's."""
    hrp = (p.hrp[0], p.hrp[-1])

    def count(mask: np.ndarray, years: np.ndarray, lo: int, hi: int) -> int:
        return int(np.count_nonzero(mask & land.forest_first & (years >= lo) & (years <= hi)))

    zones = {z: (count(m, p.true_year, *hrp) / max(1, count(m, land.loss_year, *hrp)), 0.0)
             for z, m in p.zones.items()}
    control = {y: count(land.control, p.true_year, y, y) / max(1, count(land.control, land.loss_year, y, y))
               for y in range(land.first_year + 1, SCORED_YEARS[-1] + 1)}
    return zones, control


class StaticEdges(MatchingLandscape):
    """The distance to the edge of the first year's forest, whatever the year."""

    def features(self, year: int) -> dict[str, np.ndarray]:
        return super().features(self.first_year)


class Frailty(MatchedControlBaseline):
    """Each cell's hazard divided by 1 + θ·k·H (k = 1 for controls; H = Σ a_s·h_i(s) since the HRP's start)."""

    theta: float = 0.0
    k_prev: dict = None

    def restart(self) -> None:
        self._cumulative = np.zeros(self._land.loss_year.size if self._land else 0)
        self._pending = None

    def _year_effect(self, year, features, forest):
        if self._pending is not None:
            cells, increment = self._pending
            self._cumulative[cells] += increment
        land = self._land
        cells = np.flatnonzero(land.control & forest & (land.strata > 0))
        lost = float(np.count_nonzero(land.loss_year.ravel()[cells] == year))
        hazard = self._hazard(features, cells) / (1 + self.theta * self._cumulative[cells])
        a_y = cloglog.solve_scale(hazard, lost * self._control_ratio.get(year, 1.0))
        zones = np.any(list(self._zones.values()), axis=0)
        every = np.flatnonzero((land.control | zones) & forest & (land.strata > 0))
        self._pending = (every, a_y * self._hazard(features, every))
        return a_y, lost

    def _zone_hazard(self, zone, features, forest):
        land = self._land
        cells = np.flatnonzero(self._zones[zone] & forest & (land.strata > 0))
        k = (self.k_prev or {}).get(zone, 1.0)
        frail = 1 + self.theta * k * self._cumulative[cells]
        return land.strata.ravel()[cells], self._hazard(features, cells) / frail

    def fit(self, land, zones, hrp_years, adjustments=None, control_ratio=None):
        self._land = land
        self.restart()
        return super().fit(land, zones, hrp_years, adjustments, control_ratio)

    def predict(self, years):
        self.restart()
        return super().predict(years)


def baseline_error(p: Project, land: MatchingLandscape, oracle: bool, theta: float = 0.0,
                   reference_year: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """Per zone: the baseline summed over the scored years, and the loss it is compared with (ha): the
    counterfactual's, or ``reference_year``'s."""
    adjustments, control = exact_ratios(p, land) if oracle else (None, None)
    if theta:
        model = Frailty(seed=1)
        model.theta, model.k_prev = theta, {}
        model.fit(land, p.zones, p.hrp, adjustments, control)  # k without the frailty, then with it
        model.k_prev = dict(model.k_)
        model.fit(land, p.zones, p.hrp, adjustments, control)
        model.k_prev = dict(model.k_)
    else:
        model = MatchedControlBaseline(seed=1).fit(land, p.zones, p.hrp, adjustments, control)
    predicted = model.predict(list(range(p.hrp[0], SCORED_YEARS[-1] + 1)))
    years = p.counterfactual_year if reference_year is None else reference_year
    scored = (years >= SCORED_YEARS[0]) & (years <= SCORED_YEARS[-1])
    return {z: (sum(v[y].baseline_ha for v in predicted[z].values() for y in SCORED_YEARS),
                np.count_nonzero(mask & scored) * land.cell_area_ha) for z, mask in p.zones.items()}


def run_variant(p: Project, variant: str) -> list[tuple[str, dict]]:
    """The rows of one variant (module docstring): a label and, per zone, (baseline, compared loss) in ha."""
    name, _, arg = variant.partition("=")
    land = p.land
    if name == "truth":
        return [(variant, baseline_error(p, replace(land, loss_year=p.true_year), oracle=False))]
    if name == "map":
        return [(variant, baseline_error(p, land, oracle=True))]
    if name == "map-unadjusted":
        return [(variant, baseline_error(p, land, oracle=False, reference_year=land.loss_year))]
    if name in ("errors", "simex"):
        kinds = set(arg.split(","))
        times = (1, 2, 3) if name == "simex" else (1,)
        rows = [(f"{name}={arg}, λ={t - 1}", baseline_error(p, replace(land, loss_year=remade_map(p, kinds, t)),
                                                         oracle=True)) for t in times]
        if name == "simex":  # the quadratic through λ = 0, 1, 2 at λ = −1 (Lagrange weights 3, −3, 1)
            (_, b0), (_, b1), (_, b2) = rows
            rows.append((f"{variant}, λ=−1", {z: (3 * b0[z][0] - 3 * b1[z][0] + b2[z][0], b0[z][1]) for z in b0}))
        return rows
    if name == "simex-sample":
        process = sample_error_process(p)
        maps = [land.loss_year]
        for i in range(2):
            maps.append(degraded(maps[-1], p, process, np.random.default_rng(7 + i)))
        rows = [(f"{variant}, λ={i}", baseline_error(p, replace(land, loss_year=m), oracle=True))
                for i, m in enumerate(maps)]
        (_, b0), (_, b1), (_, b2) = rows
        return rows + [(f"{variant}, λ=−1", {z: (3 * b0[z][0] - 3 * b1[z][0] + b2[z][0], b0[z][1]) for z in b0})]
    if name == "sieve":
        return [(variant, baseline_error(p, replace(land, loss_year=sieved(land.loss_year, int(arg))), oracle=True))]
    if name == "ring":
        near = distance_to_mask_m(np.any(list(p.zones.values()), axis=0), land.cell_size_m) <= float(arg) * 1000
        ringed = replace(land, loss_year=p.true_year, control=land.control & near)
        return [(variant, baseline_error(p, ringed, oracle=False))]
    if name == "static-edges":
        fields = {f: getattr(land, f) for f in land.__dataclass_fields__}
        if arg == "truth":
            fields["loss_year"] = p.true_year
        return [(variant, baseline_error(p, StaticEdges(**fields), oracle=arg != "truth"))]
    if name == "frailty":
        return [(variant, baseline_error(p, replace(land, loss_year=p.true_year), oracle=False, theta=float(arg)))]
    raise SystemExit(f"unknown variant {variant!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("variants", nargs="+")
    args = parser.parse_args()
    p = read_project(args.project)
    print(f"| variant | project area: baseline / counterfactual, {SCORED_YEARS[0]}–{SCORED_YEARS[-1]} "
          "| leakage belt |\n|---|---:|---:|")
    for variant in args.variants:
        for label, by_zone in run_variant(p, variant):
            cells = " | ".join(f"{base / cf - 1:+.1%} ({base:,.0f} / {cf:,.0f} ha)"
                               for base, cf in (by_zone[z] for z in ZONES if z in by_zone))
            print(f"| {label} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
