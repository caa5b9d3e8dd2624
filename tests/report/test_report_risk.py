"""The report's "Deforestation risk and baseline" section, on a simulated project run once for the module."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from PIL import Image

from report_html import parse as _parse

SECTION = "Deforestation risk and baseline"


@pytest.fixture(scope="module")
def project(full_small_run):
    """A small simulated project (with [risk] and [baseline]) run through the whole pipeline once."""
    config, out = full_small_run.config, full_small_run.outputs_dir
    assert config.risk is not None and config.baseline is not None
    html = (out / "report.html").read_text(encoding="utf-8")
    results = json.loads((out / "results.json").read_text())
    return {"config": config, "stages": full_small_run.results, "html": html, "results": results,
            "report": out / "report.html"}


def number(text: str) -> float | None:
    text = " ".join(text.split())
    return None if text in ("–", "") else float(text.replace(",", "").rstrip("%"))


def _body_rows(rows: list) -> list:
    """The rows that carry data attributes (a candidate, a year): the tables' bodies."""
    return [(attrs, cells) for attrs, cells in rows if any(k.startswith("data-") for k in attrs)]


def _n_accounting(html: str) -> int:
    """1 where the report holds the carbon-accounting section (its chart), else 0."""
    return int('<h2 id="accounting">' in html)


def _n_agreements(html: str) -> int:
    """The images from the conservation-agreements section to the files (its map and money chart, and the
    enforcement section's map and charts when there is one), 0 without the agreements section."""
    if '<h2 id="agreements">' not in html:
        return 0
    return html[html.index('<h2 id="agreements">'):html.index('<h2 id="files">')].count('src="data:')


def _images(html: str) -> list[tuple[str, bytes]]:
    return [(mime, base64.b64decode(data, validate=True))
            for mime, data in re.findall(r'src="data:([^;"]+);base64,([^"]*)"', html)]


def test_section_and_one_row_per_candidate(project):
    html, risk = project["html"], project["results"]["risk"]
    assert html.count(f">{SECTION}</h2>") == 1
    assert "VT0007 §5.5" in html and "both" in html
    rows = _body_rows(_parse(html).tables["risk-candidates"])
    names = [attrs["data-candidate"] for attrs, _ in rows]
    assert names == [c["name"] for c in risk["candidates"]]
    assert names[0] == "benchmark" and len(names) == 5
    chosen_rows = [attrs["data-candidate"] for attrs, _ in rows if attrs.get("class") == "chosen"]
    assert chosen_rows == [risk["chosen"]]
    threshold = risk["vm0015_fom_threshold"]
    for (_attrs, cells), candidate in zip(rows, risk["candidates"]):
        texts = [" ".join(t.split()) for _, t in cells]
        # Map | calibration MedAE MAE R² IoU cells | confirmation MedAE MAE R² IoU cells | AUC | FoM | VM0015 | VT0007
        assert len(texts) == 15
        for offset, period in ((1, "calibration"), (6, "confirmation")):
            m = candidate[period]
            assert number(texts[offset]) == pytest.approx(m["medae_ha"], abs=0.051)
            assert number(texts[offset + 1]) == pytest.approx(m["mae_ha"], abs=0.051)
            assert int(texts[offset + 4]) == m["n_cells"]
        assert number(texts[12]) == pytest.approx(100 * candidate["fom_confirmation"], abs=0.0051)
        assert texts[13] == ("pass" if candidate["fom_confirmation"] >= threshold else "fail")
        if candidate["name"] == "benchmark":
            assert texts[14] == "reference"
        else:
            passes = risk["vt0007_tests"][candidate["name"]]["alternative_passes"]
            assert texts[14].startswith("passes" if passes else "fails")
            assert risk["vt0007_tests"][candidate["name"]]["reason"] in html


def test_chosen_map_sentence_names_the_chosen_model(project):
    risk = project["results"]["risk"]
    sentence = " ".join(_parse(project["html"]).paragraphs["risk-chosen"].split())
    match = re.match(r"Chosen map: (\w+)", sentence)
    assert match and match.group(1) == risk["chosen"]
    assert risk["reason"].partition(": ")[2] in sentence


def test_benchmark_class_table_and_thresholds(project):
    risk = project["stages"]["risk"]
    html = project["html"]
    rows = [cells for _, cells in _parse(html).tables["risk-classes"][2:]]
    calibration, historical = risk.benchmark.calibration.class_table(), risk.benchmark.historical.class_table()
    assert len(rows) == len(calibration) == len(historical)
    for cells, cal, hist in zip(rows, calibration, historical):
        texts = [" ".join(t.split()) for _, t in cells]
        assert int(texts[0]) == cal["class"]
        for offset, row in ((1, cal), (6, hist)):
            assert number(texts[offset + 1]) == row["forest_px"]
            assert number(texts[offset + 2]) == row["deforested_px"]
            assert number(texts[offset + 3]) == pytest.approx(100 * row["relative_frequency"], abs=0.0051)
    for fit in (risk.benchmark.calibration, risk.benchmark.historical):
        assert f"{fit.nrt_m:,.0f} m" in html


def test_baseline_table_holds_the_results_values(project):
    baseline = project["results"]["baseline"]
    vm0015, vt0007 = baseline["vm0015"]["by_zone"], baseline["vt0007"]["by_year"]
    rows = _body_rows(_parse(project["html"]).tables["baseline-table"])
    assert [int(attrs["data-year"]) for attrs, _ in rows] == baseline["vm0015"]["years"]
    seen = set()
    for attrs, cells in rows:
        year = attrs["data-year"]
        assert number(cells[1][1]) == pytest.approx(baseline["projected_ha_by_year"][year], abs=0.051)
        for cell_attrs, text in cells[2:]:
            zone, method = cell_attrs["data-zone"], cell_attrs["data-method"]
            seen.add((zone, method))
            value = number(text)
            if method == "vm0015":
                assert value == pytest.approx(vm0015[zone][year], abs=0.051)
            elif year in vt0007.get(zone, {}):
                assert value == pytest.approx(vt0007[zone][year], abs=0.051)
            else:
                assert value is None  # outside the VT0007 map's validity period
    assert seen == {(z, m) for z in vm0015 for m in ("vm0015", "vt0007")}
    assert {"project_area", "leakage_belt"} <= set(vm0015)


def test_every_embedded_image_is_a_png(project):
    images = _images(project["html"])
    # forest map, loss chart, activity data, risk map, residuals, baseline chart (+ the accounting chart, and the
    # agreements' map and money chart)
    assert len(images) == 6 + _n_accounting(project["html"]) + _n_agreements(project["html"])
    for mime, data in images:
        assert mime == "image/png"
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG"
            image.load()
            assert 300 <= image.width <= 2000 and 200 <= image.height <= 2000


def test_without_baseline_or_risk(project):
    """A risk result without a baseline shows no baseline part; no risk renders the report as before."""
    from icam.report.build import render_report

    s = project["stages"]
    args = (s["landscape"], s["forest_change"], s["outputs"], s["activity_data"])
    parcels = getattr(s.get("agreements"), "parcels", None)  # the agreements' map, as the pipeline draws it
    enforcement = s.get("enforcement")  # the enforcement section's map and charts, likewise
    risk_only = render_report(*args, risk=s["risk"], baseline=None, parcels=parcels, enforcement=enforcement)
    assert SECTION in risk_only and 'id="risk-candidates"' in risk_only
    n_acc = _n_accounting(risk_only) + _n_agreements(risk_only)
    assert 'id="baseline-table"' not in risk_only and len(_images(risk_only)) == 5 + n_acc
    plain = render_report(*args, parcels=parcels, enforcement=enforcement)
    assert SECTION not in plain and "risk-candidates" not in plain and "tr.chosen" not in plain
    assert len(_images(plain)) == 3 + n_acc
    # the report with risk is the report without it plus the section (and its styles), nothing else changed
    full = render_report(*args, risk=s["risk"], baseline=s["baseline"], parcels=parcels, enforcement=enforcement)
    assert full == project["html"]
    start = full.index('\n<h2 id="risk">')
    later = [full.index(mark) for mark in ('\n<h2 id="accounting">', '\n<section id="agreements-section">')
             if mark in full]
    end = min(later) if later else full.index('<h2 id="files">')
    styles = re.search(r"\n tr\.chosen td .*?\n(?=</style>)", full, re.S)
    without = full[:start] + full[end:]
    assert without.replace(styles.group(0), "\n", 1) == plain


def test_benchmark_only(project):
    """No alternative configured: one row, one residual panel, the benchmark named as the chosen map."""
    import dataclasses

    from icam.report.build import render_report

    s = project["stages"]
    risk = dataclasses.replace(s["risk"], candidates=s["risk"].candidates[:1], tests={}, chosen="benchmark",
                               reason="the benchmark: no alternative model was configured")
    html = render_report(s["landscape"], s["forest_change"], s["outputs"], s["activity_data"],
                         risk=risk, baseline=s["baseline"])
    parsed = _parse(html)
    assert [a["data-candidate"] for a, _ in _body_rows(parsed.tables["risk-candidates"])] == ["benchmark"]
    sentence = " ".join(parsed.paragraphs["risk-chosen"].split())
    assert sentence.startswith("Chosen map: benchmark (") and "no alternative model was configured" in sentence
    assert 'id="risk-tests"' not in html  # no alternative, no test to list
    assert len(_images(html)) == 6 + _n_accounting(html) + _n_agreements(html)
