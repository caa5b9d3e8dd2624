"""The Alto Mayo scenario simulator: a synthetic REDD+ project with known truth.

:func:`simulate` writes, into a folder, the inputs a real project would have (Hansen-format
tiles, boundaries, roads, settlements, a DEM, a land-use map, households, parcels and
conservation agreements, and an ``icam.toml``) together with the truth they were drawn
from (the without-project counterfactual loss, the hazard coefficients, each household's
behaviour). The landscape is modelled on the Alto Mayo Protected Forest (182,000 ha, San
Martín, Peru, VCS 944): an elongated protected forest in an upper river valley, crossed by
a national highway with settlements along it.

The steps, one module each: :mod:`~icam.simulate.geometry` (polygons and lines),
:mod:`~icam.simulate.households`, :mod:`~icam.simulate.terrain` (terrain, land use and canopy cover
in 2000), :mod:`~icam.simulate.deforestation` (the true hazard model with and without the project),
:mod:`~icam.simulate.truth`, :mod:`~icam.simulate.files` (the project's files and icam.toml), then
the map's errors and reference samples (:mod:`~icam.simulate.reference`), the tree inventory, the
agreements' history, and the alerts and patrols.

The same seed gives byte-identical rasters.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
from rasterio.features import rasterize

from icam.core.atomic import atomic_write_text
from icam.core.blocks import cores
from icam.core.errors import ConfigError
from icam.core.forked import start_background
from icam.simulate.agreements import write_agreement_history
from icam.simulate.alerts import write_enforcement_history
from icam.simulate.deforestation import Deforestation, ProjectEffect, simulate_loss, static_predictor
from icam.simulate.emissions import emission_factor, truth_by_year
from icam.simulate.files import _tiles, _write_csv, _write_raster, _write_vector, config_dict, config_toml
from icam.simulate.geometry import Geometry, build_geometry
from icam.simulate.households import Households, _place_households
from icam.simulate.inventory import write_inventory
from icam.simulate.params import (
    CRS_EPSG,
    DEFAULT_DISPLACEMENT,
    DEFAULT_PROJECT_EFFECT,
    GENERATED_MARK,
    HANSEN_PREFIX,
    RESOLUTION_M,
    _rng,
    _scale,
)
from icam.simulate.reference import (
    INTERPRETER_ERRORS,
    MAP_ERRORS,
    SAMPLE_SIZE,
    map_with_errors,
    write_reference_samples,
)
from icam.simulate.terrain import LandUse2000, Terrain, build_land_use, build_terrain, canopy_cover_2000
from icam.simulate.truth import hazard_truth, loss_ha_by_year, realised_rates, record_households

Progress = Callable[[str, float], None]


class _Timer:
    """Seconds per step, for the summary."""

    def __init__(self):
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._clock, 2)
        self._clock = now


def _check_folder(out_dir: Path) -> None:
    toml_path = out_dir / "icam.toml"
    if toml_path.exists():
        head = toml_path.read_text(encoding="utf-8", errors="replace")[:400]
        if GENERATED_MARK not in head:
            raise ConfigError(f"{toml_path} exists and was not written by the simulator",
                              "give an empty folder or one holding a simulated project")


def _write_rasters(out_dir: Path, geom: Geometry, terrain: Terrain, lu: LandUse2000, treecover: np.ndarray,
                   loss: Deforestation, x_static: np.ndarray, seed: int) -> dict:
    """The Hansen-format tiles (a map of the truth, with its errors), the DEM, the land-use map, and the truth's
    rasters; returns the map errors realised."""
    grid, inputs = geom.grid, out_dir / "inputs"
    files = [(inputs / "elevation.tif", terrain.dem, grid.transform),
             (inputs / "land_use_2000.tif", lu.land_use, grid.transform),
             (out_dir / "truth" / "counterfactual_lossyear.tif", loss.loss_year_counterfactual, grid.transform),
             (out_dir / "truth" / "true_lossyear.tif", loss.loss_year, grid.transform),
             # the static part of the hazard's linear predictor (all but the year's intercept, the edge term
             # and the project effect): with true_linear_predictor, the ranking a risk map should recover
             (out_dir / "truth" / "hazard_static.tif", x_static, grid.transform)]
    # in threads: GDAL compresses with the GIL released, and each file is written whole by one thread; these
    # files are written while this thread makes the map of the truth, whose errors took 3 s of one core
    with ThreadPoolExecutor(cores()) as pool:
        written = [pool.submit(_write_contiguous, path, array, transform) for path, array, transform in files]
        datamask = np.where(lu.water, 2, 1).astype(np.uint8)
        loss_map, map_errors = map_with_errors(loss.loss_year, lu.forest, RESOLUTION_M,
                                               np.random.default_rng([seed, 8100]))
        written += [pool.submit(_write_contiguous, inputs / "hansen" / f"{HANSEN_PREFIX}_{layer}_{name}.tif",
                                array[window], transform)
                    for name, window, transform in _tiles(grid)
                    for layer, array in (("treecover2000", treecover), ("lossyear", loss_map), ("datamask", datamask))]
        for done in written:
            done.result()
    return map_errors


def _write_contiguous(path: Path, array: np.ndarray, transform) -> None:
    """``array`` written to ``path``, copied (where a window's view) in the thread that writes it."""
    _write_raster(path, np.ascontiguousarray(array), transform)


def _zone_frame(name: str, geometry) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [name], "area_ha": [round(geometry.area / 1e4, 1)]}, geometry=[geometry],
                            crs=CRS_EPSG)


def _write_vectors(out_dir: Path, geom: Geometry, households: Households) -> None:
    """Boundaries, roads, settlements, rivers and parcels (GeoPackage), households (CSV)."""
    crs, inputs = CRS_EPSG, out_dir / "inputs"
    bdir = inputs / "boundaries"
    _write_vector(bdir / "project_area.gpkg",
                  _zone_frame("Bosque de Protección Alto Mayo (simulated)", geom.project_area))
    _write_vector(bdir / "leakage_belt.gpkg", _zone_frame("leakage belt", geom.leakage_belt))
    _write_vector(bdir / "reference_region.gpkg", _zone_frame("reference region", geom.reference_region))
    _write_vector(bdir / "admin_units.gpkg", gpd.GeoDataFrame(
        {"name": [n for n, _ in geom.admin_units]}, geometry=[g for _, g in geom.admin_units], crs=crs).to_crs(4326))
    _write_vector(inputs / "roads.gpkg", gpd.GeoDataFrame(
        {"kind": ["highway"] + ["secondary"] * len(geom.secondary_roads),
         "name": ["Carretera Fernando Belaúnde Terry (PE-5N)"] + [f"Camino vecinal {i + 1}"
                                                                  for i in range(len(geom.secondary_roads))]},
        geometry=[geom.highway, *geom.secondary_roads], crs=crs))
    _write_vector(inputs / "settlements.gpkg", gpd.GeoDataFrame(
        {"name": [n for n, _, _ in geom.settlements], "population": [pop for _, _, pop in geom.settlements]},
        geometry=[pt for _, pt, _ in geom.settlements], crs=crs))
    _write_vector(inputs / "rivers.gpkg", gpd.GeoDataFrame({"name": ["Río Mayo"]}, geometry=[geom.river], crs=crs))
    parcel_cols = ["parcel_id", "household_id", "kind", "area_ha"]
    _write_vector(inputs / "parcels.gpkg", gpd.GeoDataFrame(
        {c: [q[c] for q in households.parcels] for c in parcel_cols},
        geometry=[q["geometry"] for q in households.parcels], crs=crs))
    _write_csv(inputs / "households.csv", households.table,
               ["household_id", "village", "x_m", "y_m", "members", "settled_year", "farm_area_ha", "coffee_area_ha",
                "conservation_area_ha"])


def _write_agreements(out_dir: Path, households: Households, scale: str, seed: int) -> dict:
    """The agreements, their history (benefits, deliveries, visits, grievances) and the households' truth."""
    monitoring = [(m["start"], m["end"]) for m in config_dict("", scale)["periods"]["monitoring"]]
    history = write_agreement_history(out_dir, households.agreements, households.table, seed, monitoring)
    _write_csv(out_dir / "inputs" / "agreements.csv", households.agreements,
               ["agreement_id", "household_id", "signed", "wave", "term_years", "renewed_until",
                "conservation_parcel_id", "committed_area_ha", "commitments", "benefits", "implementer", "authority"])
    _write_csv(out_dir / "truth" / "households.csv", households.table,
               ["household_id", "agreement_id", "signed", "behaviour", "breach_year", "breach_area_ha",
                "ca_loss_before_signing_ha", "ca_loss_after_signing_ha", "ca_loss_after_signing_counterfactual_ha",
                "ca_loss_2001_2024_ha", "conservation_area_ha"])
    return history


def _write_json(path: Path, content: dict, **kwargs) -> None:
    atomic_write_text(path, json.dumps(content, indent=2, **kwargs) + "\n")


def _write_inventory(out_dir: Path, seed: int) -> dict:
    """The tree inventory and its truth, which it returns."""
    inventory_truth = write_inventory(out_dir, seed)
    _write_json(out_dir / "truth" / "inventory.json", inventory_truth)
    return inventory_truth


def _write_samples(out_dir: Path, loss: Deforestation, map_errors: dict, scale: str, seed: int) -> None:
    """The labelled reference samples and their truth."""
    true_areas = write_reference_samples(out_dir, loss.loss_year, scale, seed)
    _write_json(out_dir / "truth" / "reference_samples.json", {
        "map_errors": {**MAP_ERRORS, "realised_px": map_errors},
        "interpreter_errors": INTERPRETER_ERRORS,
        "sample_size": dict(zip(("n_total", "min_per_class"), SAMPLE_SIZE[scale])),
        "zone": "reference_region",
        "true_area_ha_by_period": true_areas,
    })


def _write_emissions_truth(out_dir: Path, geom: Geometry, terrain: Terrain, lu: LandUse2000, loss: Deforestation,
                           inventory_truth: dict, effect: ProjectEffect, cell_ha: float) -> None:
    """truth/emission_factor_tco2e_per_ha.tif and truth/truth.json (:mod:`icam.simulate.emissions`)."""
    ef = emission_factor(terrain.dem, lu.forest, inventory_truth)
    _write_raster(out_dir / "truth" / "emission_factor_tco2e_per_ha.tif", ef, geom.grid.transform, nodata=np.nan)
    _write_json(out_dir / "truth" / "truth.json", truth_by_year(
        loss, terrain.project_mask & lu.forest, ef, cell_ha, effect.effect, effect.displacement))


def _belt_mask(geom: Geometry) -> np.ndarray:
    grid = geom.grid
    return rasterize([(geom.leakage_belt, 1)], out_shape=grid.shape, transform=grid.transform, fill=0,
                     dtype="uint8").astype(bool)


def _check_effect(project_effect: float, displacement: float) -> ProjectEffect:
    for name, value in (("project effect", project_effect), ("displacement", displacement)):
        if not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"{name} {value} is outside [0, 1]", "give a share between 0 and 1")
    return ProjectEffect(float(project_effect), float(displacement))


def _write_alerts(out_dir: Path, geom: Geometry, terrain: Terrain, lu: LandUse2000, households: Households,
                  loss: Deforestation, seed: int) -> None:
    """The last year's GLAD-like alerts and the head office's patrols answering them."""
    grid = geom.grid
    belt_mask = _belt_mask(geom)
    agreement_of = {a["conservation_parcel_id"]: a["agreement_id"] for a in households.agreements}
    conservation = [q for q in households.parcels if q["kind"] == "conservation"]
    parcels = gpd.GeoDataFrame({"agreement": [agreement_of.get(q["parcel_id"]) for q in conservation],
                                "household": [q["household_id"] for q in conservation]},
                               geometry=[q["geometry"] for q in conservation], crs=CRS_EPSG)
    truth = write_enforcement_history(
        out_dir, loss.loss_year, lu.forest, grid, CRS_EPSG,
        {"project_area": terrain.project_mask, "leakage_belt": belt_mask},
        parcels[parcels["agreement"].notna()].reset_index(drop=True), seed)
    _write_json(out_dir / "truth" / "alerts.json", truth)


def _write_alerts_and_emissions(out_dir: Path, geom: Geometry, terrain: Terrain, lu: LandUse2000,
                                households: Households, loss: Deforestation, inventory_truth: dict,
                                effect: ProjectEffect, seed: int) -> None:
    """:func:`_write_alerts`, then :func:`_write_emissions_truth` (in :func:`simulate`'s forked process)."""
    _write_alerts(out_dir, geom, terrain, lu, households, loss, seed)
    _write_emissions_truth(out_dir, geom, terrain, lu, loss, inventory_truth, effect, geom.grid.nominal_cell_area_ha)


def _summary(scale: str, seed: int, geom: Geometry, terrain: Terrain, lu: LandUse2000, loss: Deforestation,
             households: Households, cell_ha: float) -> dict:
    region_forest, project_forest = terrain.region_mask & lu.forest, terrain.project_mask & lu.forest
    forest_region_px = int(np.count_nonzero(region_forest))
    region_loss = loss_ha_by_year(loss.loss_year, region_forest, cell_ha)
    project_loss = loss_ha_by_year(loss.loss_year, project_forest, cell_ha)
    project_loss_cf = loss_ha_by_year(loss.loss_year_counterfactual, project_forest, cell_ha)
    rates = realised_rates(loss.loss_year, region_forest)
    return {
        "scale": scale,
        "seed": seed,
        "shape": list(geom.grid.shape),
        "reference_region_area_ha": round(geom.reference_region.area / 1e4, 1),
        "project_area_ha": round(geom.project_area.area / 1e4, 1),
        "forest_2000_ha": round(forest_region_px * cell_ha, 1),
        "forest_2000_share": round(forest_region_px / int(np.count_nonzero(terrain.region_mask)), 4),
        "loss_ha_by_year_reference_region": {y: round(v, 1) for y, v in region_loss.items()},
        "mean_loss_rate_pct_per_year": round(100 * float(np.mean(list(rates.values()))), 3),
        "project_loss_2009_2024_ha": round(sum(v for y, v in project_loss.items() if y >= 2009), 1),
        "project_loss_2009_2024_counterfactual_ha": round(sum(v for y, v in project_loss_cf.items() if y >= 2009), 1),
        "n_households": len(households.table),
        "n_agreements": len(households.agreements),
        "n_breaching": sum(1 for hh in households.table if hh["behaviour"] == "breaches"),
    }


def simulate(out_dir: Path, scale: str = "project", seed: int = 42, progress: Progress | None = None,
             project_effect: float = DEFAULT_PROJECT_EFFECT, displacement: float = DEFAULT_DISPLACEMENT) -> dict:
    """Write a simulated Alto Mayo project (inputs, icam.toml, truth) into ``out_dir``; return a summary.

    ``scale``: "small" (896² cells, for tests), "project" (3,472² cells, ~1 Mha reference region) or
    "jurisdiction" (7,824² cells, ~5.1 Mha, 66 % forest in 2000). ``progress(description, fraction_done)``
    is called between stages. ``project_effect`` F: the fractional reduction of the clearing hazard inside
    the project area after the start (0 = none); ``displacement`` D: the share of the clearing prevented
    inside the project that moves to the leakage belt's forest in the same year; both in [0, 1]. The same
    seed and parameters give byte-identical rasters.
    """
    p = _scale(scale)
    effect = _check_effect(project_effect, displacement)
    out_dir = Path(out_dir)
    _check_folder(out_dir)
    report = progress or (lambda _d, _f: None)
    timer = _Timer()
    report("simulating: geometry", 0.0)
    geom = build_geometry(scale, seed)
    cell_ha = geom.grid.nominal_cell_area_ha
    households = _place_households(geom, _rng(seed, 2))
    timer.lap("geometry_s")
    report("simulating: terrain and land use in 2000", 0.05)
    rng_fields = _rng(seed, 3)  # one generator, drawn in a fixed order: terrain, land use, canopy, hazard
    terrain = build_terrain(geom, rng_fields)
    timer.lap("terrain_s")
    lu = build_land_use(geom, households, terrain, rng_fields)
    treecover = canopy_cover_2000(lu, rng_fields)
    timer.lap("land_use_s")
    x_static = static_predictor(geom, terrain, rng_fields)
    loss = simulate_loss(terrain, lu, households, x_static, seed, cell_ha, report, effect, _belt_mask(geom))
    timer.lap("deforestation_s")
    record_households(households, lu, loss, cell_ha)
    inventory_truth = _write_inventory(out_dir, seed)
    # the alerts, the patrols and the emissions' truth need nothing written below: a forked process writes them
    # meanwhile (6 of the jurisdiction's 20 s of writing, on a core that waited), forked before the rasters'
    # GDAL threads run
    beside = start_background(functools.partial(_write_alerts_and_emissions, out_dir, geom, terrain, lu, households,
                                                loss, inventory_truth, effect, seed))
    try:
        report("simulating: writing rasters", 0.87)
        map_errors = _write_rasters(out_dir, geom, terrain, lu, treecover, loss, x_static, seed)
        del treecover, x_static
        timer.lap("write_rasters_s")
        report("simulating: writing vectors and tables", 0.95)
        _write_vectors(out_dir, geom, households)
        history = _write_agreements(out_dir, households, scale, seed)
        _write_json(out_dir / "truth" / "hazard.json", hazard_truth(
            scale, seed, p.forest_share_2000, terrain, lu, loss, households, history, cell_ha, effect),
            ensure_ascii=False)
        description = (f"Simulated landscape modelled on the Alto Mayo Protected Forest, San Martín, Peru "
                       f"(scale {scale}, seed {seed}); not real data")
        atomic_write_text(out_dir / "icam.toml", config_toml(scale, seed, description, out_dir))
        timer.lap("write_vectors_s")
        report("simulating: labelling reference samples", 0.97)
        _write_samples(out_dir, loss, map_errors, scale, seed)
        timer.lap("reference_samples_s")
        report("simulating: alerts and patrols", 0.98)
        beside.result()
    except BaseException:
        beside.cancel()  # an error here, or Ctrl-C: the process writing beside goes too
        raise
    timer.lap("alerts_patrols_s")
    report("simulating: done", 1.0)
    return {**_summary(scale, seed, geom, terrain, lu, loss, households, cell_ha), "timings_s": timer.timings}
