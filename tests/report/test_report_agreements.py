"""The report's "Conservation agreements" section: a hand-built results["agreements"] (its totals add up) and a
few conservation parcels on a small simulated landscape, rendered into the report."""

from __future__ import annotations

import base64
import copy
import io
import re

import numpy as np
import pytest
from PIL import Image

from report_html import Tables as _Tables
from report_html import parse as _parse
from report_html import rows as _rows
from report_html import texts as _texts
from report_html import without_section

SECTION = '<h2 id="agreements">Conservation agreements</h2>'
STATUSES = ("compliant", "to_verify", "breach", "not_in_force")

PERIODS = [  # start, end, compliant, to_verify, breach, not_in_force, loss in conservation areas (ha)
    ("2018-06-15", "2020-06-14", 1_180, 2, 1, 69, 3.42),
    ("2020-06-15", "2022-06-14", 1_220, 1, 0, 31, 1.08),
    ("2022-06-15", "2024-06-14", 1_234, 4, 2, 12, 7.95),
]
N_AGREEMENTS = 1_252  # every period's counts add up to it; 1,240 in force in the last one
FLAGGED = [  # agreement, household, period, loss ha, px, status (one row per to_verify / breach of PERIODS)
    ("AC-0104", "HH0104", 0, 0.72, 8, "to_verify"),
    ("AC-0311", "HH0311", 0, 1.26, 14, "to_verify"),
    ("AC-0042", "HH0042", 0, 2.07, 23, "breach"),
    ("AC-0990", "HH0990", 1, 0.63, 7, "to_verify"),
    ("AC-0512", "HH0512", 2, 0.54, 6, "to_verify"),
    ("AC-0007", "HH0007", 2, 3.15, 35, "breach"),
    ("AC-1201", "HH1201", 2, 1.89, 21, "to_verify"),
    ("AC-0733", "HH0733", 2, 4.41, 49, "breach"),
    ("AC-0088", "HH0088", 2, 0.99, 11, "to_verify"),
    ("AC-0650", "HH0650", 2, 0.81, 9, "to_verify"),
]
BENEFITS = [  # item, promised, due, delivered (outstanding = due − delivered: nothing over-delivered)
    ("coffee technical assistance", 456_000.0, 450_000.0, 430_500.0),
    ("organic fertiliser", 540_000.0, 532_800.0, 510_000.0),
    ("pruning tools", 56_340.0, 56_340.0, 55_800.0),
]
MONEY = [  # year, credit revenue, costs of the agreements (USD)
    (2019, 300_000.0, 150_000.0), (2020, 320_000.0, 155_000.0), (2021, 280_000.0, 160_000.0),
    (2022, 250_000.0, 165_000.0), (2023, 200_000.0, 170_000.0), (2024, 150_000.0, 175_000.0),
]
SHARES = {"agreements": 0.6, "enforcement": 0.2, "monitoring": 0.1, "reserve": 0.1}


def _counts(row) -> dict:
    return dict(zip(STATUSES, row[2:6]))


def _flagged_row(agreement, household, period, loss_ha, loss_px, status) -> dict:
    start, end = PERIODS[period][:2]
    return {"agreement": agreement, "household": household, "period_start": start, "period_end": end,
            "loss_ha": loss_ha, "loss_px": loss_px, "status": status,
            "basis": f"mapped loss {loss_ha:.2f} ha > tolerance 0.5 ha"
                     + ("" if status == "breach" else "; awaiting field verification")}


def _money() -> dict:
    by_year, cumulative = [], 0.0
    for year, revenue, costs in MONEY:
        allocated = revenue * SHARES["agreements"]
        cumulative += allocated - costs
        by_year.append({"year": year, "revenue_usd": revenue, "agreements_usd": allocated, "costs_usd": costs,
                        "balance_usd": allocated - costs, "cumulative_usd": cumulative})
    deficits = [r["year"] for r in by_year if r["balance_usd"] < 0]
    return {"price_usd_per_tco2e": 7.5, "sold_share": 0.8, "shares": SHARES,
            "revenue_usd_total": sum(r[1] for r in MONEY), "by_year": by_year,
            "first_deficit_year": deficits[0] if deficits else None,
            "coverage_ratio": sum(r["agreements_usd"] for r in by_year) / sum(r["costs_usd"] for r in by_year)}


def _agreements() -> dict:
    periods = [{"start": s, "end": e, "counts": _counts(p), "loss_ha_in_conservation_areas": p[6]}
               for p in PERIODS for s, e in [p[:2]]]
    for p in periods:
        assert sum(p["counts"].values()) == N_AGREEMENTS
    flagged = [_flagged_row(*f) for f in FLAGGED]
    for i, p in enumerate(PERIODS):  # the flagged list holds every to_verify and breach of the periods
        rows = [f for f in FLAGGED if f[2] == i]
        assert sum(f[5] == "to_verify" for f in rows) == p[3] and sum(f[5] == "breach" for f in rows) == p[4]
    items = [{"item": item, "promised_usd": promised, "due_usd": due, "delivered_usd": delivered,
              "outstanding_usd": due - delivered} for item, promised, due, delivered in BENEFITS]
    benefits = {k: sum(i[k] for i in items) for k in ("promised_usd", "due_usd", "delivered_usd", "outstanding_usd")}
    last = periods[-1]
    return {
        "n_households": 1_180, "n_agreements": N_AGREEMENTS,
        "n_in_force": N_AGREEMENTS - last["counts"]["not_in_force"],
        "hectares_covered": 12_345.67,
        "last_period": {"start": last["start"], "end": last["end"]},
        "counts_by_status": dict(last["counts"]),
        "periods": periods,
        "map_error": {"users_accuracy": 0.71, "source": "activity data 2018–2024, project area",
                      "min_mapping_unit_ha": 0.5},
        "flagged": flagged,
        "benefits": {**benefits, "by_item": items},
        "money": _money(),
        "opportunity_cost": [
            {"land_use": "coffee", "npv_usd_per_ha": 2_345.6, "forest_npv_usd_per_ha": 120.4,
             "opportunity_cost_usd_per_ha": 2_225.2},
            {"land_use": "pasture", "npv_usd_per_ha": 850.0, "forest_npv_usd_per_ha": 120.4,
             "opportunity_cost_usd_per_ha": 729.6},
        ],
        "break_even": {"median_usd_per_tco2e": 5.43, "p10_usd_per_tco2e": 2.1, "p90_usd_per_tco2e": 11.75,
                       "share_below_price": 0.62, "n_agreements": 1_240},
        "grievances": {"open": 3, "in_progress": 2, "resolved": 14},
        "files": {"geopackage": "agreements.gpkg"},
    }


def _parcels(landscape):
    """Nine square parcels of 6.25–16 ha in the project area: 4 compliant, 2 to verify, 1 breach, 1 not in
    force, 1 without an agreement."""
    import geopandas as gpd
    from shapely.geometry import box

    grid = landscape.grid
    mask = landscape.zones.masks()["project_area"]
    rows, cols = np.nonzero(mask)
    xmin, _, _, ymax = grid.bounds
    res = grid.resolution_m
    # cells well inside the project area, spread along it
    picks = np.linspace(0.1, 0.9, 9) * (rows.size - 1)
    statuses = ["compliant", "compliant", "to_verify", "compliant", "breach", "not_in_force", "compliant",
                "to_verify", "no_agreement"]
    sides = [250, 300, 350, 400, 320, 260, 380, 290, 330]  # 6.25–16 ha
    records, geoms = [], []
    for k, (i, side, status) in enumerate(zip(picks.astype(int), sides, statuses)):
        x, y = xmin + (cols[i] + 0.5) * res, ymax - (rows[i] + 0.5) * res
        geoms.append(box(x - side / 2, y - side / 2, x + side / 2, y + side / 2))
        records.append({"agreement": None if status == "no_agreement" else f"AC-{k:04d}",
                        "household": f"HH{k:04d}", "status": status})
    return gpd.GeoDataFrame(records, geometry=geoms, crs=grid.crs)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A small simulated project's landscape (no pipeline run: the section depends on results["agreements"] and
    the parcels only), its report rendered with the hand-built agreements and parcels, and without them."""
    from icam.forest.zones import zone_statistics
    from icam.pipeline.config import load_config
    from icam.pipeline.project import build_results
    from icam.pipeline.stages.landscape import load_landscape
    from icam.report.build import render_report
    from icam.simulate.scenario import simulate

    folder = tmp_path_factory.mktemp("report_agreements") / "project"
    simulate(folder, "small", 42)
    config = load_config(folder)
    landscape = load_landscape(config)
    stats = zone_statistics(landscape)
    base = build_results(config, landscape, stats, {"rasters": [], "tables": [], "report": ["report.html"]})
    parcels = _parcels(landscape)

    def render(agreements, parcels=parcels, **extra):
        return render_report(landscape, stats, {**base, **extra, "agreements": agreements}, parcels=parcels)

    agreements = _agreements()
    return {"agreements": agreements, "parcels": parcels, "landscape": landscape,
            "html": render(copy.deepcopy(agreements)), "plain": render(None), "render": render}


def _body(parsed: _Tables, table: str) -> list[tuple[dict, list[str]]]:
    """The rows of ``table`` that carry a data attribute, in order: (attributes, cell texts)."""
    return [(attrs, _texts(cells)) for attrs, cells in parsed.tables[table]
            if any(k.startswith("data-") for k in attrs)]


def _total(parsed: _Tables, table: str) -> list[str]:
    (cells,) = [cells for attrs, cells in parsed.tables[table] if attrs.get("class") == "total"]
    return _texts(cells)


def _paragraph(parsed: _Tables, name: str) -> str:
    return " ".join(parsed.paragraphs[name].split())


def _images(html: str) -> list[tuple[str, bytes]]:
    return [(mime, base64.b64decode(data, validate=True))
            for mime, data in re.findall(r'src="data:([^;"]+);base64,([^"]*)"', html)]


def _section(html: str) -> str:
    return html[html.index(SECTION):html.index('<h2 id="files">')]


def test_intro_counts_in_words_and_map_error(project):
    html = project["html"]
    assert html.count(SECTION) == 1
    intro = _paragraph(_parse(html), "agreements-intro")
    for text in ("1,252 conservation agreements with 1,180 households", "1,240 of them in force",
                 "12,345.7 ha of conservation area", "(2022-06-15 – 2024-06-14)",
                 "1,234 compliant, 4 to verify, 2 in breach and 12 not in force",
                 "user's accuracy of the loss class of 71.0% (activity data 2018–2024, project area)",
                 "minimum mapping unit of 0.50 ha", "“To verify” means", "within the map's stated error",
                 "awaiting a field visit"):
        assert text in intro, text


def test_section_placed_after_accounting_and_before_files(project):
    accounting = {"project_id": "VCS944", "kind": "ex-post", "periods": [
        {"start": "2022-06-15", "end": "2024-06-14", "baseline_emissions_tco2e": 10_000.0,
         "project_emissions_tco2e": 1_000.0, "leakage_tco2e": 0.0, "credits": 9_000}]}
    html = project["render"](copy.deepcopy(project["agreements"]), accounting=accounting)
    assert html.index('<h2 id="accounting">') < html.index(SECTION) < html.index('<h2 id="files">')


def test_status_per_period_and_loss(project):
    parsed = _parse(project["html"])
    rows = _rows(parsed, "agreements-periods", "period")
    assert list(rows) == [p[0] for p in PERIODS]
    assert rows["2018-06-15"] == ["2018-06-15 – 2020-06-14", "1,180", "2", "1", "69", "1,252", "3.4"]
    assert rows["2022-06-15"] == ["2022-06-15 – 2024-06-14", "1,234", "4", "2", "12", "1,252", "8.0"]
    assert _total(parsed, "agreements-periods")[-1] == "12.4"  # 3.42 + 1.08 + 7.95 = 12.45


def test_flagged_list_breaches_first_then_by_loss(project):
    parsed = _parse(project["html"])
    rows = _body(parsed, "agreements-flagged")
    assert len(rows) == len(FLAGGED)
    statuses = [attrs["data-status"] for attrs, _ in rows]
    assert statuses == ["breach"] * 3 + ["to_verify"] * 7
    assert [attrs["data-agreement"] for attrs, _ in rows[:3]] == ["AC-0733", "AC-0007", "AC-0042"]
    losses = [float(texts[4]) for _, texts in rows]
    assert losses[:3] == sorted(losses[:3], reverse=True) and losses[3:] == sorted(losses[3:], reverse=True)
    first = rows[0][1]
    assert first[:6] == ["AC-0733", "HH0733", "2022-06-15 – 2024-06-14", "Breach", "4.41", "49"]
    assert first[6].startswith("mapped loss 4.41 ha")
    assert rows[3][1][3] == "To verify" and rows[3][1][4] == "1.89"
    summary = _paragraph(parsed, "agreements-flagged-summary")
    assert summary.startswith("10 agreement-periods flagged, 3 in breach") and "are listed" not in summary


def test_long_flagged_list_is_cut_at_30(project):
    agreements = copy.deepcopy(project["agreements"])
    agreements["flagged"] = [_flagged_row(f"AC-{k:04d}", f"HH{k:04d}", 2, 0.5 + 0.01 * k, 6 + k,
                                          "breach" if k % 7 == 0 else "to_verify") for k in range(35)]
    parsed = _parse(project["render"](agreements))
    rows = _body(parsed, "agreements-flagged")
    assert len(rows) == 30
    assert [a["data-status"] for a, _ in rows[:5]] == ["breach"] * 5 and rows[5][0]["data-status"] == "to_verify"
    assert rows[0][0]["data-agreement"] == "AC-0028"  # the largest breach
    summary = _paragraph(parsed, "agreements-flagged-summary")
    assert "35 agreement-periods flagged, 5 in breach" in summary
    assert "The first 30 are listed; the other 5 are in the run's compliance table." in summary
    outputs = {"rasters": [], "tables": ["tables/agreements_compliance.csv"], "report": ["report.html"]}
    summary = _paragraph(_parse(project["render"](agreements, outputs=outputs)), "agreements-flagged-summary")
    assert "the other 5 are in tables/agreements_compliance.csv (every agreement and period)" in summary
    agreements["flagged"] = []
    html = project["render"](agreements)
    assert "agreements-flagged\"" not in html and "No agreement is flagged" in html


def test_benefits_by_item_with_totals(project):
    parsed = _parse(project["html"])
    rows = _rows(parsed, "agreements-benefits", "item")
    assert list(rows) == [b[0] for b in BENEFITS]
    assert rows["organic fertiliser"] == ["organic fertiliser", "540,000", "532,800", "510,000", "22,800"]
    assert rows["pruning tools"][1:] == ["56,340", "56,340", "55,800", "540"]
    assert _total(parsed, "agreements-benefits") == ["Total", "1,052,340", "1,039,140", "996,300", "42,840"]
    summary = _paragraph(parsed, "agreements-benefits-summary")
    assert "Promised USD 1,052,340; due after the breach rules USD 1,039,140" in summary
    assert "delivered USD 996,300; outstanding USD 42,840" in summary


def test_money_chart_table_and_words(project):
    parsed = _parse(project["html"])
    rows = _rows(parsed, "agreements-money", "year")
    assert list(rows) == [str(r[0]) for r in MONEY]
    assert rows["2019"] == ["2019", "300,000", "180,000", "150,000", "30,000", "30,000"]
    assert rows["2024"] == ["2024", "150,000", "90,000", "175,000", "-85,000", "-75,000"]
    assert _total(parsed, "agreements-money") == ["Total", "1,500,000", "900,000", "975,000", "-75,000", ""]
    summary = _paragraph(parsed, "agreements-money-summary")
    for text in ("USD 7.50/tCO₂e (selling 80.0% of the credits issued) bring USD 1,500,000 in all",
                 "of which 60.0% (USD 900,000) goes to the agreements",
                 "Coverage ratio 0.92: that revenue pays for 92.3% of the agreements' costs (USD 975,000)",
                 "the first year whose costs exceed the revenue is 2022",
                 "cumulative balance at the end of 2024 is USD -75,000"):
        assert text in summary, text
    shares = _rows(parsed, "agreements-shares", "use")
    assert list(shares) == list(SHARES)
    assert shares["agreements"] == ["agreements", "60.0%", "900,000"]
    assert shares["reserve"] == ["reserve", "10.0%", "150,000"]


def test_opportunity_cost_and_break_even(project):
    parsed = _parse(project["html"])
    rows = _rows(parsed, "agreements-opportunity", "land-use")
    assert rows == {"coffee": ["coffee", "2,346", "120", "2,225"], "pasture": ["pasture", "850", "120", "730"]}
    text = _paragraph(parsed, "agreements-break-even")
    assert "median USD 5.43/tCO₂e, 10–90 % range USD 2.10–11.75/tCO₂e over 1,240 agreements" in text
    assert "62.0% of them break even below the credit price of USD 7.50/tCO₂e" in text


def test_grievances_and_geopackage(project):
    parsed = _parse(project["html"])
    (row,) = [cells for attrs, cells in parsed.tables["agreements-grievances"][1:]]
    assert _texts(row) == ["3", "2", "14", "19"]
    assert _paragraph(parsed, "agreements-files").endswith(
        "outputs/agreements.gpkg (opens in QGIS, styled by status).")


def test_map_and_money_chart_are_embedded_pngs(project):
    html, plain = project["html"], project["plain"]
    assert len(_images(html)) == len(_images(plain)) + 2
    section = _section(html)
    images = _images(section)
    assert [mime for mime, _ in images] == ["image/png", "image/png"]
    assert 'alt="Map of the conservation parcels' in section and 'alt="Chart of the revenue' in section
    for _, data in images:
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG"
            image.load()
            assert 500 <= image.width <= 2000 and 300 <= image.height <= 2000
    # the one breach parcel stands out: a visible patch of the breach red on the map
    with Image.open(io.BytesIO(images[0][1])) as image:
        rgb = np.asarray(image.convert("RGB")).astype(int)
    red = (np.abs(rgb - np.array([0xd7, 0x19, 0x1c])).sum(axis=2) < 40).sum()
    assert red >= 30


def test_without_parcels_or_money(project):
    """No parcels: no map (the money chart stays); no money: no money part and no chart."""
    plain_n = len(_images(project["plain"]))
    no_map = project["render"](copy.deepcopy(project["agreements"]), parcels=None)
    assert SECTION in no_map and "Map of the conservation parcels" not in no_map
    assert len(_images(no_map)) == plain_n + 1
    agreements = copy.deepcopy(project["agreements"])
    agreements.update(money=None, break_even=None, opportunity_cost=[])
    neither = project["render"](agreements, parcels=None)
    assert len(_images(neither)) == plain_n
    assert "agreements-money" not in neither and "agreements-break-even" not in neither
    assert 'id="agreements-grievances"' in neither


def test_section_absent_without_agreements(project):
    """No agreements: no section, no styles of it; with them, the report is the same plus the section and styles."""
    html, plain = project["html"], project["plain"]
    assert 'id="agreements' not in plain and "Conservation agreements" not in plain and ".ag-breach" not in plain
    assert without_section(html, '\n<section id="agreements-section">',
                           r"\n \.ag-compliant .*?\n(?= \.badge| tr\.chosen|</style>)") == plain


def test_view_helpers():
    from icam.report.views import _status_words, agreements_view

    assert _status_words({"compliant": 312, "to_verify": 4, "breach": 2, "not_in_force": 0}) == \
        "312 compliant, 4 to verify and 2 in breach"
    assert _status_words({"compliant": 1_312, "breach": 1, "not_in_force": 3}) == \
        "1,312 compliant, 0 to verify, 1 in breach and 3 not in force"
    view = agreements_view({"n_households": 0, "n_agreements": 0, "n_in_force": 0, "hectares_covered": 0.0,
                            "last_period": {}, "counts_by_status": {}, "periods": [], "flagged": [], "money": None,
                            "benefits": {"by_item": [{"item": "x", "promised_usd": 1.0, "due_usd": 1.0,
                                                      "delivered_usd": 0.0, "outstanding_usd": 1.0}]}})
    assert view["benefits"]["totals"] == {"promised_usd": 1.0, "due_usd": 1.0, "delivered_usd": 0.0,
                                          "outstanding_usd": 1.0}  # summed from the items where not given
    assert view["money"] is None and view["n_flagged"] == 0 and view["grievances"]["total"] == 0
    assert view["geopackage"] == "agreements.gpkg"


def test_map_draws_unknown_statuses_and_empty_geometries(project):
    from shapely.geometry import Polygon

    from icam.report.maps import agreements_map

    parcels = project["parcels"].copy()
    parcels.loc[0, "status"] = None
    parcels.loc[1, "status"] = "disputed"
    parcels.loc[2, "geometry"] = Polygon()
    with Image.open(io.BytesIO(agreements_map(project["landscape"], parcels))) as image:
        assert image.format == "PNG"


def test_missing_keys_render_as_dashes(project):
    """A summary without some of the optional keys (a flagged row's pixel count, a land use's own NPV, the money's
    coverage ratio, the map error's source) renders with "–" in their place."""
    agreements = copy.deepcopy(project["agreements"])
    for row in agreements["flagged"]:
        del row["loss_px"]
    for row in agreements["opportunity_cost"]:
        del row["npv_usd_per_ha"]
    del agreements["money"]["coverage_ratio"], agreements["map_error"]["source"], agreements["break_even"]
    parsed = _parse(project["render"](agreements))
    assert {texts[5] for _, texts in _body(parsed, "agreements-flagged")} == {"–"}
    assert _rows(parsed, "agreements-opportunity", "land-use")["coffee"] == ["coffee", "–", "120", "2,225"]
    summary = _paragraph(parsed, "agreements-money-summary")
    assert "Coverage ratio" not in summary and "The agreements' costs are USD 975,000" in summary
    assert "minimum mapping unit of 0.50 ha" in _paragraph(parsed, "agreements-intro")
    assert "agreements-break-even" not in parsed.paragraphs
