"""The simulator's project effect, displacement, true emissions, interpreter errors and calibration to Alto Mayo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

from icam.core.errors import ConfigError
from icam.simulate.calibration import calibration_figures
from icam.simulate.scenario import simulate

SEED = 7


@pytest.fixture(scope="module")
def default(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "default"
    simulate(out, "small", SEED)
    return out


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def _truth(folder: Path) -> dict:
    return json.loads((folder / "truth" / "truth.json").read_text(encoding="utf-8"))


def test_no_project_effect_changes_nothing(tmp_path):
    folder = tmp_path / "none"
    simulate(folder, "small", SEED, project_effect=0.0, displacement=0.5)
    truth = _truth(folder)
    for year, row in truth["by_year"].items():
        assert row["loss_project_with_project_ha"] == row["loss_project_without_project_ha"], year
        assert row["displaced_loss_ha"] == 0 and row["prevented_project_ha"] == 0, year
        assert row["emissions_with_project_tco2e"] == row["emissions_without_project_tco2e"], year
    assert np.array_equal(_read(folder / "truth" / "true_lossyear.tif"),
                          _read(folder / "truth" / "counterfactual_lossyear.tif"))
    hazard = json.loads((folder / "truth" / "hazard.json").read_text(encoding="utf-8"))
    assert hazard["hazard_ratio_project"] == 1.0 and hazard["coefficients"]["beta_project"] == 0.0


def test_no_displacement_displaces_nothing(tmp_path):
    folder = tmp_path / "stay"
    simulate(folder, "small", SEED, displacement=0.0)
    rows = _truth(folder)["by_year"].values()
    assert all(r["displaced_loss_ha"] == 0 for r in rows)
    assert sum(r["prevented_project_ha"] for r in rows) > 0


def test_displaced_loss_is_the_share_of_the_prevented_loss(default):
    truth = _truth(default)
    cell_ha, share = truth["cell_area_ha"], truth["displacement"]
    assert share == 0.2 and truth["project_effect"] == 0.38
    total = 0.0
    for year, row in truth["by_year"].items():
        if int(year) < 2008:
            assert row["displaced_loss_ha"] == 0 and row["prevented_project_ha"] == 0
            assert row["loss_project_with_project_ha"] == row["loss_project_without_project_ha"]
        prevented = max(0.0, row["loss_project_without_project_ha"] - row["loss_project_with_project_ha"])
        assert row["prevented_project_ha"] == pytest.approx(prevented, abs=1e-6)
        assert abs(row["displaced_loss_ha"] - share * prevented) <= cell_ha, year
        total += row["displaced_loss_ha"]
    assert total > 0
    hazard = json.loads((default / "truth" / "hazard.json").read_text(encoding="utf-8"))
    assert sum(hazard["leakage"]["displaced_ha_by_year"].values()) == pytest.approx(total, abs=0.1)


def test_emissions_are_the_emission_factor_times_the_area_lost(default):
    with rasterio.open(default / "truth" / "emission_factor_tco2e_per_ha.tif") as src:
        assert src.dtypes[0] == "float32" and np.isnan(src.nodata)
        ef, cell_ha = src.read(1).astype(np.float64), abs(src.transform.a * src.transform.e) / 1e4
    forest = _read(default / "inputs" / "land_use_2000.tif") == 1
    assert np.isnan(ef[~forest]).all() and np.isfinite(ef[forest]).all()
    # the simulator's own stock model: (AGB × 1.27 × 0.47 − (25 + 7) tC/ha) × 44/12 per elevation stratum
    agb = {k: v["target_agb_mg_ha"] for k, v in json.loads(
        (default / "truth" / "inventory.json").read_text(encoding="utf-8"))["strata"].items()}
    expected = {name: (a * 1.27 * 0.47 - 32.0) * 44 / 12 for name, a in agb.items()}
    dem = _read(default / "inputs" / "elevation.tif")
    lowland = forest & (dem < 1500)
    assert np.allclose(ef[lowland], expected["lowland_premontane"], rtol=1e-6)
    values = np.unique(ef[forest])
    assert np.abs(values[:, None] - np.array(list(expected.values()))[None, :]).min(axis=1).max() < 1e-3
    truth = _truth(default)["by_year"]
    for name, key in (("true_lossyear.tif", "emissions_with_project_tco2e"),
                      ("counterfactual_lossyear.tif", "emissions_without_project_tco2e")):
        lossyear = _read(default / "truth" / name)
        for year, row in truth.items():
            lost = lossyear == int(year) - 2000
            assert row[key] == pytest.approx(ef[lost].sum() * cell_ha, rel=1e-6), (name, year)
    assert sum(r["emissions_without_project_tco2e"] for r in truth.values()) > sum(
        r["emissions_with_project_tco2e"] for r in truth.values())


def test_interpreter_errors_are_recorded_per_sample(default):
    kinds = []
    for path in sorted((default / "inputs" / "reference_samples").glob("*.csv")):
        labels = pd.read_csv(path)
        truth = pd.read_csv(default / "truth" / "reference_samples" / path.name, keep_default_na=False)
        assert list(truth.columns) == ["id", "true_class", "label", "error", "error_kind"]
        assert (truth["id"] == labels["id"]).all() and (truth["label"] == labels["ref_class"]).all(), path.name
        assert (truth["error"].astype(str) == "True").eq(truth["label"] != truth["true_class"]).all(), path.name
        assert set(truth["error_kind"]) <= {"", "swap", "too_recent", "dated_in"}
        kinds.append(truth)
    truth = pd.concat(kinds)
    assert 0 < (truth["error_kind"] == "swap").mean() < 0.01
    # symmetric by default: each true class is swapped at the same rate
    info = json.loads((default / "truth" / "reference_samples.json").read_text(encoding="utf-8"))
    assert set(info["interpreter_errors"]) == {"swap_share", "boundary_year_share"}


@pytest.mark.parametrize(("effect", "displacement"), [(-0.1, 0.2), (0.38, 1.5), (float("nan"), 0.2)])
def test_effect_and_displacement_are_shares(tmp_path, effect, displacement):
    with pytest.raises(ConfigError, match="outside \\[0, 1\\]"):
        simulate(tmp_path / "bad", "small", SEED, project_effect=effect, displacement=displacement)
    assert not (tmp_path / "bad" / "icam.toml").exists()


def test_calibrated_to_the_alto_mayo_protected_forest(tmp_path):
    """The calibration acceptance figures at the small scale, scaled to the AMPF's 182,000 ha (the small project
    is a 6,000 ha copy of it under the same parameters), as the mean of three seeds; the project scale's figures
    are benchmarks/simulator_calibration.py's (docs/methods.md)."""
    rows = []
    for seed in (5, 7, 42):
        simulate(tmp_path / str(seed), "small", seed)
        rows.append(calibration_figures(tmp_path / str(seed)))
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    assert 250 <= mean["loss_2001_2012_ha_at_182000ha_per_yr"] <= 450, mean
    assert 120 <= mean["loss_2018_2022_ha_at_182000ha_per_yr"] <= 300, mean
    assert abs(mean["forest_2014_ha_at_182000ha"] / 144_000 - 1) <= 0.05, mean
    assert all(0.5 <= r["region_loss_pct_per_yr"] <= 1.0 for r in rows), rows


def test_demo_refuses_an_effect_outside_zero_one(tmp_path):
    from conftest import run_cli

    code, output = run_cli("demo", "--dir", tmp_path / "d", "--scale", "small", "--project-effect", "1.2")
    assert code == 2 and output.startswith("error:") and "project effect 1.2 is outside [0, 1]" in output
    assert len(output.strip().splitlines()) <= 2, output
    code, output = run_cli("demo", "--dir", tmp_path / "d", "--scale", "small", "--displacement", "-0.5")
    assert code == 2 and "displacement -0.5 is outside [0, 1]" in output
