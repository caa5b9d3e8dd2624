"""The report's "Enforcement" section: the small simulated project's alerts, patrols and registry (the enforcement
stage run on its own, once for the module), rendered into the report; its figures must be results.json's."""

from __future__ import annotations

import base64
import copy
import io
import re

import numpy as np
import pytest
from PIL import Image

from report_html import parse as _parse
from report_html import rows as _rows
from report_html import texts as _texts
from report_html import without_section

SECTION = '<h2 id="enforcement">Enforcement</h2>'
PRIORITIES = ("high", "medium", "low")
ALTS = ('alt="Map of the alert events coloured by priority"',
        'alt="Chart of the alerts raised per month by priority and the alerts checked per month"',
        'alt="Chart of patrol effort and incidents by zone"')


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A small simulated project (its [enforcement]: a GLAD-like alert raster, patrols, tracks, observations and
    actions) through the enforcement stage alone (no risk map, no agreements: the section depends on the
    EnforcementResult and results["enforcement"] only), its outputs written, its report rendered with the
    enforcement and without it."""
    from icam.forest.zones import zone_statistics
    from icam.pipeline.config import load_config
    from icam.pipeline.project import build_results
    from icam.pipeline.stages.enforcement import run_enforcement, write_outputs
    from icam.pipeline.stages.landscape import load_landscape
    from icam.report.build import render_report
    from icam.simulate.scenario import simulate

    folder = tmp_path_factory.mktemp("report_enforcement") / "project"
    simulate(folder, "small", 42)
    config = load_config(folder)
    assert config.enforcement is not None
    landscape = load_landscape(config)
    stats = zone_statistics(landscape)
    result = run_enforcement(config, folder, landscape)
    out_dir = folder / "outputs"
    write_outputs(result, landscape, out_dir)
    files = {"rasters": [], "tables": [], "report": ["report.html"]}
    results = build_results(config, landscape, stats, files, enforcement=result)
    plain_results = build_results(config, landscape, stats, files)

    def render(summary, enforcement=result):
        return render_report(landscape, stats, {**results, "enforcement": summary}, enforcement=enforcement)

    return {"config": config, "landscape": landscape, "stats": stats, "result": result, "results": results,
            "summary": results["enforcement"], "out_dir": out_dir, "render": render,
            "html": render(results["enforcement"]),
            "plain": render_report(landscape, stats, plain_results)}


def _paragraph(html: str, name: str) -> str:
    return " ".join(_parse(html).paragraphs[name].split())


def _section(html: str) -> str:
    return html[html.index(SECTION):html.index('<h2 id="files">')]


def _images(html: str) -> list[tuple[str, bytes]]:
    return [(mime, base64.b64decode(data, validate=True))
            for mime, data in re.findall(r'src="data:([^;"]+);base64,([^"]*)"', html)]


def _total(html: str, table: str) -> list[str]:
    (cells,) = [cells for attrs, cells in _parse(html).tables[table] if attrs.get("class") == "total"]
    return _texts(cells)


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def test_intro_names_source_date_clustering_and_counts(project):
    s, a = project["summary"], project["summary"]["alerts"]
    assert s["source"]["kind"] == "alert_raster" and a["events"] > 0 and a["new"] == a["events"]  # a first run
    intro = _paragraph(project["html"], "enforcement-intro")
    for text in (f"the alert raster {s['source']['path']} (encoding date_confidence)", f"as of {s['as_of']}",
                 f"less than {s['parameters']['max_gap_m']:g} m apart are one event",
                 f"{a['events']:,} events ({a['area_ha']:,.1f} ha, first alerted "
                 f"{a['first_date']} – {a['last_date']})",
                 f"{a['by_priority']['high']:,} of high priority", "an alert already raised is not raised again",
                 f"{a['new']:,} new this run", f"{a['already_seen']:,} already seen by an earlier run",
                 f"{a['open']:,} open (not yet checked in the field)"):
        assert text in intro, text


def test_alerts_by_priority_and_zone(project):
    a = project["summary"]["alerts"]
    parsed = _parse(project["html"])
    rows = _rows(parsed, "enforcement-priority", "priority")
    assert list(rows) == [*PRIORITIES, "all"]
    for p in PRIORITIES:
        seen = a["by_priority"][p] - a["new_by_priority"][p]
        assert rows[p] == [p.capitalize(), f"{a['by_priority'][p]:,}", f"{a['new_by_priority'][p]:,}", f"{seen:,}",
                           f"{a['open_by_priority'][p]:,}"]
    assert rows["all"] == ["All events", f"{a['events']:,}", f"{a['new']:,}", f"{a['already_seen']:,}",
                           f"{a['open']:,}"]
    assert sum(a["by_priority"].values()) == a["events"]
    zones = _rows(parsed, "enforcement-zones", "zone")
    assert list(zones) == ["project_area", "leakage_belt", "outside"]  # the project first, outside last
    assert zones["project_area"] == ["Project area", f"{a['by_zone']['project_area']:,}",
                                     _pct(a["by_zone"]["project_area"] / a["events"])]
    assert zones["outside"][0] == "Outside the zones"


def test_response_by_zone_and_registry_indicators(project):
    s = project["summary"]
    response, ind = s["response_by_zone"], s["indicators"]
    rows = _rows(_parse(project["html"]), "enforcement-response", "zone")
    assert set(rows) == set(response)
    pa = response["project_area"]
    assert 0 < pa["share_checked"] < 1  # the simulated patrols checked some of the project's alerts
    assert rows["project_area"] == ["Project area", f"{pa['alerts']:,}", f"{pa['checked']:,}",
                                    _pct(pa["share_checked"]), f"{pa['median_days_to_visit']:,.1f}",
                                    _pct(pa["precision"])]
    assert rows["outside"][4:] == ["–", "–"]  # no alert checked outside the zones: no delay, no precision
    assert _total(project["html"], "enforcement-response") == [
        "All alerts in the registry", f"{ind['alerts']:,}", f"{ind['checked']:,}", _pct(ind["share_checked"]),
        f"{ind['median_days_to_visit']:,.1f}", _pct(ind["precision"])]


def test_patrol_effort_incidents_and_actions(project):
    ind = project["summary"]["indicators"]
    effort, incidents = ind["effort_by_zone"], ind["incidents_by_category_zone"]
    rows = _rows(_parse(project["html"]), "enforcement-effort", "zone")
    assert list(rows)[0] == "project_area"
    for zone, e in effort.items():
        counts = [incidents[c].get(zone, 0) for c in incidents]
        assert rows[zone][1:4] == [f"{e['patrols']:,}", f"{e['km']:,.1f}", f"{e['days']:,.1f}"]
        assert rows[zone][4:] == [f"{n:,}" for n in counts] + [f"{sum(counts):,}"]
    actions = _paragraph(project["html"], "enforcement-actions")
    assert ind["actions_by_type"]
    for action, n in ind["actions_by_type"].items():
        assert f"{n:,} {action.replace('_', ' ')}" in actions


def test_top_open_alerts_and_file_links(project):
    s = project["summary"]
    top = s["top_open_alerts"]
    rows = _rows(_parse(project["html"]), "enforcement-top", "alert")
    assert list(rows) == [t["alert_id"] for t in top] and 0 < len(top) <= 20
    first = top[0]
    assert rows[first["alert_id"]][:6] == [
        first["alert_id"], first["priority"].capitalize(), f"{first['score']:.2f}", f"{first['area_ha']:,.2f}",
        first["first_date"], {"project_area": "Project area", "leakage_belt": "Leakage belt",
                              "outside": "Outside the zones"}[first["zone"]]]
    assert rows[first["alert_id"]][-2:] == [f"{first['lat']:.5f}", f"{first['lon']:.5f}"]
    assert [t["score"] for t in top] == sorted((t["score"] for t in top), reverse=True)
    # every file of results.json is linked, relative to outputs/ (where the report lies), and is there
    links = re.findall(r'<a href="([^"]+)">', _section(project["html"]))
    expected = [s["files"]["geopackage"], *s["files"]["field"], s["files"]["field_sheet"]]
    assert links == expected
    files_text = " ".join(_parse(project["html"]).paragraphs["enforcement-files"].split())
    assert f"the field list of the {s['field_list']:,} new alerts not yet checked of medium priority or higher" \
        in files_text
    for href in links:
        assert not href.startswith("/") and (project["out_dir"] / href).is_file(), href


def test_map_and_charts_are_embedded_pngs(project):
    html, plain = project["html"], project["plain"]
    section = _section(html)
    images = _images(section)
    assert len(images) == 3 and len(_images(html)) == len(_images(plain)) + 3
    assert [section.index(alt) for alt in ALTS] == sorted(section.index(alt) for alt in ALTS)
    for mime, data in images:
        assert mime == "image/png"
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG"
            image.load()
            assert 500 <= image.width <= 2000 and 300 <= image.height <= 2000
    # the map shows the priorities in their colours: high red, medium orange
    with Image.open(io.BytesIO(images[0][1])) as image:
        rgb = np.asarray(image.convert("RGB")).astype(int)
    for colour in ((0xd7, 0x19, 0x1c), (0xfd, 0x8d, 0x3c)):
        assert (np.abs(rgb - np.array(colour)).sum(axis=2) < 40).sum() >= 30, colour


def test_write_report_passes_the_result_on(project, tmp_path):
    from icam.report.build import write_report

    path = tmp_path / "report.html"
    write_report(path, project["landscape"], project["stats"], project["results"],
                 enforcement=project["result"])
    assert path.read_text(encoding="utf-8") == project["html"]


def test_without_the_result_annual_loss_and_other_weights(project):
    """results["enforcement"] alone: the section and its tables, but no map and no monthly chart; an annual-loss
    source and the configured weights in words."""
    summary = copy.deepcopy(project["summary"])
    summary["source"] = {"kind": "annual_loss", "year": 2023}
    summary["parameters"]["priority"].update(w_area=3.0, area_ref_ha=2.5, high_at=7.0, medium_at=4.25)
    summary["parameters"]["priority"]["zone_weights"]["leakage_belt"] = 1.25
    html = project["render"](summary, enforcement=None)
    section = _section(html)
    assert ALTS[0] not in section and ALTS[1] not in section and ALTS[2] in section
    assert len(_images(section)) == 1
    assert 'id="enforcement-response"' in section and 'id="enforcement-top"' in section
    intro = _paragraph(html, "enforcement-intro")
    assert "from the annual forest-loss map of 2023 (each loss pixel an alert dated 1 July)" in intro
    rule = _paragraph(html, "enforcement-priority-rule")
    for text in ("score = 3 · min(1, area / 2.5 ha) + 2 · exp(−age / 30 days)",
                 "+ zone weight (project area 2, leakage belt 1.25, outside the zones 0)",
                 "+ 1.5 · [in a conservation agreement] + 1 · exp(−distance to a road / 2 km)",
                 "+ 1 · risk percentile + 1 · (highest confidence − 1) / 2",
                 "High priority from a score of 7, medium from 4.25", "the highest possible score is 11.5",
                 "docs/methods.md"):
        assert text in rule, text


def test_section_absent_without_enforcement(project):
    """No [enforcement]: no section, no styles of it; with it, the report is the same plus the section and styles."""
    html, plain = project["html"], project["plain"]
    assert html.count(SECTION) == 1 and html.index(SECTION) < html.index('<h2 id="files">')
    assert 'id="enforcement' not in plain and "Enforcement" not in plain and ".pr-high" not in plain
    assert without_section(html, '\n<section id="enforcement-section">',
                           r"\n \.pr-high .*?\n(?= \.ag-compliant| \.badge| tr\.chosen|</style>)") == plain


def test_view_helpers():
    from icam.report.views import _effort_rows, _max_score, _zone_order, alert_zone_label

    assert _zone_order({"outside", "leakage_belt", "admin:B", "unknown", "project_area"}) == [
        "project_area", "leakage_belt", "admin:B", "outside", "unknown"]
    assert [alert_zone_label(z) for z in ("project_area", "outside", "unknown")] == [
        "Project area", "Outside the zones", "Zone not recorded"]
    categories, rows = _effort_rows({
        "effort_by_zone": {"leakage_belt": {"patrols": 2, "km": 12.5, "days": 3.0}},
        "incidents_by_category_zone": {"clearing": {"project_area": 3, "leakage_belt": 1}, "fire": {"unknown": 1}}})
    assert categories == ["clearing", "fire"]
    assert [(r["zone"], r["patrols"], r["km"], r["incidents"], r["incidents_total"]) for r in rows] == [
        ("project_area", 0, 0.0, [3, 0], 3), ("leakage_belt", 2, 12.5, [1, 0], 1), ("unknown", 0, 0.0, [0, 1], 1)]
    weights = {"w_area": 2.0, "w_recent": 2.0, "w_agreement": 1.5, "w_road": 1.0, "w_risk": 1.0, "w_confidence": 1.0,
               "zone_weights": {"project_area": 2.0, "leakage_belt": 1.0, "outside": 0.0}}
    assert _max_score(weights) == 10.5  # as icam.enforcement.priority.PriorityRule's docstring
