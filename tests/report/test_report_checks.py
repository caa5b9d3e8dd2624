"""The report's "Is this baseline over-crediting?" section, against the run's results.json (the small simulated
project, whose icam.toml has [counterfactual]) and a hand-made verdict."""

from __future__ import annotations

import copy
import json

from report_html import parse, rows, texts

SECTION = '<h2 id="counterfactual">Is this baseline over-crediting?</h2>'


def _report(full_small_run) -> tuple[str, dict]:
    out = full_small_run.outputs_dir
    return (out / "report.html").read_text(), json.loads((out / "results.json").read_text())


def test_the_section_shows_each_method_its_balance_and_placebos_as_results_json_has_them(full_small_run):
    html, results = _report(full_small_run)
    checks = results["counterfactual"]
    assert SECTION in html and 'alt="Chart of the loss in the project area by year' in html
    parsed = parse(html)
    matching = checks["methods"]["pixel_matching"]
    row = rows(parsed, "counterfactual-methods", "method")["pixel_matching"]
    if matching["avoided_ha"] is None:
        assert row[1:3] == ["–", "– – –"] and row[4] == "no: no estimate"
        assert "No estimate: the pairs lost too few pixels" in html
    else:
        low, high = matching["ci90_ha"]
        assert row[1] == f"{matching['avoided_ha']:,.0f}" and row[2] == f"{low:,.0f} – {high:,.0f}"
        assert row[4] == "no: the baseline rests on it"  # the demo's baseline is the dynamic one
    balance = parsed.tables["counterfactual-balance-pixel_matching"][1:]
    assert {texts(cells)[0] for _, cells in balance} == {b["covariate"] for b in matching["diagnostics"]["balance"]}
    placebo = matching["diagnostics"]["placebo_in_time"]
    assert len(parsed.tables["counterfactual-placebo-pixel_matching"]) == 1 + placebo["runs"]
    assert " ".join(parsed.paragraphs["counterfactual-verdict"].split()) == (checks["verdict"][:1].upper()
                                                                           + checks["verdict"][1:] + ".")
    synthetic = rows(parsed, "counterfactual-methods", "method")["synthetic_control"]
    in_verdict = "synthetic_control" in checks["methods_in_verdict"]
    assert synthetic[4] == ("yes" if in_verdict else "no: no estimate")


def test_a_flagged_baseline_says_so_in_red(full_small_run):
    from icam.report.build import render_report

    html, results = _report(full_small_run)
    flagged = copy.deepcopy(results)
    flagged["counterfactual"].update(over_crediting_flag=True, methods_in_verdict=["pixel_matching"],
                                     verdict="over-crediting: the baseline avoids 900 ha, more than 1.5 × 400 ha")
    flagged["counterfactual"]["methods"]["pixel_matching"].update(avoided_ha=300.0, ci90_ha=[100.0, 400.0])
    flagged["counterfactual"]["methods"]["pixel_matching"]["diagnostics"]["identified"] = True
    stages = full_small_run.results
    html = render_report(stages["landscape"], stages["forest_change"], flagged, stages["activity_data"])
    assert '<p id="counterfactual-verdict" class="flag"><strong>Over-crediting: the baseline avoids 900 ha' in html
    row = rows(parse(html), "counterfactual-methods", "method")["pixel_matching"]
    assert row[1:3] == ["300", "100 – 400"] and row[4] == "yes"
