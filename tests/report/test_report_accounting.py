"""The report's "Carbon accounting" section: a hand-worked results["accounting"] rendered into the report of a
simulated project (run through the pipeline once for the module), and the pipeline's own accounting."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import io
import json
import re

import pytest
from PIL import Image

from report_html import Tables as _Tables
from report_html import parse as _parse
from report_html import rows as _rows
from report_html import texts as _texts

SECTION = '<h2 id="accounting">Carbon accounting</h2>'
DEFAULT_BADGE = "IPCC default — no plots in this stratum"
RULE = {"name": "excess over 10 % at 90 % (unverified)", "confidence": 0.9, "threshold_pct": 10.0, "form": "excess",
        "scale": 1.0, "z": 1.0, "ineligible_above_pct": 100.0}


def _period(start, end, be, pe, lk_as, lk_m, u_pct, buffer_pct, vintages, by_stratum=None, beyond=False):
    """One period worked as icam.carbon.accounting does: NER = max(0, BE − PE − LK), d = max(0, U − 10) %,
    buffer credits = ⌈buffer⌉, credits = ⌊NER − UD⌋ − buffer credits. ``vintages``: (year, days, credits, buffer)."""
    import math

    lk = lk_as + lk_m
    ner = max(0.0, be - pe - lk)
    d = max(0.0, u_pct - 10.0) / 100
    ud = d * ner
    buffer_tco2e = buffer_pct / 100 * (ner - ud)
    buffer_credits = math.ceil(buffer_tco2e - 1e-9) if buffer_tco2e > 0 else 0
    credits = math.floor(ner - ud + 1e-9) - buffer_credits
    assert sum(v[2] for v in vintages) == credits and sum(v[3] for v in vintages) == buffer_credits
    return {
        "start": start, "end": end, "baseline_emissions_tco2e": be, "project_emissions_tco2e": pe,
        "leakage_tco2e": lk, "activity_shifting_leakage_tco2e": lk_as, "market_leakage_tco2e": lk_m,
        "other_leakage_tco2e": 0.0, "net_reductions_tco2e": ner, "shortfall_tco2e": max(0.0, pe + lk - be),
        "uncertainty_deduction_tco2e": ud,
        "uncertainty": {"half_width_pct": u_pct, "deduction_fraction": d, "n_draws": 2000, "mean_tco2e": ner,
                        "lower_tco2e": ner * (1 - u_pct / 100), "upper_tco2e": ner * (1 + u_pct / 100),
                        "source": "monte carlo", "rule": RULE},
        "buffer_pct": buffer_pct, "buffer_tco2e": buffer_tco2e, "buffer_credits": buffer_credits, "credits": credits,
        "vintages": [{"year": y, "days": n, "credits": c, "buffer_credits": b} for y, n, c, b in vintages],
        "by_stratum": by_stratum or {}, "baseline_beyond_validity": beyond,
        "baseline": "VT0007 density map fitted on 2000–2008, valid 2009–2014", "baseline_valid": not beyond,
    }


def _accounting() -> dict:
    """Four periods of VCS 944's calendar: two within the baseline's validity (2009–2014), two beyond it (the
    last with more emissions than the baseline); a measured stratum and one on the IPCC default."""
    periods = [
        _period("2008-06-15", "2012-06-14", 300_000.0, 40_000.0, 8_000.0, 2_000.0, 12.5, 15.0,
                [(2008, 200, 28363, 5005), (2009, 365, 51761, 9134), (2010, 365, 51761, 9135),
                 (2011, 365, 51761, 9135), (2012, 166, 23541, 4154)],
                by_stratum={"montane forest": {"baseline_emissions_tco2e": 280_000.0,
                                               "project_emissions_tco2e": 38_000.0,
                                               "activity_shifting_leakage_tco2e": 8_000.0},
                            "swamp forest": {"baseline_emissions_tco2e": 20_000.0, "project_emissions_tco2e": 2_000.0,
                                             "activity_shifting_leakage_tco2e": 0.0}}),
        _period("2012-06-15", "2014-06-14", 120_000.0, 30_000.0, 5_000.0, 0.0, 8.0, 15.0,
                [(2012, 200, 19795, 3493), (2013, 365, 36125, 6375), (2014, 165, 16330, 2882)]),
        _period("2014-06-15", "2016-06-14", 90_000.0, 20_000.0, 4_000.0, 0.0, 14.0, 15.0,
                [(2014, 200, 14735, 2600), (2015, 365, 26891, 4746), (2016, 166, 12230, 2158)], beyond=True),
        _period("2016-06-15", "2018-06-14", 50_000.0, 65_000.0, 0.0, 0.0, 0.0, 15.0,
                [(2016, 200, 0, 0), (2017, 365, 0, 0), (2018, 165, 0, 0)], beyond=True),
    ]
    keys = ("baseline_emissions_tco2e", "project_emissions_tco2e", "leakage_tco2e", "uncertainty_deduction_tco2e",
            "buffer_tco2e")
    totals = {k: sum(p[k] for p in periods) for k in keys}
    totals.update(credits=sum(p["credits"] for p in periods), buffer_credits=sum(p["buffer_credits"] for p in periods))
    ex_ante_periods = [
        {"start": "2008-06-15", "end": "2013-06-14", "baseline_emissions_tco2e": 400_000.0,
         "project_emissions_tco2e": 60_000.0, "leakage_tco2e": 20_000.0, "uncertainty_deduction_tco2e": 0.0,
         "buffer_tco2e": 48_000.0, "credits": 272_000},
        {"start": "2013-06-15", "end": "2018-06-14", "baseline_emissions_tco2e": 350_000.0,
         "project_emissions_tco2e": 50_000.0, "leakage_tco2e": 10_000.0, "uncertainty_deduction_tco2e": 0.0,
         "buffer_tco2e": 43_500.0, "credits": 246_500},
    ]
    ex_ante_totals = {k: sum(p[k] for p in ex_ante_periods) for k in (*keys, "credits")}
    return {
        "project_id": "VCS944", "kind": "ex-post", "baseline_source": "vt0007_density",
        "baseline_valid_years": [2009, 2014], "post_deforestation_class": "coffee agroforestry",
        "uncertainty_rule": RULE,
        "buffer": {"pct": 15.0, "source": "AFOLU Non-Permanence Risk Tool v4.2", "assessment": {
            "tool_version": "AFOLU Non-Permanence Risk Tool v4.2",
            "scores": {"internal.project_management": 4.0, "internal.financial_viability": 2.0,
                       "internal.opportunity_cost": 0.0, "internal.project_longevity": 3.0,
                       "external.land_tenure": 2.0, "external.community_engagement": 0.0,
                       "external.political_risk": 2.0, "natural.fire": 1.5, "natural.drought": 0.5},
            "internal": 9.0, "external": 4.0, "natural": 2.0, "total": 15.0, "buffer_pct": 15.0, "passes": True,
            "reasons": [], "notes": ["no rounding of the overall rating"]}},
        "stocks": [
            {"stratum": "montane forest", "source": "plots", "n_plots": 24, "agb_mg_ha": 180.0, "bgb_mg_ha": 48.6,
             "carbon_tc_ha": 107.44, "se_tc_ha": 4.2, "ci95_low_tc_ha": 99.21, "ci95_high_tc_ha": 115.67,
             "co2e_tco2e_ha": 393.94, "reference": "24 plots; Chave et al. (2014)", "project_forest_ha": 152_345.64},
            {"stratum": "swamp forest", "source": "IPCC default", "n_plots": 0, "agb_mg_ha": 151.0, "bgb_mg_ha": 55.9,
             "carbon_tc_ha": 97.24, "se_tc_ha": None, "ci95_low_tc_ha": None, "ci95_high_tc_ha": None,
             "co2e_tco2e_ha": 356.54, "reference": "IPCC 2019 Refinement, Vol. 4, Table 4.7",
             "project_forest_ha": 8_123.4},
        ],
        "emission_factors": [
            {"forest_class": "montane forest", "post_class": "coffee agroforestry",
             "pools": ["above_ground", "below_ground"], "ef_tco2e_ha": 338.94, "se_tco2e_ha": 16.3,
             "by_pool_tco2e_ha": {"above_ground": 290.23, "below_ground": 48.72}},
            {"forest_class": "swamp forest", "post_class": "coffee agroforestry",
             "pools": ["above_ground", "below_ground"], "ef_tco2e_ha": 301.53, "se_tco2e_ha": 75.4,
             "by_pool_tco2e_ha": {"above_ground": 251.0, "below_ground": 50.53}},
        ],
        "periods": periods, "totals": totals,
        "ex_ante": {"kind": "ex-ante", "periods": ex_ante_periods, "totals": ex_ante_totals},
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A small simulated project's landscape and zone statistics (no pipeline run: the section depends on
    results["accounting"] only), its report rendered with the hand-worked accounting and with none."""
    from icam.forest.zones import zone_statistics
    from icam.pipeline.config import load_config
    from icam.pipeline.project import build_results
    from icam.pipeline.stages.landscape import load_landscape
    from icam.report.build import render_report
    from icam.simulate.scenario import simulate

    folder = tmp_path_factory.mktemp("report_accounting") / "project"
    simulate(folder, "small", 42)
    config = load_config(folder)
    landscape = load_landscape(config)
    stats = zone_statistics(landscape)
    base = build_results(config, landscape, stats, {"rasters": [], "tables": [], "report": ["report.html"]})

    def render(acc):
        return render_report(landscape, stats, {**base, "accounting": acc})

    accounting = _accounting()
    return {"accounting": accounting, "html": render(accounting), "plain": render(None), "render": render}


@pytest.fixture(scope="module")
def pipeline(full_small_run):
    """The simulated project run through the whole pipeline: its report and results.json."""
    out = full_small_run.outputs_dir
    return {"html": (out / "report.html").read_text(encoding="utf-8"),
            "results": json.loads((out / "results.json").read_text())}


def _total(parsed: _Tables, table: str) -> list[str]:
    (cells,) = [cells for attrs, cells in parsed.tables[table] if attrs.get("class") == "total"]
    return _texts(cells)


def _images(html: str) -> list[tuple[str, bytes]]:
    return [(mime, base64.b64decode(data, validate=True))
            for mime, data in re.findall(r'src="data:([^;"]+);base64,([^"]*)"', html)]


def test_intro_names_project_baseline_rule_and_buffer(project):
    html = project["html"]
    assert html.count(SECTION) == 1
    intro = " ".join(_parse(html).paragraphs["accounting-intro"].split())
    for text in ("VCS944", "vt0007_density", "2009–2014", "coffee agroforestry", RULE["name"],
                 "Non-permanence buffer 15 % (AFOLU Non-Permanence Risk Tool v4.2)"):
        assert text in intro, text


def test_stocks_flag_the_ipcc_default_stratum(project):
    parsed = _parse(project["html"])
    rows = _rows(parsed, "accounting-stocks", "stratum")
    assert list(rows) == ["montane forest", "swamp forest"]
    montane, swamp = rows["montane forest"], rows["swamp forest"]
    assert montane[1] == "plots" and DEFAULT_BADGE not in " ".join(montane)
    assert montane[2:9] == ["24", "180.0", "48.6", "107.4 ± 4.2", "99.2–115.7", "393.9", "152,345.6"]
    assert swamp[1] == DEFAULT_BADGE
    assert swamp[2:9] == ["0", "151.0", "55.9", "97.2", "–", "356.5", "8,123.4"]
    (swamp_attrs,) = [a for a, _ in parsed.tables["accounting-stocks"] if a.get("data-stratum") == "swamp forest"]
    assert swamp_attrs.get("class") == "default"
    assert "IPCC default stocks, no plots: swamp forest" in " ".join(project["html"].split())
    assert "<li data-stratum=\"swamp forest\"><strong>swamp forest</strong>: IPCC 2019 Refinement" in project["html"]


def test_emission_factors(project):
    rows = _rows(_parse(project["html"]), "accounting-ef", "forest-class")
    assert rows["montane forest"] == ["montane forest", "coffee agroforestry", "above ground, below ground",
                                      "290.2", "48.7", "338.9", "16.3"]
    assert rows["swamp forest"][3:] == ["251.0", "50.5", "301.5", "75.4"]


def test_monitoring_table_one_row_per_period_and_totals(project):
    acc = project["accounting"]
    parsed = _parse(project["html"])
    rows = _rows(parsed, "accounting-periods", "period")
    assert list(rows) == [p["start"] for p in acc["periods"]]

    def whole(v):
        return f"{round(v):,}"

    for p in acc["periods"]:
        texts = rows[p["start"]]
        # period | years | BE | PE | LK | NER | U % | deduction % | deduction | buffer % | buffer t | buffer cr
        # | credits
        assert len(texts) == 13
        assert texts[0].startswith(f"{p['start']} – {p['end']}")
        assert texts[2:6] == [whole(p[k]) for k in ("baseline_emissions_tco2e", "project_emissions_tco2e",
                                                    "leakage_tco2e", "net_reductions_tco2e")]
        assert texts[6] == f"{p['uncertainty']['half_width_pct']:.1f}"
        assert texts[8] == whole(p["uncertainty_deduction_tco2e"])
        assert texts[9:] == ["15", whole(p["buffer_tco2e"]), f"{p['buffer_credits']:,}", f"{p['credits']:,}"]
    first = rows["2008-06-15"]
    assert first[1] == "4.00" and first[2] == "300,000" and first[5] == "250,000" and first[7] == "2.5%"
    assert first[8] == "6,250" and first[11] == "36,563" and first[12] == "207,187"
    assert rows["2012-06-15"][12] == "72,250" and rows["2014-06-15"][12] == "53,856"
    total = _total(parsed, "accounting-periods")
    assert total[0] == "Total" and total[12] == "333,293" == f"{acc['totals']['credits']:,}"
    assert total[2:6] == ["560,000", "155,000", "19,000", "401,000"]
    assert total[8] == "8,890" and total[10] == whole(58_816.5) and total[11] == "58,817"


def test_periods_beyond_the_baseline_validity_are_flagged(project):
    parsed = _parse(project["html"])
    classes = {a["data-period"]: a.get("class") for a, _ in parsed.tables["accounting-periods"] if "data-period" in a}
    assert classes == {"2008-06-15": None, "2012-06-15": None, "2014-06-15": "beyond", "2016-06-15": "beyond"}
    assert _rows(parsed, "accounting-periods", "period")["2014-06-15"][0].endswith("†")
    note = " ".join(parsed.paragraphs["accounting-validity"].split())
    assert "2014-06-15 – 2016-06-14, 2016-06-15 – 2018-06-14" in note and "(2009–2014)" in note
    assert "must be reassessed (VM0015 / VT0007): these periods issue no credits until it is renewed" in note
    named = " ".join(parsed.paragraphs["accounting-baselines"].split())
    assert named.endswith("2016-06-15 – 2018-06-14: VT0007 density map fitted on 2000–2008, valid 2009–2014.")
    shortfall = " ".join(parsed.paragraphs["accounting-shortfalls"].split())
    assert "2016-06-15 – 2018-06-14 (15,000 tCO₂e)" in shortfall


def test_by_stratum_table(project):
    parsed = _parse(project["html"])
    header = _texts(parsed.tables["accounting-strata"][0][1])
    assert header == ["Monitoring period", "montane forest", "swamp forest"]
    rows = _rows(parsed, "accounting-strata", "period")
    assert rows["2008-06-15"] == ["2008-06-15 – 2012-06-14", "280,000", "38,000", "8,000", "20,000", "2,000", "0"]
    assert rows["2012-06-15"][1:] == ["–"] * 6  # no breakdown given for that period


def test_credits_per_vintage_sum_the_periods(project):
    parsed = _parse(project["html"])
    rows = _rows(parsed, "accounting-vintages", "year")
    assert list(rows) == [str(y) for y in range(2008, 2019)]
    assert rows["2012"] == ["2012", "43,336", "7,647"]  # 23,541 + 19,795 credits from the first two periods
    assert rows["2014"] == ["2014", "31,065", "5,482"]
    assert rows["2017"] == ["2017", "0", "0"]
    assert _total(parsed, "accounting-vintages") == ["Total", "333,293", "58,817"]


def test_ex_ante_table(project):
    parsed = _parse(project["html"])
    summary = " ".join(parsed.paragraphs["accounting-ex-ante-summary"].split())
    assert summary.startswith("Expected at validation: 518,500 credits over 2008-06-15 – 2018-06-14 (10.0 years)")
    assert "of which 518,500 over the monitoring periods above" in summary and "333,293 were credited" in summary
    assert "<details>" not in project["html"]  # two periods: not folded
    rows = _rows(parsed, "accounting-ex-ante", "period")
    assert rows["2008-06-15"] == ["2008-06-15 – 2013-06-14", "400,000", "60,000", "20,000", "0", "48,000", "272,000"]
    assert _total(parsed, "accounting-ex-ante") == ["Total", "750,000", "110,000", "30,000", "0", "91,500", "518,500"]


def test_buffer_assessment(project):
    html = project["html"]
    rows = _rows(_parse(html), "accounting-buffer", "factor")
    assert rows["internal.project_management"] == ["Project management", "4"]
    assert rows["natural.fire"] == ["Fire", "1.5"]
    assert len(rows) == 9
    assert _total(_parse(html), "accounting-buffer") == ["Overall risk rating", "15"]
    assert "passes</span>, buffer 15 %" in html and "no rounding of the overall rating" in html


def test_chart_is_an_embedded_png(project):
    html, plain = project["html"], project["plain"]
    with_chart, without = _images(html), _images(plain)
    assert len(with_chart) == len(without) + 1
    section = html[html.index(SECTION):html.index('<h2 id="files">')]
    (chart,) = _images(section)
    assert chart[0] == "image/png"
    with Image.open(io.BytesIO(chart[1])) as image:
        assert image.format == "PNG"
        image.load()
        assert 600 <= image.width <= 2000 and 300 <= image.height <= 1200


def test_section_absent_without_accounting(project):
    """No accounting: no section, no styles of it; with it, the report is the same plus the section and styles."""
    html, plain = project["html"], project["plain"]
    assert 'id="accounting' not in plain and "Carbon accounting" not in plain and ".badge" not in plain
    start, end = html.index("\n" + SECTION), html.index('<h2 id="files">')
    styles = re.search(r"\n \.badge .*?\n(?= tr\.chosen|</style>)", html, re.DOTALL)
    assert html[:start].replace(styles.group(0), "\n", 1) + html[end:] == plain


def test_minimal_accounting_renders(project):
    """Only the keys of an AccountingTable's to_dict (no stocks, factors, uncertainty or buffer details):
    the monitoring table and the chart still render, the missing values as "–"."""
    acc = project["accounting"]
    minimal = {"project_id": "VCS944", "kind": "ex-post", "periods": [
        {k: p[k] for k in ("start", "end", "baseline_emissions_tco2e", "project_emissions_tco2e", "leakage_tco2e",
                           "uncertainty_deduction_tco2e", "buffer_tco2e", "credits", "vintages")}
        for p in acc["periods"]], "totals": acc["totals"]}
    html = project["render"](copy.deepcopy(minimal))
    parsed = _parse(html)
    assert "accounting-stocks" not in parsed.tables and "accounting-buffer" not in parsed.tables
    rows = _rows(parsed, "accounting-periods", "period")
    assert rows["2008-06-15"][5] == "250,000"  # net reductions worked from BE − PE − LK
    assert rows["2008-06-15"][6] == "–" and rows["2008-06-15"][11] == "36,563"  # buffer credits from the vintages
    assert _total(parsed, "accounting-periods")[12] == "333,293"
    assert len(_images(html)) == len(_images(project["plain"])) + 1
    # an ex-ante table of calendar years: labelled by year, folded away when long
    years = [{"start": f"{y}-01-01", "end": f"{y}-12-31", "baseline_emissions_tco2e": 20_000.0,
              "project_emissions_tco2e": 10_000.0, "leakage_tco2e": 0.0, "uncertainty_deduction_tco2e": 0.0,
              "buffer_tco2e": 1_500.0, "credits": 8_500} for y in range(2009, 2021)]
    html = project["render"]({**minimal, "ex_ante": {"kind": "ex-ante", "periods": years, "totals": None}})
    parsed = _parse(html)
    assert next(iter(_rows(parsed, "accounting-ex-ante", "period").values()))[0] == "2009"
    assert _total(parsed, "accounting-ex-ante")[-1] == "102,000"
    assert "<details><summary>The ex-ante table (12 periods)</summary>" in html
    summary = " ".join(parsed.paragraphs["accounting-ex-ante-summary"].split())
    # 2009–2017 whole (9 × 8,500) and 2018 up to 14 June (165 of 365 days): 76,500 + 3,842.5
    assert "of which 80,342 over the monitoring periods above (2008-06-15 – 2018-06-14)" in summary


def test_pipeline_report_shows_its_accounting(pipeline):
    """The simulated project's own run: its results.json accounting is in its report."""
    accounting = pipeline["results"].get("accounting")
    if accounting is None:
        pytest.skip("the simulated project has no [carbon] accounting")
    html = pipeline["html"]
    assert html.count(SECTION) == 1
    parsed = _parse(html)
    rows = _rows(parsed, "accounting-periods", "period")
    assert list(rows) == [p["start"] for p in accounting["periods"]]
    for p in accounting["periods"]:
        assert rows[p["start"]][12] == f"{p['credits']:,}"
    assert _total(parsed, "accounting-periods")[12] == f"{accounting['totals']['credits']:,}"


def test_hectares_per_period_year_and_stratum(pipeline, full_small_run):
    """The simulated project's hectares: each period's baseline per stratum is its years' baselines prorated by
    days (accounting_years.csv, the same figures as results.json), and the report's areas table shows them."""
    import csv

    from icam.carbon.periods import MonitoringPeriod, prorate_annual

    accounting = pipeline["results"].get("accounting")
    if accounting is None:
        pytest.skip("the simulated project has no [carbon] accounting")
    with open(full_small_run.outputs_dir / "tables" / "accounting_years.csv", encoding="utf-8") as f:
        years = list(csv.DictReader(f))
    assert len(years) == len(accounting["areas_by_year"])
    for period in accounting["periods"]:
        span = MonitoringPeriod(dt.date.fromisoformat(period["start"]), dt.date.fromisoformat(period["end"]))
        for stratum, values in period["by_stratum"].items():
            annual = {int(r["year"]): float(r["baseline_project_ha"]) for r in years if r["stratum"] == stratum}
            expected = prorate_annual(annual, span)
            assert expected == pytest.approx(values["baseline_project_ha"], rel=1e-9, abs=1e-9)
        assert period["areas_ha"]["baseline_project_ha"] == pytest.approx(
            sum(v["baseline_project_ha"] for v in period["by_stratum"].values()))
    rows = _rows(_parse(pipeline["html"]), "accounting-areas", "period")  # a period's last stratum's row
    first = accounting["periods"][0]
    _, stratum, baseline = rows[first["start"]][:3]
    assert baseline == f"{first['by_stratum'][stratum]['baseline_project_ha']:,.0f}"


def test_tonnes_and_chart_helpers():
    from icam.report.figures import accounting_chart
    from icam.report.views import _overlap_share, _period_label, tonnes

    assert [tonnes(v) for v in (214_985.6, -0.4, 0, None, float("nan"), 1_234_567)] == [
        "214,986", "0", "0", "–", "–", "1,234,567"]
    assert _period_label("2012-01-01", "2012-12-31") == "2012"
    assert _period_label("2012-06-15", "2014-06-14") == "2012-06-15 – 2014-06-14"
    period = {"start": "2020-01-01", "end": "2020-12-31"}  # 366 days
    assert _overlap_share(period, "2020-07-01", "2024-01-01") == pytest.approx(184 / 366)
    assert _overlap_share(period, "2021-01-01", "2022-01-01") == 0
    periods = [{"start": "2020-01-01", "end": "2020-12-31", "years": 366 / 365.25, "baseline_emissions_tco2e": 10.0,
                "project_emissions_tco2e": 12.0, "leakage_tco2e": 0.0, "credits": 0, "beyond_validity": True}]
    with Image.open(io.BytesIO(accounting_chart(periods))) as image:
        assert image.format == "PNG"


def test_an_ineligible_period_says_why_and_what_would_fix_it(project):
    """One period whose activity data dominate (a sample 2.3 times as large fixes it) and one whose baseline
    does (no sample fixes it): the report says each in one sentence."""
    import copy

    acc = copy.deepcopy(project["accounting"])
    fixable = {"limit_pct": 100.0, "sample_factor": 2.31, "half_width_pct_exact_activity_data": 12.0,
               "half_width_pct_by_source": {"activity_data": 148.0, "emission_factors": 9.0, "baseline": 7.5}}
    hopeless = {"limit_pct": 100.0, "sample_factor": None, "half_width_pct_exact_activity_data": 131.0,
                "half_width_pct_by_source": {"activity_data": 40.0, "emission_factors": 9.0, "baseline": 128.0}}
    acc["periods"][0]["uncertainty"]["eligibility"] = fixable
    acc["periods"][1]["uncertainty"]["eligibility"] = hopeless
    note = " ".join(_parse(project["render"](acc)).paragraphs["accounting-ineligible"].split())
    assert ("2008-06-15 – 2012-06-14 (U = 12 %; alone, the activity data (the reference samples) 148 %, the emission "
            "factors 9 %, the baseline 8 %. About 2.3 times the period's reference sample (the same allocation) "
            "would bring U under 100 %.)") in note
    assert ("Even exact activity data would leave U at 131 %: no sample fixes this period; the uncertainty of the "
            "baseline keeps it above the limit.") in note
    assert "accounting-ineligible" not in project["html"]


def test_the_crediting_periods_interval_is_stated(project):
    import copy

    acc = copy.deepcopy(project["accounting"])
    acc["totals"]["uncertainty"] = {"rule": RULE, "lower_tco2e": -12_345.4, "upper_tco2e": 456_789.6,
                                    "half_width_pct": 80.0, "mean_tco2e": 300_000.0}
    note = " ".join(_parse(project["render"](acc)).paragraphs["accounting-total-interval"].split())
    assert "interval is -12,345 – 456,790 tCO₂e" in note
    assert "accounting-total-interval" not in project["html"]
