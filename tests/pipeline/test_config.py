"""icam.toml validation: unknown keys and impossible values name the key; the template is complete."""

import pytest
import tomllib

from icam.core.errors import ConfigError
from icam.pipeline import config as c
from icam.pipeline.config import parse_config
from icam.pipeline.template import SOURCES, config_template

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
               "monitoring": [{"start": "2008-06-15", "end": "2012-06-14"}, {"start": "2012-06-01", "end": "2014-06-14"}]}
    with pytest.raises(ConfigError, match=r"monitoring\[1\]"):
        parse_config({**BASE, "periods": periods}, tmp_path)


def test_template_is_valid_and_documents_every_field(tmp_path):
    text = config_template()
    config = parse_config(tomllib.loads(text), tmp_path)
    assert config.project.vcs_id == 944 and config.forest.kind == "hansen"
    models = [c.ProjectSection, c.GridSection, c.BoundariesSection, c.PeriodsSection, c.CarbonSection, *SOURCES.values()]
    for model in models:
        for name, field in model.model_fields.items():
            assert field.description or name == "kind", f"{model.__name__}.{name} has no description"
            assert f"{name} =" in text, f"{model.__name__}.{name} missing from the template"
