"""The documented ``icam.toml`` that ``icam init`` writes, generated from the config models.

Every field's comment is its ``description`` in :mod:`icam.pipeline.config`, so the template and the
validation can never disagree. The template is neutral: what only the project can say (its name, its
grid's CRS) is a ``<placeholder>`` that the configuration refuses until it is replaced, so that nothing
is ever published under a placeholder; every Alto Mayo figure is a commented example, and the sections
that issue credits ([periods] onwards) are commented out. A project started from the untouched
template (placeholders filled in) maps forest change and issues nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from pathlib import Path

from pydantic import BaseModel

from icam.pipeline import config as c

# values the user must replace: `load_config` refuses them as they are
PLACEHOLDERS: dict[tuple[str, str], str] = {
    ("project", "name"): "<project name>",
    ("grid", "crs"): "<projected CRS in metres, e.g. the UTM zone of the project>",
}
# optional keys written active although they have no default
ACTIVE: dict[tuple[str, str], object] = {
    ("project", "vcs_id"): "",
    ("boundaries", "project_area"): "inputs/boundaries/project_area.gpkg",
}
EXAMPLES: dict[tuple[str, str], object] = {
    ("project", "name"): "Alto Mayo Protected Forest",
    ("project", "vcs_id"): 944,
    ("grid", "crs"): "EPSG:32718",
    ("grid", "resolution_m"): 30,
    ("grid", "bounds"): [200_000, 9_250_000, 300_000, 9_350_000],
    ("boundaries", "leakage_belt"): "inputs/boundaries/leakage_belt.gpkg",
    ("boundaries", "reference_region"): "inputs/boundaries/reference_region.gpkg",
    ("boundaries", "admin_units"): "inputs/boundaries/admin_units.gpkg",
    ("hansen", "treecover2000"): ["inputs/hansen/*treecover2000*.tif"],
    ("hansen", "lossyear"): ["inputs/hansen/*lossyear*.tif"],
    ("hansen", "datamask"): ["inputs/hansen/*datamask*.tif"],
    ("hansen", "last_year"): 2024,
    ("forest_maps", "maps"): {"2000": "inputs/forest_2000.tif", "2010": "inputs/forest_2010.tif",
                              "2020": "inputs/forest_2020.tif"},
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
    ("periods", "monitoring"): [{"start": dt.date(2008, 6, 15), "end": dt.date(2012, 6, 14)},
                                {"start": dt.date(2012, 6, 15), "end": dt.date(2014, 6, 14)}],
    ("activity_data", "strata"): "map_classes_by_zone",
    ("activity_data", "assessments"): [
        {"name": "historical reference period 2000-2008", "start_year": 2000, "end_year": 2008,
         "samples": "inputs/reference_samples/hrp_2000_2008.csv"},
        {"name": "monitoring 2008-2012", "start_year": 2008, "end_year": 2012,
         "samples": "inputs/reference_samples/monitoring_2008_2012.csv"}],
    ("activity_data", "label_error_rate"): 0.002,
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
}

SOURCES = {
    "hansen": c.HansenSource,
    "forest_maps": c.ForestMapsSource,
    "fcc": c.FccSource,
    "landcover_stack": c.LandcoverStackSource,
    "loss_year": c.LossYearSource,
}
# commented out: the sections after [forest] (credits need [periods], [risk], [baseline] and [carbon]; sample-based
# areas need [activity_data])
EXAMPLE_SECTIONS = (("periods", c.PeriodsSection), ("activity_data", c.ActivityDataSection),
                    ("risk", c.RiskSection), ("risk.covariates", c.RiskCovariates),
                    ("baseline", c.BaselineSection), ("carbon", c.CarbonSection),
                    ("agreements", c.AgreementsSection), ("enforcement", c.EnforcementSection),
                    ("enforcement.priority", c.PrioritySection), ("counterfactual", c.CounterfactualSection))
_WIDTH = 110


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


def _comment(text: str, prefix: str = "") -> list[str]:
    """``text`` as wrapped comment lines (behind ``prefix``, the section's own comment mark)."""
    lines = textwrap.wrap(" ".join(text.split()), _WIDTH)
    return [f"{prefix}# {line}" for line in lines]


def _assignment(name: str, value: object, prefix: str) -> list[str]:
    return [f"{prefix}{line}" for line in f"{name} = {toml_value(value)}".splitlines()]


def _field_lines(section: str, example_key: str, name: str, field, prefix: str) -> list[str]:
    """A field's description, then its line: a placeholder, an active value, a commented example, or a note."""
    lines = _comment(field.description or "", prefix)
    key = (example_key, name)
    example = EXAMPLES.get(key)
    if key in PLACEHOLDERS:
        lines += _assignment(name, PLACEHOLDERS[key], prefix)
        if example is not None:
            lines += _assignment(name, example, prefix + "# example: ")
    elif key in ACTIVE:
        lines += _assignment(name, ACTIVE[key], prefix)
        if example is not None:
            lines += _assignment(name, example, prefix + "# example: ")
    elif example is not None:  # in an active section, an optional key's example stays a comment
        lines += _assignment(name, example, prefix if field.is_required() or prefix else "# ")
    elif not field.is_required() and (default := field.get_default(call_default_factory=True)) is not None:
        lines += _assignment(name, default, prefix)
    else:
        lines.append(f"{prefix}# {name} =   (optional, no default)")
    return lines


def _section(name: str, model: type[BaseModel], example_key: str, active: bool) -> list[str]:
    prefix = "" if active else "# "
    lines = _comment(model.__doc__ or "") + [f"{prefix}[{name}]"]
    if "kind" in model.model_fields:
        lines += [f"{prefix}# Format of the forest data: one of {', '.join(SOURCES)}.",
                  f'{prefix}kind = "{example_key}"']
    for field_name, field in model.model_fields.items():
        if field_name == "kind" or isinstance(field.default, BaseModel):  # sub-tables get their own [a.b]
            continue
        lines += _field_lines(name, example_key, field_name, field, prefix)
    return lines + [""]


def config_template() -> str:
    """The commented icam.toml: placeholders to replace, Hansen tiles active, every other source and every
    section from [periods] on commented out with Alto Mayo's values as examples."""
    lines = [
        "# icam.toml: the configuration of one REDD+ project. Paths are relative to this file.",
        "# Every key is documented; unknown keys are refused. `icam run .` runs the pipeline.",
        "# Replace every <placeholder> (icam refuses to run with one). Lines starting with '# example:'",
        "# and the commented sections show Alto Mayo's values (VCS 944, San Martín, Peru): examples only.",
        "",
    ]
    for name, model in (("project", c.ProjectSection), ("grid", c.GridSection), ("boundaries", c.BoundariesSection)):
        lines += _section(name, model, name, active=True)
    lines += ["# Forest data: one [forest] table; `kind` picks the format. Hansen GFC tiles are active;",
              "# the other kinds are shown commented out (keep exactly one [forest] table).", ""]
    for kind, model in SOURCES.items():
        lines += _section("forest", model, kind, active=kind == "hansen")
    lines += ["# ------------------------------------------------------------------------------------------",
              "# Everything below is commented out: examples with Alto Mayo's values. Uncomment [periods],",
              "# [risk] and [baseline] for the risk map and the baseline, then [carbon] for credits, and put",
              "# the project's own figures in them (a published figure must be the project's, not an example).",
              ""]
    for name, model in EXAMPLE_SECTIONS:
        lines += _section(name, model, name, active=False)
    return "\n".join(lines)
