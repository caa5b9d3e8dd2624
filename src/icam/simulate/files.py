"""Writing the simulated project: rasters, vectors, tables and its commented icam.toml."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from affine import Affine

from icam.core.atomic import atomic_path, atomic_write_text
from icam.landscape.grid import Grid
from icam.pipeline.template import toml_key, toml_value
from icam.simulate.alerts import ALERT_YEAR
from icam.simulate.params import CRS_EPSG, GENERATED_MARK, GEOTIFF_OPTIONS, PROJECT_START, RISK_CELL_HA
from icam.simulate.reference import INTERPRETER_ERRORS, assessments_config


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: ("" if row.get(c) is None else row.get(c)) for c in columns})
    atomic_write_text(path, buf.getvalue())


def _write_raster(path: Path, array: np.ndarray, transform, nodata=None) -> None:
    """Tiled, compressed GeoTIFF (GEOTIFF_OPTIONS), EPSG:32718, written atomically; no timestamp tags (byte-identical
    per seed)."""
    profile = dict(driver="GTiff", width=array.shape[1], height=array.shape[0], count=1, dtype=array.dtype.name,
                   crs=CRS_EPSG, transform=transform, predictor=3 if array.dtype.kind == "f" else 2, **GEOTIFF_OPTIONS)
    if nodata is not None:
        profile["nodata"] = nodata
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(array, 1)


def _write_vector(path: Path, gdf: gpd.GeoDataFrame) -> None:
    with atomic_path(path) as tmp:
        gdf.to_file(tmp, driver="GPKG", engine="pyogrio", layer=path.stem)


def _tiles(grid: Grid):
    """The 2 x 2 Hansen-style tiles on the grid: (name, window, transform)."""
    h2, w2 = grid.height // 2, grid.width // 2
    for i, (r0, r1) in enumerate(((0, h2), (h2, grid.height))):
        for j, (c0, c1) in enumerate(((0, w2), (w2, grid.width))):
            yield f"r{i}c{j}", (slice(r0, r1), slice(c0, c1)), grid.transform @ Affine.translation(c0, r0)




def config_dict(description: str, scale: str = "project") -> dict:
    """The icam.toml of a simulated project, as a mapping (validated by :func:`icam.pipeline.config.parse_config`).

    At jurisdiction scale (61 million cells) the risk stage runs the benchmark and the local-rate map
    only: the models on covariates take minutes there (list them under [risk] models to run them).
    """
    months = [(2008, 2012), (2012, 2014), (2014, 2016), (2016, 2018), (2018, 2020), (2020, 2022), (2022, 2024)]
    return {
        "project": {"name": "Alto Mayo Protected Forest (simulated)", "vcs_id": 944, "description": description},
        "grid": {"crs": CRS_EPSG, "resolution_m": 30},
        "boundaries": {"project_area": "inputs/boundaries/project_area.gpkg",
                       "leakage_belt": "inputs/boundaries/leakage_belt.gpkg",
                       "reference_region": "inputs/boundaries/reference_region.gpkg",
                       "admin_units": "inputs/boundaries/admin_units.gpkg", "admin_unit_field": "name"},
        "forest": {"kind": "hansen", "treecover2000": ["inputs/hansen/*treecover2000*.tif"],
                   "lossyear": ["inputs/hansen/*lossyear*.tif"], "datamask": ["inputs/hansen/*datamask*.tif"],
                   "canopy_cover_min_pct": 30, "min_mapping_unit_ha": 0.5, "year_offset": 2000, "last_year": 2024},
        "periods": {"historical_reference": [2000, 2008], "calibration": [2000, 2004], "confirmation": [2004, 2008],
                    "project_start": PROJECT_START, "crediting_period_years": 20,
                    "monitoring": [{"start": dt.date(a, 6, 15), "end": dt.date(b, 6, 14)} for a, b in months]},
        "activity_data": {"zone": "reference_region", "strata": "map_classes_by_zone",
                          "assessments": assessments_config(),
                          # the interpreters' documented symmetric error rate (as a QA re-labelling measures it)
                          "label_error_rate": INTERPRETER_ERRORS["swap_share"]},
        "risk": {"zone": "reference_region", "assessment_cell_ha": RISK_CELL_HA,
                 "models": (["local_rate"] if scale == "jurisdiction"
                            else ["logistic", "gradient_boosting", "spatial", "local_rate"]),
                 "covariates": {"roads": "inputs/roads.gpkg", "settlements": "inputs/settlements.gpkg",
                                "rivers": "inputs/rivers.gpkg", "elevation": "inputs/elevation.tif"}},
        "baseline": {"quantity": "average", "years": [2009, 2018], "validity_years": 6},
        "carbon": carbon_config(),
        "enforcement": {
            "alerts": f"inputs/alerts/alerts_{ALERT_YEAR}.tif", "as_of": dt.date(ALERT_YEAR, 12, 31),
            "patrols": "inputs/patrols/patrols.csv", "tracks": "inputs/patrols/tracks/*.gpx",
            "observations": "inputs/patrols/observations.csv", "actions": "inputs/patrols/actions.csv",
        },
        "agreements": {
            "households": "inputs/households.csv", "parcels": "inputs/parcels.gpkg",
            "agreements": "inputs/agreements.csv",
            "benefit_schedule": "inputs/agreements/benefit_schedule.csv",
            "deliveries": "inputs/agreements/deliveries.csv",
            "field_verifications": "inputs/agreements/field_verifications.csv",
            "grievances": "inputs/agreements/grievances.csv",
            "discount_rate": 0.08, "forest_net_revenue_usd_per_ha_yr": 20.0, "admin_cost_usd_per_agreement_yr": 40.0,
            "revenue": {"price_usd_per_tco2e": 6.0, "sold_share": 0.7, "sale_lag_years": 1,
                        "shares": {"agreements": 0.6, "enforcement": 0.2, "monitoring": 0.1, "reserve": 0.1}},
            "alternatives": [
                {"name": "coffee", "net_revenue_usd_per_ha_yr": 600.0, "establishment_cost_usd_per_ha": 1500.0,
                 "years_to_first_revenue": 3},
                {"name": "pasture", "net_revenue_usd_per_ha_yr": 120.0, "establishment_cost_usd_per_ha": 300.0,
                 "years_to_first_revenue": 1}],
        },
        "counterfactual": counterfactual_config(scale),
    }


def counterfactual_config(scale: str) -> dict:
    """[counterfactual] of a simulated project: every forest pixel of the small project is sampled (it loses
    about 8 ha a year), one per hectare elsewhere; the controls are every control pixel (pool_ratio 100 is
    more than the control area holds), so that the protected forest's remote pixels find what pairs there are."""
    return {"density_per_ha": 11.2 if scale == "small" else 1.0, "pool_ratio": 100, "iterations": 3}


def carbon_config() -> dict:
    """[carbon] of a simulated project: elevation strata, the simulated inventory, an NPRT assessment.

    The risk scores are simulated inputs, not Alto Mayo's assessment. The upper-montane stratum has no
    plots and takes an IPCC default: the midpoint of the 60–230 t d.m./ha range the project's notes give
    for South American tropical mountain systems (unconfirmed), with a quarter of the range as its SE.
    """
    ranges = {"lowland_premontane": [800.0, 1500.0], "montane": [1500.0, 2500.0], "upper_montane": [2500.0, 3600.0]}
    strata = [{"name": name, "range": r, "root_to_shoot": 0.27} for name, r in ranges.items()]
    strata[-1].update(ipcc_default_agb_mg_ha=[145.0, 42.5],
                      ipcc_reference="IPCC AGB range 60–230 t d.m./ha, South American tropical mountain systems "
                                     "(midpoint; simulated project, unconfirmed)")
    return {
        "project_id": "VCS944", "methodology": "dynamic",
        "strata_raster": "inputs/elevation.tif", "inventory": "inputs/inventory/trees.csv",
        "wood_density": "inputs/inventory/wood_density.csv",
        "post_deforestation_class": "coffee agroforestry",
        "post_deforestation": {"above_ground": [25.0, 5.0], "below_ground": [7.0, 2.0]},
        "pools": ["above_ground", "below_ground"], "uncertainty_rule": "vcs", "ex_ante_effectiveness": 0.5,
        "uncertainty_draws": 2000, "seed": 42, "strata": strata,
        "non_permanence_risk": {
            "internal": {
                "project_management": {"adaptive_management_plan": True,
                                       "risks": {"enforcement against encroachment needed": 2.0}},
                "financial_viability": {"risks": {"break-even in 4 to 7 years": 3.0}},
                "opportunity_cost": {"risks": {"coffee earns more than conservation": 4.0},
                                     "mitigations": {"legally protected forest": -2.0}},
                "project_longevity": {"longevity_years": 100, "legal_agreement": True, "agreement_100_years": True,
                                      "plan_for_entire_longevity": True}},
            "external": {
                "land_tenure": {"due_process_on_disputes": True, "binding_agreements_with_rights_holders": True,
                                "risks": {"settlers inside the protected forest": 2.0}},
                "community_engagement": {},
                "political": {"risks": {"governance scores of the host country": 2.0}}},
            "natural": {"hazards": {
                "fire": {"significance": "minor", "likelihood": "once_per_25_to_50y", "mitigation": 0.5},
                "extreme_weather": {"significance": "insignificant", "likelihood": "once_per_10_to_25y"},
                "geological": {"significance": "minor", "likelihood": "once_per_50_to_100y"}}},
        },
    }


def _header_only(path: Path) -> bool:
    """A CSV the simulation wrote with its header and no data row."""
    return path.is_file() and len(path.read_text(encoding="utf-8").strip().splitlines()) <= 1


def config_toml(scale: str, seed: int, description: str, out_dir: Path | None = None) -> str:
    """The commented icam.toml text the simulator writes. With ``out_dir``, an ``[agreements]`` file the
    simulation left without a data row (no field visits when the project has no effect) is not listed."""
    mark = f"{GENERATED_MARK} (scale = {scale}, seed = {seed}); rerunning `icam demo` overwrites it."
    comments = {
        "project": "Simulated project modelled on the Alto Mayo Protected Forest (VCS 944); not real data.",
        "grid": "UTM 18S, 30 m; bounds omitted: the grid is the reference region's bounding box.",
        "boundaries": "Boundaries written by the simulator; admin_units is in EPSG:4326 and is reprojected on reading.",
        "forest": "Hansen-format tiles (2 x 2) on the project grid; truth/ holds what they were drawn from.",
        "periods": "Project start 2008-06-15 and the monitoring periods of VCS 944.",
        "activity_data": "Reference samples stratified by map class and zone, designed on the map and labelled from "
                         "the truth through an interpreter-"
                         "error model (truth/reference_samples.json).",
        "risk": "Risk maps fitted in the reference region (the jurisdiction); assessment cells of 25,000 ha, about "
                "the size of the region's districts, so that the VT0007 test has enough cells.",
        "baseline": "VM0015 fixed baseline period 2009–2018 after the 2000–2008 historical reference period.",
        "agreements": "The simulated registry (households, parcels, agreements signed in waves 2012–2016, their "
                      "benefits, deliveries, field visits and grievances); prices and land-use returns are "
                      "simulated, not Alto Mayo's.",
        "enforcement": "Simulated GLAD-like alerts of the last year (with delays, omissions and false alerts; "
                       "truth/alerts.json) and the head office's patrols, observations and actions answering them.",
        "carbon": "Elevation strata with stocks from the simulated tree inventory (upper montane: an IPCC default), "
                  "coffee agroforestry after clearing, simulated Non-Permanence Risk Tool scores.",
        "counterfactual": "Counterfactual checks of the baseline: pixel matching after PACT and a synthetic control "
                          "after West et al., with their placebos, scored against truth/ in docs/credibility.md.",
    }
    lines = [mark, "# Truth for checking icam's estimates: truth/hazard.json, truth/hazard_static.tif, "
             "truth/households.csv, truth/true_lossyear.tif, truth/counterfactual_lossyear.tif, "
             "truth/reference_samples.json, truth/inventory.json, truth/alerts.json.", ""]
    sections = config_dict(description, scale)
    if out_dir is not None:
        sections["agreements"] = {k: v for k, v in sections["agreements"].items()
                                  if not (isinstance(v, str) and v.endswith(".csv") and _header_only(out_dir / v))}
    for section, values in sections.items():
        lines += [f"{GENERATED_MARK}, seed {seed}, scale {scale}: {comments[section]}"]
        lines += _toml_table(f"[{section}]", section, values)
    return "\n".join(lines)


def _toml_table(header: str, name: str, values: dict) -> list[str]:
    """A TOML table: plain keys first, then nested tables ([a.b]) and arrays of tables ([[a.b]])."""
    def nested(v) -> bool:
        return isinstance(v, dict) and any(isinstance(x, dict) for x in v.values())

    def table_array(v) -> bool:
        return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v) and len(v) > 1 and \
            any(isinstance(y, (dict, list)) for x in v for y in x.values())

    lines = [header] + [f"{toml_key(k)} = {toml_value(v)}" for k, v in values.items()
                        if not (nested(v) or table_array(v))]
    lines.append("")
    for k, v in values.items():
        if table_array(v):
            for item in v:
                lines += _toml_table(f"[[{name}.{k}]]", f"{name}.{k}", item)
        elif nested(v):
            lines += _toml_table(f"[{name}.{k}]", f"{name}.{k}", v)
    return lines


