"""icam.toml validation: unknown keys and impossible values name the key; the template is complete."""

import re

import pytest
import tomllib

from icam.core.errors import ConfigError
from icam.pipeline import config as c
from icam.pipeline.config import load_config, parse_config
from icam.pipeline.template import PLACEHOLDERS, SOURCES, config_template, toml_value

BASE = {
    "project": {"name": "t"},
    "grid": {"crs": "EPSG:32718", "resolution_m": 30},
    "forest": {"kind": "fcc", "file": "fcc.tif", "years": [2000, 2010, 2020]},
}


def _with(section, **values):
    data = {k: dict(v) for k, v in BASE.items()}
    data.setdefault(section, {}).update(values)
    return data


@pytest.mark.parametrize("data, words", [
    (_with("grid", pixel=30), "unknown key 'grid.pixel'"),
    (_with("forest", colour="green"), "unknown key 'forest.colour'"),
    ({**BASE, "extras": {}}, "unknown key 'extras'"),
    (_with("grid", resolution_m=-30), "'grid.resolution_m'"),
    (_with("grid", crs="EPSG:4326"), "geographic"),
    (_with("grid", crs="EPSG:999999"), "'grid.crs'"),
    (_with("forest", kind="lidar"), "'forest.kind'"),
    (_with("forest", years=[2000, 2010], loss_codes=[[1], [2]]), "loss_codes"),
    ({"project": {"name": "t"}, "forest": BASE["forest"]}, "missing key 'grid'"),
    (_with("periods", historical_reference=[2008, 2000], calibration=[2000, 2004], confirmation=[2004, 2008],
           project_start="2008-06-15"), "historical_reference"),
])
def test_bad_config_names_the_key(tmp_path, data, words):
    with pytest.raises(ConfigError) as err:
        parse_config(data, tmp_path)
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_relative_paths_resolve_against_the_project_folder(tmp_path):
    config = parse_config(BASE, tmp_path)
    assert config.forest.file == tmp_path / "fcc.tif"


def test_overlapping_monitoring_periods_are_refused(tmp_path):
    periods = {"historical_reference": [2000, 2008], "calibration": [2000, 2004], "confirmation": [2004, 2008],
               "project_start": "2008-06-15",
               "monitoring": [{"start": "2008-06-15", "end": "2012-06-14"},
                              {"start": "2012-06-01", "end": "2014-06-14"}]}
    with pytest.raises(ConfigError, match=r"monitoring\[1\]"):
        parse_config({**BASE, "periods": periods}, tmp_path)


def filled(text: str) -> str:
    """The template with its placeholders replaced (what a user does first)."""
    return (text.replace(toml_value(PLACEHOLDERS[("project", "name")]), '"Floresta de teste"')
            .replace(toml_value(PLACEHOLDERS[("grid", "crs")]), '"EPSG:32720"'))


def blocks(text: str) -> list[str]:
    """The template's blank-line separated blocks (one per section)."""
    return text.split("\n\n")


def uncommented(block: str) -> str:
    """A commented section of the template made active: one '# ' taken off every line from its header on."""
    lines = block.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# ["))
    return "\n".join(lines[:start] + [line.removeprefix("# ") for line in lines[start:]])


def section_block(text: str, header: str, contains: str = "") -> str:
    """The block holding the section ``header`` (active or commented out) and the text ``contains``."""
    line = re.compile(rf"^(# )?{re.escape(header)}$", re.M)
    return next(b for b in blocks(text) if line.search(b) and contains in b)


def test_the_untouched_template_is_refused_for_its_placeholders(tmp_path):
    text = config_template()
    with pytest.raises(ConfigError, match=r"'project.name' = '<project name>': still the template's placeholder"):
        parse_config(tomllib.loads(text), tmp_path)
    name_filled = text.replace('"<project name>"', '"Floresta de teste"')
    crs = re.escape(PLACEHOLDERS[("grid", "crs")])
    with pytest.raises(ConfigError, match=rf"'grid.crs' = '{crs}': still the template's placeholder.*project's own"):
        parse_config(tomllib.loads(name_filled), tmp_path)


def test_the_filled_template_maps_forest_and_issues_nothing(tmp_path):
    text = filled(config_template())
    config = parse_config(tomllib.loads(text), tmp_path)
    assert config.project.vcs_id is None and config.project.description == ""
    assert config.forest.kind == "hansen" and config.forest.datamask == []
    assert config.periods is None and config.risk is None and config.carbon is None
    assert config.boundaries.leakage_belt is None
    active = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert not [line for line in active if "Alto Mayo" in line or "San Mart" in line or "944" in line]


def test_the_template_examples_are_valid_once_uncommented(tmp_path):
    text = filled(config_template())
    for header in ("[periods]", "[activity_data]", "[risk]", "[risk.covariates]", "[baseline]", "[carbon]"):
        block = section_block(text, header)
        text = text.replace(block, uncommented(block))
    config = parse_config(tomllib.loads(text), tmp_path)
    assert config.carbon.project_id == "VCS944" and config.carbon.buffer_pct == 15
    assert [p.end.isoformat() for p in config.periods.monitoring] == ["2012-06-14", "2014-06-14"]
    assert config.risk.covariates.roads == tmp_path / "inputs" / "roads.gpkg"
    assert [a.end_year for a in config.activity_data.assessments] == [2008, 2012]
    assert config.activity_data.label_error_rate == 0.002 and config.activity_data.strata == "map_classes_by_zone"
    hansen = section_block(text, "[forest]", 'kind = "hansen"')
    for kind in ("forest_maps", "fcc", "landcover_stack", "loss_year"):
        other = uncommented(section_block(text, "[forest]", f'kind = "{kind}"'))
        config = parse_config(tomllib.loads(text.replace(hansen, other)), tmp_path)
        assert config.forest.kind == kind


def test_template_documents_every_field():
    text = config_template()
    models = [c.ProjectSection, c.GridSection, c.BoundariesSection, c.PeriodsSection, c.ActivityDataSection,
              c.CarbonSection, *SOURCES.values()]
    for model in models:
        for name, field in model.model_fields.items():
            assert field.description or name == "kind", f"{model.__name__}.{name} has no description"
            assert f"{name} =" in text, f"{model.__name__}.{name} missing from the template"


@pytest.mark.parametrize(("value", "expected"), [('""', None), ('"  "', None), ("944", 944), ('"944"', 944)])
def test_vcs_id_may_be_empty(tmp_path, value, expected):
    data = tomllib.loads(f"[project]\nname = \"t\"\nvcs_id = {value}\n")
    assert parse_config({**BASE, **data}, tmp_path).project.vcs_id == expected


@pytest.mark.parametrize("value", ['"VCS 944"', "0", "-3"])
def test_a_vcs_id_that_is_no_id_is_refused(tmp_path, value):
    data = tomllib.loads(f"[project]\nname = \"t\"\nvcs_id = {value}\n")
    with pytest.raises(ConfigError, match=r"'project.vcs_id'.*; fix it"):
        parse_config({**BASE, **data}, tmp_path)


TOML_WITH_ACCENTS = """# Bosque de Protección Alto Mayo, San Martín (comentario en español)
[project]
name = "Protección"

[grid]
crs = "EPSG:32718"
resolution_m = 30

[forest]
kind = "fcc"
file = "fcc.tif"
years = [2000, 2010, 2020]
"""


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"])
def test_icam_toml_is_read_in_the_encodings_users_save(tmp_path, encoding):
    (tmp_path / "icam.toml").write_bytes(TOML_WITH_ACCENTS.encode(encoding))
    assert load_config(tmp_path).project.name == "Protección"


def test_every_config_error_says_how_to_fix_it(tmp_path):
    cases = [_with("grid", pixel=30), {"project": {"name": "t"}, "forest": BASE["forest"]},
             _with("grid", resolution_m="thirty"), _with("forest", kind="lidar"), _with("grid", crs="EPSG:4326")]
    for data in cases:
        with pytest.raises(ConfigError) as err:
            parse_config(data, tmp_path)
        assert err.value.hint and str(err.value).count("; ") >= 1 and len(str(err.value)) < 250, str(err.value)
