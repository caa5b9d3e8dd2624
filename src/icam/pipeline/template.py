"""The documented ``icam.toml`` that ``icam init`` writes, generated from the config models.

Every field's comment is its ``description`` in :mod:`icam.pipeline.config`, so the template and the
validation can never disagree. Example values are Alto Mayo's.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from pydantic import BaseModel

from icam.pipeline import config as c

EXAMPLES: dict[tuple[str, str], object] = {
    ("project", "name"): "Alto Mayo Protected Forest",
    ("project", "vcs_id"): 944,
    ("project", "description"): "Avoided unplanned deforestation through conservation agreements, San Martín, Peru",
    ("grid", "crs"): "EPSG:32718",
    ("grid", "resolution_m"): 30,
    ("boundaries", "project_area"): "inputs/boundaries/project_area.gpkg",
    ("boundaries", "leakage_belt"): "inputs/boundaries/leakage_belt.gpkg",
    ("boundaries", "reference_region"): "inputs/boundaries/reference_region.gpkg",
    ("boundaries", "admin_units"): "inputs/boundaries/admin_units.gpkg",
    ("boundaries", "admin_unit_field"): "name",
    ("hansen", "treecover2000"): ["inputs/hansen/*treecover2000*.tif"],
    ("hansen", "lossyear"): ["inputs/hansen/*lossyear*.tif"],
    ("hansen", "datamask"): ["inputs/hansen/*datamask*.tif"],
    ("hansen", "last_year"): 2024,
    ("forest_maps", "maps"): {"2000": "inputs/forest_2000.tif", "2010": "inputs/forest_2010.tif", "2020": "inputs/forest_2020.tif"},
    ("fcc", "file"): "inputs/fcc123.tif",
    ("fcc", "years"): [2000, 2010, 2020],
    ("landcover_stack", "file"): "inputs/mapbiomas_peru_1985_2022.tif",
    ("landcover_stack", "years"): [2000, 2005, 2010, 2015, 2020],
    ("landcover_stack", "forest_classes"): [3, 4, 5, 6],
    ("loss_year", "forest_start"): "inputs/forest_2000.tif",
    ("loss_year", "loss_year"): "inputs/terra_i_loss_year.tif",
    ("loss_year", "start_year"): 2004,
    ("loss_year", "year_offset"): 2004,
    ("loss_year", "last_year"): 2019,
    ("periods", "historical_reference"): [2000, 2008],
    ("periods", "calibration"): [2000, 2004],
    ("periods", "confirmation"): [2004, 2008],
    ("periods", "project_start"): dt.date(2008, 6, 15),
    ("risk.covariates", "roads"): "inputs/roads.gpkg",
    ("risk.covariates", "settlements"): "inputs/settlements.gpkg",
    ("risk.covariates", "rivers"): "inputs/rivers.gpkg",
    ("risk.covariates", "elevation"): "inputs/elevation.tif",
    ("carbon", "project_id"): "VCS944",
    ("carbon", "forest"): {"above_ground": [120.0, 10.0], "below_ground": [32.0, 4.0]},
    ("carbon", "post_deforestation"): {"above_ground": [25.0, 5.0], "below_ground": [7.0, 2.0]},
    ("carbon", "buffer_pct"): 15,
    ("agreements", "households"): "inputs/households.csv",
    ("agreements", "parcels"): "inputs/parcels.gpkg",
    ("agreements", "agreements"): "inputs/agreements.csv",
    ("enforcement", "alerts"): "inputs/alerts/alerts_2024.tif",
    ("enforcement", "observations"): "inputs/patrols/observations.csv",
    ("periods", "monitoring"): [{"start": dt.date(2008, 6, 15), "end": dt.date(2012, 6, 14)},
                                {"start": dt.date(2012, 6, 15), "end": dt.date(2014, 6, 14)}],
}

SOURCES = {
    "hansen": c.HansenSource,
    "forest_maps": c.ForestMapsSource,
    "fcc": c.FccSource,
    "landcover_stack": c.LandcoverStackSource,
    "loss_year": c.LossYearSource,
}


def toml_key(key: object) -> str:
    """A TOML key: bare where it can be (letters, digits, '_', '-'), else a quoted string."""
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else json.dumps(text, ensure_ascii=False)


def toml_value(value: object) -> str:
    """A Python value as a TOML value (strings, numbers, dates, lists, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (str, Path)):
        return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], dict):  # arrays of inline tables, one per line
            return "[\n" + "".join(f"  {toml_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def _section(name: str, model: type[BaseModel], example_key: str, active: bool) -> list[str]:
    prefix = "" if active else "# "
    lines = [f"{prefix}[{name}]"]
    if "kind" in model.model_fields:
        lines += [f"{prefix}# Format of the forest data: one of {', '.join(SOURCES)}.", f'{prefix}kind = "{example_key}"']
    for field_name, field in model.model_fields.items():
        if field_name == "kind" or isinstance(field.default, BaseModel):  # sub-tables get their own [a.b]
            continue
        lines.append(f"{prefix}# {field.description}")
        example = EXAMPLES.get((example_key, field_name))
        if example is not None:
            lines.append(f"{prefix}{field_name} = {toml_value(example)}")
        elif not field.is_required() and (default := field.get_default(call_default_factory=True)) is not None:
            lines.append(f"{prefix}{field_name} = {toml_value(default)}")
        else:
            lines.append(f"# {field_name} =   (optional, no default)")
    return lines + [""]


def config_template() -> str:
    """The commented icam.toml: Alto Mayo's values, Hansen tiles active, other sources commented out."""
    lines = [
        "# icam.toml: the configuration of one REDD+ project. Paths are relative to this file.",
        "# Every key is documented; unknown keys are refused. `icam run .` runs the pipeline.",
        "",
    ]
    for name, model in (("project", c.ProjectSection), ("grid", c.GridSection), ("boundaries", c.BoundariesSection)):
        lines.append(f"# {model.__doc__.strip()}")
        lines += _section(name, model, name, active=True)
    lines.append("# Forest data: one [forest] table; `kind` picks the format. Hansen GFC tiles are active;")
    lines.append("# the other kinds are shown commented out (keep exactly one [forest] table).")
    for kind, model in SOURCES.items():
        lines.append(f"# {model.__doc__.strip()}")
        lines += _section("forest", model, kind, active=kind == "hansen")
    for name, model in (("periods", c.PeriodsSection), ("risk", c.RiskSection),
                        ("risk.covariates", c.RiskCovariates), ("baseline", c.BaselineSection),
                        ("carbon", c.CarbonSection), ("agreements", c.AgreementsSection),
                        ("enforcement", c.EnforcementSection), ("enforcement.priority", c.PrioritySection)):
        lines += [f"# {line.strip()}" for line in model.__doc__.strip().splitlines()]
        # agreements and enforcement are optional, shown commented out
        lines += _section(name, model, name, active=not name.startswith(("agreements", "enforcement")))
    return "\n".join(lines)
