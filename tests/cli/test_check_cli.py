"""``icam check counterfactual``: the checks of a run project's baseline, printed, nothing published."""

import json

import pytest

from conftest import assert_refused, copy_project, folder_state, run_cli


def test_the_check_prints_each_method_and_the_verdict_and_publishes_nothing(small_project, tmp_path):
    folder = copy_project(small_project, tmp_path / "project")
    outputs = folder_state(folder / "outputs")
    code, text = run_cli("check", "counterfactual", folder, "--json")
    assert code == 0, text
    result = json.loads(text)
    matching = result["methods"]["pixel_matching"]
    diagnostics = matching["diagnostics"]
    # an estimate exactly where the pairs lost enough pixels on every side (the small project's protected forest
    # is remote: few of its pixels find a control within the calipers)
    assert diagnostics["identified"] == (min(diagnostics["losses_among_pairs"].values()) >= diagnostics["min_losses"])
    if diagnostics["identified"]:
        low, high = matching["ci90_ha"]
        assert low <= matching["avoided_ha"] <= high
    else:
        assert matching["avoided_ha"] is None and matching["ci90_ha"] is None
    assert [int(y) for y in matching["annual"]] == list(range(2003, 2025))  # five years before the 2008 start
    assert {row["covariate"] for row in matching["diagnostics"]["balance"]} >= {"elevation_km", "slope_deg"}
    # the demo's baseline is the dynamic one, built from matched controls: pixel matching cannot judge it; the
    # synthetic control can, where it has donors enough
    synthetic = result["methods"]["synthetic_control"]
    assert result["methods_left_out"] == ["pixel_matching"]
    assert result["methods_in_verdict"] == (["synthetic_control"] if synthetic["avoided_ha"] is not None else [])
    if synthetic["avoided_ha"] is not None:
        upper = synthetic["ci90_ha"][1]
        assert result["over_crediting_flag"] == (result["baseline_avoided_ha"] > 1.5 * upper)
    run_json = json.loads((folder / "outputs" / "results.json").read_text())
    assert result["baseline_avoided_ha"] == run_json["counterfactual"]["baseline_avoided_ha"]
    assert folder_state(folder / "outputs") == outputs

    code, text = run_cli("check", "counterfactual", folder)
    assert code == 0, text
    assert "pixel" in text and "synthetic" in text
    assert result["verdict"][:30].lower() in " ".join(text.split()).lower()


def test_a_project_without_carbon_accounting_is_refused(small_project, tmp_path):
    folder = copy_project(small_project, tmp_path / "project")
    toml = folder / "icam.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text[:text.index("\n[baseline]")], encoding="utf-8")  # the sections before [baseline]
    assert_refused(folder, "check", "counterfactual", folder, match=r"need \[carbon\]")


def test_an_inflated_baseline_doubles_the_baseline_the_checks_judge(small_project, tmp_path):
    folder = copy_project(small_project, tmp_path / "project")
    before = json.loads((folder / "outputs" / "results.json").read_text())
    toml = folder / "icam.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('methodology = "dynamic"',
                                                               'methodology = "dynamic"\nbaseline_multiplier = 2.0'),
                    encoding="utf-8")
    code, text = run_cli("check", "counterfactual", folder, "--json")
    assert code == 0, text
    result = json.loads(text)
    areas = [p["areas_ha"] for p in before["accounting"]["periods"]]
    baseline = sum(a["baseline_project_ha"] for a in areas)
    observed = sum(a["observed_project_ha"] for a in areas)
    assert before["counterfactual"]["baseline_avoided_ha"] == pytest.approx(baseline - observed)
    assert result["baseline_avoided_ha"] == pytest.approx(2 * baseline - observed)
    synthetic = result["methods"]["synthetic_control"]
    if synthetic["avoided_ha"] is not None:
        assert result["over_crediting_flag"] == (result["baseline_avoided_ha"] > 1.5 * synthetic["ci90_ha"][1])
