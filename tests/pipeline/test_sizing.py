"""Sizing a period's reference sample for a target half-width of its net reductions (icam.pipeline.sizing),
from the session's small run (seed 42)."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from conftest import copy_project, run_cli
from icam.carbon.eligibility import half_width_with_samples
from icam.carbon.uncertainty import UncertaintyRule
from icam.core.errors import InputError
from icam.pipeline.config import load_config
from icam.pipeline.sizing import period_inputs, read_results, size_sample


def _period_and_target(project) -> tuple[int, int, float]:
    """A monitoring period of the run that a larger sample would help (its half-width with exact activity data
    below the one it has), and a target half-way between the two (%)."""
    for p in read_results(project)["accounting"]["periods"]:
        start, end = int(p["start"][:4]), int(p["end"][:4])
        size = size_sample(project, start, end, 100.0).periods[0]
        if math.isfinite(size.half_width_pct) and size.exact_half_width_pct < 0.8 * size.half_width_pct:
            return start, end, (size.exact_half_width_pct + size.half_width_pct) / 2
    pytest.skip("no period of the small run has activity data a sample could improve")


def test_rebuilt_inputs_give_the_published_half_widths(small_project):
    """The inputs rebuilt from results.json give each period the half-width the run published (same draws'
    count; another seed than the run's, so within Monte Carlo noise; a period whose mean is near 0, with a
    half-width in the thousands of per cent, only checked to stay there)."""
    results = read_results(small_project)
    carbon = load_config(small_project).carbon
    rule = UncertaintyRule(**results["accounting"]["uncertainty_rule"])
    published = {p["start"]: p["uncertainty"] for p in results["accounting"]["periods"]}
    for inputs in period_inputs(results, carbon.market_leakage_factor):
        u = published[inputs.period.start.isoformat()]
        mine = half_width_with_samples(inputs, rule, 1.0, n_draws=carbon.uncertainty_draws, seed=7)
        if u is None or u["half_width_pct"] is None or u["half_width_pct"] > 1000:
            assert not math.isfinite(mine) or mine > 500
        else:
            assert mine == pytest.approx(u["half_width_pct"], rel=0.15)


def test_the_sized_sample_reaches_the_target_and_no_smaller_one_does(small_project):
    start, end, target = _period_and_target(small_project)
    sizing = size_sample(small_project, start, end, target)
    carbon = load_config(small_project).carbon
    results = read_results(small_project)
    rule = UncertaintyRule(**results["accounting"]["uncertainty_rule"])
    n_now = next(a["n"] for a in results["activity_data"]["assessments"]
                 if (a["start_year"], a["end_year"]) == (start, end))
    assert sizing.n_now == n_now and sizing.factor > 1
    assert sizing.n_needed == math.ceil(sizing.factor * n_now)
    inputs = [i for i in period_inputs(results, carbon.market_leakage_factor) if i.period.start.year == start]
    u = [half_width_with_samples(i, rule, m, n_draws=carbon.uncertainty_draws, seed=carbon.seed)
         for i in inputs for m in (sizing.factor, sizing.factor * 0.97)]
    assert u[0] <= target < u[1]


def test_design_draws_the_sized_sample(small_project, tmp_path):
    start, end, target = _period_and_target(small_project)
    sizing = size_sample(small_project, start, end, target)
    code, out = run_cli("area", "design", "--project", small_project, "--period", f"{start}-{end}",
                        "--target-er-half-width", f"{target}", "--out", tmp_path / "o")
    assert code == 0, out
    assert f"{sizing.n_needed:,}" in out
    strata = (tmp_path / "o" / "strata.csv").read_text().splitlines()[1:]
    assert sum(int(line.split(",")[-1]) for line in strata) == sizing.n_needed


def test_targets_no_sample_reaches(small_project, tmp_path):
    start, end, _ = _period_and_target(small_project)
    exact = size_sample(small_project, start, end, 100.0).periods[0].exact_half_width_pct
    code, out = run_cli("area", "design", "--project", small_project, "--period", f"{start}-{end}",
                        "--target-er-half-width", f"{exact / 2:.3f}", "--out", tmp_path / "o")
    assert code == 2 and "with exact activity data its half-width is still" in out.splitlines()[-1], out
    assert not (tmp_path / "o").exists()
    code, out = run_cli("area", "design", "--project", small_project, "--period", f"{start}-{end}",
                        "--target-er-half-width", "100", "--n", "50", "--out", tmp_path / "o")
    assert code == 2 and "leave out --n" in out


def test_a_project_never_run_or_a_period_without_a_sample(small_project, tmp_path):
    bare = copy_project(small_project, tmp_path / "bare")
    shutil.rmtree(bare / "outputs")
    with pytest.raises(InputError, match="has not been run"):
        size_sample(bare, 2014, 2016, 100.0)
    with pytest.raises(InputError, match="no reference sample for 2013-2015"):
        size_sample(small_project, 2013, 2015, 100.0)
    with pytest.raises(InputError, match="percentage above 0"):
        size_sample(small_project, 2014, 2016, -5.0)
    no_carbon = copy_project(small_project, tmp_path / "no-carbon")
    toml = no_carbon / "icam.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text[:text.index("[carbon]")], encoding="utf-8")  # [carbon] and what follows it
    with pytest.raises(InputError, match="no carbon accounting"):
        size_sample(no_carbon, 2014, 2016, 100.0)
    assert json.loads((small_project / "outputs" / "results.json").read_text())["accounting"]
